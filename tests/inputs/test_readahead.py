"""Read-ahead decodes the large Parquet inputs on a background thread while the program
starts up. It may change when a row group is decoded, never what is read: the year's
results, rejects and accounting must be those of a plain read, each row group must be
decoded once, and whatever read-ahead cannot serve is read as usual."""

from __future__ import annotations

import shutil
import threading
from collections import Counter
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from totalcare_payments.errors import InputError
from totalcare_payments.inputs import schema
from totalcare_payments.inputs.checks import Table
from totalcare_payments.inputs.claims import read_claims
from totalcare_payments.inputs.read import read_table
from totalcare_payments.inputs.readahead import ReadAhead, read_ahead_inputs, spec_columns

ROOM = 1 << 40  # room ahead for every row group


@pytest.fixture
def folder(planted: dict[str, Path], tmp_path: Path) -> Path:
    """A copy of the Parquet program (977-row groups, planted bad rows) for one test."""
    return Path(shutil.copytree(planted["parquet"], tmp_path / "data"))


def _served(ahead: ReadAhead, monkeypatch: pytest.MonkeyPatch) -> Counter:
    """Row groups the reader took from this read-ahead, per file name."""
    served: Counter = Counter()
    take = ahead.take

    def counting(path: Path, columns: list[str], group: int) -> object:
        table = take(path, columns, group)
        if table is not None:
            served[Path(path).name] += 1
        return table

    monkeypatch.setattr(ahead, "take", counting)
    return served


def _started(folder: Path, room: int) -> ReadAhead:
    return ReadAhead(room).start(
        [(folder / "attribution.parquet", schema.ATTRIBUTION), (folder / "claims.parquet", schema.CLAIMS)]
    )


def _claims_without_waiting(path: Path, ahead: ReadAhead | None) -> Table:
    """``read_claims`` on a thread that must end within two minutes: a reader left
    waiting on the read-ahead fails the test instead of hanging it."""
    result: list[Table] = []
    reader = threading.Thread(
        target=lambda: result.append(read_claims(path, ahead)), daemon=True
    )
    reader.start()
    reader.join(timeout=120)
    assert not reader.is_alive(), "the claims reader waited on the read-ahead"
    return result[0]


def _assert_same_year(a: dict[str, object], b: dict[str, object]) -> None:
    for key in ("lines", "practices", "rejects"):
        pd.testing.assert_frame_equal(a[key], b[key])
    assert a["accounting"] == b["accounting"]
    assert a["ccf_accounting"] == b["ccf_accounting"]


def test_read_ahead_gives_the_same_year(
    folder: Path, year_of, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = year_of(folder)
    ahead = _started(folder, ROOM)
    served = _served(ahead, monkeypatch)
    assert ahead.thread is not None
    ahead.thread.join()  # everything decoded before the program reads it
    _assert_same_year(year_of(folder, ahead), plain)
    groups = {n: pq.ParquetFile(folder / n).num_row_groups for n in served}
    assert served == {
        "attribution.parquet": groups["attribution.parquet"],
        "claims.parquet": groups["claims.parquet"],
    }


def test_reader_and_read_ahead_share_the_groups(
    folder: Path, year_of, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With little room ahead, the reader catches up and reads some groups itself while
    read-ahead decodes others; no group is decoded twice and the year is the same."""
    plain = year_of(folder)
    decodes: Counter = Counter()
    read_row_group = pq.ParquetFile.read_row_group

    def counting(self: pq.ParquetFile, i: int, *args: object, **kwargs: object) -> object:
        decodes[(self.metadata.num_rows, i)] += 1
        return read_row_group(self, i, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_group", counting)
    ahead = _started(folder, 1)
    served = _served(ahead, monkeypatch)
    _assert_same_year(year_of(folder, ahead), plain)
    assert sum(served.values()) >= 2
    for name in ("attribution", "claims"):
        meta = pq.ParquetFile(folder / f"{name}.parquet").metadata
        for group in range(meta.num_row_groups):
            assert decodes[(meta.num_rows, group)] == 1, (name, group)


def test_a_changed_file_is_read_again(
    folder: Path, year_of, monkeypatch: pytest.MonkeyPatch
) -> None:
    ahead = _started(folder, ROOM)
    assert ahead.thread is not None
    ahead.thread.join()
    claims = pq.read_table(folder / "claims.parquet")
    pq.write_table(claims.slice(0, 2000), folder / "claims.parquet", row_group_size=500)
    served = _served(ahead, monkeypatch)
    result = year_of(folder, ahead)
    assert served["attribution.parquet"] > 0  # the unchanged file is served
    assert "claims.parquet" not in served  # the file read ahead is not the file now there
    assert result["accounting"]["claims"]["read"] == 2000


def test_other_columns_are_read_again(folder: Path) -> None:
    path = folder / "claims.parquet"
    ahead = ReadAhead(ROOM).start([(path, schema.CLAIMS)])
    assert ahead.thread is not None
    ahead.thread.join()
    assert ahead.take(path, ["claim_id", "member_id"], 0) is None
    assert ahead.take(path, spec_columns(path, schema.CLAIMS), 0) is not None
    assert ahead.take(path, spec_columns(path, schema.CLAIMS), 0) is None  # handed out once


def test_a_file_nobody_reads_does_not_hold_up_the_next(folder: Path) -> None:
    """Read-ahead stops once its room is taken by a file nobody reads; the next file
    is then read by its reader, without waiting."""
    plain = read_claims(folder / "claims.parquet")
    ahead = _started(folder, 1)  # attribution first: never read here
    claims = _claims_without_waiting(folder / "claims.parquet", ahead)
    pd.testing.assert_frame_equal(claims.frame, plain.frame)
    assert claims.rows_read == plain.rows_read


def test_a_damaged_file_gives_the_same_error(folder: Path) -> None:
    path = folder / "claims.parquet"
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4096] = bytes(4096)  # a data page destroyed, the footer intact
    path.write_bytes(bytes(data))
    with pytest.raises(InputError) as plain:
        read_claims(path)
    ahead = read_ahead_inputs(folder, with_claims=True)
    assert ahead.thread is not None
    ahead.thread.join()
    with pytest.raises(InputError) as after:
        read_claims(path, ahead)
    assert str(after.value) == str(plain.value)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["settle", "--year", "2026", "--data", "D"], ("D", True, None)),
        (["settle", "--year=2026", "-d", "D", "--claims=C.parquet"], ("D", True, "C.parquet")),
        (["ccf", "--month", "2026-03", "--data=D", "--data", "E"], ("E", False, None)),
        (["ccf", "--month", "2026-03"], ("data", False, None)),
        (["ccf", "--month", "2026-03", "--data", "missing"], None),
        (["settle", "--year", "2026", "--summary", "s.csv", "--data", "D"], None),
    ],
)
def test_the_parsed_command_says_what_to_read_ahead(
    args: list[str], expected: tuple | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command line is parsed once, by typer; the command starts the read-ahead of the
    folder it was given (and the job is then handed that handle)."""
    from typer.testing import CliRunner

    from totalcare_payments.cli.app import app

    for name in ("D", "E", "data"):
        (tmp_path / name).mkdir()
    monkeypatch.chdir(tmp_path)
    calls = []

    def recording(data, *, with_claims, attribution=None, claims=None):
        calls.append((str(data), with_claims, None if claims is None else str(claims)))
        return ReadAhead()

    monkeypatch.setattr("totalcare_payments.inputs.readahead.read_ahead_inputs", recording)
    CliRunner().invoke(app, args)
    assert calls == ([] if expected is None else [expected])


def test_a_decode_that_fails_in_any_way_leaves_the_group_to_the_reader(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever a decode on the read-ahead thread raises, the reader does not wait on
    that group: it reads it (and the rest of the file) itself."""
    plain = read_claims(folder / "claims.parquet")
    read_row_group = pq.ParquetFile.read_row_group

    def failing(self: pq.ParquetFile, i: int, *args: object, **kwargs: object) -> object:
        if threading.current_thread().name == "read-ahead" and i == 3:
            raise RuntimeError("not an Arrow error")
        return read_row_group(self, i, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_group", failing)
    ahead = ReadAhead(ROOM).start([(folder / "claims.parquet", schema.CLAIMS)])
    assert ahead.thread is not None
    ahead.thread.join(timeout=120)
    assert not ahead.thread.is_alive()
    claims = _claims_without_waiting(folder / "claims.parquet", ahead)
    pd.testing.assert_frame_equal(claims.frame, plain.frame)


def test_a_file_read_ahead_cannot_open_is_left_to_the_reader(tmp_path: Path) -> None:
    """A Parquet file with a repeated column name: read-ahead skips it without raising,
    and reading it reports the problem as it would without read-ahead."""
    path = tmp_path / "attribution.parquet"
    column = pa.array([1, 2], pa.int64())
    pq.write_table(pa.Table.from_arrays([column, column], names=["member_id", "member_id"]), path)
    ahead = ReadAhead().start([(path, schema.ATTRIBUTION)])
    assert ahead.thread is None  # nothing queued
    with pytest.raises(InputError):
        read_table(path, schema.ATTRIBUTION, ahead)


def test_two_handles_share_nothing(folder: Path) -> None:
    """Each command's handle holds its own row groups: a group decoded for one is never
    served to a reader of another (there is no process-wide cache)."""
    first = ReadAhead(ROOM).start([(folder / "claims.parquet", schema.CLAIMS)])
    assert first.thread is not None
    first.thread.join()
    assert first.held_bytes > 0
    second = ReadAhead(ROOM)
    path = folder / "claims.parquet"
    assert second.take(path, spec_columns(path, schema.CLAIMS), 0) is None
    assert first.take(path, spec_columns(path, schema.CLAIMS), 0) is not None
