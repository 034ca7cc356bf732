"""The documentation's worked examples are recomputed here, so the docs cannot drift."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from helpers import DEFAULT_CONFIG, ROOT, SAMPLE

from totalcare_payments.config import load_config
from totalcare_payments.jobs import run_ccf, run_settlement

METHODOLOGY = ROOT / "docs" / "methodology.md"


def worked_example(name: str, path: Path = METHODOLOGY) -> pd.DataFrame:
    """The markdown table between ``<!-- worked-example:NAME -->`` and its closing marker."""
    text = path.read_text()
    match = re.search(rf"<!-- worked-example:{name} -->\n(.*?)<!-- /worked-example -->", text, re.S)
    assert match, f"{path} has no worked example '{name}'"
    lines = [ln.strip().strip("|").split("|") for ln in match.group(1).strip().splitlines()]
    header, rows = [c.strip() for c in lines[0]], lines[2:]
    return pd.DataFrame([[c.strip() for c in r] for r in rows], columns=header)


@pytest.fixture(scope="module")
def sample_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    run_ccf(load_config(DEFAULT_CONFIG), SAMPLE, [674], out / "ccf")  # 674 = 2026-03
    run_settlement(load_config(DEFAULT_CONFIG), 2026, out / "settle", data=SAMPLE)
    return out


def test_ccf_worked_example_matches_the_payment_file(sample_runs):
    doc = worked_example("ccf-2026-03")
    paid = pd.read_csv(sample_runs / "ccf" / "ccf_payments.csv", dtype=str)
    cols = [
        "practice_id",
        "tier",
        "attributed_members",
        "avg_risk_score",
        "pmpm_rate",
        "ccf_amount",
    ]
    # the payment file writes scores with as many places as they have (1.015, not 1.0150)
    doc["avg_risk_score"] = doc["avg_risk_score"].astype(float).astype(str)
    paid["avg_risk_score"] = paid["avg_risk_score"].astype(float).astype(str)
    pd.testing.assert_frame_equal(doc[cols], paid[cols])
    # the doc's arithmetic: band PMPM x multiplier = rate; members x rate = amount
    rate = (doc["band PMPM"].astype(float) * doc["multiplier"].astype(float)).round(2)
    assert (rate == doc["pmpm_rate"].astype(float)).all()
    amount = (doc["attributed_members"].astype(int) * doc["pmpm_rate"].astype(float)).round(2)
    assert (amount == doc["ccf_amount"].astype(float)).all()
    assert f"${amount.sum():,.2f}" in METHODOLOGY.read_text()


def test_settlement_worked_example_matches_the_settlement_file(sample_runs):
    doc = worked_example("settlement-P0005").set_index("column")["value"]
    settled = pd.read_csv(sample_runs / "settle" / "settlement.csv", dtype=str)
    row = settled.set_index("practice_id").loc["P0005"]
    for column, value in doc.items():
        assert row[column] == value, f"{column}: docs say {value}, the engine wrote {row[column]}"
