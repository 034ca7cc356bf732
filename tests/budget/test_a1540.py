"""Golden test: CMS's historical and updated benchmark for ACO A1540, PY2022 (issue 18).

The report (``cms_settlement_report_A1540_PY2022.xlsx`` in ``../shared/reference/mssp``,
never copied into the project) publishes every input and every step at full precision.
The test takes the inputs -- per-capita expenditures, risk scores, national and regional
trend and update factors with their weights, BY weights (1/3 each), BY3 and PY segment
proportions, the regional expenditures, the national per-capita cost behind the cap, the
regional weights 0.35/0.15 and the 1.03 risk-ratio cap -- rebuilds the benchmark with
``totalcare_payments.budget.benchmark``, and checks each step against the report's own
figure, then the same arithmetic written out by hand for the headline numbers.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import openpyxl
import pytest
from helpers import mssp_reference

from totalcare_payments.budget import benchmark as bm

REPORT = "cms_settlement_report_A1540_PY2022.xlsx"
SEGMENTS = ("ESRD", "Disabled", "Aged/dual", "Aged/non-dual")
BY = ("B", "C", "D")  # the BY1, BY2, BY3 columns
REL = 1e-12  # the report's figures are IEEE doubles: agree to the last few bits

pytestmark = pytest.mark.reference


@cache
def sheets() -> dict[str, dict[str, object]]:
    book = openpyxl.load_workbook(mssp_reference(REPORT), data_only=True, read_only=True)
    out = {}
    for ws in book.worksheets:
        cells: dict[str, object] = {}
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is not None and hasattr(cell, "coordinate"):
                    cells[cell.coordinate] = cell.value
        out[ws.title] = cells
    return out


def block(sheet: str, first_row: int, columns: tuple[str, ...] | str) -> np.ndarray:
    """Four segment rows from ``first_row``; one column (shape (4,)) or several ((4, n))."""
    cells = sheets()[sheet]
    if isinstance(columns, str):
        return np.array([float(cells[f"{columns}{first_row + i}"]) for i in range(4)])  # type: ignore[arg-type]
    return np.array(
        [[float(cells[f"{c}{first_row + i}"]) for c in columns] for i in range(4)]  # type: ignore[arg-type]
    )


T1 = "Table 1 - Historical Benchmark"
T2 = "Table 2 - Updated Benchmark"
A1 = "Table A1 - Risk"
A3 = "Table A3 - Trend & Update"
PARAMS = "Parameters"


def inputs() -> dict[str, np.ndarray]:
    return {
        "per_capita": block(T1, 10, BY),
        "risk": block(T1, 15, BY),
        "national_trend": block(A3, 11, BY),
        "regional_trend": block(A3, 21, BY),
        "national_weight": block(A3, 26, BY),
        "national_update": block(A3, 11, "F"),
        "regional_update": block(A3, 21, "F"),
        "national_update_weight": block(A3, 26, "F"),
        "by3_shares": block(T1, 40, "D"),
        "py_shares": block(T2, 38, "D"),
        "regional_cost": block(A3, 16, "D"),  # = Table 1 [J]
        "national_cost_by3": block(A3, 6, "D"),
        "py_risk": block(T2, 13, "D"),
    }


def weights() -> np.ndarray:
    cells = sheets()[PARAMS]
    published = [cells[f"B{row}"] for row in (30, 31, 32)]
    assert published == ["1/3", "1/3", "1/3"]
    return np.array([1.0, 1.0, 1.0])


def regional_weights() -> tuple[float, float]:
    cells = sheets()[PARAMS]
    above, below = float(cells["B34"]), float(cells["B35"])  # type: ignore[arg-type]
    assert (above, below) == (0.15, 0.35)
    return below, above


def build() -> tuple[bm.HistoricalBenchmark, bm.UpdatedBenchmark, dict[str, np.ndarray]]:
    x = inputs()
    trend = bm.blended_factor(x["national_trend"], x["regional_trend"], x["national_weight"])
    below, above = regional_weights()
    history = bm.historical_benchmark(
        x["per_capita"],
        x["risk"],
        trend,
        weights(),
        x["by3_shares"],
        reference_cost=x["regional_cost"],
        weight_when_below=below,
        weight_when_above=above,
        cap=0.05 * x["national_cost_by3"],
    )
    update = bm.blended_factor(
        x["national_update"], x["regional_update"], x["national_update_weight"]
    )
    updated = bm.update_benchmark(
        history.adjusted, history.base_risk, x["py_risk"], update, x["py_shares"], ratio_max=1.03
    )
    return history, updated, {"trend": trend, "update": update}


def test_trend_and_update_factors_match_table_a3() -> None:
    _, _, factors = build()
    assert factors["trend"] == pytest.approx(block(A3, 36, BY), rel=REL)
    assert factors["update"] == pytest.approx(block(A3, 36, "F"), rel=REL)
    # and as Table 1 [E] shows them
    assert factors["trend"] == pytest.approx(block(T1, 25, BY), rel=REL)


def test_historical_benchmark_matches_table_1_step_by_step() -> None:
    history, _, _ = build()
    assert history.risk_ratio == pytest.approx(block(T1, 20, BY), rel=REL)  # [D]
    assert history.trended == pytest.approx(block(T1, 30, BY), rel=REL)  # [F]
    assert history.shares == pytest.approx(block(T1, 35, BY), rel=REL)  # [G] by year
    assert history.expenditures == pytest.approx(block(T1, 35, "F"), rel=REL)  # [G]
    cells = sheets()[T1]
    assert float(history.benchmark) == pytest.approx(cells["F44"], rel=REL)  # [I]
    regional = history.regional
    assert regional is not None
    assert regional.reference == pytest.approx(block(T1, 52, "F"), rel=REL)  # [K]
    assert regional.difference == pytest.approx(block(T1, 57, "F"), rel=1e-10)  # [L]
    assert float(regional.weighted_difference) == pytest.approx(cells["F61"], rel=1e-10)  # [M]
    assert float(regional.weight) == cells["F62"] == 0.35  # [N]: spends below its region
    assert regional.uncapped == pytest.approx(block(T1, 64, "F"), rel=1e-10)  # [O]
    assert regional.cap == pytest.approx(block(T1, 69, "F"), rel=REL)  # [P]
    assert regional.adjustment == pytest.approx(block(T1, 74, "F"), rel=1e-10)  # [Q]: none capped
    assert history.adjusted == pytest.approx(block(T1, 79, "F"), rel=REL)  # [R]
    assert float(history.adjusted_benchmark) == pytest.approx(cells["F83"], rel=REL)  # [S]
    # published to the cent: $13,752.86 before and $13,831.17 after the regional adjustment
    assert round(float(history.benchmark), 2) == 13752.86
    assert round(float(history.adjusted_benchmark), 2) == 13831.17


def test_updated_benchmark_matches_table_2_and_a1() -> None:
    _, updated, _ = build()
    assert updated.risk_ratio == pytest.approx(block(A1, 5, "D"), rel=REL)  # uncapped
    assert updated.capped_ratio == pytest.approx(block(T2, 18, "D"), rel=REL)  # [C]
    assert updated.capped_ratio[3] == 1.03  # aged/non-dual: 1.0495 held to the cap
    assert updated.risk_adjusted == pytest.approx(block(T2, 23, "D"), rel=REL)  # [D]
    assert updated.updated == pytest.approx(block(T2, 33, "D"), rel=REL)  # [F]
    assert float(updated.benchmark) == pytest.approx(sheets()[T2]["D42"], rel=REL)  # [H]
    assert round(float(updated.benchmark), 2) == 14136.69


def test_the_headline_arithmetic_by_hand() -> None:
    """Aged/non-dual through every step, and the updated benchmark, written out."""
    x = inputs()
    s = 3  # aged/non-dual
    pc, risk = x["per_capita"][s], x["risk"][s]
    w_nat = x["national_weight"][s]
    trend = w_nat * x["national_trend"][s] + (1 - w_nat) * x["regional_trend"][s]
    trended = pc * (risk[2] / risk) * trend
    expenditures = trended.sum() / 3  # BY weights 1/3 each
    assert expenditures == pytest.approx(12133.2450186451, rel=REL)
    # the regional blend: the ACO spends below its region on the mix, weight 0.35
    reference = x["regional_cost"] * x["risk"][:, 2]
    history, updated, _ = build()
    difference = reference - history.expenditures
    mixed = float((difference * x["by3_shares"]).sum())
    assert mixed == pytest.approx(223.764425052799, rel=1e-10) and mixed >= 0
    adjustment = min(
        max(0.35 * difference[s], -0.05 * x["national_cost_by3"][s]),
        0.05 * x["national_cost_by3"][s],
    )
    adjusted = expenditures + adjustment
    assert adjusted == pytest.approx(12198.7678163251, rel=REL)
    ratio = min(x["py_risk"][s] / risk[2], 1.03)
    assert ratio == 1.03
    w_upd = x["national_update_weight"][s]
    update = w_upd * x["national_update"][s] + (1 - w_upd) * x["regional_update"][s]
    assert adjusted * ratio * update == pytest.approx(13103.6230231243, rel=REL)
    total = float((updated.updated * x["py_shares"]).sum())
    assert round(total, 2) == 14136.69
    # the four segments' PY proportions sum to 1, so the mix is a weighted mean
    assert x["py_shares"].sum() == pytest.approx(1.0, abs=1e-12)


def test_person_years_and_proportions_are_consistent() -> None:
    """BY3 proportions over BY3 person-years give whole person-months per segment."""
    x = inputs()
    by3_person_years = float(sheets()[T1]["D7"])  # type: ignore[arg-type]
    months = x["by3_shares"] * by3_person_years * 12
    assert months == pytest.approx(np.round(months), abs=1e-6)
    assert bm.proportions(np.round(months)) == pytest.approx(x["by3_shares"], rel=1e-12)
