"""The benchmark arithmetic, step by step, as CMS publishes it (Tables 1, 2, A1 and A3 of a
Shared Savings Program financial reconciliation report) and as an actuary builds a budget.

Every function is pure and vectorized. Arrays are shaped ``(..., segment, year)`` for
per-baseline-year figures and ``(..., segment)`` for per-segment figures, so the same code
builds one ACO's benchmark (shape ``(segments, years)``) or every practice's at once
(``(practices, segments, years)``). Segments are the member groups priced separately
(Medicare's ESRD, disabled, aged/dual, aged/non-dual; a plan's commercial, individual,
Medicare Advantage; or one segment ``all``). The steps, with the report's row letters:

1. ``risk_ratios_to_last``: each baseline year's risk restated at the last baseline year's,
   ratio = risk[last] / risk[year]  (Table 1 [D]);
2. ``blended_factor``: a trend or update factor blended from a national and a regional
   factor, national weight x national + (1 - national weight) x regional  (Table A3 [G]);
3. ``trended_per_capita`` = per-capita cost x risk ratio x trend factor  (Table 1 [F]);
4. ``weighted_by_year``: each year's share, trended x baseline-year weight, and their sum
   per segment, the historical benchmark expenditures  (Table 1 [G]);
5. ``segment_mix``: a figure per segment weighted by person-year proportions  ([H], [I]);
6. ``regional_adjustment``: the difference to the risk-adjusted reference cost, times the
   weight for spending above or below it, within +/- the cap, added per segment
   (Table 1 [J]-[S]);
7. ``capped_risk_ratio`` = performance-year risk / last baseline year's risk, within the
   bounds (Table A1; CMS caps it at 1.03 above and leaves it unbounded below);
8. ``updated_benchmark``: adjusted expenditures x capped ratio x update factor, mixed by
   the performance year's segment proportions  (Table 2 [D]-[H]).

``historical_benchmark`` and ``update_benchmark`` chain them and keep every step for audit.
With one segment (proportion 1) every mix is the figure itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def risk_ratios_to_last(risk: np.ndarray) -> np.ndarray:
    """Each baseline year's risk ratio to the last baseline year: risk[..., -1] / risk."""
    risk = np.asarray(risk, dtype=np.float64)
    return risk[..., -1:] / risk


def blended_factor(
    national: np.ndarray, regional: np.ndarray, national_weight: np.ndarray
) -> np.ndarray:
    """A trend or update factor blended from national and regional factors."""
    w = np.asarray(national_weight, dtype=np.float64)
    return w * np.asarray(national, dtype=np.float64) + (1.0 - w) * np.asarray(
        regional, dtype=np.float64
    )


def trend_factors(annual_trend: float, years: np.ndarray, to_year: int) -> np.ndarray:
    """Trend factors from one annual rate: (1 + rate) ^ (to_year - year)."""
    return (1.0 + annual_trend) ** (to_year - np.asarray(years, dtype=np.float64))


def trended_per_capita(
    per_capita: np.ndarray, risk_ratio: np.ndarray, trend: np.ndarray
) -> np.ndarray:
    """Per-capita cost restated at the last baseline year's risk and trended to it."""
    return np.asarray(per_capita, dtype=np.float64) * risk_ratio * trend


def year_weights(weights: np.ndarray) -> np.ndarray:
    """Baseline-year weights scaled to sum to 1 (10/30/60 and 0.1/0.3/0.6 are the same)."""
    w = np.asarray(weights, dtype=np.float64)
    total = w.sum(axis=-1, keepdims=True)
    if np.any(w < 0) or np.any(total <= 0):
        raise ValueError("baseline-year weights must be non-negative with a positive sum")
    return w / total


def weighted_by_year(trended: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each year's weighted share (trended x weight) and their sum over the years."""
    shares = np.asarray(trended, dtype=np.float64) * year_weights(weights)
    return shares, shares.sum(axis=-1)


def proportions(person_years: np.ndarray) -> np.ndarray:
    """Each segment's share of the person-years (the last axis is the segment)."""
    py = np.asarray(person_years, dtype=np.float64)
    total = py.sum(axis=-1, keepdims=True)
    return np.divide(py, total, out=np.zeros_like(py), where=total > 0)


def segment_mix(values: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """A per-segment figure weighted by the segments' proportions."""
    return (np.asarray(values, dtype=np.float64) * shares).sum(axis=-1)


@dataclass(frozen=True)
class RegionalAdjustment:
    """The blend with a reference population's cost, per segment (Table 1 [J]-[S])."""

    reference: np.ndarray  # [K] risk-adjusted reference cost = reference x base risk
    difference: np.ndarray  # [L] reference - benchmark expenditures
    weighted_difference: np.ndarray  # [M] the difference mixed by segment
    weight: np.ndarray  # [N] the weight for spending below (difference >= 0) or above it
    uncapped: np.ndarray  # [O] difference x weight
    cap: np.ndarray  # [P] the cap, an absolute value
    adjustment: np.ndarray  # [Q] within +/- cap
    adjusted: np.ndarray  # [R] benchmark expenditures + adjustment


def regional_adjustment(
    expenditures: np.ndarray,
    reference_cost: np.ndarray,
    base_risk: np.ndarray,
    shares: np.ndarray,
    weight_when_below: float,
    weight_when_above: float,
    cap: np.ndarray | float = np.inf,
) -> RegionalAdjustment:
    """Blend benchmark expenditures toward the reference cost at the practice's risk.

    The weight is ``weight_when_below`` when the practice spends below the reference
    (the mixed difference is zero or more), else ``weight_when_above``; the adjustment of
    each segment is at most ``cap`` either way.
    """
    expenditures = np.asarray(expenditures, dtype=np.float64)
    reference = np.asarray(reference_cost, dtype=np.float64) * base_risk
    difference = reference - expenditures
    mixed = segment_mix(difference, shares)
    weight = np.where(mixed < 0, weight_when_above, weight_when_below)
    uncapped = difference * weight[..., np.newaxis]
    limit = np.broadcast_to(np.abs(np.asarray(cap, dtype=np.float64)), uncapped.shape)
    adjustment = np.clip(uncapped, -limit, limit)
    return RegionalAdjustment(
        reference=reference,
        difference=difference,
        weighted_difference=mixed,
        weight=np.asarray(weight, dtype=np.float64),
        uncapped=uncapped,
        cap=limit,
        adjustment=adjustment,
        adjusted=expenditures + adjustment,
    )


def capped_risk_ratio(
    risk: np.ndarray, base_risk: np.ndarray, ratio_max: float = np.inf, ratio_min: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """The performance year's risk ratio to the baseline, uncapped and within the bounds."""
    uncapped = np.asarray(risk, dtype=np.float64) / np.asarray(base_risk, dtype=np.float64)
    return uncapped, np.clip(uncapped, ratio_min, ratio_max)


@dataclass(frozen=True)
class HistoricalBenchmark:
    """Every step of a historical benchmark, per segment and baseline year."""

    risk_ratio: np.ndarray  # (..., S, Y) [D]
    trended: np.ndarray  # (..., S, Y) [F]
    shares: np.ndarray  # (..., S, Y) [G] per year
    expenditures: np.ndarray  # (..., S) [G] benchmark column
    proportions: np.ndarray  # (..., S) [H]
    benchmark: np.ndarray  # (...) [I]
    base_risk: np.ndarray  # (..., S) the last baseline year's risk
    regional: RegionalAdjustment | None
    adjusted: np.ndarray  # (..., S) [R] (= expenditures without a regional blend)
    adjusted_benchmark: np.ndarray  # (...) [S]


def historical_benchmark(
    per_capita: np.ndarray,
    risk: np.ndarray,
    trend: np.ndarray,
    weights: np.ndarray,
    shares: np.ndarray,
    reference_cost: np.ndarray | None = None,
    weight_when_below: float = 0.0,
    weight_when_above: float = 0.0,
    cap: np.ndarray | float = np.inf,
) -> HistoricalBenchmark:
    """The historical benchmark from baseline years' per-capita cost and risk per segment.

    ``trend`` brings each baseline year to the last one (1 for the last); ``shares`` are the
    segments' proportions of the last baseline year's person-years.
    """
    risk = np.asarray(risk, dtype=np.float64)
    ratio = risk_ratios_to_last(risk)
    trended = trended_per_capita(per_capita, ratio, trend)
    by_year, expenditures = weighted_by_year(trended, weights)
    base_risk = risk[..., -1]
    regional = None
    adjusted = expenditures
    if reference_cost is not None:
        regional = regional_adjustment(
            expenditures,
            reference_cost,
            base_risk,
            shares,
            weight_when_below,
            weight_when_above,
            cap,
        )
        adjusted = regional.adjusted
    return HistoricalBenchmark(
        risk_ratio=ratio,
        trended=trended,
        shares=by_year,
        expenditures=expenditures,
        proportions=np.asarray(shares, dtype=np.float64),
        benchmark=segment_mix(expenditures, shares),
        base_risk=base_risk,
        regional=regional,
        adjusted=adjusted,
        adjusted_benchmark=segment_mix(adjusted, shares),
    )


@dataclass(frozen=True)
class UpdatedBenchmark:
    """The historical benchmark carried to the performance year (Table 2)."""

    risk_ratio: np.ndarray  # (..., S) Table A1 [C], uncapped
    capped_ratio: np.ndarray  # (..., S) [C]
    risk_adjusted: np.ndarray  # (..., S) [D]
    updated: np.ndarray  # (..., S) [F]
    proportions: np.ndarray  # (..., S) [G]
    benchmark: np.ndarray  # (...) [H]


def update_benchmark(
    adjusted: np.ndarray,
    base_risk: np.ndarray,
    risk: np.ndarray,
    update: np.ndarray,
    shares: np.ndarray,
    ratio_max: float = np.inf,
    ratio_min: float = 0.0,
) -> UpdatedBenchmark:
    """Risk-adjust the benchmark expenditures to the performance year, update, mix."""
    uncapped, capped = capped_risk_ratio(risk, base_risk, ratio_max, ratio_min)
    risk_adjusted = np.asarray(adjusted, dtype=np.float64) * capped
    updated = risk_adjusted * np.asarray(update, dtype=np.float64)
    return UpdatedBenchmark(
        risk_ratio=uncapped,
        capped_ratio=capped,
        risk_adjusted=risk_adjusted,
        updated=updated,
        proportions=np.asarray(shares, dtype=np.float64),
        benchmark=segment_mix(updated, shares),
    )
