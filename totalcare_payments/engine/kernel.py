"""One bucket's work: its members' rows read, checked and linked as a program of their
own, and the sums the whole program's results are made of.

A bucket holds every row of each of its members, so every check on a member's rows
(repeated member-months, conflicting attribution, a second score) and every per-member
step (scores, annual costs, stop-loss truncation, member tiers) is the same in the bucket
as in the whole program. What leaves the bucket is small: sums per practice and month (or
per practice), counts, the distinct values of the scores and annual costs with their
counts (for the program's exact order statistics), and a few ids for the gates' examples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ..ccf import member_tier_fees, practice_cells, tier_multipliers
from ..config import ProgramConfig
from ..errors import InputError, Problem
from ..gates import ClaimMonths, MemberFacts, claim_months, member_facts
from ..inputs import schema
from ..inputs.checks import REJECT_COLUMNS, Table, TableUse, check_table
from ..inputs.columns import _to_column, in_arrow, number_chunks
from ..inputs.read import _frame
from ..money import UNITS_PER_DOLLAR
from ..program import Program, _risk_spec, link_program
from ..risk import risk_totals, segment_totals
from ..savings.costs import member_costs
from ..savings.stop_loss import practice_costs
from .split import ROW


@dataclass(frozen=True)
class Bucket:
    """One bucket's files, by table, and the files they were split from."""

    index: int
    files: dict[str, Path]
    sources: dict[str, Path]


@dataclass(frozen=True)
class Ask:
    """What every bucket is asked: the run's months (a settlement: ``settle``), the linked
    practices, and what the program's first pass has worked out for the second: the
    stop-loss ``threshold`` in cents, the member tiers' ``cuts`` (months x quantiles) and
    the months' ``mean`` scores (normalized tiers)."""

    config: ProgramConfig
    practices: Table
    periods: tuple[int, ...]
    settle: bool
    tier_values: bool = False  # first pass: each month's distinct scores, with counts
    annual_values: bool = False  # first pass: the distinct annual costs, with counts
    threshold: int | None = None  # a known threshold: truncate
    truncate: bool = False
    cuts: np.ndarray | None = None  # member tiers' cut points: the fees
    mean: np.ndarray | None = None
    second_pass: bool = False  # only the truncation and fees


@dataclass
class TableCount:
    rows_read: int
    kept: int
    rejects: pd.DataFrame


@dataclass
class BucketSums:
    """A bucket's sums. Arrays per practice and month are practice-major (practices x months)."""

    index: int
    error: list[Problem] | None = None
    tables: dict[str, TableCount] = field(default_factory=dict)
    uses: dict[str, TableUse] = field(default_factory=dict)
    member_months: np.ndarray | None = None
    fixed: np.ndarray | None = None
    segments: tuple[str, ...] = ()
    segment_months: np.ndarray | None = None  # practices x segments
    segment_fixed: np.ndarray | None = None
    members_defaulted: int = 0
    covered: np.ndarray | None = None  # the months attribution has
    facts: MemberFacts | None = None
    claim_lines: ClaimMonths | None = None
    tier_values: list[tuple[np.ndarray, np.ndarray]] | None = None  # per month
    annual_values: tuple[np.ndarray, np.ndarray] | None = None
    claims_units: np.ndarray | None = None  # per practice, units
    truncated_units: np.ndarray | None = None
    members_truncated: int = 0
    claims_outside_year: int = 0
    claims_not_attributed: int = 0
    units_not_attributed: int = 0
    magnitude_units: float = 0.0
    fees: np.ndarray | None = None  # member-tier fees, cents per cell


def _read_raw(path: Path, spec: schema.TableSpec, source: Path, config: ProgramConfig) -> Table:
    """A bucket of a table split as read: checked as the reader checks the file, each row
    with its row number in the file."""
    table = pq.read_table(path, memory_map=True)
    rows = table.column(ROW).to_numpy().astype(np.int64)
    table = table.drop_columns([ROW])
    frame = _frame(table, spec)
    return check_table(
        frame, spec, path=source, first_row=rows, formats=config.inputs.of(spec.name)
    )


def _read_claims(path: Path, source: Path) -> Table:
    """A bucket of the checked claim lines, as ``inputs.claims.check_claims`` keeps them."""
    table = pq.read_table(path, memory_map=True)
    rows = pd.Index(table.column(ROW).to_numpy().astype(np.int64))
    columns: dict[str, object] = {"member_id": _to_column(table.column("member_id"), in_place=True)}
    for name in ("period", "paid_amount", "paid_period"):
        if name in table.column_names:
            columns[name] = in_arrow(pd.Series(table.column(name).to_numpy(), copy=False))
    frame = pd.DataFrame(columns, copy=False)
    frame.index = rows
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in REJECT_COLUMNS})
    return Table(spec=schema.CLAIMS, path=source, frame=frame, rejects=empty, rows_read=len(frame))


def load_bucket(bucket: Bucket, ask: Ask) -> Program:
    """The bucket's members as a linked program of their own."""
    config = ask.config
    attribution_spec = schema.ATTRIBUTION if ask.settle else schema.ATTRIBUTION_FOR_CCF
    attribution = _read_raw(
        bucket.files["attribution"], attribution_spec, bucket.sources["attribution"], config
    )
    risk = _read_raw(
        bucket.files["risk_scores"], _risk_spec(config), bucket.sources["risk_scores"], config
    )
    claims = (
        _read_claims(bucket.files["claims"], bucket.sources["claims"])
        if ask.settle and "claims" in bucket.files
        else None
    )
    return link_program(config, ask.practices, attribution, risk, claims)


def _values(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    distinct, counts = np.unique(values, return_counts=True)
    return distinct, counts.astype(np.int64)


def bucket_sums(bucket: Bucket, ask: Ask) -> BucketSums:
    """The bucket's sums for the run ``ask`` describes (its problems, when its inputs
    stop the run, as data: they are reported by the program, in bucket order)."""
    try:
        return _sums(bucket, ask)
    except InputError as exc:
        return BucketSums(index=bucket.index, error=list(exc.problems))


def _sums(bucket: Bucket, ask: Ask) -> BucketSums:
    config = ask.config
    risk_terms = config.risk
    assert risk_terms is not None
    program = load_bucket(bucket, ask)
    out = BucketSums(index=bucket.index)
    mm, scores = program.months_and_scores(ask.periods, risk_terms)
    n_months = mm.n_months
    if ask.cuts is not None:
        ccf_terms = config.ccf
        assert ccf_terms is not None
        member_score = scores.score[mm.member]
        if ask.mean is not None:
            member_score = member_score / ask.mean[mm.month]
        cells = practice_cells(ask.practices.frame, n_months)  # undated: partitioned runs
        multiplier = tier_multipliers(ccf_terms, cells["tier"])
        out.fees = member_tier_fees(mm, member_score, multiplier, ccf_terms, ask.cuts)
    if ask.settle and (ask.truncate or not ask.second_pass):
        assert program.claims is not None
        costs = member_costs(program.claims, mm)
        if ask.truncate:
            by_practice = practice_costs(costs, ask.threshold)
            out.truncated_units = by_practice.truncated
            out.members_truncated = by_practice.members_truncated
        if not ask.second_pass:
            out.claims_units = costs.claims_by_practice
            out.claims_outside_year = costs.claims_outside_year
            out.claims_not_attributed = costs.claims_not_attributed
            out.units_not_attributed = costs.units_not_attributed
            if costs.use is not None:
                out.uses["claims"] = costs.use
            if ask.annual_values:
                out.annual_values = _values(costs.annual_cost()[costs.attributed])
            paid = number_chunks(program.claims.frame["paid_amount"])
            out.magnitude_units = float(
                sum(np.abs(np.rint(chunk * UNITS_PER_DOLLAR)).sum() for chunk in paid or ())
            )
            out.claim_lines = claim_months(program.claims, mm.periods, -1.0)
    if ask.second_pass:
        return out

    for name, table in (("attribution", program.attribution), ("risk_scores", program.risk_scores)):
        out.tables[name] = TableCount(table.rows_read, len(table.frame), table.rejects)
    if program.claims is not None:
        out.tables["claims"] = TableCount(0, 0, program.claims.rejects)
    for use in (mm.use, scores.use):
        if use is not None:
            out.uses[use.table] = use
    totals = risk_totals(mm, scores)
    assert totals.fixed is not None
    out.member_months, out.fixed = totals.member_months, totals.fixed
    out.members_defaulted = scores.members_defaulted
    out.covered = np.unique(program.attribution.frame["period"].to_numpy())
    out.facts = member_facts(program, config, ask.periods, settlement=ask.settle)
    if ask.settle:
        segments = segment_totals(mm, scores)
        assert segments.fixed is not None
        out.segments = mm.segments
        out.segment_months, out.segment_fixed = segments.member_months, segments.fixed
    if ask.tier_values:
        score = scores.score[mm.member]
        order = np.argsort(mm.month, kind="stable")
        bounds = np.searchsorted(mm.month[order], np.arange(n_months + 1))
        out.tier_values = [  # a loop over months, not members
            _values(score[order[bounds[m] : bounds[m + 1]]]) for m in range(n_months)
        ]
    return out
