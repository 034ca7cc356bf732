"""Chance: how much of a practice's settlement could be random variation (a bootstrap).

The minimum savings rate exists because a practice's savings can be luck: a few
members more or less with a costly year move a small panel's cost a lot. For each
practice this module resamples its attributed members with replacement (a member,
with the cost of their months at the practice and those member months, is one unit;
a member who switched practices is a unit at each) and settles every draw through the
settlement engine's own waterfall (``actual_cost`` and ``settle_rows``: no second
implementation), at the practice's own budget PMPM. Per practice it reports:

- ``p_pass_msr_if_no_savings``: the share of draws whose savings rate passes the MSR
  (savings > 0 and savings_rate >= msr) when the practice's true savings are zero,
  i.e. when its budget equals its expected cost: the observed actual cost per member
  month times the draw's member months, so savings_rate = 1 - cost / expected cost.
  This is the chance that the payer pays for noise; a well-set MSR keeps it small
  (CMS sets the Medicare MSR at a one-sided 90% confidence bound: about 5%-10%);
- ``savings_rate_sd_if_no_savings`` and ``savings_rate_p95_if_no_savings``: the spread
  of those random savings rates, to set against the MSR;
- ``p_meets_msr``, ``p_paid`` and the payment's mean, 5th, 50th and 95th percentile
  under the actual budget (the practice's budget PMPM times the draw's member months).

Assumptions, stated for the actuary: members are independent; the budget PMPM is held at
the practice's actual (the draw changes cost and member months, not the risk score nor,
with a budget per segment, the segment mix),
which makes the spread a little wider than a risk-adjusted one; stop-loss truncation
uses the actual threshold (a percentile threshold is not recomputed per draw); the MSR
and the quality score are the practice's actual ones; CCF counted as cost scales with
member months. The draws are seeded: the same data, config, seed and number of draws
give the same figures.

Efron, B. and Tibshirani, R. (1993), *An Introduction to the Bootstrap*, ch. 6.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..attribution import NO_PRACTICE
from ..config import ProgramConfig, StopLoss
from ..money import round_half_up, to_cents, units_to_cents
from ..savings.stop_loss import practice_costs, stop_loss_threshold
from ..savings.waterfall import actual_cost, row_terms, settle_rows
from ..savings.year import PerformanceYear, settle_year

CHANCE_COLUMNS = [
    "practice_id",
    "practice_name",
    "tier",
    "members",
    "member_months",
    "savings_rate",
    "msr",
    "final_payment_cents",
    "p_pass_msr_if_no_savings",
    "savings_rate_sd_if_no_savings",
    "savings_rate_p95_if_no_savings",
    "p_meets_msr",
    "p_paid",
    "payment_mean_cents",
    "payment_p5_cents",
    "payment_p50_cents",
    "payment_p95_cents",
]
#: Member draws held in memory at once (each ~40 bytes while it is summed).
CELLS_PER_CHUNK = 4_000_000
#: Practice x draw settlement rows settled at once.
ROWS_PER_CHUNK = 500_000


@dataclass(frozen=True)
class Chance:
    """The bootstrap's results.

    ``practices``: one row per practice (``CHANCE_COLUMNS``), by practice_id.
    ``payments_cents``: every draw's final payment, shape (draws, practices), its columns
    in the order of ``practices``' rows.
    """

    draws: int
    seed: int
    practices: pd.DataFrame
    payments_cents: np.ndarray


@dataclass(frozen=True)
class Panels:
    """Each practice's attributed members as resampling units, grouped by practice.

    A unit is a member at a practice: the claims paid and stop-loss truncation (in units
    of a hundredth of a cent) of their months there, and those member months. Practice
    ``p``'s units are ``start[p] : start[p] + size[p]``; ``p`` is a row of
    ``PerformanceYear.practices``.
    """

    practice: np.ndarray
    claims_paid: np.ndarray
    truncated: np.ndarray
    member_months: np.ndarray
    start: np.ndarray
    size: np.ndarray


def member_panels(performance: PerformanceYear, stop_loss: StopLoss) -> Panels:
    """The resampling units of every practice, with truncation as the settlement applies it."""
    costs = performance.costs
    grid = costs.grid
    n = len(performance.practices)
    n_members, n_months = grid.shape
    flat = grid.ravel()
    cells = np.flatnonzero(flat != NO_PRACTICE)  # member by member, month by month
    practice = (np.cumsum(performance.active) - 1)[flat[cells]]  # code -> practices row
    members = cells // n_months
    # a run: a member's consecutive months at one practice; a unit: a member's runs at a
    # practice (a member who left and came back is one unit), units in practice order
    new_run = np.ones(len(cells), dtype=bool)
    new_run[1:] = (members[1:] != members[:-1]) | (practice[1:] != practice[:-1])
    run_of_cell = np.cumsum(new_run, dtype=np.int64) - 1
    key = practice[new_run].astype(np.int64) * n_members + members[new_run]
    unit_keys, unit_of_run = np.unique(key, return_inverse=True)
    unit_of_cell = unit_of_run.ravel()[run_of_cell]
    units = len(unit_keys)
    unit_grid: npt.NDArray[np.int64] = np.full(grid.size, NO_PRACTICE, dtype=np.int64)
    unit_grid[cells] = unit_of_cell
    unit_grid = unit_grid.reshape(grid.shape)
    threshold = stop_loss_threshold(stop_loss, costs.annual_cost(), costs.attributed)
    # the settlement's own truncation, summed per unit instead of per practice
    by_unit = practice_costs(replace(costs, grid=unit_grid, n_practices=units), threshold)
    unit_practice = unit_keys // n_members
    size = np.bincount(unit_practice, minlength=n)
    return Panels(
        practice=unit_practice,
        claims_paid=by_unit.claims_paid,  # units, as the settlement sums them
        truncated=by_unit.truncated,
        member_months=np.bincount(unit_of_cell, minlength=units),
        start=np.concatenate([[0], np.cumsum(size)[:-1]]).astype(np.int64),
        size=size,
    )


def resample(
    panels: Panels, draws: int, rng: np.random.Generator, cells_per_chunk: int = CELLS_PER_CHUNK
) -> np.ndarray:
    """Claims paid, truncated (units) and member months of each draw and practice.

    Each draw picks, for each practice, as many of its units as it has, uniformly with
    replacement. Returns shape (draws, practices, 3). Vectorized over members; the draws
    go in chunks of about ``cells_per_chunk`` picked units, in reused buffers, to bound
    memory. The picks come from ``rng`` in draw order, so chunking does not change them.
    """
    columns = [
        np.ascontiguousarray(panels.claims_paid, dtype=np.float64),
        np.ascontiguousarray(panels.truncated, dtype=np.float64),
        panels.member_months.astype(np.float64),
    ]
    units = len(panels.practice)
    index = np.int32 if units < 2**31 else np.int64
    size_of = panels.size[panels.practice].astype(np.float32)
    last_of = (panels.size[panels.practice] - 1).astype(index)
    start_of = panels.start[panels.practice].astype(index)
    chunk = max(1, min(draws, cells_per_chunk // max(units, 1)))
    uniform = np.empty((chunk, units), dtype=np.float32)
    pick = np.empty((chunk, units), dtype=index)
    picked = np.empty((chunk, units), dtype=np.float64)
    out = np.empty((draws, len(panels.size), 3))
    for first in range(0, draws, chunk):
        count = min(chunk, draws - first)
        u, p, v = uniform[:count], pick[:count], picked[:count]
        rng.random(out=u, dtype=np.float32)
        np.multiply(u, size_of, out=u)
        np.copyto(p, u, casting="unsafe")  # floor: u x size in [0, size)
        np.minimum(p, last_of, out=p)  # float32 rounding can reach size itself
        np.add(p, start_of, out=p)
        for k, column in enumerate(columns):
            np.take(column, p, out=v, mode="clip")
            out[first : first + count, :, k] = np.add.reduceat(v, panels.start, axis=1)
    return out


def bootstrap_chance(
    performance: PerformanceYear,
    config: ProgramConfig,
    *,
    draws: int = 200,
    seed: int = 7,
    cells_per_chunk: int = CELLS_PER_CHUNK,
) -> Chance:
    """Bootstrap each practice's members ``draws`` times (seeded) and settle every draw.

    See the module docstring for what is reported and the assumptions made.
    """
    if draws < 1:
        raise ValueError("draws must be at least 1")
    terms = config.require_settlement()
    actual, _ = settle_year(performance, [config])
    n = len(actual)
    panels = member_panels(performance, terms.stop_loss)
    sums = resample(panels, draws, np.random.default_rng(seed), cells_per_chunk)

    payments = np.empty((draws, n), dtype=np.int64)
    meets = np.empty((draws, n), dtype=bool)
    null_meets = np.empty((draws, n), dtype=bool)
    null_rate = np.empty((draws, n))
    inputs = performance.practices
    observed_mm = actual["member_months"].to_numpy(dtype=np.float64)
    observed_cost = actual["actual_cost_cents"].to_numpy(dtype=np.float64)
    budget_pmpm = actual["budget_pmpm_cents"].to_numpy(dtype=np.int64)
    ccf_paid = np.asarray(performance.ccf_paid_cents, dtype=np.float64)
    msr = actual["msr"].to_numpy()
    mlr = actual["mlr"].to_numpy()
    per_chunk = max(1, ROWS_PER_CHUNK // max(n, 1))
    for first in range(0, draws, per_chunk):
        count = min(per_chunk, draws - first)
        part = sums[first : first + count].reshape(count * n, 3)
        rep = np.tile(np.arange(n), count)
        member_months = np.rint(part[:, 2]).astype(np.int64)
        scale = member_months / observed_mm[rep]
        rows = inputs.take(rep).reset_index(drop=True)
        t = row_terms(config, rows["tier"], performance.year)
        rows = rows.assign(
            member_months=member_months,
            claims_paid_cents=units_to_cents(np.rint(part[:, 0]).astype(np.int64)),
            truncated_cents=units_to_cents(np.rint(part[:, 1]).astype(np.int64)),
            ccf_cost_cents=np.where(
                t["ccf_counts_as_cost"], to_cents(ccf_paid[rep] / 100.0 * scale), 0
            ),
            msr=msr[rep],
            mlr=mlr[rep],
            budget_pmpm_cents=budget_pmpm[rep],
            budget_cents=budget_pmpm[rep] * member_months,
        )
        rows = actual_cost(rows, t)
        settled = settle_rows(rows, t)
        # zero true savings: the budget is the expected cost of the draw's member months
        expected = to_cents(observed_cost[rep] / 100.0 * scale)
        null = settle_rows(rows.assign(budget_cents=expected), t)
        block = slice(first, first + count)
        payments[block] = settled["final_payment_cents"].to_numpy().reshape(count, n)
        meets[block] = settled["meets_msr"].to_numpy().reshape(count, n)
        null_meets[block] = null["meets_msr"].to_numpy().reshape(count, n)
        null_rate[block] = null["savings_rate"].to_numpy().reshape(count, n)

    p5, p50, p95 = np.percentile(payments, [5, 50, 95], axis=0)
    table = pd.DataFrame(
        {
            "practice_id": actual["practice_id"].to_numpy(),
            "practice_name": actual["practice_name"].to_numpy(),
            "tier": actual["tier"].to_numpy(),
            "members": panels.size.astype(np.int64),
            "member_months": actual["member_months"].to_numpy(dtype=np.int64),
            "savings_rate": actual["savings_rate"].to_numpy(),
            "msr": msr,
            "final_payment_cents": actual["final_payment_cents"].to_numpy(dtype=np.int64),
            "p_pass_msr_if_no_savings": null_meets.mean(axis=0),
            "savings_rate_sd_if_no_savings": null_rate.std(axis=0),
            "savings_rate_p95_if_no_savings": np.percentile(null_rate, 95, axis=0),
            "p_meets_msr": meets.mean(axis=0),
            "p_paid": (payments > 0).mean(axis=0),
            "payment_mean_cents": _cents(payments.mean(axis=0)),
            "payment_p5_cents": _cents(p5),
            "payment_p50_cents": _cents(p50),
            "payment_p95_cents": _cents(p95),
        },
        columns=CHANCE_COLUMNS,
    )
    order = np.asarray(table["practice_id"].argsort(kind="stable"))
    return Chance(
        draws=draws,
        seed=seed,
        practices=table.take(order).reset_index(drop=True),
        payments_cents=payments[:, order],
    )


def _cents(values: np.ndarray) -> np.ndarray:
    """Fractional cents (a mean, a percentile) to whole cents, half-up."""
    return round_half_up(values, 0).astype(np.int64)
