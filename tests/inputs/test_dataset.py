"""Claims given as a folder of Parquet files (one per month, or any, subfolders too) are read
as one table: the same settlement, to the byte, as the same lines in one file, in one
piece and partitioned; rejected rows named by their file and row within it; files whose
columns differ refused, naming the file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from helpers import DEFAULT_CONFIG, claims_by_month, make_config, sample_with_parquet_claims
from typer.testing import CliRunner

from totalcare_payments.audit import bytes_sha256, file_sha256
from totalcare_payments.cli.app import app
from totalcare_payments.engine import EngineOptions
from totalcare_payments.errors import InputError
from totalcare_payments.jobs import run_settlement
from totalcare_payments.reasons import Reason

YEAR = 2026
ENGINES = {
    "in one piece": None,
    "three buckets": EngineOptions("local", workers=1, buckets=3),
}
# the results of a settlement: every file but the manifest (which names the claims' path)
RESULTS = ("settlement.csv", "settlement.parquet", "control_totals.csv", "control_totals.parquet")


def _programs(tmp_path: Path, *, string_ids: bool = False, hive: bool = False) -> tuple[Path, Path]:
    """The sample program twice: claims in one Parquet file, and the same lines as twelve
    monthly files in a claims/ folder."""
    one = sample_with_parquet_claims(tmp_path / "one", string_ids=string_ids)
    many = tmp_path / "many"
    shutil.copytree(one, many)
    (many / "claims.parquet").unlink()
    files = claims_by_month(one / "claims.parquet", many / "claims", hive=hive)
    assert len(files) == 12
    return one, many


def _plant(one: Path, many: Path, file: int, row: int, column: str, value: object) -> int:
    """Write ``value`` into row ``row`` (from 1) of the ``file``-th monthly file and into the
    same line of the one-file program; the line's row number in the one file."""
    files = sorted((many / "claims").rglob("*.parquet"))
    lines = [pd.read_parquet(f) for f in files]
    bad = lines[file - 1]
    bad[column] = bad[column].astype(object)
    bad.loc[row - 1, column] = value
    bad.to_parquet(files[file - 1], index=False)
    whole = pd.concat(lines, ignore_index=True)
    whole.to_parquet(one / "claims.parquet", index=False)
    return sum(len(f) for f in lines[: file - 1]) + row


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


@pytest.mark.parametrize("engine", list(ENGINES), ids=list(ENGINES))
@pytest.mark.parametrize("layout", ["monthly files", "hive subfolders", "text claim ids"])
def test_twelve_monthly_files_settle_as_the_same_claims_in_one_file(
    tmp_path: Path, engine: str, layout: str
) -> None:
    one, many = _programs(
        tmp_path, string_ids=layout == "text claim ids", hive=layout == "hive subfolders"
    )
    config = make_config()
    options = ENGINES[engine]
    run_settlement(config, YEAR, tmp_path / "out-one", data=one, engine=options)
    run_settlement(config, YEAR, tmp_path / "out-many", data=many, engine=options)
    for name in RESULTS:
        assert (tmp_path / "out-one" / name).read_bytes() == (
            tmp_path / "out-many" / name
        ).read_bytes(), name
    one_claims = _manifest(tmp_path / "out-one")["inputs"]["claims"]
    many_claims = _manifest(tmp_path / "out-many")["inputs"]["claims"]
    for key in ("read", "used", "excluded", "rejected"):
        assert many_claims[key] == one_claims[key], key
    # the sample's 7,068 claim lines; 136 of them in months their member was attributed nowhere
    assert many_claims["read"] == 7068
    assert many_claims["used"] + sum(many_claims["excluded"].values()) == 7068
    # every file, with its sha256 and rows; the folder's fingerprint is that of the list
    files = sorted((many / "claims").rglob("*.parquet"))
    listed = many_claims["files"]
    assert [f["path"] for f in listed] == [p.relative_to(many / "claims").as_posix() for p in files]
    assert [f["sha256"] for f in listed] == [file_sha256(p) for p in files]
    assert sum(f["rows"] for f in listed) == many_claims["read"]
    text = "".join(f"{f['path']}\t{f['sha256']}\t{f['rows']}\n" for f in listed)
    assert many_claims["sha256"] == bytes_sha256(text.encode())
    assert many_claims["path"] == str(many / "claims")


@pytest.mark.parametrize("engine", list(ENGINES), ids=list(ENGINES))
def test_a_bad_row_in_the_fifth_file_is_named_by_that_file_and_its_row(
    tmp_path: Path, engine: str
) -> None:
    one, many = _programs(tmp_path)
    # May's file, its 3rd line: a service date that is no date
    row_in_one = _plant(one, many, file=5, row=3, column="claim_start_date", value="2026-13-01")
    january_to_april = sum(
        len(pd.read_parquet(many / "claims" / f"2026-0{m}.parquet")) for m in range(1, 5)
    )
    assert row_in_one == january_to_april + 3
    config = make_config()
    options = ENGINES[engine]
    _, one_run = run_settlement(config, YEAR, tmp_path / "out-one", data=one, engine=options)
    _, many_run = run_settlement(config, YEAR, tmp_path / "out-many", data=many, engine=options)
    one_rejects = pd.read_csv(tmp_path / "out-one" / "rejects.csv", dtype=str)
    many_rejects = pd.read_csv(
        tmp_path / "out-many" / "rejects.csv", dtype=str, keep_default_na=False
    )
    # one file: the columns as ever; a folder: each row's file and row within it
    assert list(one_rejects.columns) == ["table", "row", "reason", "column", "message", "record"]
    assert list(many_rejects.columns) == [
        "table", "file", "row", "reason", "column", "message", "record"
    ]
    assert one_rejects[["table", "row", "reason"]].values.tolist() == [
        ["claims", str(row_in_one), Reason.WRONG_DATATYPE]
    ]
    assert many_rejects[["table", "file", "row", "reason", "column"]].values.tolist() == [
        ["claims", "2026-05.parquet", "3", Reason.WRONG_DATATYPE, "claim_start_date"]
    ]
    assert many_rejects["record"].tolist() == one_rejects["record"].tolist()
    for name in RESULTS:
        assert (tmp_path / "out-one" / name).read_bytes() == (
            tmp_path / "out-many" / name
        ).read_bytes(), name
    claims = _manifest(tmp_path / "out-many")["inputs"]["claims"]
    assert claims["rejected"] == {Reason.WRONG_DATATYPE: 1}
    assert claims["read"] == 7068
    assert claims["used"] + sum(claims["excluded"].values()) + 1 == 7068
    assert many_run.rejects[["file", "row"]].values.tolist() == [["2026-05.parquet", 3]]
    assert one_run.rejects["row"].tolist() == [row_in_one]

    # --strict fails on it, and the message names the file and row
    with pytest.raises(InputError) as failed:
        run_settlement(config, YEAR, tmp_path / "strict", data=many, engine=options, strict=True)
    (problem,) = [p for p in failed.value.problems if p.reason == Reason.WRONG_DATATYPE]
    assert problem.rows == ("2026-05.parquet:3",)
    assert "2026-05.parquet:3" in str(failed.value)


def test_a_claim_id_repeated_in_a_later_file_is_rejected_there(tmp_path: Path) -> None:
    _, many = _programs(tmp_path)
    february = pd.read_parquet(many / "claims" / "2026-02.parquet")
    september_path = many / "claims" / "2026-09.parquet"
    september = pd.read_parquet(september_path)
    # September's last line repeats February's first claim, a payment again
    repeat = february.iloc[[0]].assign(claim_start_date="2026-09-15")
    pd.concat([september, repeat], ignore_index=True).to_parquet(september_path, index=False)
    _, result = run_settlement(make_config(), YEAR, tmp_path / "out", data=many)
    rejects = result.rejects
    assert rejects[["file", "row", "reason"]].values.tolist() == [
        ["2026-09.parquet", len(september) + 1, Reason.DUPLICATE_CLAIM_ID]
    ]


@pytest.mark.parametrize("engine", list(ENGINES), ids=list(ENGINES))
def test_files_whose_column_types_differ_are_refused_naming_the_file(
    tmp_path: Path, engine: str
) -> None:
    _, many = _programs(tmp_path)
    july = many / "claims" / "2026-07.parquet"
    lines = pd.read_parquet(july)
    lines.assign(paid_amount=lines["paid_amount"].map("{:.2f}".format)).to_parquet(july, index=False)
    with pytest.raises(InputError) as failed:
        run_settlement(make_config(), YEAR, tmp_path / "out", data=many, engine=ENGINES[engine])
    (problem,) = failed.value.problems
    assert problem.reason == Reason.MIXED_SCHEMAS
    assert str(july) in problem.message
    assert "paid_amount is string, double in 2026-01.parquet" in problem.message
    assert not (tmp_path / "out").exists()


def test_a_file_without_a_column_the_others_have_is_refused(tmp_path: Path) -> None:
    _, many = _programs(tmp_path)
    march = many / "claims" / "2026-03.parquet"
    pd.read_parquet(march).assign(paid_date="2026-04-01").to_parquet(march, index=False)
    with pytest.raises(InputError) as failed:
        run_settlement(make_config(), YEAR, tmp_path / "out", data=many)
    (problem,) = failed.value.problems
    assert problem.reason == Reason.MIXED_SCHEMAS
    assert str(march) in problem.message and "paid_date" in problem.message


def test_a_file_missing_a_required_column_is_named(tmp_path: Path) -> None:
    _, many = _programs(tmp_path)
    june = many / "claims" / "2026-06.parquet"
    pd.read_parquet(june).drop(columns="paid_amount").to_parquet(june, index=False)
    with pytest.raises(InputError) as failed:
        run_settlement(make_config(), YEAR, tmp_path / "out", data=many)
    reasons = {p.reason for p in failed.value.problems}
    assert Reason.MISSING_COLUMN in reasons
    assert any(str(june) in p.message for p in failed.value.problems)


def test_a_claims_file_and_a_claims_folder_at_once_are_refused(tmp_path: Path) -> None:
    one, many = _programs(tmp_path)
    shutil.copy(one / "claims.parquet", many / "claims.parquet")
    with pytest.raises(InputError) as failed:
        run_settlement(make_config(), YEAR, tmp_path / "out", data=many)
    (problem,) = failed.value.problems
    assert problem.reason == Reason.TWO_FORMATS
    assert "claims.parquet and claims/" in problem.message


def test_an_empty_claims_folder_is_a_missing_file(tmp_path: Path) -> None:
    _, many = _programs(tmp_path)
    shutil.rmtree(many / "claims")
    (many / "claims").mkdir()
    with pytest.raises(InputError) as failed:
        run_settlement(make_config(), YEAR, tmp_path / "out", data=many)
    (problem,) = failed.value.problems
    assert problem.reason == Reason.MISSING_FILE
    assert "no .parquet file" in problem.message


def test_the_command_line_reads_a_claims_folder_given_with_claims(tmp_path: Path) -> None:
    one, many = _programs(tmp_path)
    elsewhere = tmp_path / "paid"
    shutil.move(many / "claims", elsewhere)
    runner = CliRunner()
    args = ["settle", "--year", str(YEAR), "--config", str(DEFAULT_CONFIG)]
    first = runner.invoke(app, [*args, "--data", str(one), "--out", str(tmp_path / "a")])
    second = runner.invoke(
        app,
        [*args, "--data", str(many), "--claims", str(elsewhere), "--out", str(tmp_path / "b")],
    )
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    for name in RESULTS:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    # a folder of files of different types: exit 2 and a message, never a traceback
    july = elsewhere / "2026-07.parquet"
    lines = pd.read_parquet(july)
    lines.assign(claim_id=lines["claim_id"].astype(str)).to_parquet(july, index=False)
    third = runner.invoke(
        app,
        [*args, "--data", str(many), "--claims", str(elsewhere), "--out", str(tmp_path / "c")],
    )
    assert third.exit_code == 2
    assert "MIXED_SCHEMAS" in third.output and "2026-07.parquet" in third.output
    assert "Traceback" not in third.output


def test_settle_help_names_the_folder_form() -> None:
    result = CliRunner().invoke(app, ["settle", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "folder of .parquet files" in text


def test_claims_of_another_year_are_named_by_file_and_row(tmp_path: Path) -> None:
    _, many = _programs(tmp_path)
    january = pd.read_parquet(many / "claims" / "2026-01.parquet")
    # a file of last year's lines beside the twelve: 1,000 of 8,068 lines (12.4% > 10%)
    old = pd.concat([january] * 2, ignore_index=True).head(1000)
    new_ids = january["claim_id"].max() + 10**6 + pd.RangeIndex(1000)
    old = old.assign(claim_id=new_ids.to_numpy(), claim_start_date="2025-06-01")
    (many / "claims" / "old").mkdir()
    old.to_parquet(many / "claims" / "old" / "2025.parquet", index=False)
    with pytest.raises(InputError) as failed:
        run_settlement(make_config(), YEAR, tmp_path / "out", data=many)
    (problem,) = [p for p in failed.value.problems if p.reason == Reason.CLAIMS_OUTSIDE_PERIOD]
    # the old file sorts after the twelve (its path, old/2025.parquet, after 2026-12.parquet)
    assert problem.rows == tuple(f"old/2025.parquet:{r}" for r in range(1, 6))


def test_the_read_ahead_decodes_a_claims_folder_and_the_reader_takes_every_group(
    tmp_path: Path,
) -> None:
    from totalcare_payments.inputs.readahead import read_ahead_inputs
    from totalcare_payments.program import load_program

    one, many = _programs(tmp_path)
    ahead = read_ahead_inputs(many, with_claims=True)
    assert ahead.thread is not None
    ahead.thread.join()
    assert ahead.held_bytes > 0  # attribution is CSV: only the twelve claims files
    program = load_program(many, make_config(), with_claims=True, ahead=ahead)
    assert ahead.held_bytes == 0
    alone = load_program(one, make_config(), with_claims=True)
    assert program.claims is not None and alone.claims is not None
    assert program.claims.rows_read == alone.claims.rows_read == 7068
    amounts = [sorted(p.claims.frame["paid_amount"].to_numpy()) for p in (program, alone)]
    assert amounts[0] == amounts[1]
