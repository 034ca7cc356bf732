"""A run partitioned by member: split the inputs, run the kernel over the buckets, add
the sums up exactly and finish the batch or the settlement as the whole program would.

The first pass gives every sum and the program's global statistics: the mean score
(exact, from the fixed-point sums), the member tiers' quantiles (exact order statistics
of each month's scores, from every bucket's distinct scores and their counts), the
percentile stop-loss threshold (the exact order statistics of the members' annual costs,
likewise) and the MSR's populations (member months). A second pass, only when the run
needs one, gives what depends on those statistics: each practice's truncation above a
percentile threshold, and the member-tier fees.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from ..attribution import MemberIndex, MemberMonths
from ..ccf import CcfBatch, ccf_lines, control_totals, linear_quantiles, require_months_present
from ..config import ProgramConfig, StopLoss
from ..errors import InputError, OutputError, Problem
from ..gates import (
    NEAR_MISS_SAMPLE,
    ClaimMonths,
    Gate,
    MemberFacts,
    _period_label,
    gates_of_facts,
    practices_without_claims,
)
from ..inputs import schema
from ..inputs.checks import REJECT_COLUMNS, Table, TableUse
from ..inputs.dataset import Dataset
from ..inputs.read import read_table
from ..money import cents_text, to_cents, units_to_cents
from ..periods import year_periods
from ..program import (
    Program,
    _link_baselines,
    _link_practices,
    is_dated,
    program_specs,
    table_paths,
)
from ..reasons import Reason
from ..risk import MemberScores, RiskTotals
from ..savings.costs import MemberCosts, require_summable
from ..savings.stop_loss import percentile_of
from ..savings.waterfall import Settlement
from ..savings.year import assemble_year, settlement_of
from .execute import Runner
from .kernel import Ask, Bucket, BucketSums, bucket_sums
from .options import EngineOptions
from .split import SplitTable, id_steps, input_rows, split_claims, split_raw

MEMBER_TABLES = ("attribution", "risk_scores", "claims")


def member_level_rows(
    data: str | Path,
    config: ProgramConfig,
    paths: dict[str, str | Path | None] | None,
    *,
    settle: bool,
) -> int:
    """About how many member-level rows a run reads (for choosing how to run it)."""
    folder = Path(data)
    found, _ = table_paths(folder, _specs(folder, config, paths, settle))
    return input_rows({k: p for k, p in found.items() if k in MEMBER_TABLES})


def _given(paths: dict[str, str | Path | None] | None) -> dict[str, str | Path | None]:
    return {k: v for k, v in (paths or {}).items() if v is not None}


def _specs(
    folder: Path, config: ProgramConfig, paths: dict[str, str | Path | None] | None, settle: bool
) -> list:
    given = _given(paths)
    return program_specs(
        folder,
        config,
        practices=given.get("practices"),
        attribution=given.get("attribution"),
        risk_scores=given.get("risk_scores"),
        claims=given.get("claims"),
        quality=given.get("quality"),
        baselines=given.get("baselines"),
        with_claims=settle,
        with_quality=settle,
        with_baselines=settle,
    )


def _total(arrays: list[np.ndarray | None]) -> np.ndarray:
    """The sum of the buckets' arrays (exact: integers)."""
    found = [a for a in arrays if a is not None]
    assert found, "every bucket gives these sums"
    total = found[0].copy()
    for array in found[1:]:  # a loop over buckets
        total += array
    return total


def _empty_rejects() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in REJECT_COLUMNS})


def _summary_table(
    spec: schema.TableSpec,
    path: Path,
    rows_read: int,
    kept: int,
    rejects: list[pd.DataFrame],
    dataset: Dataset | None = None,
) -> Table:
    """A table of the program as its accounting: rows read, the clean rows' count (a frame
    of that many rows and no columns) and every rejected row, in row order (a folder's:
    in file and row order)."""
    found = [r for r in rejects if len(r)]
    order = ["file", "row", "reason"] if dataset is not None else ["row", "reason"]
    merged = (
        pd.concat(found, ignore_index=True).sort_values(order, kind="stable")
        if found
        else _empty_rejects()
    )
    if dataset is not None:
        merged = dataset.locate(merged)  # (an empty frame gains the file column)
    return Table(
        spec=spec,
        path=path,
        frame=pd.DataFrame(index=pd.RangeIndex(kept)),
        rejects=merged.reset_index(drop=True),
        rows_read=rows_read,
        dataset=dataset,
    )


def _use(table: str, uses: list[TableUse]) -> TableUse:
    used = sum(u.used for u in uses)
    excluded: dict[str, int] = {}
    for use in uses:
        for reason, count in use.excluded:
            excluded[reason] = excluded.get(reason, 0) + count
    return TableUse.of(table, used, excluded)


@dataclass
class Partitioned:
    """A program split into buckets, with its first pass done: ``program`` holds the small
    tables as read and the member-level tables as their accounting (``tables()`` gives
    what the manifest and the table gates need)."""

    config: ProgramConfig
    options: EngineOptions
    program: Program
    buckets: list[Bucket]
    ask: Ask
    sums: list[BucketSums]
    work: Path

    def close(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)

    # ----- what the buckets add up to -----

    def raise_problems(self) -> None:
        for part in self.sums:
            if part.error:
                raise InputError(part.error)

    def totals(self) -> RiskTotals:
        fixed = _total([p.fixed for p in self.sums])
        months = _total([p.member_months for p in self.sums])
        return RiskTotals.of_fixed(fixed, months)

    def segment_totals(self) -> tuple[RiskTotals, tuple[str, ...]]:
        names = tuple(sorted({s for p in self.sums for s in p.segments}))
        n_practices = len(self.program.practices.frame)
        fixed = np.zeros((n_practices, len(names)), dtype=np.int64)
        months = np.zeros((n_practices, len(names)), dtype=np.int64)
        for part in self.sums:
            assert part.segment_fixed is not None and part.segment_months is not None
            at = [names.index(s) for s in part.segments]  # a loop over segments
            fixed[:, at] += part.segment_fixed
            months[:, at] += part.segment_months
        return RiskTotals.of_fixed(fixed, months), names

    def members_defaulted(self) -> int:
        return sum(p.members_defaulted for p in self.sums)

    def uses(self, *tables: str) -> tuple[TableUse, ...]:
        return tuple(
            _use(t, [p.uses[t] for p in self.sums if t in p.uses])
            for t in tables
            if any(t in p.uses for p in self.sums)
        )

    def facts(self) -> MemberFacts | None:
        found = [p.facts for p in self.sums if p.facts is not None]
        if not found:
            return None
        periods = found[0].periods
        sample = NEAR_MISS_SAMPLE

        def ids(get: Callable[[MemberFacts], pd.Index | None], n: int) -> pd.Index:
            parts = [list(v) if (v := get(f)) is not None else [] for f in found]
            return pd.Index([i for part in parts for i in part][:n])

        def texts(get: Callable[[MemberFacts], list[str] | None]) -> list[str]:
            return [i for f in found for i in (get(f) or [])][:sample]

        months = [f.member_months for f in found if f.member_months is not None]
        lines = [p.claim_lines for p in self.sums if p.claim_lines is not None]
        return MemberFacts(
            periods=periods,
            n_attributed=sum(f.n_attributed for f in found),
            n_unscored=sum(f.n_unscored for f in found),
            n_in_risk=sum(f.n_in_risk for f in found),
            unscored_ids=ids(lambda f: f.unscored_ids, 5),
            missing_in_risk=ids(lambda f: f.missing_in_risk, sample),
            risk_unmatched=texts(lambda f: f.risk_unmatched),
            n_in_claims=sum(f.n_in_claims for f in found),
            missing_in_claims=ids(lambda f: f.missing_in_claims, sample),
            claims_unlinked=texts(lambda f: f.claims_unlinked),
            member_months=np.sum(months, axis=0) if months else None,
            claims=_claim_lines(lines) if lines else None,
        )

    def distinct(
        self, get: Callable[[BucketSums], tuple[np.ndarray, np.ndarray] | None]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The distinct values of a per-bucket distribution over all buckets, sorted, with
        their cumulative counts."""
        parts = [v for v in (get(p) for p in self.sums) if v is not None]
        values = np.concatenate([v for v, _ in parts]) if parts else np.zeros(0)
        counts = np.concatenate([c for _, c in parts]) if parts else np.zeros(0, np.int64)
        distinct, inverse = np.unique(values, return_inverse=True)
        total = np.bincount(inverse.ravel(), weights=counts, minlength=len(distinct))
        return distinct, np.cumsum(total.astype(np.int64))

    def second_pass(self, ask: Ask) -> list[BucketSums]:
        with Runner(self.options, len(self.buckets)) as runner:
            sums = runner.map(bucket_sums, self.buckets, ask)
        for part in sums:
            if part.error:
                raise InputError(part.error)
        return sums


def _claim_lines(parts: list[ClaimMonths]) -> ClaimMonths:
    lows = [p.outside_low for p in parts if p.outside_low is not None]
    highs = [p.outside_high for p in parts if p.outside_high is not None]
    rows = sorted(r for p in parts for r in p.outside_rows)[:5]
    return ClaimMonths(
        per_month=np.sum([p.per_month for p in parts], axis=0),
        outside_low=min(lows) if lows else None,
        outside_high=max(highs) if highs else None,
        outside_rows=tuple(rows),
    )


def _month_values(part: BucketSums, m: int) -> tuple[np.ndarray, np.ndarray] | None:
    return part.tier_values[m] if part.tier_values is not None else None


def _order_stats(
    distinct: np.ndarray, cumulative: np.ndarray
) -> Callable[[np.ndarray | list[int]], np.ndarray]:
    """The values of given ranks (0 = smallest) of a distribution of distinct values with
    cumulative counts: exact order statistics without the values themselves."""

    def pick(ranks: np.ndarray | list[int]) -> np.ndarray:
        at = np.searchsorted(cumulative, np.asarray(ranks, dtype=np.int64), side="right")
        return distinct[at]

    return pick


# ----- opening a program: the small tables, the split, the first pass -----


def open_partitioned(
    config: ProgramConfig,
    data: str | Path,
    periods: list[int],
    options: EngineOptions,
    *,
    settle: bool,
    paths: dict[str, str | Path | None] | None = None,
) -> Partitioned:
    """Read the small tables, split the member-level ones into buckets and run the first
    pass. File-level problems (missing files and columns, unreadable files) are raised
    together, in the tables' order, as a program in one piece reports them."""
    folder = Path(data)
    specs = _specs(folder, config, paths, settle)
    found, problems = table_paths(folder, specs)
    spec_of = {key: spec for key, spec, _ in specs}
    order = [spec.name for _, spec, _ in specs]
    rows = input_rows({k: p for k, p in found.items() if k in MEMBER_TABLES})
    n_buckets = options.bucket_count(rows)
    work = _work_folder(options.work_dir)
    split: dict[str, SplitTable] = {}
    small: dict[str, Table] = {}
    try:
        for key, spec, _ in specs:
            if key not in found:
                continue
            try:
                if key == "attribution":
                    split[key] = split_raw(
                        found[key],
                        spec,
                        "member_id",
                        id_steps(config.inputs.of(key), "member_id"),
                        work / "buckets" / key,
                        n_buckets,
                    )
                elif key == "risk_scores":
                    assert config.risk is not None
                    column = config.risk.member_id_column
                    split[key] = split_raw(
                        found[key],
                        spec,
                        column,
                        id_steps(config.inputs.of(key), column),
                        work / "buckets" / key,
                        n_buckets,
                    )
                elif key == "claims":
                    split[key] = split_claims(
                        found[key], config.inputs.of(key), work / "buckets" / key, n_buckets
                    )
                else:
                    small[key] = read_table(found[key], spec, None, config.inputs.of(key))
                    if key == "practices" and is_dated(small[key].frame):
                        raise _OnePieceNeededError()  # before any table is split
            except InputError as exc:
                problems.extend(exc.problems)
        if problems:
            raise InputError(sorted(problems, key=lambda p: order.index(p.table)))
        practices = _link_practices(small["practices"], config)
        buckets = [
            Bucket(
                index=b,
                files={k: t.files[b] for k, t in split.items()},
                sources={k: t.source for k, t in split.items()},
            )
            for b in range(n_buckets)
        ]
        ask = _first_ask(config, practices, periods, settle)
        with Runner(options, n_buckets) as runner:
            sums = runner.map(bucket_sums, buckets, ask)
    except OSError as exc:  # a full or read-only work folder
        shutil.rmtree(work, ignore_errors=True)
        raise OutputError(f"{work}: cannot write the bucketed inputs: {exc}") from None
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    program = _summary_program(config, practices, small, split, spec_of, sums)
    return Partitioned(config, options, program, buckets, ask, sums, work)


def _work_folder(parent: Path | None) -> Path:
    """A new folder of the run's own for the buckets (in ``parent``, the user's
    ``--work-dir``, or the system's temporary folder): nothing of the user's is touched."""
    try:
        if parent is not None:
            parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="totalcare-buckets-", dir=parent))
    except OSError as exc:
        raise OutputError(f"{parent or tempfile.gettempdir()}: cannot make a work folder: {exc}") from None


def _first_ask(config: ProgramConfig, practices: Table, periods: list[int], settle: bool) -> Ask:
    tiers = config.ccf is not None and config.ccf.rate_model == "member_tiers"
    threshold, truncate, annual = None, False, False
    if settle:
        terms = config.require_settlement()
        tiers = tiers and terms.ccf_counts_as_cost
        stop_loss = terms.stop_loss
        if stop_loss.kind == "fixed":
            assert stop_loss.amount is not None
            threshold, truncate = int(to_cents(stop_loss.amount)), True
        annual = stop_loss.kind == "percentile"
    return Ask(
        config=config,
        practices=practices,
        periods=tuple(sorted({int(p) for p in periods})),
        settle=settle,
        tier_values=tiers,
        annual_values=annual,
        threshold=threshold,
        truncate=truncate,
    )


def _summary_program(
    config: ProgramConfig,
    practices: Table,
    small: dict[str, Table],
    split: dict[str, SplitTable],
    spec_of: dict[str, schema.TableSpec],
    sums: list[BucketSums],
) -> Program:
    tables: dict[str, Table] = {}
    for key in ("attribution", "risk_scores"):
        counts = [p.tables[key] for p in sums if key in p.tables]
        tables[key] = _summary_table(
            spec_of[key],
            split[key].source,
            sum(c.rows_read for c in counts),
            sum(c.kept for c in counts),
            [c.rejects for c in counts],
        )
    claims = None
    if "claims" in split:
        source = split["claims"]
        claims = _summary_table(
            spec_of["claims"],
            source.source,
            source.rows_read,
            source.kept,
            [source.rejects],
            source.dataset,
        )
    return Program(
        practices=practices,
        attribution=tables["attribution"],
        risk_scores=tables["risk_scores"],
        members=MemberIndex(pd.Series([], dtype="int64")),
        claims=claims,
        quality=small.get("quality"),
        baselines=_link_baselines(small.get("baselines"), practices, config),
    )


# ----- finishing a run -----


def _no_member_months(mm_periods: np.ndarray, practices: Table) -> MemberMonths:
    """A run's months and practices without any member-month: what the lines need when
    the sums are given."""
    empty = np.zeros(0, dtype=np.int32)
    return MemberMonths(
        member_ids=pd.Index([]),
        practice_ids=pd.Index(practices.frame["practice_id"]),
        periods=np.asarray(mm_periods, dtype=np.int32),
        member=empty,
        practice=empty,
        month=empty,
    )


def _tier_fees(run: Partitioned, totals: RiskTotals, ask: Ask) -> np.ndarray | None:
    """The member-tier fees per cell, from each month's exact quantiles (a second pass)."""
    config = run.config
    ccf_terms, risk_terms = config.ccf, config.risk
    if ccf_terms is None or ccf_terms.rate_model != "member_tiers" or risk_terms is None:
        return None
    assert ccf_terms.member_tiers is not None
    q = np.asarray(ccf_terms.member_tiers.quantiles)
    mean = totals.mean_score(per_month=True) if risk_terms.normalize else None
    n_months = len(run.ask.periods)
    cuts = np.zeros((n_months, len(q)))
    for m in range(n_months):  # a loop over months
        distinct, cumulative = run.distinct(partial(_month_values, m=m))
        n = int(cumulative[-1]) if len(cumulative) else 0
        if n == 0:
            continue
        # dividing by the month's mean keeps the order: the normalized order statistics
        values = distinct / mean[m] if mean is not None else distinct
        cuts[m] = linear_quantiles(n, q, _order_stats(values, cumulative))
    sums = run.second_pass(replace(ask, cuts=cuts, mean=mean))
    return _total([p.fees for p in sums])


def partitioned_ccf(run: Partitioned) -> CcfBatch:
    """The CCF batch of the run's months from the buckets' sums."""
    config = run.config
    risk_terms, ccf_terms = config.require_ccf()
    run.raise_problems()
    totals = run.totals()
    periods = np.asarray(run.ask.periods, dtype=np.int32)
    covered = np.unique(np.concatenate([p.covered for p in run.sums if p.covered is not None]))
    require_months_present(run.program.attribution, periods, totals, covered)
    fees = _tier_fees(run, totals, replace(run.ask, second_pass=True, truncate=False))
    lines = ccf_lines(
        _no_member_months(periods, run.program.practices),
        MemberScores(np.zeros(0), np.zeros(0, dtype=bool)),
        run.program.practices.frame,
        risk_terms,
        ccf_terms,
        totals,
        member_fees=fees,
    )
    return CcfBatch(
        lines=lines,
        control_totals=control_totals(lines),
        periods=[int(p) for p in periods],
        members_defaulted=run.members_defaulted(),
        uses=run.uses("attribution", "risk_scores"),
    )


def partitioned_member_gates(run: Partitioned, *, settlement: bool) -> list[Gate]:
    facts = run.facts()
    if facts is None:
        return []
    if not settlement:
        facts = replace(facts, claims=None, member_months=None)
    return gates_of_facts(facts, run.config, run.program.risk_scores, run.program.claims)


def partitioned_settlement_gates(run: Partitioned, practices: pd.DataFrame) -> list[Gate]:
    """``gates.settlement_gates`` from the buckets' facts."""
    gates = partitioned_member_gates(run, settlement=True)
    if run.program.claims is not None:
        label = _period_label(np.asarray(run.ask.periods))
        gates.append(
            practices_without_claims(practices, run.program.claims, run.config.checks, label)
        )
    return gates


def partitioned_settlement(
    run: Partitioned, year: int, *, ccf_paid: pd.Series | None = None
) -> Settlement:
    """The year's settlement from the buckets' sums (``savings.year`` finishes it);
    ``ccf_paid``: the CCF a payment ledger paid for the year, by practice (cents)."""
    config = run.config
    terms = config.require_settlement()
    if config.risk is None:
        raise InputError("the config has no [risk] section: member-level settlement needs scores")
    run.raise_problems()
    totals = run.totals()
    if int(totals.member_months.sum()) == 0:
        raise InputError(
            Problem(
                "attribution", Reason.NO_MEMBER_MONTHS, f"no attributed member-months in {year}"
            )
        )
    assert run.program.claims is not None
    require_summable(run.program.claims, sum(p.magnitude_units for p in run.sums))
    stop_loss = terms.stop_loss
    ask = replace(run.ask, second_pass=True, truncate=False)
    threshold = run.ask.threshold
    truncated = np.zeros(len(run.program.practices.frame), dtype=np.int64)
    members_truncated = 0
    if stop_loss.kind == "percentile":
        assert stop_loss.percentile is not None
        distinct, cumulative = run.distinct(lambda p: p.annual_values)
        n = int(cumulative[-1]) if len(cumulative) else 0
        threshold = percentile_of(n, stop_loss.percentile, _order_stats(distinct, cumulative))
        sums = run.second_pass(replace(ask, threshold=threshold, truncate=True))
    else:
        sums = run.sums if stop_loss.kind == "fixed" else []
    for part in sums:
        if part.truncated_units is not None:
            truncated += part.truncated_units
            members_truncated += part.members_truncated
    claims_units = _total([p.claims_units for p in run.sums])
    lines = None
    if ccf_paid is None and terms.ccf_counts_as_cost and config.ccf is not None:
        risk_terms, ccf_terms = config.require_ccf()
        periods = np.asarray(run.ask.periods, dtype=np.int32)
        lines = ccf_lines(
            _no_member_months(periods, run.program.practices),
            MemberScores(np.zeros(0), np.zeros(0, dtype=bool)),
            run.program.practices.frame.reset_index(drop=True),
            risk_terms,
            ccf_terms,
            totals,
            member_fees=_tier_fees(run, totals, ask),
        )
    n_months = len(run.ask.periods)
    claims_use = run.uses("claims")
    costs = MemberCosts(
        cost=np.zeros((0, n_months)),
        grid=np.zeros((0, n_months), dtype=np.int32),
        n_practices=len(run.program.practices.frame),
        attributed=np.zeros(0, dtype=bool),
        claims_outside_year=sum(p.claims_outside_year for p in run.sums),
        claims_not_attributed=sum(p.claims_not_attributed for p in run.sums),
        units_not_attributed=sum(p.units_not_attributed for p in run.sums),
        use=claims_use[0] if claims_use else None,
    )
    active = totals.by_practice().member_months.ravel() > 0
    notes = {
        "stop_loss_threshold": None
        if threshold is None or stop_loss.kind == "none"
        else cents_text(threshold),
        "members_truncated": members_truncated,
    }

    def by_practice(asked: StopLoss) -> tuple[np.ndarray, np.ndarray, dict]:
        if asked.model_dump_json() != stop_loss.model_dump_json():
            raise InputError("a partitioned run settles under the stop-loss of its own config only")
        return units_to_cents(claims_units[active]), units_to_cents(truncated[active]), notes

    segment_totals: RiskTotals | None = None
    segments: tuple[str, ...] = ("all",)
    if run.program.baselines is not None:
        segment_totals, segments = run.segment_totals()
    performance = assemble_year(
        run.program,
        config,
        year,
        totals,
        costs,
        members_defaulted=run.members_defaulted(),
        segment_totals=segment_totals,
        segments=segments,
        ccf=lines,
        ccf_paid=ccf_paid,
        uses=run.uses("attribution", "risk_scores"),
        completion=None,
        after_runout=0,
        stop_loss_by_practice=by_practice,
    )
    return settlement_of(performance, config)


def year_months(year: int) -> list[int]:
    return [int(p) for p in year_periods(year)]


def engine_program(
    config: ProgramConfig,
    data: str | Path | Program | None,
    periods: list[int],
    options: EngineOptions | None,
    *,
    settle: bool,
    paths: dict[str, str | Path | None] | None = None,
) -> Partitioned | None:
    """The program split and its first pass done, when the options partition this run;
    None when it runs in one piece (no options, a program already loaded, small inputs
    under ``auto``, a chain-ladder completion factor, which reads the claims whole, or
    effective-dated practices)."""
    if options is None or data is None or isinstance(data, Program):
        return None
    if settle and config.require_settlement().completion.method != "fixed":
        return None
    if options.engine == "auto":
        if not options.partitioned(member_level_rows(data, config, paths, settle=settle)):
            return None
    elif not options.partitioned(0):
        return None
    try:
        run = open_partitioned(config, data, periods, options, settle=settle, paths=paths)
    except _OnePieceNeededError:
        return None
    weakref.finalize(run, _remove, run.work)
    return run


class _OnePieceNeededError(Exception):
    """The program runs in one piece: its practices carry effective dates (the tier in
    force month by month is looked up over the whole program)."""


def _remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
