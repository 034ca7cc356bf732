"""A performance year's settlement from member-level data.

``performance_year`` does the member-level work once -- attributed member-months and
average risk per practice, each member-month's paid claims, quality, the CCF paid in the
year -- and ``settle_year`` settles it under one config or many (scenarios), applying
each distinct stop-loss once and the waterfall (``waterfall.settle_rows``) to all rows
in one pass. ``compute_settlement`` is the one-config settlement with its accounting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..attribution import MemberMonths
from ..ccf import ccf_lines
from ..config import ProgramConfig, RiskTerms, SettlementTerms, StopLoss
from ..errors import ConfigError, InputError, Problem
from ..inputs.checks import Table, TableUse
from ..money import cents_text, to_cents, units_to_cents
from ..periods import year_periods
from ..program import Program
from ..reasons import Reason
from ..risk import MemberScores, RiskTotals
from .completion import CompletionEstimate, estimate_completion
from .costs import MemberCosts, member_costs
from .stop_loss import practice_costs, stop_loss_threshold
from .waterfall import (
    SEGMENT_COLUMNS,
    SETTLEMENT_COLUMNS,
    Settlement,
    actual_cost,
    budget_from_segments,
    control_totals,
    msr_and_mlr,
    risk_adjusted_budget,
    row_terms,
    segment_budgets,
    settle_rows,
    stack_terms,
    trend_factor,
)


def _quality_for(
    quality: Table | None, practice_ids: pd.Series, year: int
) -> tuple[np.ndarray, np.ndarray, int, TableUse | None]:
    """quality_score and met_quality_gate per practice; practices without a row get 0 and
    False. Also: how many practices had no row, and what was used of the quality table."""
    n = len(practice_ids)
    if quality is None:
        return np.zeros(n), np.zeros(n, dtype=bool), n, None
    frame = quality.frame
    in_year = frame["year"].to_numpy() == year
    frame = frame.loc[in_year]
    settled = frame["practice_id"].isin(practice_ids).to_numpy()
    use = TableUse.of(
        quality.name,
        int(settled.sum()),
        {
            Reason.OUTSIDE_PERIOD: int((~in_year).sum()),
            Reason.NOT_ATTRIBUTED: int((~settled).sum()),
        },
    )
    idx = pd.Index(frame["practice_id"]).get_indexer(practice_ids)
    has = idx >= 0
    score, met = np.zeros(n), np.zeros(n, dtype=bool)  # (a year without quality rows too)
    score[has] = frame["quality_score"].to_numpy(float)[idx[has]]
    met[has] = frame["met_quality_gate"].to_numpy(bool)[idx[has]]
    return score, met, int((~has).sum()), use



@dataclass(frozen=True)
class PerformanceYear:
    """The member-level work of a performance year, done once and shared by every
    settlement of it (the config's, or each scenario's): attributed member months and
    average risk per practice, each member-month's paid claims, quality, and the CCF
    paid during the year."""

    year: int
    practices: pd.DataFrame  # one row per practice with members: the waterfall's inputs
    costs: MemberCosts
    active: np.ndarray  # practices (in the practices table's order) with member months
    ccf_paid_cents: np.ndarray  # per active practice: the year's CCF (0 without [ccf])
    notes: dict[str, object]
    uses: tuple[TableUse, ...] = ()  # what the year used of each member-level table
    # the chain-ladder completion factor, when the config asks for it
    completion: CompletionEstimate | None = None
    # with a baseline per segment: one row per practice and segment with member months
    # (``segment_rows``), ``practice_row`` its row of ``practices``; None: practice-level
    segments: pd.DataFrame | None = None
    # a partitioned run (``engine``): claims and truncation per practice under a stop-loss,
    # worked out over the program's parts (``costs`` then holds no member)
    stop_loss_by_practice: Callable[[StopLoss], tuple[np.ndarray, np.ndarray, dict]] | None = None

    def completion_factor(self, config: ProgramConfig) -> float | None:
        """The estimated completion factor a config settles with (None: its fixed one)."""
        completion = config.require_settlement().completion
        if completion.method == "fixed":
            return None
        if self.completion is None or self.completion.runout_months != completion.runout_months:
            raise ConfigError(
                "settlement.completion: a scenario cannot change the completion method or "
                "runout_months of the year it settles (the claims counted depend on them); "
                "set them in the base config"
            )
        return self.completion.factor

    def stop_loss_costs(self, stop_loss: StopLoss) -> tuple[np.ndarray, np.ndarray, dict]:
        """claims_paid and truncated cents per practice under a stop-loss, with its notes."""
        if self.stop_loss_by_practice is not None:
            return self.stop_loss_by_practice(stop_loss)
        threshold = stop_loss_threshold(stop_loss, self.costs.annual_cost(), self.costs.attributed)
        by_practice = practice_costs(self.costs, threshold)
        notes = {  # the threshold used, as exact decimal text
            "stop_loss_threshold": None if threshold is None else cents_text(threshold),
            "members_truncated": by_practice.members_truncated,
        }
        return (  # each practice's claims and truncation rounded to cents once
            units_to_cents(by_practice.claims_paid[self.active]),
            units_to_cents(by_practice.truncated[self.active]),
            notes,
        )



def performance_year(
    program: Program,
    config: ProgramConfig,
    year: int,
    *,
    with_ccf: bool | None = None,
    ccf_paid: pd.Series | None = None,
) -> PerformanceYear:
    """Member-level aggregates of a year from attribution, scores, claims and quality.

    ``with_ccf`` computes the year's CCF per practice (default: when the config counts
    it as cost); scenarios ask for it to report the payer's net savings. ``ccf_paid``
    (cents by practice_id): the CCF actually paid for the year, as a payment ledger
    holds it, used instead of the CCF computed from the inputs.
    """
    terms = config.require_settlement()
    risk_terms = config.risk
    if risk_terms is None:
        raise InputError("the config has no [risk] section: member-level settlement needs scores")
    if program.claims is None:
        raise InputError("member-level settlement needs the claims table")
    mm, scores = program.months_and_scores(year_periods(year), risk_terms)
    if len(mm.member) == 0:
        raise InputError(
            Problem("attribution", Reason.NO_MEMBER_MONTHS, f"no attributed member-months in {year}")
        )

    totals = program.risk_totals(mm, scores, risk_terms)
    claims, completion, after_runout = _claims_in_runout(program.claims, terms, year)
    costs = member_costs(claims, mm)
    segment_totals = (
        None if program.baselines is None else program.segment_totals(mm, scores, risk_terms)
    )
    lines = None
    wants_ccf = terms.ccf_counts_as_cost if with_ccf is None else with_ccf
    if ccf_paid is None and wants_ccf and config.ccf is not None:
        practices = program.practices.frame.reset_index(drop=True)
        cells = program.practice_cells(mm.periods)
        lines = ccf_lines(mm, scores, practices, risk_terms, config.ccf, totals, cells)
    return assemble_year(
        program,
        config,
        year,
        totals,
        costs,
        members_defaulted=scores.members_defaulted,
        segment_totals=segment_totals,
        segments=mm.segments,
        ccf=lines,
        ccf_paid=ccf_paid,
        uses=tuple(u for u in (mm.use, scores.use) if u is not None),
        completion=completion,
        after_runout=after_runout,
    )


def assemble_year(
    program: Program,
    config: ProgramConfig,
    year: int,
    totals: RiskTotals,
    costs: MemberCosts,
    *,
    members_defaulted: int,
    segment_totals: RiskTotals | None,
    segments: tuple[str, ...],
    ccf: pd.DataFrame | None,
    uses: tuple[TableUse, ...],
    ccf_paid: pd.Series | None = None,
    completion: CompletionEstimate | None,
    after_runout: int,
    stop_loss_by_practice: Callable[[StopLoss], tuple[np.ndarray, np.ndarray, dict]]
    | None = None,
) -> PerformanceYear:
    """A performance year from its member-level sums: the risk totals per practice and
    month (and per practice and segment, with baselines per segment), the claims per
    member-month (``costs``), the year's CCF lines when they are wanted. ``program``
    gives the practices, quality and baselines tables. The sums may come from the whole
    program or from its parts added up (``engine``): the year is the same."""
    risk_terms = config.risk
    assert risk_terms is not None
    year_totals = totals.by_practice()
    if risk_terms.normalize:
        year_totals = year_totals.normalized(per_month=False)
    avg_risk = year_totals.average(risk_terms.score_decimals).ravel()
    member_months = year_totals.member_months.ravel()
    if after_runout and costs.use is not None:
        costs = replace(
            costs,
            use=TableUse(
                costs.use.table,
                costs.use.used,
                tuple(sorted((*costs.use.excluded, (str(Reason.PAID_AFTER_RUNOUT), after_runout)))),
            ),
        )

    practices = program.practices.frame.reset_index(drop=True)
    active = member_months > 0
    segment_frame = None
    if program.baselines is None:
        _require_baselines(program.practices, practices, active)
    else:  # a budget per segment
        assert segment_totals is not None
        mean = totals.by_practice().mean_score(per_month=False) if risk_terms.normalize else None
        segment_frame = segment_rows_of(
            program, segment_totals, segments, risk_terms, active, year, mean
        )
    paid = np.zeros(int(active.sum()), dtype=np.int64)
    if ccf_paid is not None:  # what a payment ledger paid
        paid = ccf_paid.reindex(practices["practice_id"][active], fill_value=0).to_numpy(np.int64)
    elif ccf is not None:
        paid = (
            ccf.groupby("practice_id")["ccf_amount_cents"]
            .sum()
            .reindex(practices["practice_id"][active], fill_value=0)
            .to_numpy(dtype=np.int64)
        )
    quality_score, met_gate, without_quality, quality_use = _quality_for(
        program.quality, practices["practice_id"][active], year
    )
    n_active = int(active.sum())
    rows = pd.DataFrame(
        {
            "practice_id": practices["practice_id"].to_numpy()[active],
            "practice_name": practices["practice_name"].to_numpy()[active],
            "tier": practices["tier"].to_numpy()[active],
            "member_months": member_months[active].astype(np.int64),
            "population": member_months[active] / 12.0,
            "avg_risk_score": avg_risk[active],
            # with segments: the segments' baselines at the year's mix (budget_from_segments)
            "baseline_risk": np.full(n_active, np.nan)
            if segment_frame is not None
            else practices["baseline_risk"].to_numpy(float)[active],
            "baseline_pmpm_cents": np.zeros(n_active, dtype=np.int64)
            if segment_frame is not None
            else to_cents(practices["baseline_pmpm"].to_numpy(float)[active]),
            "quality_score": quality_score,
            "met_quality_gate": met_gate,
            "loss_adjustment_cents": np.zeros(int(active.sum()), dtype=np.int64),
        }
    )
    notes = {
        "members_defaulted_score": members_defaulted,
        "claims_outside_year": costs.claims_outside_year,
        "claims_not_attributed": costs.claims_not_attributed,
        "claims_not_attributed_amount": cents_text(
            int(units_to_cents(costs.units_not_attributed))
        ),
        "practices_without_quality": without_quality,
        "practices_without_members": int((~active).sum()),
    }
    if segment_frame is not None:
        notes["segments"] = list(segments)
    if completion is not None:
        notes.update(completion.notes())
    all_uses = tuple(u for u in (*uses, costs.use, quality_use) if u is not None)
    return PerformanceYear(
        year=year,
        practices=rows,
        costs=costs,
        active=active,
        ccf_paid_cents=paid,
        notes=notes,
        uses=all_uses,
        completion=completion,
        segments=segment_frame,
        stop_loss_by_practice=stop_loss_by_practice,
    )


def segment_rows(
    program: Program,
    mm: MemberMonths,
    scores: MemberScores,
    risk_terms: RiskTerms,
    active: np.ndarray,
    year: int,
    mean: np.ndarray | None = None,
) -> pd.DataFrame:
    """``segment_rows_of`` the program's segment totals of these member-months."""
    totals = program.segment_totals(mm, scores, risk_terms)
    return segment_rows_of(program, totals, mm.segments, risk_terms, active, year, mean)


def segment_rows_of(
    program: Program,
    totals: RiskTotals,
    segments: tuple[str, ...],
    risk_terms: RiskTerms,
    active: np.ndarray,
    year: int,
    mean: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per practice and segment with member months in the year: its member months,
    share of the practice's, average risk (normalized by the population's ``mean`` when the
    risk terms normalize, as the practice's is) and its baseline from the baselines table.

    A practice and segment with member months and no baseline row stops the run
    (NO_BASELINE), as does a baseline of 0 (OUT_OF_RANGE). ``totals``: the scores and
    member months per practice and segment (``segments``, their names)."""
    if mean is not None:
        totals = totals.normalized(per_month=False, mean=mean)
    avg = totals.average(risk_terms.score_decimals)
    months = totals.member_months
    practice, segment = np.nonzero(months > 0)  # practice-major, segments in name order
    ids = program.practices.frame["practice_id"].to_numpy()
    names = np.asarray(segments, dtype=object)
    cell_mm = months[practice, segment].astype(np.int64)
    practice_mm = months.sum(axis=1)
    frame = pd.DataFrame(
        {
            "practice_id": ids[practice],
            "segment": names[segment],
            "practice_row": (np.cumsum(active) - 1)[practice],
            "member_months": cell_mm,
            "segment_share": cell_mm / practice_mm[practice],
            "avg_risk_score": avg[practice, segment],
        }
    )
    assert program.baselines is not None
    baselines = program.baselines
    table = baselines.frame
    key = pd.MultiIndex.from_arrays(
        [table["practice_id"].astype(str).to_numpy(), table["segment"].to_numpy()]
    )
    at = key.get_indexer(
        pd.MultiIndex.from_arrays([frame["practice_id"].astype(str).to_numpy(), frame["segment"]])
    )
    missing = at < 0
    if missing.any():
        shown = frame.loc[missing]
        raise InputError(
            Problem(
                table="baselines",
                reason=Reason.NO_BASELINE,
                column="segment",
                message=(
                    f"{baselines.path}: {int(missing.sum())} practice(s) and segment(s) have "
                    f"member-months in {year} and no baseline row to budget them "
                    "(build one with totalcare budget, or add the row)"
                ),
                examples=tuple(
                    f"{p} {s} ({m} member-months)"
                    for p, s, m in zip(
                        shown["practice_id"][:5],
                        shown["segment"][:5],
                        shown["member_months"][:5],
                        strict=True,
                    )
                ),
            )
        )
    pmpm = table["baseline_pmpm"].to_numpy(float)[at]
    risk = table["baseline_risk"].to_numpy(float)[at]
    problems = []
    for column, values in (("baseline_pmpm", pmpm), ("baseline_risk", risk)):
        zero = ~(values > 0)
        if zero.any():
            problems.append(
                Problem(
                    table="baselines",
                    reason=Reason.OUT_OF_RANGE,
                    column=column,
                    message=(
                        f"{baselines.path}: {column} is 0; settlement needs a positive number "
                        "for every practice and segment with members"
                    ),
                    rows=tuple(int(r) for r in table.index[at[zero]][:5]),
                    row_count=int(zero.sum()),
                )
            )
    if problems:
        raise InputError(problems)
    base_mm = (
        table["baseline_member_months"].to_numpy(float)[at]
        if "baseline_member_months" in table.columns
        else np.full(len(frame), np.nan)
    )
    return frame.assign(
        baseline_member_months=base_mm,
        baseline_pmpm_cents=to_cents(pmpm),
        baseline_risk=risk,
    )


def _claims_in_runout(
    claims: Table, terms: SettlementTerms, year: int
) -> tuple[Table, CompletionEstimate | None, int]:
    """The claims a settlement counts, with its chain-ladder estimate when the terms ask for
    one: then only the claims paid by the end of the runout (the later ones of the year's
    months are excluded, PAID_AFTER_RUNOUT, and counted)."""
    if terms.completion.method == "fixed":
        return claims, None, 0
    estimate = estimate_completion(claims, year, terms.completion.runout_months)
    paid_period = np.asarray(claims.frame["paid_period"].to_numpy(), dtype=np.int64)
    keep = paid_period <= estimate.evaluation_period
    periods = year_periods(year)
    keep |= ~np.isin(np.asarray(claims.frame["period"].to_numpy()), periods)  # OUTSIDE_PERIOD
    dropped = int((~keep).sum())
    if dropped == 0:
        return claims, estimate, 0
    return claims.with_frame(claims.frame.loc[keep]), estimate, dropped



def settle_year(year: PerformanceYear, configs: list[ProgramConfig]) -> tuple[pd.DataFrame, dict]:
    """Settle a performance year under each config: the rows of config i come i-th.

    The member-level work is shared; each distinct stop-loss is applied once. Returns
    the stacked settlement rows (with a ``scenario`` column, the config's position)
    and the stop-loss notes of the first config.
    """
    base = year.practices
    n = len(base)
    population = base["population"].to_numpy()
    by_stop_loss: dict[str, tuple[np.ndarray, np.ndarray, dict]] = {}
    claims, truncated, terms, msrs, mlrs, trends = [], [], [], [], [], []
    for config in configs:  # per config: arrays of one value per practice, no frames
        settlement_terms = config.require_settlement()
        key = settlement_terms.stop_loss.model_dump_json()
        if key not in by_stop_loss:
            by_stop_loss[key] = year.stop_loss_costs(settlement_terms.stop_loss)
        claims.append(by_stop_loss[key][0])
        truncated.append(by_stop_loss[key][1])
        config_terms = row_terms(config, base["tier"], year.year)
        estimated = year.completion_factor(config)
        if estimated is not None:
            config_terms["completion_factor"] = np.full(n, estimated)
        terms.append(config_terms)
        msr, mlr = msr_and_mlr(settlement_terms, population, None)
        msrs.append(msr)
        mlrs.append(mlr)
        if year.segments is not None:
            names = year.segments["segment"].to_numpy()
            trends.append(trend_factor(settlement_terms, year.year, names))
    k = len(configs)
    rows = base if k == 1 else base.iloc[np.tile(np.arange(n), k)].reset_index(drop=True)
    t = stack_terms(terms)
    rows = rows.assign(
        scenario=np.repeat(np.arange(k), n),
        claims_paid_cents=np.concatenate(claims),
        truncated_cents=np.concatenate(truncated),
        ccf_cost_cents=np.where(t["ccf_counts_as_cost"], np.tile(year.ccf_paid_cents, k), 0),
        msr=np.concatenate(msrs),
        mlr=np.concatenate(mlrs),
    )
    if year.segments is None:
        budgeted = risk_adjusted_budget(rows, t)
    else:
        budgeted = budget_from_segments(rows, *stacked_segments(year, t, trends))
    settled = settle_rows(actual_cost(budgeted, t), t)
    first_notes = by_stop_loss[configs[0].require_settlement().stop_loss.model_dump_json()][2]
    return settled, first_notes


def stacked_segments(
    year: PerformanceYear, t: dict[str, np.ndarray], trends: list[np.ndarray]
) -> tuple[pd.DataFrame, np.ndarray]:
    """The year's segment rows under each config, one block after another as the practice
    rows are stacked, budgeted (``segment_budgets``); with each row's practice row."""
    assert year.segments is not None
    segments = year.segments
    k, n = len(trends), len(year.practices)
    stacked = segments if k == 1 else segments.iloc[np.tile(np.arange(len(segments)), k)]
    row = (segments["practice_row"].to_numpy()[None, :] + n * np.arange(k)[:, None]).ravel()
    budgeted = segment_budgets(stacked.reset_index(drop=True), row, t, np.concatenate(trends))
    return budgeted, row


def segment_settlement(year: PerformanceYear, config: ProgramConfig) -> pd.DataFrame | None:
    """The budget of each practice and segment under one config (``SEGMENT_COLUMNS``,
    sorted by practice and segment): the settlement's audit of a budget per segment."""
    if year.segments is None:
        return None
    t = row_terms(config, year.practices["tier"], year.year)
    names = year.segments["segment"].to_numpy()
    trend = trend_factor(config.require_settlement(), year.year, names)
    budgeted, _ = stacked_segments(year, t, [trend])
    order = np.lexsort(
        (budgeted["segment"].to_numpy(), budgeted["practice_id"].astype(str).to_numpy())
    )
    return budgeted[SEGMENT_COLUMNS].take(order).reset_index(drop=True)



def compute_settlement(
    program: Program, config: ProgramConfig, year: int, *, ccf_paid: pd.Series | None = None
) -> Settlement:
    """Settle a performance year from member-level data: attribution, scores, claims, quality.
    ``ccf_paid``: the CCF paid for the year by practice (cents), from a payment ledger."""
    return settlement_of(performance_year(program, config, year, ccf_paid=ccf_paid), config)


def settlement_of(performance: PerformanceYear, config: ProgramConfig) -> Settlement:
    """The settlement of a performance year under one config, with its accounting."""
    year = performance.year
    rows, stop_loss_notes = settle_year(performance, [config])
    settled = rows[SETTLEMENT_COLUMNS].sort_values("practice_id", kind="stable")
    settled = settled.reset_index(drop=True)
    notes = {**performance.notes, **stop_loss_notes}
    return Settlement(
        year=year,
        practices=settled,
        control_totals=control_totals(settled),
        notes=notes,
        uses=performance.uses,
        completion=performance.completion,
        segments=segment_settlement(performance, config),
    )



def _require_baselines(table: Table, practices: pd.DataFrame, active: np.ndarray) -> None:
    problems = []
    for column in ("baseline_pmpm", "baseline_risk"):
        if column not in practices.columns:
            problems.append(
                Problem("practices", Reason.MISSING_COLUMN, f"{table.path}: settlement needs {column}")
            )
            continue
        values = practices[column].to_numpy(dtype=float)
        empty = active & np.isnan(values)
        not_positive = active & ~np.isnan(values) & ~(values > 0)  # 0 (the reader rejects < 0)
        for bad, reason, what in (
            (empty, Reason.NULL_VALUE, "is empty"),
            (not_positive, Reason.OUT_OF_RANGE, "is 0"),
        ):
            if bad.any():
                problems.append(
                    Problem(
                        table="practices",
                        reason=reason,
                        column=column,
                        message=(
                            f"{table.path}: {column} {what}; settlement needs a positive "
                            "number for every practice with members"
                        ),
                        rows=tuple(int(i) for i in practices.index[bad][:5] + 1),
                        row_count=int(bad.sum()),
                        examples=tuple(practices["practice_id"].astype(str).to_numpy()[bad][:5]),
                    )
                )
    if problems:
        raise InputError(problems)
