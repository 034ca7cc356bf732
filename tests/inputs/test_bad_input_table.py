"""The README's table of bad inputs, case by case: default outcome and ``--strict`` outcome."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from helpers import ROOT, SAMPLE, make_config, relaxed_checks, write_config
from typer.testing import CliRunner

from totalcare_payments.cli.app import app

Mutation = Callable[[Path], None]


def _edit(name: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> Mutation:
    def mutate(data: Path) -> None:
        path = data / f"{name}.csv"
        change(pd.read_csv(path, dtype=str, keep_default_na=False)).to_csv(path, index=False)

    return mutate


def _set(name: str, row: int, column: str, value: str) -> Mutation:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[row, column] = value
        return frame

    return _edit(name, change)


def _repeat(name: str, row: int, **changes: str) -> Mutation:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        extra = frame.iloc[[row]].copy()
        for column, value in changes.items():
            extra[column] = value
        return pd.concat([frame, extra], ignore_index=True)

    return _edit(name, change)


def _march_row(data: Path) -> int:
    frame = pd.read_csv(data / "attribution.csv", dtype=str)
    return int(frame.index[frame["year_month"] == "2026-03"][0])


def _conflict(data: Path) -> None:
    row = _march_row(data)
    frame = pd.read_csv(data / "attribution.csv", dtype=str)
    other = "P0006" if frame.loc[row, "practice_id"] != "P0006" else "P0001"
    _repeat("attribution", row, practice_id=other)(data)


def _duplicate_member_month(data: Path) -> None:
    _repeat("attribution", _march_row(data))(data)


def _paid_before_service(data: Path) -> None:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame["paid_date"] = frame["claim_start_date"]
        frame.loc[0, "paid_date"] = "2025-12-31"
        return frame

    _edit("claims", change)(data)


def _unknown_practice(data: Path) -> None:
    _set("attribution", _march_row(data), "practice_id", "P9999")(data)


# reason code -> (mutation, command, default exit, strict exit)
def _overlapping_dates(data: Path) -> None:
    """P0001 as two effective-dated rows that are both in force in June."""
    frame = pd.read_csv(data / "practices.csv", dtype=str).assign(effective_from="", effective_to="")
    first = frame.iloc[[0]].assign(effective_to="2026-06")
    second = frame.iloc[[0]].assign(effective_from="2026-06", tier="Advanced")
    pd.concat([first, second, frame.iloc[1:]], ignore_index=True).to_csv(
        data / "practices.csv", index=False
    )


CASES: dict[str, tuple[Mutation, str, int, int]] = {
    "WRONG_DATATYPE": (_set("attribution", 0, "year_month", "2026-13"), "ccf", 0, 2),
    "NULL_KEY": (_set("attribution", 0, "member_id", ""), "ccf", 0, 2),
    "NULL_VALUE": (_set("risk_scores", 0, "mara_px_total", ""), "ccf", 0, 2),
    "NON_FINITE": (_set("risk_scores", 0, "mara_px_total", "inf"), "ccf", 0, 2),
    "OUT_OF_RANGE": (_set("quality", 0, "quality_score", "1.5"), "settle", 0, 2),
    "TOO_MANY_DECIMALS": (_set("claims", 0, "paid_amount", "12.34567"), "settle", 0, 2),
    "DUPLICATE_CLAIM_ID": (_repeat("claims", 0), "settle", 0, 2),
    "PAID_BEFORE_SERVICE": (_paid_before_service, "settle", 0, 2),
    "DUPLICATE_MEMBER_MONTH": (_duplicate_member_month, "ccf", 0, 2),
    "DUPLICATE_KEY": (_repeat("risk_scores", 0, mara_px_total="2.0"), "ccf", 2, 2),
    "CONFLICTING_ATTRIBUTION": (_conflict, "ccf", 2, 2),
    "UNKNOWN_PRACTICE": (_unknown_practice, "ccf", 2, 2),
    "UNKNOWN_TIER": (_set("practices", 0, "tier", "Gold"), "ccf", 2, 2),
    "OVERLAPPING_DATES": (_overlapping_dates, "ccf", 2, 2),
    "practice row": (_set("practices", 1, "baseline_pmpm", "n/a"), "settle", 2, 2),
}
COMMANDS = {
    "ccf": ["ccf", "--month", "2026-03"],
    "settle": ["settle", "--year", "2026"],
}


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_case(case: str, strict: bool, tmp_path: Path):
    mutate, command, default_exit, strict_exit = CASES[case]
    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data)
    mutate(data)
    out = tmp_path / "out"
    args = [*COMMANDS[command], "--data", str(data), "--out", str(out)]
    if not strict:
        # one planted row of a small table (quality: 1 of 6) is above the default share of
        # rejected rows a table may have (tests/test_gates.py): allowed here, with a reason
        limits = relaxed_checks("one planted row in a small table", max_rejected_share=0.2)
        args += ["--config", str(write_config(tmp_path, make_config(limits)))]
    result = CliRunner().invoke(app, args + (["--strict"] if strict else []))
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    expected = strict_exit if strict else default_exit
    assert result.exit_code == expected, result.output
    if expected == 2:
        assert "Bad input (exit 2)" in result.output
        reason = case if case.isupper() else "WRONG_DATATYPE"
        assert reason in result.output
        assert not out.exists()
    else:
        rejects = pd.read_csv(out / "rejects.csv")
        assert rejects["reason"].tolist() == [case]
        manifest = json.loads((out / "manifest.json").read_text())
        rejected = {k: v for e in manifest["inputs"].values() for k, v in e["rejected"].items()}
        assert rejected == {case: 1}


@pytest.mark.parametrize(("value", "reason"), [("0", "OUT_OF_RANGE"), ("", "NULL_VALUE")])
def test_a_baseline_of_zero_or_empty_fails_the_settlement_with_a_listed_reason(
    value: str, reason: str, tmp_path: Path
):
    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data)
    _set("practices", 1, "baseline_pmpm", value)(data)
    args = [*COMMANDS["settle"], "--data", str(data), "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert reason in result.output and "baseline_pmpm" in result.output
    table = (ROOT / "README.md").read_text()
    row = next(
        ln
        for ln in table.splitlines()
        if "baseline_pmpm or baseline_risk is" in ln and reason in ln
    )
    assert row.split("|")[3:5] == [" exit 2 ", " exit 2 "]


# reason code -> the arguments that meet it (a run that cannot start: exit 2, no output)
WHOLE_RUN_CASES: dict[str, list[str]] = {
    "NO_MEMBER_MONTHS": ["settle", "--year", "2025"],
    "UNSUPPORTED_FORMAT": ["ccf", "--month", "2026-03", "--practices", "practices.xlsx"],
    "INVALID": ["ccf", "--month", "2026-03", "--months", "2026-01..2026-02"],
}


@pytest.mark.parametrize("case", sorted(WHOLE_RUN_CASES))
def test_whole_run_case(case: str, tmp_path: Path):
    out = tmp_path / "out"
    args = [*WHOLE_RUN_CASES[case], "--data", str(SAMPLE), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Bad input (exit 2)" in result.output and case in result.output
    assert not out.exists()


def test_missing_score_gets_the_default_and_is_counted(tmp_path: Path):
    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data)
    scores = pd.read_csv(data / "risk_scores.csv", dtype=str)
    scores.iloc[1:].to_csv(data / "risk_scores.csv", index=False)
    out = tmp_path / "out"
    for extra in ([], ["--strict", "--force"]):
        args = ["ccf", "--months", "2026-01..2026-12", "--data", str(data), "--out", str(out)]
        result = CliRunner().invoke(app, args + extra)
        assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["notes"]["members_defaulted_score"] == 14 + 1


GATE_CODES = {
    "EMPTY_TABLE",
    "TOO_MANY_REJECTED",
    "TOO_MANY_UNSCORED",
    "MEMBER_IDS_NOT_MATCHED",
    "CLAIMS_OUTSIDE_PERIOD",
    "PERIOD_NOT_COVERED",
    "PRACTICE_WITHOUT_CLAIMS",
}


def test_readme_table_lists_what_the_tests_check():
    text = (ROOT / "README.md").read_text()
    table = text[text.index("### Bad input: what each case gets") : text.index("## Config")]
    listed = set(re.findall(r"\| ([A-Z][A-Z_]+) \|", table))
    tested = {c for c in CASES if c.isupper()} | {
        "MISSING_FILE",  # test_bad_input.test_missing_file
        "MISSING_COLUMN",  # test_bad_input.test_misspelled_column_names_what_exists
        "UNREADABLE",  # test_robustness: non-UTF-8 CSV, truncated Parquet
        "MISSING_SCORE",  # test_missing_score_gets_the_default_and_is_counted
        "MONTH_NOT_IN_DATA",  # test_bad_input.test_month_outside_the_data
        "TWO_FORMATS",  # test_feeds.test_a_table_in_two_formats_names_both_files
        "MIXED_SCHEMAS",  # test_dataset: a claims folder's files of different column types
        "NO_COMPLETION_ESTIMATE",  # savings/test_completion: paid dates without a factor
        "UNKNOWN_SEGMENT",  # test_segment_inputs: a segment program.segments does not list
        "NO_BASELINE",  # test_segment_inputs: a practice's segment without a baselines row
        *GATE_CODES,  # tests/test_gates.py: each data-quality gate, end to end
        *WHOLE_RUN_CASES,
    }
    assert listed == tested
