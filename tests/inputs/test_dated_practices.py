"""Effective-dated practices: a month's tier and payee are those of the row in force that
month; overlapping rows are bad input; a practices file without dates works as before."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from helpers import SAMPLE, attribution_rows
from typer.testing import CliRunner

from totalcare_payments.ccf import compute_ccf
from totalcare_payments.cli.app import app
from totalcare_payments.config import preset
from totalcare_payments.errors import InputError
from totalcare_payments.inputs.policy import enforce_policy
from totalcare_payments.periods import parse_month_range
from totalcare_payments.program import load_program

CONFIG = preset("bluekc_medical_home")
MONTHS = ["2026-01", "2026-02", "2026-03", "2026-04"]


def _program(tmp_program, practices: list[dict]) -> Path:
    return tmp_program(
        practices=practices,
        attribution=attribution_rows("m1", "A", MONTHS) + attribution_rows("m2", "B", MONTHS),
        risk_scores=[{"member_id": "m1", "mara_px_total": 1.1}, {"member_id": "m2", "mara_px_total": 0.9}],
    )


def test_a_tier_change_takes_effect_in_its_month(tmp_program) -> None:
    folder = _program(
        tmp_program,
        [
            {"practice_id": "A", "practice_name": "A", "tier": "Developing", "effective_to": "2026-02",
             "tax_id": "11-1111111"},
            {"practice_id": "A", "practice_name": "A", "tier": "Advanced", "effective_from": "2026-03",
             "tax_id": "22-2222222"},
            {"practice_id": "B", "practice_name": "B", "tier": "Established"},
        ],
    )
    program = load_program(folder, CONFIG)
    lines = compute_ccf(program, CONFIG, parse_month_range("2026-01..2026-04")).lines
    a = lines.loc[lines["practice_id"] == "A"].set_index("year_month")
    # one member at 1.1: the $5.00 band; Developing x 0.90 = $4.50 in January and
    # February, Advanced x 1.20 = $6.00 from March
    assert a["tier"].tolist() == ["Developing", "Developing", "Advanced", "Advanced"]
    assert a["ccf_amount_cents"].tolist() == [450, 450, 600, 600]
    b = lines.loc[lines["practice_id"] == "B"]
    assert b["ccf_amount_cents"].tolist() == [350] * 4  # 0.9: $3.50, Established
    cells = program.practice_cells(parse_month_range("2026-02..2026-03"))
    assert cells.loc[cells["practice_id"] == "A", "tax_id"].tolist() == ["11-1111111", "22-2222222"]
    assert program.tables()[0].accounting()["read"] == 3  # every row accounted for


def test_overlapping_rows_are_bad_input(tmp_program) -> None:
    folder = _program(
        tmp_program,
        [
            {"practice_id": "A", "practice_name": "A", "tier": "Developing", "effective_to": "2026-03"},
            {"practice_id": "A", "practice_name": "A", "tier": "Advanced", "effective_from": "2026-03"},
            {"practice_id": "B", "practice_name": "B", "tier": "Established"},
        ],
    )
    program = load_program(folder, CONFIG)
    with pytest.raises(InputError) as failure:
        enforce_policy(program.tables(), strict=False)
    text = str(failure.value)
    assert "OVERLAPPING_DATES" in text and "effective_from" in text and "rows: 1, 2" in text
    result = CliRunner().invoke(
        app, ["ccf", "--month", "2026-03", "--data", str(folder), "--out", str(folder.parent / "o")]
    )
    assert result.exit_code == 2 and "OVERLAPPING_DATES" in result.output
    assert "Traceback" not in result.output


def test_attribution_to_a_practice_not_in_force_is_bad_input(tmp_program) -> None:
    folder = _program(
        tmp_program,
        [
            {"practice_id": "A", "practice_name": "A", "tier": "Developing", "effective_from": "2026-02"},
            {"practice_id": "B", "practice_name": "B", "tier": "Established"},
        ],
    )
    program = load_program(folder, CONFIG)
    with pytest.raises(InputError, match=r"UNKNOWN_PRACTICE.*in force") as failure:
        enforce_policy(program.tables(), strict=False)
    assert "(1 row: 1)" in str(failure.value)  # A's January row


def test_a_row_ending_before_it_starts_is_rejected(tmp_program) -> None:
    folder = _program(
        tmp_program,
        [
            {"practice_id": "A", "practice_name": "A", "tier": "Developing",
             "effective_from": "2026-05", "effective_to": "2026-02"},
            {"practice_id": "B", "practice_name": "B", "tier": "Established"},
        ],
    )
    with pytest.raises(InputError, match="effective_to is before effective_from"):
        enforce_policy(load_program(folder, CONFIG).tables(), strict=False)


def test_the_undated_sample_is_unchanged() -> None:
    program = load_program(SAMPLE, CONFIG)
    assert program.practice_rows is None
    lines = compute_ccf(program, CONFIG, parse_month_range("2026-03")).lines
    assert int(lines["ccf_amount_cents"].sum()) == 237810
    cells = program.practice_cells(parse_month_range("2026-03"))
    frame = pd.read_csv(SAMPLE / "practices.csv")
    assert cells["tier"].tolist() == frame["tier"].tolist()
