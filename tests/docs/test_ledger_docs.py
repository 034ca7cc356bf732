"""The methodology's worked example of a retroactive adjustment, recomputed through the
ledger on both databases."""

from __future__ import annotations

from pathlib import Path

from helpers import JOINS_P0006, MONTHS_2026, cents_text, doc_example, restated_feed

from totalcare_payments.config import preset
from totalcare_payments.jobs import run_ccf_ledger
from totalcare_payments.periods import parse_year_month


def test_the_score_refresh_example(ledger_url: str, tmp_path: Path) -> None:
    doc = doc_example("ledger-score-refresh")
    config = preset("bluekc_medical_home")
    for month in MONTHS_2026[:7]:
        run = run_ccf_ledger(
            config, restated_feed(tmp_path / "feeds", month), parse_year_month(month),
            tmp_path / "out" / month, ledger_url, post=True,
        )
    april = parse_year_month("2026-04")
    lines = run.posting.lines
    line = lines.loc[(lines["practice_id"] == "P0006") & (lines["period"] == april)].iloc[0]
    roster = run.posting.roster
    roster = roster.loc[(roster["practice_id"] == "P0006") & (roster["period"] == april)]
    own = roster.loc[roster["member_id"] == JOINS_P0006].iloc[0]
    others = roster.loc[roster["member_id"] != JOINS_P0006]

    assert doc["April members"] == "34" and len(roster) == 34
    assert own["reason"] == "SCORE_CHANGED" and own["risk_score"] == 5.0
    assert doc["the member's line (SCORE_CHANGED)"].endswith(cents_text(int(own["fee_cents"])))
    assert set(others["reason"]) == {"RATE_CHANGED"}
    assert doc["the other members' lines (RATE_CHANGED)"] == (
        f"{len(others)} x {cents_text(int(others['fee_cents'].iloc[0]))} = "
        f"{cents_text(int(others['fee_cents'].sum()))}"
    )
    assert doc["April rate, refreshed"].endswith(cents_text(int(own["rate_cents"])))
    assert doc["April adjustment"].endswith(cents_text(int(line["amount_cents"])))
    assert doc["April line reason"] == line["reason"]
    posted_rate = int(own["rate_cents"]) - int(own["fee_cents"])
    assert doc["April posted"] == f"34 x {cents_text(posted_rate)} = {cents_text(34 * posted_rate)}"
    due = 34 * int(own["rate_cents"])
    assert doc["April due"] == f"34 x {cents_text(int(own['rate_cents']))} = {cents_text(due)}"
    assert doc["April adjustment"] == (
        f"{cents_text(due)} - {cents_text(34 * posted_rate)} = {cents_text(due - 34 * posted_rate)}"
    )
    # the averages as written: the sums of the scores over the members, rounded
    assert round(30.5066 / 34, 4) == 0.8973 and round(34.5066 / 34, 4) == 1.0149
