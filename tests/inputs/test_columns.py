"""The one column type the array steps read: a checked column as numpy chunks, whatever its
storage (Arrow row groups read in place, or one numpy array)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from totalcare_payments.inputs.columns import Chunks, id_chunks, in_arrow, number_chunks


def _arrow_column(*parts: list[int]) -> pd.Series:
    chunked = pa.chunked_array([pa.array(p, pa.int64()) for p in parts])
    return pd.Series(pd.arrays.ArrowExtensionArray(chunked))


def test_row_groups_read_in_place_are_one_chunk_each_without_copying() -> None:
    column = _arrow_column([5, 9, 7], [3, 12])
    chunks = id_chunks(column)
    assert isinstance(chunks, Chunks)
    assert [list(a) for a in chunks] == [[5, 9, 7], [3, 12]]
    assert (len(chunks), chunks.rows, chunks.low, chunks.high) == (2, 5, 3, 12)
    assert list(chunks.minus(3)) == [2, 6, 4, 0, 9]
    assert list(chunks.arrays[0]) == [5, 9, 7]  # minus() leaves the arrays as they were
    buffer = pa.array(column.array).chunks[0].buffers()[1]
    assert chunks.arrays[0].ctypes.data == buffer.address  # the row group's own buffer


def test_a_numpy_column_is_one_chunk_and_an_empty_one_none() -> None:
    chunks = number_chunks(pd.Series(np.array([1.5, 2.5])))
    assert chunks is not None and len(chunks) == 1 and chunks.rows == 2
    empty = number_chunks(pd.Series(np.array([], dtype=np.float64)))
    assert empty is not None and not empty and empty.rows == 0
    one = in_arrow(pd.Series(np.array([4, 1], dtype=np.int64)))
    assert id_chunks(one) is not None and id_chunks(one).low == 1  # type: ignore[union-attr]


def test_ids_that_are_not_integers_or_have_gaps_have_no_chunks() -> None:
    assert id_chunks(pd.Series(["a", "b"])) is None
    assert id_chunks(pd.Series([1, None], dtype="Int64")) is None
    gaps = pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array([pa.array([1, None])])))
    assert number_chunks(gaps) is None
