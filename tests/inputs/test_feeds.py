"""Real feeds, read by declaration: the sample program's facts written the ways payers'
systems write them pay exactly what the sample pays once the format is declared in
``[inputs.<table>]``, and are rejected -- naming the format expected and how to declare
another -- when it is not. Sample totals: March 2026 CCF $2,378.10; 2026 settlement
$36,418.58 in final payments."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from helpers import SAMPLE, make_config, write_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from totalcare_payments.cli.app import app

MARCH_CCF = "2378.10"
SETTLED = "36418.58"
Edit = Callable[[pd.DataFrame], pd.DataFrame]


def _copy(tmp_path: Path, edits: dict[str, Edit]) -> Path:
    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data, dirs_exist_ok=True)
    for table, edit in edits.items():
        path = data / f"{table}.csv"
        edit(pd.read_csv(path, dtype=str, keep_default_na=False)).to_csv(path, index=False)
    return data


def _run(data: Path, command: str, inputs: dict | None, *extra: str) -> tuple[int, str, Path]:
    folder = data.parent
    config = write_config(folder, make_config({"inputs": inputs} if inputs else None))
    out = folder / f"out-{command}"
    if out.exists():
        shutil.rmtree(out)
    job = ["ccf", "--month", "2026-03"] if command == "ccf" else ["settle", "--year", "2026"]
    args = [*job, "--data", str(data), "--config", str(config), "--out", str(out), *extra]
    result = CliRunner().invoke(app, args)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output, out


def _total(out: Path, scope: str, column: str) -> str:
    totals = json.loads((out / "manifest.json").read_text())["control_totals"]
    return str(next(t for t in totals if t["scope"] == scope)[column])


def _paid(out: Path) -> str:
    return _total(out, "program", "final_payment")


def _march(out: Path) -> str:
    return _total(out, "batch", "ccf_amount")


def _dates(fmt: str) -> Edit:
    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        frame["claim_start_date"] = pd.to_datetime(frame["claim_start_date"]).dt.strftime(fmt)
        return frame

    return edit


def _every_third(fmt: str) -> Edit:
    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        dates = pd.to_datetime(frame["claim_start_date"])
        third = frame.index % 3 == 0
        frame.loc[third, "claim_start_date"] = dates[third].dt.strftime(fmt)
        return frame

    return edit


def _money(frame: pd.DataFrame) -> pd.DataFrame:
    frame["paid_amount"] = frame["paid_amount"].astype(float).map(lambda v: f"${v:,.2f}")
    return frame


def _months(fmt: str) -> Edit:
    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        months = pd.to_datetime(frame["year_month"], format="%Y-%m")
        frame["year_month"] = [f"{m.year}{fmt}{m.month}" for m in months] if fmt != "%Y%m" else (
            months.dt.strftime("%Y%m")
        )
        return frame

    return edit


def _padded(frame: pd.DataFrame) -> pd.DataFrame:
    frame.iloc[:, 0] = frame.iloc[:, 0].str.zfill(11)
    return frame


def _percent(frame: pd.DataFrame) -> pd.DataFrame:
    frame["quality_score"] = (frame["quality_score"].astype(float) * 100).round(4).astype(str)
    return frame


FEEDS: dict[str, tuple[str, dict[str, Edit], dict]] = {
    # name: (job, how the file is written, the declaration that reads it)
    "dates M/D/YY": (
        "settle",
        {"claims": _dates("%-m/%-d/%y")},
        {"claims": {"claim_start_date": {"format": "%m/%d/%y"}}},
    ),
    "one date in three MM/DD/YYYY": (
        "settle",
        {"claims": _every_third("%m/%d/%Y")},
        {"claims": {"claim_start_date": {"format": ["%Y-%m-%d", "%m/%d/%Y"]}}},
    ),
    "amounts $1,234.56": (
        "settle",
        {"claims": _money},
        {"claims": {"paid_amount": {"thousands": ",", "currency": "$"}}},
    ),
    "months 2026-3": (
        "ccf",
        {"attribution": _months("-")},
        {"attribution": {"year_month": {"format": "%Y-%m"}}},
    ),
    "months 202603": (
        "ccf",
        {"attribution": _months("%Y%m")},
        {"attribution": {"year_month": {"format": "%Y%m"}}},
    ),
    "risk ids zero-padded": (
        "ccf",
        {"risk_scores": _padded},
        {"risk_scores": {"member_id": {"ids": ["strip_leading_zeros"]}}},
    ),
    "quality as a percent": (
        "settle",
        {"quality": _percent},
        {"quality": {"quality_score": {"percent": True}}},
    ),
}


@pytest.mark.parametrize("feed", sorted(FEEDS))
def test_a_declared_feed_pays_the_sample_to_the_cent(feed: str, tmp_path: Path) -> None:
    job, edits, declaration = FEEDS[feed]
    data = _copy(tmp_path, edits)
    code, text, out = _run(data, job, declaration)
    assert code == 0, text
    assert (_paid(out) if job == "settle" else _march(out)) == (
        SETTLED if job == "settle" else MARCH_CCF
    )
    rejected = json.loads((out / "manifest.json").read_text())["inputs"]
    assert all(not entry["rejected"] for entry in rejected.values())


@pytest.mark.parametrize(
    ("feed", "expected"),
    [
        ("dates M/D/YY", "claim_start_date is not a date YYYY-MM-DD"),
        ("amounts $1,234.56", 'paid_amount = { thousands = ",", currency = "$" }'),
        ("months 202603", "year_month is not a month YYYY-MM"),
        ("quality as a percent", "quality_score = { percent = true }"),
    ],
)
def test_an_undeclared_feed_is_rejected_with_the_format_expected(
    feed: str, expected: str, tmp_path: Path
) -> None:
    job, edits, _ = FEEDS[feed]
    code, text, out = _run(_copy(tmp_path, edits), job, None, "--strict")
    assert code == 2, text
    flat = " ".join(text.split())
    assert expected in flat and "[inputs." in flat
    assert not out.exists()


def test_two_declared_formats_that_read_a_date_differently_reject_it(tmp_path: Path) -> None:
    """01/02/2026 is January 2nd as %m/%d/%Y and February 1st as %d/%m/%Y: never guessed."""
    data = _copy(tmp_path, {"claims": _dates("%m/%d/%Y")})
    declaration = {"claims": {"claim_start_date": {"format": ["%m/%d/%Y", "%d/%m/%Y"]}}}
    code, text, _ = _run(data, "settle", declaration, "--strict")
    assert code == 2
    assert "reads as two dates (%m/%d/%Y and %d/%m/%Y)" in " ".join(text.split())


def test_a_declaration_that_cannot_apply_is_a_config_error(tmp_path: Path) -> None:
    data = _copy(tmp_path, {})
    code, text, _ = _run(data, "ccf", {"attribution": {"member_id": {"percent": True}}})
    assert code == 3 and "inputs.attribution.member_id: percent cannot apply to an id column" in text
    code, text, _ = _run(data, "ccf", {"attribution": {"no_such": {"format": "%Y%m"}}})
    assert code == 3 and "attribution has no column 'no_such'" in text


def test_a_table_in_two_formats_names_both_files(tmp_path: Path) -> None:
    data = _copy(tmp_path, {})
    stale = pd.read_csv(data / "attribution.csv", dtype=str)
    stale[stale["practice_id"] != "P0001"].to_parquet(data / "attribution.parquet")  # old extract
    code, text, out = _run(data, "ccf", None)
    assert code == 2, text
    assert "TWO_FORMATS" in text and "attribution.parquet and attribution.csv" in text
    assert not out.exists()


def test_parquet_with_float_ids_and_timestamp_months_reads_as_the_csv(tmp_path: Path) -> None:
    data = _copy(tmp_path, {})
    frame = pd.read_csv(data / "attribution.csv")
    frame["member_id"] = frame["member_id"].astype(float)
    frame["year_month"] = pd.to_datetime(frame["year_month"])
    (data / "attribution.csv").unlink()
    frame.to_parquet(data / "attribution.parquet")
    code, text, out = _run(data, "ccf", None)
    assert code == 0, text
    assert _march(out) == MARCH_CCF


def test_a_settlement_column_does_not_stop_the_months_fees(tmp_path: Path) -> None:
    def dollars(frame: pd.DataFrame) -> pd.DataFrame:
        frame["baseline_pmpm"] = "$357.20"
        return frame

    data = _copy(tmp_path, {"practices": dollars})
    code, text, out = _run(data, "ccf", None)
    assert code == 0, text
    assert _march(out) == MARCH_CCF
    code, text, _ = _run(data, "settle", None)
    assert code == 2
    flat = " ".join(text.split())
    assert "practices" in flat and "baseline_pmpm" in flat
    assert "baseline_pmpm=$357.20" in flat  # the value as written, not blank
    assert flat.index("practices (") < flat.index("attribution (")  # the file at fault first


def test_a_whole_file_failure_comes_before_its_cascade(tmp_path: Path) -> None:
    def lower(frame: pd.DataFrame) -> pd.DataFrame:
        frame["tier"] = frame["tier"].str.lower()
        return frame

    code, text, _ = _run(_copy(tmp_path, {"practices": lower}), "ccf", None)
    assert code == 2
    lines = [ln for ln in text.splitlines() if ln.strip().startswith("- ")]
    assert "UNKNOWN_TIER" in lines[0] and "practices" in lines[0]
    assert "covers no month" not in text and "NO_MEMBER_MONTHS" not in text


# every way the facts may be written, and the declaration that reads it back
_DATE_FORMATS = ["%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%d.%m.%Y", "%Y%m%d"]
_MONTH_FORMATS = ["%Y-%m", "%Y%m", "%m/%Y"]


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    date_format=st.sampled_from(_DATE_FORMATS),
    month_format=st.sampled_from(_MONTH_FORMATS),
    thousands=st.sampled_from([None, ",", " "]),
    currency=st.sampled_from([None, "$", "USD"]),
    percent=st.booleans(),
    pad=st.integers(min_value=0, max_value=3),
)
@pytest.mark.slow
def test_the_facts_in_any_declared_format_pay_the_same_cents(
    tmp_path_factory: pytest.TempPathFactory,
    date_format: str,
    month_format: str,
    thousands: str | None,
    currency: str | None,
    percent: bool,
    pad: int,
) -> None:
    def claims(frame: pd.DataFrame) -> pd.DataFrame:
        frame["claim_start_date"] = pd.to_datetime(frame["claim_start_date"]).dt.strftime(
            date_format
        )
        amount = frame["paid_amount"].astype(float)
        sep = thousands or ""
        text = amount.map(lambda v: f"{v:,.2f}".replace(",", sep))
        frame["paid_amount"] = (currency or "") + text
        return frame

    def attribution(frame: pd.DataFrame) -> pd.DataFrame:
        months = pd.to_datetime(frame["year_month"], format="%Y-%m")
        frame["year_month"] = months.dt.strftime(month_format)
        return frame

    def risk(frame: pd.DataFrame) -> pd.DataFrame:
        frame.iloc[:, 0] = "0" * pad + frame.iloc[:, 0]
        return frame

    def quality(frame: pd.DataFrame) -> pd.DataFrame:
        if percent:
            score = frame["quality_score"].astype(float) * 100
            frame["quality_score"] = score.round(4).map(lambda v: f"{v}%")
        return frame

    money: dict[str, object] = {}
    if thousands:
        money["thousands"] = thousands
    if currency:
        money["currency"] = currency
    declaration = {
        "claims": {"claim_start_date": {"format": date_format}, "paid_amount": money},
        "attribution": {"year_month": {"format": month_format}},
        "risk_scores": {"member_id": {"ids": ["strip_leading_zeros"]}},
        "quality": {"quality_score": {"percent": percent}},
    }
    folder = tmp_path_factory.mktemp("feed")
    data = _copy(
        folder,
        {"claims": claims, "attribution": attribution, "risk_scores": risk, "quality": quality},
    )
    code, text, out = _run(data, "settle", declaration)
    assert code == 0, text
    assert _paid(out) == SETTLED
    code, text, out = _run(data, "ccf", declaration)
    assert code == 0, text
    assert _march(out) == MARCH_CCF


def test_every_declaration_in_the_docs_is_a_valid_config() -> None:
    import re
    import tomllib

    from helpers import ROOT, config_dict

    from totalcare_payments.config import parse_config

    page = (ROOT / "docs" / "feeding-real-data.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", page, re.S)
    assert len(blocks) >= 2
    for block in blocks:
        config = parse_config({**config_dict(), **tomllib.loads(block)})
        declared = config.inputs.of("claims") or config.inputs.of("attribution")
        assert declared or config.checks.relaxed  # a declaration, or a relaxed gate


def test_a_bad_summary_file_is_reported_once_with_the_values_as_written(tmp_path: Path) -> None:
    summary = pd.read_csv(SAMPLE / "practice_summary.csv", dtype=str)
    summary.loc[0, "budget"] = "6,000,000.00"
    path = tmp_path / "summary.csv"
    summary.to_csv(path, index=False)
    result = CliRunner().invoke(
        app, ["settle", "--year", "2026", "--summary", str(path), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    problems = [ln for ln in result.output.splitlines() if ln.strip().startswith("- ")]
    assert len(problems) == 1 and result.output.count("WRONG_DATATYPE") == 1
    assert "budget=6,000,000.00" in problems[0]
    assert not (tmp_path / "o").exists()
