"""The claims file: reading and checking claim lines, one row group at a time when it can.

A claim line has a ``claim_id``, a ``member_id``, a ``claim_start_date`` (its service
month), a ``paid_amount`` (negative for a reversal) and, optionally, a ``paid_date``
(the month it was paid: the completion factor's chain ladder, ``savings.completion``). A claim_id may appear once as a
payment and once as its reversal; a further row with the same claim_id and amount sign
is rejected (DUPLICATE_CLAIM_ID). What the claims cost each practice is ``savings.costs``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ..config import ColumnFormat
from ..reasons import Reason
from . import schema
from .checks import Table, check_table
from .columns import first_of_repeats, id_chunks, in_arrow
from .dataset import Dataset, open_dataset
from .read import integer_range, read_parts
from .readahead import ReadAhead

# a claim_id range compact enough to mark the keys seen (2 per id) in a dense mask
_DENSE_IDS_PER_ROW = 2


def read_claims(
    path: str | Path,
    ahead: ReadAhead | None = None,
    formats: Mapping[str, ColumnFormat] | None = None,
) -> Table:
    """Read and check a claims file.

    A Parquet file whose claim ids are integers over a compact range (its row groups'
    statistics say so, no data is read to find out) is read and checked one row group at a
    time, and only the member id, service month and amount of each clean row are kept: the
    rest of a row group's columns are freed before the next is read. Any other file is read
    whole. The checks and their results are the same either way.
    """
    path = Path(path)
    if path.is_dir():
        return read_claims_dataset(open_dataset(path, schema.CLAIMS), ahead, formats)
    id_range = integer_range(path, "claim_id")
    if id_range is not None:
        rows = pq.ParquetFile(path).metadata.num_rows
        if not _compact(id_range, rows):
            id_range = None
    parts = read_parts(path, schema.CLAIMS, whole=id_range is None, ahead=ahead)
    return check_claims(parts, path=path, id_range=id_range, formats=formats)


def read_claims_dataset(
    data: Dataset,
    ahead: ReadAhead | None = None,
    formats: Mapping[str, ColumnFormat] | None = None,
) -> Table:
    """Read and check the claims of a folder of Parquet files as one file (``read_claims``:
    row group by row group when every file's claim ids are integers over one compact
    range), then name each rejected row by its file and row within it."""
    id_range = dataset_id_range(data)
    parts = data.read_parts(schema.CLAIMS, whole=id_range is None, ahead=ahead)
    table = check_claims(parts, path=data.folder, id_range=id_range, formats=formats)
    return replace(table, rejects=data.locate(table.rejects), dataset=data)


def dataset_id_range(data: Dataset) -> tuple[int, int] | None:
    """The claim ids' range over a dataset's files when it is compact, else None."""
    id_range = data.integer_range("claim_id")
    return id_range if id_range is not None and _compact(id_range, data.rows) else None


def check_claims(
    parts: Iterable[tuple[int, pd.DataFrame]],
    *,
    path: Path | None = None,
    id_range: tuple[int, int] | None = None,
    formats: Mapping[str, ColumnFormat] | None = None,
) -> Table:
    """Check claim lines given in parts (first row number, raw frame): each part's column
    checks (``check_table``), then the repeated claim-id check, which spans the parts.

    A claim_id may appear once as a payment and once as its reversal; a further row with
    the same claim_id and amount sign is rejected (DUPLICATE_CLAIM_ID). More than one part
    needs integer claim ids within ``id_range``, which may be widened as parts arrive.
    The checked frame keeps ``member_id``, ``period`` (the service month) and
    ``paid_amount``, with the file's row numbers; and ``paid_period`` (the month paid) when
    the file has a ``paid_date`` column, whose month may not be before the service month
    (PAID_BEFORE_SERVICE).
    """
    frames: list[pd.DataFrame] = []
    rejects: list[pd.DataFrame] = []
    rows_read = 0
    for part in checked_claim_parts(parts, path=path, id_range=id_range, formats=formats):
        kept = part.frame
        columns = {
            "member_id": kept["member_id"],
            "period": in_arrow(kept["period"]),
            "paid_amount": in_arrow(kept["paid_amount"]),
        }
        if "paid_period" in kept.columns:
            columns["paid_period"] = in_arrow(kept["paid_period"])
        # the part's arrays become chunks of the file's columns (no copy)
        frames.append(pd.DataFrame(columns, copy=False))
        rejects.append(part.rejects)
        rows_read += part.rows_read
        del part
    return Table(
        spec=schema.CLAIMS,
        path=path or Path(f"<{schema.CLAIMS.name}>"),
        frame=frames[0] if len(frames) == 1 else pd.concat(frames),
        rejects=rejects[0] if len(rejects) == 1 else _concat_rejects(rejects),
        rows_read=rows_read,
    )


def checked_claim_parts(
    parts: Iterable[tuple[int, pd.DataFrame]],
    *,
    path: Path | None = None,
    id_range: tuple[int, int] | None = None,
    formats: Mapping[str, ColumnFormat] | None = None,
) -> Iterator[Table]:
    """Each part of the claim lines checked (``check_claims``' checks), one after another:
    its column checks, the repeated claim-id check against the parts before it, and the
    paid month against the service month."""
    seen = _ClaimKeys(id_range)
    for first_row, raw in parts:
        part = check_table(raw, schema.CLAIMS, path=path, first_row=first_row, formats=formats)
        part = part.reject_rows(
            seen.repeats(part.frame),
            Reason.DUPLICATE_CLAIM_ID,
            "claim_id",
            "claim_id repeated with the same amount sign (only one payment and one reversal allowed)",
        )
        if "paid_period" in part.frame.columns:
            part = part.reject_rows(
                part.frame["paid_period"].to_numpy() < part.frame["period"].to_numpy(),
                Reason.PAID_BEFORE_SERVICE,
                "paid_date",
                "paid_date is in a month before the claim_start_date's",
            )
        yield part


def _concat_rejects(rejects: list[pd.DataFrame]) -> pd.DataFrame:
    found = [frame for frame in rejects if len(frame)]
    return pd.concat(found, ignore_index=True) if found else rejects[0]


def _compact(id_range: tuple[int, int], rows: int) -> bool:
    return id_range[1] - id_range[0] + 1 <= _DENSE_IDS_PER_ROW * rows + 512


class _ClaimKeys:
    """The (claim_id, amount sign) keys seen so far in one claims file, part after part.

    Integer ids over a compact range are marked in a dense mask (2 keys per id: payment
    and reversal), so a part is checked against the earlier parts without keeping them.
    Other ids are hashed, which needs the file in one part.
    """

    def __init__(self, id_range: tuple[int, int] | None) -> None:
        self.low = 0
        self.seen: np.ndarray | None = None
        self.parts = 0
        if id_range is not None:
            self._cover(*id_range)

    def _cover(self, low: int, high: int) -> None:
        """Make room for ids ``low..high``, keeping the marks made so far."""
        if self.seen is not None:
            high = max(high, self.low + len(self.seen) // 2 - 1)
            low = min(low, self.low)
        seen = np.zeros(2 * (high - low + 1), dtype=bool)
        if self.seen is not None:
            offset = 2 * (self.low - low)
            seen[offset : offset + len(self.seen)] = self.seen
        self.low, self.seen = low, seen

    def repeats(self, frame: pd.DataFrame) -> np.ndarray:
        """Mask of the part's rows that repeat the key of an earlier row, in this part or
        an earlier one (the first row of a key stays)."""
        self.parts += 1
        negative = frame["paid_amount"].to_numpy() < 0
        chunks = id_chunks(frame["claim_id"])
        if chunks:
            low, high = chunks.low, chunks.high
            if self.seen is None and _compact((low, high), len(frame)):
                self._cover(low, high)  # the whole file in one part: its own range
        if len(frame) == 0:
            return np.zeros(0, dtype=bool)
        if not chunks or self.seen is None:
            assert self.parts == 1, "claims in parts need integer claim ids"
            codes, _ = pd.factorize(frame["claim_id"], sort=False)
            return first_of_repeats(codes.astype(np.int64) * 2 + negative)
        if low < self.low or high >= self.low + len(self.seen) // 2:
            self._cover(low, high)  # statistics that missed a value
        key = chunks.minus(self.low)
        key *= 2
        key += negative
        before = self.seen[key]
        # the keys newly marked, counted over the part's key range only
        touched = self.seen[2 * (low - self.low) : 2 * (high - self.low) + 2]
        marked = int(np.count_nonzero(touched))
        self.seen[key] = True
        new_keys = int(np.count_nonzero(touched)) - marked
        if new_keys < len(key) - int(np.count_nonzero(before)):  # a key repeats in this part
            return before | first_of_repeats(key)
        return before


