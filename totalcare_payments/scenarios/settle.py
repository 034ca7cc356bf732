"""Settling a scenario plan: every scenario in one pass of the settlement waterfall, and the
one-at-a-time sensitivity (tornado) table.

The member-level work of the year (``savings.year.PerformanceYear``) is done once; each
scenario's config becomes rows of terms (``savings.waterfall.row_terms``), and all of
them are settled together by ``savings.year.settle_year``, so the scenario named "base"
reproduces ``totalcare settle`` to the cent.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..config import ProgramConfig, StopLoss
from ..money import round_half_up
from ..savings.stop_loss import stop_loss_threshold
from ..savings.waterfall import SETTLEMENT_COLUMNS, actual_cost
from ..savings.year import PerformanceYear, segment_settlement, settle_year
from .bootstrap import bootstrap_chance
from .plan import (
    SUMMARY_COLUMNS,
    Scenario,
    ScenarioPlan,
    ScenarioResult,
    ScenarioStudy,
    Sensitivity,
    format_value,
)


def _block_totals(rows: pd.DataFrame, blocks: int, column: str) -> np.ndarray:
    return rows[column].to_numpy(dtype=np.int64).reshape(blocks, -1).sum(axis=1)



def _total_paid(rows: pd.DataFrame, blocks: int) -> np.ndarray:
    final = rows["final_payment_cents"].to_numpy(dtype=np.int64).reshape(blocks, -1)
    return np.clip(final, 0, None).sum(axis=1)



def _thresholds(performance: PerformanceYear, configs: Sequence[ProgramConfig]) -> np.ndarray:
    """Each config's stop-loss threshold in dollars (NaN: no stop-loss), once per stop-loss."""
    annual = performance.costs.annual_cost()
    attributed = performance.costs.attributed
    known: dict[str, float] = {}
    out = np.empty(len(configs))
    for i, config in enumerate(configs):
        stop_loss: StopLoss = config.require_settlement().stop_loss
        key = stop_loss.model_dump_json()
        if key not in known:
            cents = stop_loss_threshold(stop_loss, annual, attributed)
            known[key] = np.nan if cents is None else cents / 100.0  # the value used
        out[i] = known[key]
    return out



def _by_practice_id(performance: PerformanceYear) -> np.ndarray:
    """Row order that sorts a block of settlement rows by practice_id, as settlements are."""
    return np.asarray(performance.practices["practice_id"].argsort(kind="stable"))



def run_scenarios(
    performance: PerformanceYear, base_config: ProgramConfig, scenarios: Sequence[Scenario]
) -> ScenarioResult:
    """Settle the year under every scenario in one vectorized pass of the settlement engine.

    ``performance`` is the year's member-level work (``performance_year(..., with_ccf=True)``,
    so that the CCF paid in the year is known for the payer's net savings). The base config
    is settled in the same pass, for the base figures and each scenario's change against it.

    The summary's money columns, per scenario (sums over practices, in cents):

    - ``total_paid``: the shared-savings payments (positive final payments);
    - ``shared_loss``: losses billed (two-sided programs); ``net_payment`` = sum of final payments;
    - ``budget``, ``actual_cost``, ``savings``: the settlement's own (actual cost after
      stop-loss truncation and completion, with CCF when the terms count it as cost);
    - ``incurred_cost``: claims paid grossed up by the completion factor, untruncated, no
      CCF: what the members' care cost the payer;
    - ``payer_net_savings`` = budget - incurred_cost - net_payment - ccf_paid: what the
      payer keeps against the budget in cash, after paying shared savings and the year's
      Care Coordination Fees. It uses the untruncated cost, so a stop-loss scenario
      changes it only through what it changes in the payments;
    - ``paid_vs_base``: total_paid minus the base config's;
    - ``mean/std/min/max_payment``: of the practices' final payments (std over all
      practices of the program, ddof = 0), rounded to cents.
    """
    configs = [base_config] + [s.config for s in scenarios]
    rows, _ = settle_year(performance, configs)
    blocks = len(configs)
    n = len(performance.practices)
    order = _by_practice_id(performance)
    take = (np.arange(blocks)[:, None] * n + order[None, :]).ravel()
    ordered = rows[SETTLEMENT_COLUMNS].take(take).reset_index(drop=True)

    base_rows = ordered.iloc[:n].reset_index(drop=True)
    practices = ordered.iloc[n:].reset_index(drop=True)
    names = np.array([s.name for s in scenarios], dtype=object)
    practices.insert(0, "scenario", np.repeat(names, n))

    k = len(scenarios)
    final = rows["final_payment_cents"].to_numpy(dtype=np.int64).reshape(blocks, n)
    paid = _total_paid(rows, blocks)
    budget = _block_totals(rows, blocks, "budget_cents")
    actual = _block_totals(rows, blocks, "actual_cost_cents")
    # the waterfall's step 5 with nothing truncated and no CCF: the cost the payer incurred
    incurred_rows = actual_cost(
        rows.assign(truncated_cents=0, ccf_cost_cents=0),
        {"completion_factor": rows["completion_factor"].to_numpy()},
    )
    incurred = _block_totals(incurred_rows, blocks, "actual_cost_cents")
    net_payment = final.sum(axis=1)
    ccf_paid = int(np.asarray(performance.ccf_paid_cents, dtype=np.int64).sum())
    mean = round_half_up(final.mean(axis=1), 0).astype(np.int64)
    std = round_half_up(final.std(axis=1), 0).astype(np.int64)
    summary = pd.DataFrame(
        {
            "scenario": names,
            "practices": np.full(k, n, dtype=np.int64),
            "practices_paid": (final > 0).sum(axis=1)[1:].astype(np.int64),
            "practices_billed": (final < 0).sum(axis=1)[1:].astype(np.int64),
            "member_months": _block_totals(rows, blocks, "member_months")[1:],
            "budget_cents": budget[1:],
            "actual_cost_cents": actual[1:],
            "savings_cents": _block_totals(rows, blocks, "savings_cents")[1:],
            "total_paid_cents": paid[1:],
            "shared_loss_cents": _block_totals(rows, blocks, "shared_loss_cents")[1:],
            "net_payment_cents": net_payment[1:],
            "incurred_cost_cents": incurred[1:],
            "ccf_paid_cents": np.full(k, ccf_paid, dtype=np.int64),
            "payer_net_savings_cents": (budget - incurred - net_payment - ccf_paid)[1:],
            "paid_vs_base_cents": paid[1:] - paid[0],
            "mean_payment_cents": mean[1:],
            "std_payment_cents": std[1:],
            "min_payment_cents": final.min(axis=1)[1:],
            "max_payment_cents": final.max(axis=1)[1:],
            "stop_loss_threshold": _thresholds(performance, configs)[1:],
            "overrides": np.array([s.describe() for s in scenarios], dtype=object),
        },
        columns=SUMMARY_COLUMNS,
    )
    return ScenarioResult(practices=practices, summary=summary, base=base_rows)



TORNADO_COLUMNS = [
    "parameter",
    "base_value",
    "low",
    "high",
    "base_total_paid_cents",
    "total_paid_low_cents",
    "total_paid_high_cents",
    "change_low_cents",
    "change_high_cents",
    "swing_cents",
]



def tornado(
    performance: PerformanceYear, base_config: ProgramConfig, sensitivity: Sequence[Sensitivity]
) -> pd.DataFrame:
    """One parameter at a time at its low and its high value: the effect on total payout.

    ``total_paid`` is the sum of the practices' positive final payments; ``change_*`` is
    against the base config; ``swing`` = |total_paid_high - total_paid_low|. Rows are
    sorted by swing, largest first (ties keep the file's order), as a tornado chart is.
    """
    if not sensitivity:
        return pd.DataFrame(
            {
                c: pd.Series(dtype=np.int64 if c.endswith("_cents") else object)
                for c in TORNADO_COLUMNS
            }
        )
    configs = [base_config]
    for item in sensitivity:
        configs += [item.low_config, item.high_config]
    rows, _ = settle_year(performance, configs)
    paid = _total_paid(rows, len(configs))
    low, high = paid[1::2], paid[2::2]
    table = pd.DataFrame(
        {
            "parameter": [s.parameter for s in sensitivity],
            "base_value": [format_value(s.base_value) for s in sensitivity],
            "low": [format_value(s.low) for s in sensitivity],
            "high": [format_value(s.high) for s in sensitivity],
            "base_total_paid_cents": np.full(len(sensitivity), paid[0], dtype=np.int64),
            "total_paid_low_cents": low,
            "total_paid_high_cents": high,
            "change_low_cents": low - paid[0],
            "change_high_cents": high - paid[0],
            "swing_cents": np.abs(high - low),
        },
        columns=TORNADO_COLUMNS,
    )
    table = table.astype({"parameter": object, "base_value": object, "low": object, "high": object})
    return table.sort_values("swing_cents", ascending=False, kind="stable").reset_index(drop=True)



def study(
    performance: PerformanceYear,
    plan: ScenarioPlan,
    *,
    draws: int = 200,
    seed: int = 7,
    facts: dict[str, object] | None = None,
) -> ScenarioStudy:
    """Scenarios, tornado and (with ``draws`` > 0) the bootstrap chance, for one year."""
    result = run_scenarios(performance, plan.base, plan.scenarios)
    table = tornado(performance, plan.base, plan.sensitivity)
    chance = bootstrap_chance(performance, plan.base, draws=draws, seed=seed) if draws else None
    return ScenarioStudy(
        year=performance.year,
        program=plan.base.program.name,
        result=result,
        tornado=table,
        chance=chance,
        facts=dict(facts or {}),
        segments=segment_settlement(performance, plan.base),
    )
