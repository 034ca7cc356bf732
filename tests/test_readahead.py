"""Read-ahead decodes the large Parquet inputs on a background thread while the program
starts up. It may change when a row group is decoded, never what is read: the year's
results, rejects and accounting must be those of a plain read, each row group must be
decoded once, and whatever read-ahead cannot serve is read as usual."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_row_groups import _year, program  # noqa: F401 (the module's program fixture)

from totalcare_payments import inputs, readahead, startup
from totalcare_payments.claims import read_claims
from totalcare_payments.errors import InputError
from totalcare_payments.inputs import Table
from totalcare_payments.readahead import read_ahead_inputs


@pytest.fixture
def folder(program: dict[str, Path], tmp_path: Path) -> Path:  # noqa: F811
    """A copy of the Parquet program (977-row groups, planted bad rows) for one test."""
    return Path(shutil.copytree(program["parquet"], tmp_path / "data"))


def _served(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """Row groups ``read_parts`` took from the read-ahead, per file name."""
    served: Counter = Counter()
    take = inputs.take

    def counting(path: Path, columns: list[str], group: int) -> object:
        table = take(path, columns, group)
        if table is not None:
            served[Path(path).name] += 1
        return table

    monkeypatch.setattr(inputs, "take", counting)
    return served


def _claims_without_waiting(path: Path) -> Table:
    """``read_claims`` on a thread that must end within two minutes: a reader left
    waiting on the read-ahead fails the test instead of hanging it."""
    result: list[Table] = []
    reader = threading.Thread(target=lambda: result.append(read_claims(path)), daemon=True)
    reader.start()
    reader.join(timeout=120)
    assert not reader.is_alive(), "the claims reader waited on the read-ahead"
    return result[0]


def _assert_same_year(a: dict[str, object], b: dict[str, object]) -> None:
    for key in ("lines", "practices", "rejects"):
        pd.testing.assert_frame_equal(a[key], b[key])
    assert a["accounting"] == b["accounting"]
    assert a["ccf_accounting"] == b["ccf_accounting"]


def test_read_ahead_gives_the_same_year(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = _year(folder)
    served = _served(monkeypatch)
    monkeypatch.setattr(readahead, "MEMORY_AHEAD", 1 << 40)  # room for every group
    thread = read_ahead_inputs(folder, with_claims=True)
    assert thread is not None
    thread.join()  # everything decoded before the program reads it
    _assert_same_year(_year(folder), plain)
    groups = {n: pq.ParquetFile(folder / n).num_row_groups for n in served}
    assert served == {
        "attribution.parquet": groups["attribution.parquet"],
        "claims.parquet": groups["claims.parquet"],
    }


def test_reader_and_read_ahead_share_the_groups(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With little room ahead, the reader catches up and reads some groups itself while
    read-ahead decodes others; no group is decoded twice and the year is the same."""
    plain = _year(folder)
    monkeypatch.setattr(readahead, "MEMORY_AHEAD", 1)
    served = _served(monkeypatch)
    decodes: Counter = Counter()
    read_row_group = pq.ParquetFile.read_row_group

    def counting(self: pq.ParquetFile, i: int, *args: object, **kwargs: object) -> object:
        decodes[(self.metadata.num_rows, i)] += 1
        return read_row_group(self, i, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_group", counting)
    read_ahead_inputs(folder, with_claims=True)
    _assert_same_year(_year(folder), plain)
    assert sum(served.values()) >= 2
    for name in ("attribution", "claims"):
        meta = pq.ParquetFile(folder / f"{name}.parquet").metadata
        for group in range(meta.num_row_groups):
            assert decodes[(meta.num_rows, group)] == 1, (name, group)


def test_a_changed_file_is_read_again(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readahead, "MEMORY_AHEAD", 1 << 40)
    thread = read_ahead_inputs(folder, with_claims=True)
    assert thread is not None
    thread.join()
    claims = pq.read_table(folder / "claims.parquet")
    pq.write_table(claims.slice(0, 2000), folder / "claims.parquet", row_group_size=500)
    served = _served(monkeypatch)
    result = _year(folder)
    assert "claims.parquet" not in served  # the file read ahead is not the file now there
    assert result["accounting"]["claims"]["read"] == 2000


def test_other_columns_are_read_again(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readahead, "MEMORY_AHEAD", 1 << 40)
    thread = readahead.read_ahead([(folder / "claims.parquet", inputs.schema.CLAIMS)])
    assert thread is not None
    thread.join()
    path = folder / "claims.parquet"
    assert readahead.take(path, ["claim_id", "member_id"], 0) is None
    assert readahead.take(path, readahead.spec_columns(path, inputs.schema.CLAIMS), 0) is not None


def test_a_file_nobody_reads_does_not_hold_up_the_next(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read-ahead stops once MEMORY_AHEAD is taken by a file nobody reads; the next file
    is then read by its reader, without waiting."""
    monkeypatch.setattr(readahead, "MEMORY_AHEAD", 1)
    plain = read_claims(folder / "claims.parquet")
    read_ahead_inputs(folder, with_claims=True)  # attribution first: never read here
    claims = _claims_without_waiting(folder / "claims.parquet")
    pd.testing.assert_frame_equal(claims.frame, plain.frame)
    assert claims.rows_read == plain.rows_read


def test_a_damaged_file_gives_the_same_error(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readahead, "MEMORY_AHEAD", 1 << 40)
    path = folder / "claims.parquet"
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4096] = bytes(4096)  # a data page destroyed, the footer intact
    path.write_bytes(bytes(data))
    with pytest.raises(InputError) as plain:
        read_claims(path)
    thread = read_ahead_inputs(folder, with_claims=True)
    assert thread is not None
    thread.join()
    with pytest.raises(InputError) as after:
        read_claims(path)
    assert str(after.value) == str(plain.value)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["settle", "--year", "2026", "--data", "D"], ("D", True, None)),
        (["settle", "--year=2026", "-d", "D", "--claims=C.parquet"], ("D", True, "C.parquet")),
        (["ccf", "--month", "2026-03", "--data=D", "--data", "E"], ("E", False, None)),
        (["ccf", "--month", "2026-03"], ("data", False, None)),
        (["settle", "--year", "2026", "--summary", "s.csv", "--data", "D"], None),
        (["settle", "--help", "--data", "D"], None),
        (["scenarios", "--data", "D"], None),
        ([], None),
    ],
)
def test_the_command_line_says_what_to_read_ahead(
    args: list[str], expected: tuple | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("D", "E", "data"):
        (tmp_path / name).mkdir()
    monkeypatch.chdir(tmp_path)
    calls = []
    monkeypatch.setattr(
        startup,
        "read_ahead_inputs",
        lambda data, *, with_claims, attribution=None, claims=None: calls.append(
            (data, with_claims, claims)
        ),
    )
    startup.read_ahead_for(args)
    assert calls == ([] if expected is None else [expected])


def test_start_up_modules_do_not_load_pandas() -> None:
    code = (
        "import sys\n"
        "import totalcare_payments.startup\n"
        "assert 'pandas' not in sys.modules, 'pandas loaded before the read-ahead starts'\n"
        "from totalcare_payments import load_inputs\n"
        "assert 'pandas' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


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
    monkeypatch.setattr(readahead, "MEMORY_AHEAD", 1 << 40)
    thread = readahead.read_ahead([(folder / "claims.parquet", inputs.schema.CLAIMS)])
    assert thread is not None
    thread.join(timeout=120)
    assert not thread.is_alive()
    claims = _claims_without_waiting(folder / "claims.parquet")
    pd.testing.assert_frame_equal(claims.frame, plain.frame)


def test_a_file_read_ahead_cannot_open_is_left_to_the_reader(tmp_path: Path) -> None:
    """A Parquet file with a repeated column name: read-ahead skips it without raising,
    and reading it reports the problem as it would without read-ahead."""
    path = tmp_path / "attribution.parquet"
    column = pa.array([1, 2], pa.int64())
    pq.write_table(pa.Table.from_arrays([column, column], names=["member_id", "member_id"]), path)
    assert readahead.read_ahead([(path, inputs.schema.ATTRIBUTION)]) is None
    with pytest.raises(InputError):
        inputs.read_table(path, inputs.schema.ATTRIBUTION)


def test_the_package_names_and_submodules_load_on_first_use() -> None:
    import totalcare_payments as package

    assert package.inputs.load_inputs is package.load_inputs
    assert len(dir(package)) == len(set(dir(package)))
    with pytest.raises(AttributeError):
        package.no_such_name  # noqa: B018
