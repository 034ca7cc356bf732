"""The documentation's worked examples are recomputed here, so the docs cannot drift."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from helpers import DEFAULT_CONFIG, ROOT, SAMPLE, mssp_reference

from totalcare_payments.config import load_config
from totalcare_payments.jobs import run_ccf, run_settlement
from totalcare_payments.mssp import puf
from totalcare_payments.outputs.tables import text_columns
from totalcare_payments.savings.summary import settle_summary

METHODOLOGY = ROOT / "docs" / "methodology.md"
MSSP = ROOT / "docs" / "mssp.md"


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


def mssp_settled(year: int, aco: str) -> tuple[dict[str, str], float]:
    """The engine's settlement row of one ACO of a PUF, as settlement.csv writes it, and
    CMS's EarnSaveLoss for it (read from the file directly)."""
    path = mssp_reference(f"mssp_puf_{year}.csv")
    row = puf.read_puf(path, year).query("practice_id == @aco")
    settled = settle_summary(row, puf.preset_config(str(row["tier"].iloc[0])), year).practices
    text = {column: str(values[0].as_py()) for column, values in text_columns(settled).items()}
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    return text, float(raw.set_index("ACO_ID").loc[aco, "EarnSaveLoss"])


@pytest.mark.reference
def test_mssp_worked_example_a1540_py2022():
    doc = worked_example("mssp-A1540-2022", MSSP).set_index("column")["value"]
    row, published = mssp_settled(2022, "A1540")
    for column, value in doc.items():
        assert row[column] == value, f"{column}: docs say {value}, the engine gives {row[column]}"
    # the doc's arithmetic
    assert float(doc["savings"]) == 98_947_417 - 91_592_454 == 7_354_963
    assert float(doc["msr"]) == pytest.approx(0.034 - 0.002 * 207 / 999, abs=1e-11)
    assert float(doc["earned_before_limit"]) == round(7_354_963 * 0.40 * 0.98, 2)
    assert float(doc["payment_limit_amount"]) == round(0.10 * 98_947_417, 2)
    assert abs(float(doc["final_payment"]) - published) <= 1.0 and published == 2_883_146


@pytest.mark.reference
def test_mssp_worked_example_a1539_py2023():
    doc = worked_example("mssp-A1539-2023", MSSP).set_index("column")["value"]
    row, published = mssp_settled(2023, "A1539")
    for column, value in doc.items():
        assert row[column] == value, f"{column}: docs say {value}, the engine gives {row[column]}"
    loss_rate = 1 - 0.75 * 0.7809
    assert float(doc["loss_rate"]) == pytest.approx(loss_rate)
    assert float(doc["loss_limit_amount"]) == round(0.15 * 242_995_775, 2)
    assert float(doc["shared_loss"]) == round(8_354_010 * loss_rate - 2_566_990, 2)
    assert abs(-float(doc["shared_loss"]) - published) <= 1.0 and published == -894_285
