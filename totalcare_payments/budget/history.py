"""Each practice's baseline per-capita cost and risk from baseline years of member-level data.

A baseline year goes through the settlement's own steps (``baseline_year``): attributed
member-months and average risk per practice (``[risk]``, normalized as the settlement
does), each member's paid claims, the stop-loss truncation and the completion factor of
``[settlement]``. ``build_budget`` then builds the benchmark of every practice at once with
``benchmark.historical_benchmark`` (arrays shaped (practices, segments, years); the segments
of attribution's ``segment`` column, or one segment, ``all``, when it has none):

* pmpm[y] = (claims - truncated) x completion / member-months of year y;
* restated at the last baseline year's risk: pmpm[y] x risk[last] / risk[y];
* trended to the last baseline year: x (1 + annual_trend) ^ (last - y), or the
  ``trend_factors`` table;
* weighted by ``year_weights`` (renormalized over the years the practice had members);
* optionally blended with ``reference_pmpm`` at the practice's risk, with weights for
  spending below or above it and a cap (CMS's regional adjustment);
* ``baseline_pmpm`` = that, to the cent (half-up); ``baseline_risk`` = the last baseline
  year's average risk. The settlement then trends it to the performance year from
  ``baseline_year`` = the last baseline year and risk-adjusts it with its capped ratio.

With segments, each practice and segment is built apart (its own member months, risk,
claims and truncation: a member's claims count in the segment of their month, and a
truncated member's excess is split over the practice-segments of their year with a
positive part, in proportion to those parts), trended by ``trend_factors_by_segment``
where it lists the segment; the practice's ``baseline_pmpm`` and ``baseline_risk`` are the
segments' mixed by the last baseline year's member months, and ``baselines`` holds each
segment's own, for a settlement that budgets segment by segment.

A practice of the performance year's file with no members in the last baseline year has
no baseline: the run stops and names it (an earlier year without members drops out of
that practice's weights).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..attribution import ONE_SEGMENT
from ..config import BudgetTerms, ProgramConfig
from ..errors import ConfigError, InputError
from ..money import round_half_up, to_cents, units_to_cents
from ..periods import year_periods
from ..program import Program
from ..savings.costs import member_costs
from ..savings.stop_loss import practice_costs, stop_loss_threshold
from . import benchmark as bm

SEGMENT = ONE_SEGMENT
RISK_DECIMALS = 6

BASELINE_COLUMNS = [
    "practice_id",
    "segment",  # only when the year's attribution has segments
    "member_months",
    "avg_risk_score",
    "claims_paid_cents",
    "truncated_cents",
    "actual_cost_cents",
]


def baseline_year(program: Program, config: ProgramConfig, year: int) -> pd.DataFrame:
    """One baseline year per practice with members (per practice and segment when
    attribution has segments): member-months, average risk, claims, truncation and
    completed cost (cents), through the settlement's steps."""
    terms = config.require_settlement()
    risk_terms = config.risk
    if risk_terms is None:
        raise ConfigError("the config has no [risk] section: a budget from history needs scores")
    if program.claims is None:
        raise InputError(f"baseline year {year} has no claims table")
    mm, scores = program.months_and_scores(year_periods(year), risk_terms)
    n_seg = mm.n_segments
    totals = program.risk_totals(mm, scores, risk_terms).by_practice()
    cells = totals
    if mm.segment is not None:  # (practices, segments), normalized as the practices are
        cells = program.segment_totals(mm, scores, risk_terms)
    if risk_terms.normalize:
        cells = cells.normalized(per_month=False, mean=totals.mean_score(per_month=False))
    avg_risk = cells.average(risk_terms.score_decimals).ravel()
    member_months = cells.member_months.ravel().astype(np.int64)
    costs = member_costs(program.claims, mm)
    threshold = stop_loss_threshold(terms.stop_loss, costs.annual_cost(), costs.attributed)
    if mm.segment is not None:  # each practice and segment as a practice of its own
        costs = replace(costs, grid=mm.practice_segment_grid(), n_practices=mm.n_practices * n_seg)
    by_cell = practice_costs(costs, threshold)
    claims = units_to_cents(by_cell.claims_paid)
    truncated = units_to_cents(by_cell.truncated)
    completed = to_cents((claims - truncated) / 100.0 * terms.completion_factor)
    active = member_months > 0
    ids = np.repeat(program.practices.frame["practice_id"].to_numpy(), n_seg)
    columns: dict[str, np.ndarray] = {"practice_id": ids[active]}
    if mm.segment is not None:
        names = np.asarray(mm.segments, dtype=object)
        columns["segment"] = np.tile(names, mm.n_practices)[active]
    columns.update(
        {
            "member_months": member_months[active],
            "avg_risk_score": avg_risk[active],
            "claims_paid_cents": np.asarray(claims)[active],
            "truncated_cents": np.asarray(truncated)[active],
            "actual_cost_cents": np.asarray(completed)[active],
        }
    )
    return pd.DataFrame(columns)


@dataclass(frozen=True)
class Budget:
    """The practices file the settlement reads, and the build behind it."""

    practices: pd.DataFrame  # practice_id, practice_name, tier, baseline_pmpm_cents, baseline_risk
    build: pd.DataFrame  # one row per practice, segment and baseline year: every step
    baseline_year: int  # the last baseline year: the settlement's baseline_year
    notes: dict[str, object]
    # with more than one segment: each practice's baseline per segment, the table a
    # settlement reads (``inputs.schema.BASELINES``): practice_id, segment,
    # baseline_pmpm_cents, baseline_risk, baseline_member_months
    baselines: pd.DataFrame | None = None


def _trend(terms: BudgetTerms, years: list[int], segments: list[str]) -> np.ndarray:
    """Each segment's trend factor for each baseline year, shape (segments, years)."""

    def factors(table: dict[str, float], key: str) -> np.ndarray:
        missing = [y for y in years[:-1] if str(y) not in table]
        if missing:
            raise ConfigError(f"{key} has no factor for baseline year(s) {missing}")
        return np.array([table.get(str(y), 1.0) for y in years])

    if terms.trend_factors:
        common = factors(terms.trend_factors, "budget.trend_factors")
    else:
        common = bm.trend_factors(terms.annual_trend, np.array(years), years[-1])
    by_segment = terms.trend_factors_by_segment
    return np.array(
        [
            factors(by_segment[s], f"budget.trend_factors_by_segment.{s}")
            if s in by_segment
            else common
            for s in segments
        ]
    )


def _weights(terms: BudgetTerms, years: list[int]) -> np.ndarray:
    if not terms.year_weights:
        return np.ones(len(years))
    missing = [y for y in years if str(y) not in terms.year_weights]
    extra = sorted(set(terms.year_weights) - {str(y) for y in years})
    if missing or extra:
        raise ConfigError(
            f"budget.year_weights names years {sorted(terms.year_weights)}, "
            f"but the baseline years are {years}"
        )
    return np.array([terms.year_weights[str(y)] for y in years])


def build_budget(
    history: dict[int, pd.DataFrame], practices: pd.DataFrame, terms: BudgetTerms
) -> Budget:
    """Every practice's baseline from its baseline years (``baseline_year`` frames).

    A frame with a ``segment`` column gives one row per practice and segment: each segment
    is built apart and the practice's baseline is the mix by its segments' shares of the
    last baseline year's member-months (CMS's Table 1 [H]-[S]); ``baseline_risk`` is the
    same mix of the segments' risk, the practice's member-month average.
    """
    if not history:
        raise InputError("a budget needs at least one baseline year (--history YEAR=FOLDER)")
    years = sorted(history)
    ids = practices["practice_id"].to_numpy()
    index = pd.Index(ids)
    segment_names = sorted(
        {str(v) for f in history.values() if "segment" in f for v in f["segment"].unique()}
    ) or [SEGMENT]
    segments = pd.Index(segment_names)
    p, n_seg, y = len(ids), len(segments), len(years)
    shape = (p, n_seg, y)
    mm = np.zeros(shape, dtype=np.int64)
    risk = np.full(shape, np.nan)
    cost = np.zeros(shape, dtype=np.int64)
    claims = np.zeros(shape, dtype=np.int64)
    truncated = np.zeros(shape, dtype=np.int64)
    for j, year in enumerate(years):  # a handful of years: vectorized within each
        frame = history[year]
        at = index.get_indexer(frame["practice_id"])
        seg = (
            segments.get_indexer(pd.Index(frame["segment"].astype(str)))
            if "segment" in frame
            else np.zeros(len(frame), dtype=np.intp)
        )
        known = at >= 0
        rows, cols = at[known], seg[known]
        mm[rows, cols, j] = frame["member_months"].to_numpy()[known]
        risk[rows, cols, j] = frame["avg_risk_score"].to_numpy()[known]
        cost[rows, cols, j] = frame["actual_cost_cents"].to_numpy()[known]
        claims[rows, cols, j] = frame["claims_paid_cents"].to_numpy()[known]
        truncated[rows, cols, j] = frame["truncated_cents"].to_numpy()[known]
    has = mm > 0
    in_last = has[:, :, -1]  # a segment's baseline needs its last baseline year's risk
    built = in_last.any(axis=1)
    if not built.all():
        missing = ids[~built]
        shown = ", ".join(str(i) for i in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise InputError(
            f"{len(missing)} practice(s) of the practices file have no members in the last "
            f"baseline year {years[-1]}, so no baseline can be built: {shown}"
        )
    used = has & in_last[:, :, np.newaxis]  # the cells that enter the baseline
    with np.errstate(divide="ignore", invalid="ignore"):
        pmpm = np.where(has, cost / np.maximum(mm, 1) / 100.0, np.nan)
    trend = np.broadcast_to(_trend(terms, years, segment_names), shape)
    weights = np.where(used, _weights(terms, years), 0.0)
    weights[~in_last] = 1.0  # a segment absent from the last year has share 0: placeholders
    safe_risk = np.where(used, risk, 1.0)
    safe_pmpm = np.where(used, pmpm, 0.0)
    shares = bm.proportions(mm[:, :, -1])
    reference = None if terms.reference_pmpm is None else np.full((p, n_seg), terms.reference_pmpm)
    cap = np.inf if terms.blend_cap_pmpm is None else terms.blend_cap_pmpm
    history_bm = bm.historical_benchmark(
        safe_pmpm,
        safe_risk,
        trend,
        weights,
        shares,
        reference_cost=reference,
        weight_when_below=terms.blend_weight_below,
        weight_when_above=terms.blend_weight_above,
        cap=cap,
    )
    baseline_cents = to_cents(history_bm.adjusted_benchmark)
    base_risk = round_half_up(bm.segment_mix(safe_risk[:, :, -1], shares), RISK_DECIMALS)
    out = pd.DataFrame(
        {
            "practice_id": ids,
            "practice_name": practices["practice_name"].to_numpy(),
            "tier": practices["tier"].to_numpy(),
            "baseline_pmpm_cents": baseline_cents,
            "baseline_risk": base_risk,
        }
    )
    regional = history_bm.regional
    none = np.full((p, n_seg), np.nan)

    def per_cell(values: np.ndarray) -> np.ndarray:  # (p, s) or (p,) -> one per row
        full = values if values.ndim == 2 else np.broadcast_to(values[:, None], (p, n_seg))
        return np.repeat(np.where(in_last, full, np.nan), y)

    def per_year(values: np.ndarray) -> np.ndarray:  # (p, s, y) -> one per row
        return np.where(used, values, np.nan).ravel()

    build = pd.DataFrame(
        {
            "practice_id": np.repeat(ids, n_seg * y),
            "segment": np.tile(np.repeat(segments.to_numpy(dtype=object), y), p),
            "year": np.tile(np.array(years, dtype=np.int64), p * n_seg),
            "member_months": mm.ravel(),
            "avg_risk_score": risk.ravel(),
            "claims_paid_cents": claims.ravel(),
            "truncated_cents": truncated.ravel(),
            "actual_cost_cents": cost.ravel(),
            "pmpm": pmpm.ravel(),
            "risk_ratio_to_last": per_year(history_bm.risk_ratio),
            "trend_factor": trend.ravel(),
            "trended_pmpm": per_year(history_bm.trended),
            "year_weight": per_year(bm.year_weights(weights)),
            "weighted_pmpm": per_year(history_bm.shares),
            "historical_pmpm": per_cell(history_bm.expenditures),
            "segment_share": np.repeat(shares, y),
            "reference_pmpm": per_cell(none if regional is None else regional.reference),
            "blend_weight": per_cell(
                none[:, 0] if regional is None else np.asarray(regional.weight, dtype=float)
            ),
            "blend_adjustment": per_cell(none if regional is None else regional.adjustment),
            "baseline_pmpm_cents": np.repeat(baseline_cents, n_seg * y),
            "baseline_risk": np.repeat(base_risk, n_seg * y),
        }
    )
    notes: dict[str, object] = {
        "baseline_years": years,
        "baseline_year": years[-1],
        "segments": segment_names,
        "practices": p,
        "practice_years_without_members": int((~has.any(axis=1)).sum()),
    }
    baselines = None
    if n_seg > 1:  # each segment's own baseline, where the last baseline year has members
        practice, segment = np.nonzero(in_last)
        baselines = pd.DataFrame(
            {
                "practice_id": ids[practice],
                "segment": segments.to_numpy(dtype=object)[segment],
                "baseline_pmpm_cents": to_cents(history_bm.adjusted[practice, segment]),
                "baseline_risk": round_half_up(
                    safe_risk[practice, segment, -1], RISK_DECIMALS
                ),
                "baseline_member_months": mm[practice, segment, -1],
            }
        )
    return Budget(
        practices=out, build=build, baseline_year=years[-1], notes=notes, baselines=baselines
    )
