"""How checked columns are stored, and the array work on them.

A checked column is kept in the form that costs least to read and to work on: a
Parquet file's integer, date and amount columns stay in Arrow's chunks (one per row
group, no concatenated copy) and are handed out as numpy arrays without copying
(``id_chunks``, ``number_chunks``); string columns read from Parquet dictionaries become
pandas Categoricals (one string per distinct value); CSV columns are numpy or string
arrays. Consumers ask these functions for arrays instead of branching on the storage.
Also here: whole-column steps run a slice of ``ROWS_PER_SLICE`` rows at a time, and the
repeated-key checks (one marking pass over a compact integer range, hashing otherwise).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa


def _with_column(frame: pd.DataFrame, name: str, values: pd.Series | np.ndarray) -> pd.DataFrame:
    """``frame`` with column ``name`` set to ``values``, an array taken as it is (given a
    bare array, pandas would copy it)."""
    if isinstance(values, np.ndarray):
        values = pd.Series(values, index=frame.index, copy=False)
    return frame.assign(**{name: values})


@dataclass(frozen=True)
class Chunks:
    """A numeric column as numpy arrays, without copying: one per Arrow chunk (row group)
    for a column read in place, else the one array. The one form in which the engine's
    array steps read a checked column, whatever its storage.

    ``len`` and truth are the number of arrays (an empty column has none); ``rows`` is
    the number of values.
    """

    arrays: tuple[np.ndarray, ...]

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.arrays)

    def __len__(self) -> int:
        return len(self.arrays)

    @property
    def rows(self) -> int:
        return sum(len(array) for array in self.arrays)

    @cached_property
    def low(self) -> int:
        """The lowest value (of an integer column with at least one value)."""
        return min(int(array.min()) for array in self.arrays)

    @cached_property
    def high(self) -> int:
        """The highest value (of an integer column with at least one value)."""
        return max(int(array.max()) for array in self.arrays)

    def minus(self, offset: int) -> np.ndarray:
        """The values less ``offset``, as one new array (the arrays are never changed)."""
        if len(self.arrays) == 1:  # one row group: no concatenated copy
            return np.subtract(self.arrays[0], offset)
        return np.concatenate([array - offset for array in self.arrays])


def id_chunks(values: pd.Series) -> Chunks | None:
    """An integer id column without gaps as ``Chunks``. None for ids that are not integers
    or have empty values."""
    dtype = values.dtype
    if isinstance(dtype, pd.ArrowDtype):
        return number_chunks(values) if pa.types.is_integer(dtype.pyarrow_dtype) else None
    if pd.api.types.is_integer_dtype(dtype) and not values.hasnans:
        array = values.to_numpy()
        if array.dtype.kind not in "iu":
            return None
        return Chunks((array,) if len(array) else ())
    return None


def number_chunks(values: pd.Series) -> Chunks | None:
    """A numeric column without gaps as ``Chunks``. None when a value is empty."""
    if isinstance(values.dtype, pd.ArrowDtype):
        column = pa.array(values.array)
        if column.null_count:
            return None
        chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
        return Chunks(tuple(chunk.to_numpy() for chunk in chunks if len(chunk)))
    array = values.to_numpy()
    return Chunks((array,) if array.dtype.kind in "iuf" and len(array) else ())


def in_arrow(values: pd.Series) -> pd.Series:
    """A numpy-backed column wrapped in Arrow without copying, so that concatenating
    parts keeps their arrays as chunks (``number_chunks``) instead of copying them."""
    if isinstance(values.dtype, pd.ArrowDtype):
        return values
    return pd.Series(
        pd.arrays.ArrowExtensionArray(pa.array(values.to_numpy())), index=values.index, copy=False
    )


def has_repeats(key: np.ndarray | Iterable[np.ndarray], n_keys: int) -> bool:
    """Whether any key in ``0..n_keys-1`` appears twice: one pass marking the keys seen.
    ``key`` may come in parts (one per row group), marked one after the other."""
    seen = np.zeros(n_keys, dtype=bool)
    rows = 0
    for part in [key] if isinstance(key, np.ndarray) else key:
        seen[part] = True
        rows += len(part)
    return int(np.count_nonzero(seen)) < rows


def repeated_keys(key: np.ndarray, n_keys: int | None = None) -> np.ndarray:
    """Mask of rows whose key appears more than once (all of them)."""
    if n_keys is not None and n_keys <= 4 * len(key) + 1024:
        if not has_repeats(key, n_keys):
            return np.zeros(len(key), dtype=bool)
        counts = np.bincount(key, minlength=n_keys)
        return counts[key] > 1
    return pd.Series(key).duplicated(keep=False).to_numpy()


def first_of_repeats(key: np.ndarray) -> np.ndarray:
    """Mask of rows that repeat an earlier row's key (the first stays)."""
    return pd.Series(key).duplicated(keep="first").to_numpy()


def _to_column(col: pa.ChunkedArray, *, in_place: bool = False) -> object:
    """Arrow to pandas without per-value work: numbers as numpy arrays, dictionary-encoded
    strings as Categoricals built from their codes. Dates, and integer ids when
    ``in_place``, stay in Arrow's memory (one chunk per row group, not copied into one
    array): they are only read once, to code members and claims (``id_chunks``) and
    to find service months."""
    kind = col.type
    if pa.types.is_date32(kind) or (in_place and pa.types.is_integer(kind)):
        return pd.arrays.ArrowExtensionArray(col)
    if (pa.types.is_integer(kind) or pa.types.is_floating(kind)) and col.null_count == 0:
        return col.to_numpy()
    if pa.types.is_dictionary(kind) and col.num_chunks:
        return _categorical(col)
    return col.to_pandas(date_as_object=False)


def _categorical(col: pa.ChunkedArray) -> object:
    """A dictionary-encoded column as a Categorical. Each row group has its own dictionary
    (most often the same values as the previous one); the categories are their union, and
    each row group's codes are translated through a lookup of its dictionary (a few
    thousand values), written straight into place."""
    distinct: list[pa.Array] = []
    dictionary_of_chunk = []  # position in distinct
    for chunk in col.chunks:
        if not distinct or not chunk.dictionary.equals(distinct[-1]):
            distinct.append(chunk.dictionary)
        dictionary_of_chunk.append(len(distinct) - 1)
    dictionaries = [dictionary.to_pandas() for dictionary in distinct]
    categories = pd.Index(pd.concat(dictionaries, ignore_index=True).dropna().drop_duplicates())
    # codes of the width pandas keeps for this many categories (int8 for a dozen months),
    # so that the Categorical takes them as they are
    width: type[np.signedinteger[Any]] = next(
        t for t in (np.int8, np.int16, np.int32, np.int64) if len(categories) < np.iinfo(t).max
    )
    lookups = [np.append(categories.get_indexer(d), -1).astype(width) for d in dictionaries]
    identity = [np.array_equal(lookup[:-1], np.arange(len(lookup) - 1)) for lookup in lookups]
    codes = np.empty(len(col), dtype=width)
    start = 0
    for chunk, which in zip(col.chunks, dictionary_of_chunk, strict=True):  # per row group
        end = start + len(chunk)
        indices = chunk.indices
        if indices.null_count:
            indices = indices.fill_null(len(distinct[which]))  # the trailing -1
        if identity[which] and not chunk.null_count:  # the dictionary is the categories
            codes[start:end] = indices.to_numpy(zero_copy_only=False)
        else:
            np.take(
                lookups[which],
                indices.to_numpy(zero_copy_only=False),
                out=codes[start:end],
                mode="clip",
            )
        start = end
    return pd.Categorical.from_codes(codes, categories=categories, validate=False)


# Rows (member-months, claims) worked on at a time in whole-column steps: each slice's
# temporaries stay a few MB and are reused.
ROWS_PER_SLICE = 1 << 20
