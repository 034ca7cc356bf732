"""The data-quality gates ([checks]): a broken feed never becomes a payment.

End to end through the command line on the sample data (a run that exits 0 pays the
sample's exact totals: March 2026 CCF $2,378.10, 2026 settlement $36,418.58 in final
payments), and case by case through the functional core (``totalcare_payments.gates``).
"""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from helpers import GATES_OPEN, ROOT, SAMPLE, make_config, relaxed_checks, write_config
from typer.testing import CliRunner

from totalcare_payments.cli.app import app
from totalcare_payments.config import CheckTerms, parse_config, preset
from totalcare_payments.errors import ConfigError
from totalcare_payments.gates import (
    GateError,
    empty_tables,
    member_gates,
    near_misses,
    practices_without_claims,
    rejected_rows,
    require_passed,
)
from totalcare_payments.inputs import schema
from totalcare_payments.inputs.checks import check_table
from totalcare_payments.periods import parse_month_range, year_periods
from totalcare_payments.program import load_program, program_from_frames
from totalcare_payments.savings.year import compute_settlement

MARCH_CCF = "2378.10"
SETTLED = "36418.58"
GATE_KEYS = [
    "min_table_rows",
    "max_rejected_share",
    "max_unscored_share",
    "min_members_in_risk_scores",
    "min_members_in_claims",
    "max_claims_outside_period_share",
    "max_months_without_claims",
    "max_practices_without_claims",
]

Edit = Callable[[pd.DataFrame], pd.DataFrame]


# ----- helpers -----


def _data(tmp_path: Path, edits: dict[str, Edit] | None = None) -> Path:
    """The sample data, with some tables edited (as text: values stay as written)."""
    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data)
    for table, edit in (edits or {}).items():
        path = data / f"{table}.csv"
        edit(pd.read_csv(path, dtype=str, keep_default_na=False)).to_csv(path, index=False)
    return data


def _run(
    data: Path, command: str, changes: dict | None = None, *extra: str
) -> tuple[int, str, Path]:
    """Run ``ccf`` (March 2026), ``settle`` (2026) or ``scenarios`` on a data folder, with
    the default config changed by ``changes``; (exit code, output, output folder)."""
    folder = data.parent
    config = write_config(folder, make_config(changes))
    out = folder / f"out-{command}"
    if out.exists():
        shutil.rmtree(out)
    job = {
        "ccf": ["ccf", "--month", "2026-03"],
        "settle": ["settle", "--year", "2026"],
        "scenarios": [
            "scenarios",
            "--year",
            "2026",
            "--grid",
            str(ROOT / "examples" / "scenarios_example.toml"),
            "--draws",
            "0",
        ],
    }[command]
    args = [*job, "--data", str(data), "--config", str(config), "--out", str(out), *extra]
    result = CliRunner().invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.exit_code, result.output, out


def _flat(text: str) -> str:
    return " ".join(text.split())


def _total(out: Path, scope: str, column: str) -> str:
    totals = json.loads((out / "manifest.json").read_text())["control_totals"]
    return str(next(t for t in totals if t["scope"] == scope)[column])


def _gates(out: Path) -> list[dict]:
    gates: list[dict] = json.loads((out / "manifest.json").read_text())["gates"]
    return gates


def _problem_lines(text: str) -> list[str]:
    """The error's problems, one per line (wrapped lines joined)."""
    flat = text.replace("\n    ", " ")
    return [ln.strip() for ln in flat.splitlines() if ln.strip().startswith("- ")]


def _stopped(code: int, text: str, out: Path, reason: str, *named: str) -> str:
    """Assert the run stopped with exit 2 and no output, on a problem line naming the
    reason and each of ``named``; returns that line."""
    assert code == 2, text
    assert "Bad input (exit 2)" in text
    assert not out.exists()
    lines = [ln for ln in _problem_lines(text) if f": {reason}:" in ln]
    assert lines, text
    for name in named:
        assert any(name in ln for ln in lines), (name, lines)
    return lines[0]


def _shift_year(frame: pd.DataFrame) -> pd.DataFrame:
    frame["claim_start_date"] = frame["claim_start_date"].str.replace("2026-", "2025-", n=1)
    return frame


# ----- the sample data passes every gate, and pays its exact totals -----


def test_the_sample_passes_every_gate_of_the_ccf_and_pays_its_total(tmp_path: Path) -> None:
    code, text, out = _run(_data(tmp_path), "ccf")
    assert code == 0, text
    assert _total(out, "batch", "ccf_amount") == MARCH_CCF
    gates = _gates(out)
    assert all(g["passed"] and g["relaxed"] is None for g in gates)
    assert [g["gate"] for g in gates] == [
        *["min_table_rows"] * 3,
        *["max_rejected_share"] * 3,
        "max_unscored_share",
        "min_members_in_risk_scores",
    ]
    unscored = next(g for g in gates if g["gate"] == "max_unscored_share")
    assert unscored["limit"] == 0.05 and unscored["seen"] == pytest.approx(14 / 573)
    assert unscored["reason"] == "TOO_MANY_UNSCORED" and unscored["table"] == "risk_scores"
    flat = _flat(text)
    assert "Data-quality gates" in flat and "max_unscored_share" in flat and "2.44%" in flat


def test_the_sample_passes_every_gate_of_the_settlement_and_pays_its_total(
    tmp_path: Path,
) -> None:
    code, text, out = _run(_data(tmp_path), "settle")
    assert code == 0, text
    assert _total(out, "program", "final_payment") == SETTLED
    gates = {(g["gate"], g["table"]): g for g in _gates(out)}
    assert {key for key, _ in gates} == set(GATE_KEYS)
    assert all(g["passed"] for g in gates.values())
    assert gates["max_unscored_share", "risk_scores"]["seen"] == pytest.approx(14 / 600)
    assert gates["min_members_in_claims", "claims"]["seen"] == 1.0
    assert gates["max_claims_outside_period_share", "claims"]["seen"] == 0.0
    assert gates["max_months_without_claims", "claims"]["seen"] == 0
    assert gates["max_practices_without_claims", "claims"]["seen"] == 0
    assert "max_practices_without_claims" in text


def test_generated_programs_pass_the_default_gates(tmp_path: Path) -> None:
    from totalcare_payments.generate import generate_program, write_program

    config = preset("bluekc_medical_home")
    for members, seed, per_practice in ((5_000, 7, 1_000), (600, 84, 100), (200, 1, 100)):
        folder = tmp_path / f"g{members}-{seed}"
        write_program(
            generate_program(members, seed=seed, members_per_practice=per_practice), folder
        )
        program = load_program(folder, config, with_claims=True, with_quality=True)
        gates = empty_tables(program.tables(), config.checks)
        gates += rejected_rows(program.tables(), config.checks, strict=False)
        gates += member_gates(program, config, year_periods(2026), settlement=True)
        assert all(g.passed for g in gates), [g.problem().describe() for g in gates]


# ----- each gate, end to end -----


def test_a_claims_extract_of_the_wrong_year_stops_the_settlement(tmp_path: Path) -> None:
    data = _data(tmp_path, {"claims": _shift_year})
    code, text, out = _run(data, "settle")
    line = _stopped(code, text, out, "CLAIMS_OUTSIDE_PERIOD", "claims.csv")
    assert "column 'claim_start_date'" in line
    assert "7,068 of 7,068 claim lines (100.00%)" in line and "outside 2026" in line
    assert "from 2025-01 to 2025-12" in line
    assert "at most 10.00% ([checks] max_claims_outside_period_share = 0.1)" in line
    assert "(7068 rows: 1, 2, 3, 4, 5 and 7063 more)" in line
    # the same extract also leaves every month and practice of 2026 without claims
    _stopped(code, text, out, "PERIOD_NOT_COVERED", "2026-01 (576 member-months)")
    _stopped(code, text, out, "PRACTICE_WITHOUT_CLAIMS", "P0001 (1,489 member-months)")


def test_without_the_gates_the_wrong_year_would_pay_every_budget(tmp_path: Path) -> None:
    """What the gates stop: the settlement of a year without its claims pays $205,740.52
    instead of $36,418.58 (every practice's cost is $0)."""
    data = _data(tmp_path, {"claims": _shift_year})
    config = preset("bluekc_medical_home")
    program = load_program(data, config, with_claims=True, with_quality=True)
    settlement = compute_settlement(program, config, 2026)
    assert int(settlement.practices["final_payment_cents"].sum()) == 20_574_052
    code, _, out = _run(data, "settle", relaxed_checks())
    assert code == 0 and _total(out, "program", "final_payment") == "205740.52"
    assert all(g["relaxed"] for g in _gates(out))


def test_the_wrong_year_stops_the_scenario_study_too(tmp_path: Path) -> None:
    data = _data(tmp_path, {"claims": _shift_year})
    code, text, out = _run(data, "scenarios")
    _stopped(code, text, out, "CLAIMS_OUTSIDE_PERIOD", "claims.csv", "claim_start_date")


def test_the_scenario_study_records_its_gates(tmp_path: Path) -> None:
    code, text, out = _run(_data(tmp_path), "scenarios")
    assert code == 0, text
    assert {g["gate"] for g in _gates(out)} == set(GATE_KEYS)
    summary = pd.read_csv(out / "scenario_summary.csv")
    assert f"{summary.loc[summary['scenario'] == 'base', 'total_paid'].iloc[0]:.2f}" == SETTLED


def test_claims_with_no_rows_stop_the_settlement(tmp_path: Path) -> None:
    data = _data(tmp_path, {"claims": lambda frame: frame.iloc[0:0]})
    code, text, out = _run(data, "settle")
    line = _stopped(code, text, out, "EMPTY_TABLE", "claims.csv")
    assert "no data rows (an empty or header-only file)" in line
    assert "at least 1 ([checks] min_table_rows = 1)" in line


def test_a_table_whose_every_row_is_rejected_fails_for_that_file(tmp_path: Path) -> None:
    def bad_month(frame: pd.DataFrame) -> pd.DataFrame:
        frame["year_month"] = "2026-13"
        return frame

    data = _data(tmp_path, {"attribution": bad_month})
    code, text, out = _run(data, "ccf")
    lines = _problem_lines(text)
    line = _stopped(code, text, out, "EMPTY_TABLE", "attribution.csv")
    assert lines[0] == line  # the file at fault, first: not a cascade into other files
    assert "0 rows left after checks (6,851 read, 6,851 rejected: WRONG_DATATYPE 6,851)" in line
    assert all("attribution" in ln for ln in lines)
    _stopped(code, text, out, "WRONG_DATATYPE", "attribution.csv", "column 'year_month'")


def test_every_quality_row_rejected_stops_the_settlement_for_the_quality_file(
    tmp_path: Path,
) -> None:
    def out_of_range(frame: pd.DataFrame) -> pd.DataFrame:
        frame["quality_score"] = "1.5"
        return frame

    data = _data(tmp_path, {"quality": out_of_range})
    # even with any share of rejected rows allowed, an empty table is not paid from
    changes = relaxed_checks("testing the empty table", max_rejected_share=1.0)
    code, text, out = _run(data, "settle", changes)
    _stopped(code, text, out, "EMPTY_TABLE", "quality.csv")
    _stopped(code, text, out, "OUT_OF_RANGE", "quality.csv", "column 'quality_score'")


def _risk_member_outside_march(frame: pd.DataFrame) -> int:
    """The row of a risk score whose member is not attributed in March 2026."""
    attribution = pd.read_csv(SAMPLE / "attribution.csv", dtype=str)
    march = set(attribution.loc[attribution["year_month"] == "2026-03", "member_id"])
    return int(frame.index[~frame["member_id"].isin(march)][0])


def test_one_bad_score_of_586_is_too_many_rejected_by_default(tmp_path: Path) -> None:
    def inf(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[_risk_member_outside_march(frame), "mara_px_total"] = "inf"
        return frame

    data = _data(tmp_path, {"risk_scores": inf})
    code, text, out = _run(data, "ccf")
    line = _stopped(code, text, out, "TOO_MANY_REJECTED", "risk_scores.csv")
    assert "column 'mara_px_total'" in line
    assert "1 of 586 rows rejected (0.17%): NON_FINITE 1" in line
    assert "at most 0.10% ([checks] max_rejected_share = 0.001)" in line
    _stopped(code, text, out, "NON_FINITE", "risk_scores.csv")  # the rows' own reason too

    # relaxed with its reason, the run goes through; the reason is in the manifest
    reason = "vendor resends scores monthly"
    code, text, out = _run(data, "ccf", relaxed_checks(reason, max_rejected_share=0.002))
    assert code == 0, text
    assert _total(out, "batch", "ccf_amount") == MARCH_CCF  # the member is not paid in March
    risk = next(
        g for g in _gates(out) if g["gate"] == "max_rejected_share" and g["table"] == "risk_scores"
    )
    assert risk == {
        "gate": "max_rejected_share",
        "reason": "TOO_MANY_REJECTED",
        "table": "risk_scores",
        "column": "mara_px_total",
        "limit": 0.002,
        "seen": 1 / 586,
        "passed": True,
        "detail": "1 of 586 rows rejected (0.17%): NON_FINITE 1",
        "relaxed": reason,
    }
    assert reason in _flat(text)  # the console shows the relaxation
    assert pd.read_csv(out / "rejects.csv")["reason"].tolist() == ["NON_FINITE"]


def test_strict_still_means_no_rejected_row(tmp_path: Path) -> None:
    code, text, out = _run(_data(tmp_path), "ccf", None, "--strict")
    assert code == 0, text
    rejected = [g for g in _gates(out) if g["gate"] == "max_rejected_share"]
    assert all(g["limit"] == 0.0 and g.get("strict") for g in rejected)
    assert "(--strict)" in text


def test_too_many_unscored_members_stop_the_ccf(tmp_path: Path) -> None:
    def drop_tenth(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.iloc[::10].pipe(lambda kept: frame.drop(kept.index))

    data = _data(tmp_path, {"risk_scores": drop_tenth})
    code, text, out = _run(data, "ccf")
    line = _stopped(code, text, out, "TOO_MANY_UNSCORED", "risk_scores.csv", "column 'member_id'")
    match = re.search(r"(\d+) of 573 members attributed in 2026-03 have no mara_px_total", line)
    assert match and int(match.group(1)) > 0.05 * 573
    assert "at most 5.00% ([checks] max_unscored_share = 0.05)" in line
    assert "e.g. member " in line  # the members without a score

    changes = relaxed_checks("a test: the vendor scores new members late", max_unscored_share=0.2)
    code, text, out = _run(data, "ccf", changes)
    assert code == 0, text
    assert json.loads((out / "manifest.json").read_text())["notes"][
        "members_defaulted_score"
    ] == int(match.group(1))


def _zero_padded(column: str) -> Edit:
    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        frame[column] = "00" + frame[column]
        return frame

    return edit


def test_risk_ids_written_with_leading_zeros_stop_the_ccf_with_near_misses(
    tmp_path: Path,
) -> None:
    """Today's silent failure: no score matches, every member gets the default score and
    the fees rise 14%. The gates stop it and show the ids that almost match."""
    data = _data(tmp_path, {"risk_scores": _zero_padded("member_id")})
    code, text, out = _run(data, "ccf")
    line = _stopped(
        code, text, out, "MEMBER_IDS_NOT_MATCHED", "risk_scores.csv", "column 'member_id'"
    )
    assert "0 of 573 members attributed in 2026-03 (0.00%) have a row in risk_scores" in line
    assert "attribution '100000000' ~ risk_scores '00100000000' (leading zeros)" in line
    assert '[inputs.risk_scores] member_id = { ids = ["strip_leading_zeros"] }' in line
    assert "at least 50.00% ([checks] min_members_in_risk_scores = 0.5)" in line
    _stopped(code, text, out, "TOO_MANY_UNSCORED", "risk_scores.csv", "00100000000")

    # what the gates stop: every member at the default score 1.00, fees 13.9% higher
    open_code, _, open_out = _run(data, "ccf", relaxed_checks())
    assert open_code == 0 and _total(open_out, "batch", "ccf_amount") == "2707.50"  # +13.9%

    # the declaration the message names makes the files match again
    fixed = {"inputs": {"risk_scores": {"member_id": {"ids": ["strip_leading_zeros"]}}}}
    code, text, out = _run(data, "ccf", fixed)
    assert code == 0, text
    assert _total(out, "batch", "ccf_amount") == MARCH_CCF


def test_claims_ids_written_otherwise_stop_the_settlement_with_near_misses(
    tmp_path: Path,
) -> None:
    data = _data(tmp_path, {"claims": _zero_padded("member_id")})
    code, text, out = _run(data, "settle")
    line = _stopped(code, text, out, "MEMBER_IDS_NOT_MATCHED", "claims.csv", "column 'member_id'")
    assert "0 of 600 members attributed in 2026 (0.00%) have a row in claims" in line
    assert "~ claims '00100000" in line and "(leading zeros)" in line
    assert '[inputs.claims] member_id = { ids = ["strip_leading_zeros"] }' in line

    fixed = {"inputs": {"claims": {"member_id": {"ids": ["strip_leading_zeros"]}}}}
    code, text, out = _run(data, "settle", fixed)
    assert code == 0, text
    assert _total(out, "program", "final_payment") == SETTLED


def test_a_month_without_claims_stops_the_settlement(tmp_path: Path) -> None:
    def no_july(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[~frame["claim_start_date"].str.startswith("2026-07")]

    data = _data(tmp_path, {"claims": no_july})
    code, text, out = _run(data, "settle")
    line = _stopped(code, text, out, "PERIOD_NOT_COVERED", "claims.csv", "claim_start_date")
    assert "1 month of 2026 with attributed member-months has no claim line: 2026-07" in line
    assert "at most 0 ([checks] max_months_without_claims = 0)" in line

    reason = "July's claims are late; the settlement is re-run in August"
    code, text, out = _run(data, "settle", relaxed_checks(reason, max_months_without_claims=1))
    assert code == 0, text
    covered = next(g for g in _gates(out) if g["gate"] == "max_months_without_claims")
    assert covered["seen"] == 1 and covered["limit"] == 1 and covered["relaxed"] == reason


def test_a_practice_without_claims_stops_the_settlement(tmp_path: Path) -> None:
    attribution = pd.read_csv(SAMPLE / "attribution.csv", dtype=str)
    members = set(attribution.loc[attribution["practice_id"] == "P0004", "member_id"])

    def without_p0004(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[~frame["member_id"].isin(members)]

    data = _data(tmp_path, {"claims": without_p0004})
    code, text, out = _run(data, "settle")
    line = _stopped(code, text, out, "PRACTICE_WITHOUT_CLAIMS", "claims.csv", "P0004 (")
    assert "1 of 6 practices with attributed member-months in 2026 has no paid claims" in line
    assert "at most 0 ([checks] max_practices_without_claims = 0)" in line


def test_an_empty_practice_summary_stops_the_summary_settlement(tmp_path: Path) -> None:
    summary = tmp_path / "summary.csv"
    summary.write_text((SAMPLE / "practice_summary.csv").read_text().splitlines()[0] + "\n")
    out = tmp_path / "out"
    args = ["settle", "--year", "2026", "--summary", str(summary), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    _stopped(result.exit_code, result.output, out, "EMPTY_TABLE", "summary.csv")


def test_the_summary_settlement_records_its_gate(tmp_path: Path) -> None:
    out = tmp_path / "out"
    summary = str(SAMPLE / "practice_summary.csv")
    result = CliRunner().invoke(
        app, ["settle", "--year", "2026", "--summary", summary, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert [g["gate"] for g in _gates(out)] == ["min_table_rows"]


def test_a_failed_gate_shows_the_gates_table_on_the_error_stream(tmp_path: Path) -> None:
    data = _data(tmp_path, {"claims": _shift_year})
    code, text, _ = _run(data, "settle")
    assert code == 2
    flat = _flat(text)
    assert "Data-quality gates" in flat and "FAILED" in flat and "passed" in flat


# ----- the config: limits, and reasons for loosening them -----


def test_a_loosened_limit_needs_its_reason(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"checks.max_rejected_share = 0.02 is looser"):
        make_config({"checks": {"max_rejected_share": 0.02}})
    with pytest.raises(ConfigError, match=r"checks.min_members_in_claims = 0.2 is looser"):
        make_config({"checks": {"min_members_in_claims": 0.2}})
    code, text, _ = _run(_data(tmp_path), "ccf")  # baseline: the default config runs
    assert code == 0, text
    config = tmp_path / "loose.toml"
    text_config = preset_text_with("[checks]\nmax_unscored_share = 0.5\n")
    config.write_text(text_config)
    result = CliRunner().invoke(
        app,
        ["ccf", "--month", "2026-03", "--data", str(SAMPLE), "--config", str(config),
         "--out", str(tmp_path / "o")],
    )  # fmt: skip
    assert result.exit_code == 3, result.output
    assert "checks.max_unscored_share = 0.5 is looser than its default 0.05" in _flat(result.output)
    assert "[checks.relaxed]" in result.output


def preset_text_with(extra: str) -> str:
    from totalcare_payments.config import preset_text

    return preset_text("bluekc_medical_home") + "\n" + extra


def test_a_reason_must_relax_something() -> None:
    with pytest.raises(ConfigError, match=r"is not looser than its default"):
        make_config({"checks": {"relaxed": {"max_rejected_share": "no reason"}}})
    with pytest.raises(ConfigError, match=r"checks.relaxed.max_rejected: not a gate's limit"):
        make_config({"checks": {"max_rejected_share": 0.01, "relaxed": {"max_rejected": "x"}}})
    with pytest.raises(ConfigError, match=r"the reason is empty"):
        make_config(
            {"checks": {"max_rejected_share": 0.01, "relaxed": {"max_rejected_share": " "}}}
        )


def test_a_tightened_limit_needs_no_reason() -> None:
    config = make_config({"checks": {"max_unscored_share": 0.01, "min_members_in_claims": 0.9}})
    assert config.checks.max_unscored_share == 0.01 and not config.checks.relaxed


def test_every_gate_key_is_a_limit_with_a_description() -> None:
    assert CheckTerms.gate_keys() == GATE_KEYS
    assert set(GATES_OPEN) == set(GATE_KEYS)
    for key, field in CheckTerms.model_fields.items():
        assert field.description, key
    terms = CheckTerms()
    assert not any(terms.is_loosened(k) for k in GATE_KEYS)
    loosest = parse_config({**tomllib.loads(preset_text_with("")), **relaxed_checks()}).checks
    assert all(loosest.is_loosened(k) for k in GATE_KEYS)


def test_the_readme_example_of_a_relaxed_gate_loads() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index("### `[checks]`") :].split("```toml\n", 1)[1].split("```")[0]
    config = parse_config({**tomllib.loads(preset_text_with("")), **tomllib.loads(block)})
    assert config.checks.max_rejected_share == 0.02
    assert config.checks.relaxed["max_rejected_share"].startswith("vendor resends")


def test_the_readme_lists_every_gate_with_its_default() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### `[checks]`") : readme.index("## Python API")]
    for key in GATE_KEYS:
        default = CheckTerms.model_fields[key].default
        row = next(ln for ln in section.splitlines() if ln.startswith(f"| `{key}` |"))
        assert float(row.split("|")[2].split()[0]) == default, row


# ----- the functional core -----


def _frames() -> dict[str, pd.DataFrame]:
    """A small program: two practices, four members, January and February 2026."""
    practices = pd.DataFrame(
        {
            "practice_id": ["A", "B"],
            "practice_name": ["Alpha", "Beta"],
            "tier": ["Developing", "Established"],
            "baseline_pmpm": [300.0, 300.0],
            "baseline_risk": [1.0, 1.0],
        }
    )
    attribution = pd.DataFrame(
        {
            "member_id": ["M1", "M1", "M2", "M2", "M3", "M3", "M4", "M4"],
            "practice_id": ["A", "A", "A", "A", "B", "B", "B", "B"],
            "year_month": ["2026-01", "2026-02"] * 4,
        }
    )
    risk = pd.DataFrame({"member_id": ["M1", "M2", "m3", "0M4"], "mara_px_total": [1.0] * 4})
    claims = pd.DataFrame(
        {
            "claim_id": ["c1", "c2", "c3", "c4"],
            "member_id": ["M1", "M2", "M1", "X9"],
            "claim_start_date": ["2026-01-05", "2026-01-09", "2026-01-20", "2026-02-01"],
            "paid_amount": [100.0, 50.0, 20.0, 10.0],
        }
    )
    return {
        "practices": practices,
        "attribution": attribution,
        "risk_scores": risk,
        "claims": claims,
    }


def test_member_gates_count_unscored_and_unmatched_members() -> None:
    config = make_config()
    program = program_from_frames(config, **_frames())
    gates = {g.key: g for g in member_gates(program, config, year_periods(2026), settlement=True)}
    unscored = gates["max_unscored_share"]
    assert (unscored.seen, unscored.passed) == (0.5, False)  # M3 and M4 are unscored
    assert unscored.examples == (
        "attribution 'M3' ~ risk_scores 'm3' (letter case)",
        "attribution 'M4' ~ risk_scores '0M4' (leading zeros)",
    )
    assert 'ids = ["uppercase"]' in unscored.problem().message
    in_risk = gates["min_members_in_risk_scores"]
    assert (in_risk.seen, in_risk.passed) == (0.5, True)
    in_claims = gates["min_members_in_claims"]
    assert (in_claims.seen, in_claims.passed) == (0.5, True)  # only M1 and M2 have claims
    assert gates["max_claims_outside_period_share"].seen == 0.0
    covered = gates["max_months_without_claims"]
    assert (covered.seen, covered.passed) == (0, True)  # February has X9's claim line
    assert gates["max_claims_outside_period_share"].passed


def test_a_ccf_run_has_no_claims_gates() -> None:
    config = make_config()
    program = program_from_frames(config, **_frames())
    keys = [
        g.key for g in member_gates(program, config, parse_month_range("2026-01"), settlement=False)
    ]
    assert keys == ["max_unscored_share", "min_members_in_risk_scores"]


def test_near_misses_pair_ids_that_differ_only_in_how_they_are_written() -> None:
    assert near_misses(["100", "AB7", "42"], ["00100", "ab7", " 42", "999"]) == [
        ("100", "00100"),
        ("AB7", "ab7"),
        ("42", " 42"),
    ]
    assert near_misses(["100"], ["101"]) == []
    assert near_misses([], ["1"]) == []


def test_rejected_rows_and_empty_tables_per_table() -> None:
    terms = CheckTerms()
    frame = pd.DataFrame(
        {
            "practice_id": ["A", "B", "C"],
            "year": ["2026", "2026", "2026"],
            "quality_score": ["0.5", "2", "0.7"],
            "met_quality_gate": ["true", "true", "true"],
        }
    )
    table = check_table(frame, schema.QUALITY)
    [rejected] = rejected_rows([table], terms, strict=False)
    assert (rejected.seen, rejected.limit, rejected.passed) == (1 / 3, 0.001, False)
    assert rejected.rows == (2,) and rejected.column == "quality_score"
    assert [c.reason for c in rejected.causes] == ["OUT_OF_RANGE"]
    [empty] = empty_tables([table], terms)
    assert (empty.seen, empty.passed) == (2, True)
    none = check_table(frame.iloc[0:0], schema.QUALITY)
    [empty] = empty_tables([none], terms)
    assert not empty.passed and "header-only" in empty.detail
    with pytest.raises(GateError) as failure:
        require_passed([empty])
    assert failure.value.exit_code == 2
    assert failure.value.gates[0]["gate"] == "min_table_rows"
    assert failure.value.problems[0].reason == "EMPTY_TABLE"


def test_practices_without_claims_counts_practices_with_member_months_only() -> None:
    terms = CheckTerms()
    claims = check_table(_frames()["claims"], schema.CLAIMS)
    practices = pd.DataFrame(
        {"practice_id": ["A", "B", "C"], "member_months": [4, 4, 0], "claims_cents": [17_000, 0, 0]}
    )
    gate = practices_without_claims(practices, claims, terms, "2026")
    assert (gate.seen, gate.passed) == (1, False)
    assert "1 of 2 practices" in gate.detail and "B (4 member-months)" in gate.detail
    relaxed = CheckTerms(
        max_practices_without_claims=1, relaxed={"max_practices_without_claims": "new"}
    )
    assert practices_without_claims(practices, claims, relaxed, "2026").passed
