"""Which bucket a member's rows go to: a fixed 64-bit hash of the member id as the inputs
normalize it, so the same member lands in the same bucket in every file and whatever the
bucket count's runs before.

An id is taken as the inputs layer takes it: surrounding blanks removed, the declared
normalizations applied (``[inputs.<table>] member_id = { ids = [...] }``). An id written
as a whole number (``100``, ``"100"``, ``"0100"``, ``100.0``) is hashed as that number, so
a member whose id is an integer in one file and text in another is in one bucket; any
other id is hashed as its text.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: The key of the text hash (16 bytes): fixed, so buckets are the same from run to run.
HASH_KEY = "totalcare-bucket"
_WHOLE_NUMBER = r"^[+-]?[0-9]{1,18}$"


def _number_hash(values: np.ndarray) -> np.ndarray:
    return np.asarray(pd.util.hash_array(np.asarray(values, dtype=np.int64)), dtype=np.uint64)


def _text_hash(values: pa.Array, steps: Sequence[str]) -> np.ndarray:
    """Hashes of distinct text ids (no nulls), normalized as declared."""
    text = pc.utf8_trim_whitespace(values.cast(pa.string()))
    for step in steps:
        if step == "strip_leading_zeros":
            text = pc.replace_substring_regex(text, pattern=r"^0+(.)", replacement=r"\1")
        elif step == "uppercase":
            text = pc.utf8_upper(text)
    whole = pc.match_substring_regex(text, _WHOLE_NUMBER).to_numpy(zero_copy_only=False)
    out = np.empty(len(text), dtype=np.uint64)
    if whole.any():
        numbers = pc.cast(pc.filter(text, pa.array(whole)), pa.int64())
        out[whole] = _number_hash(numbers.to_numpy())
    if not whole.all():
        rest = pc.filter(text, pa.array(~whole)).to_numpy(zero_copy_only=False)
        out[~whole] = pd.util.hash_array(
            np.asarray(rest, dtype=object), hash_key=HASH_KEY, categorize=False
        )
    return out


def id_buckets(
    ids: pa.Array | pa.ChunkedArray, n_buckets: int, steps: Sequence[str] = ()
) -> np.ndarray:
    """Each row's bucket (0..n_buckets-1, int32) from its member id; an empty id goes to
    bucket 0 (the checks reject it there)."""
    n = len(ids)
    if n_buckets == 1 or n == 0:
        return np.zeros(n, dtype=np.int32)
    column = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    kind = column.type
    valid = (
        np.ones(n, dtype=bool)
        if column.null_count == 0
        else column.is_valid().to_numpy(zero_copy_only=False)
    )
    if pa.types.is_dictionary(kind):
        assert isinstance(column, pa.DictionaryArray)
        dictionary = column.dictionary
        hashes = (
            _text_hash(dictionary, steps)
            if not pa.types.is_integer(dictionary.type)
            else _number_hash(dictionary.to_numpy())
        )
        codes = column.indices.fill_null(0).to_numpy(zero_copy_only=False)
        hashed = hashes[codes] if len(hashes) else np.zeros(n, dtype=np.uint64)
    elif pa.types.is_integer(kind) or pa.types.is_boolean(kind):
        hashed = _number_hash(column.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False))
    elif pa.types.is_floating(kind):
        values = column.fill_null(0).to_numpy(zero_copy_only=False)
        values = np.where(np.isfinite(values), np.rint(values), 0)
        hashed = _number_hash(np.clip(values, -(2.0**62), 2.0**62).astype(np.int64))
    else:
        encoded = pc.dictionary_encode(column.cast(pa.string()))
        hashes = _text_hash(encoded.dictionary, steps)
        codes = encoded.indices.fill_null(0).to_numpy(zero_copy_only=False)
        hashed = hashes[codes] if len(hashes) else np.zeros(n, dtype=np.uint64)
    bucket = (hashed % np.uint64(n_buckets)).astype(np.int32)
    bucket[~valid] = 0
    return bucket
