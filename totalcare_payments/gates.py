"""Data-quality gates: whether a run's inputs, taken as a whole, can be paid from.

A row check (``inputs.checks``) rejects a row whose content is wrong, and the rejection
policy (``inputs.policy``) stops a run on a row that would make a payment wrong. A gate
looks at a whole file, or at the files together: an empty table, too many rejected rows,
members without a risk score, member ids that do not match across files, claims of the
wrong year, months of the year or practices without claims. Each gate has its limit in
``[checks]`` (``config.CheckTerms``). A run whose gate fails stops with exit 2, naming
the file, the column, what the gate saw and the limit, before anything is written; the
manifest records every gate of a run that passed them all, with the reason of any
limit loosened.

A functional core: each function takes the program's tables (or the program and the
run's months) and the terms, and returns the gates' results; ``require_passed`` raises
for the failed ones. Nothing here reads or writes a file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .config import CheckTerms, ProgramConfig
from .errors import InputError, Problem
from .inputs.checks import Table, row_labels
from .inputs.columns import number_chunks
from .inputs.policy import rejection_problems
from .periods import format_period, month_index
from .program import Program
from .reasons import Reason

#: How many unmatched ids of each side are compared for near misses.
NEAR_MISS_SAMPLE = 2_000


@dataclass(frozen=True)
class Gate:
    """One gate's result: its limit, what it saw, and whether it passed."""

    key: str  # the limit's key in [checks]
    reason: Reason  # the code of its failure
    table: str
    path: str
    column: str | None
    limit: float
    seen: float
    passed: bool
    detail: str  # what the gate saw, in words
    relaxed: str | None = None  # why the limit is looser than its default
    strict: bool = False  # the limit is --strict's, not the config's
    rows: tuple[int | str, ...] = ()
    row_count: int = 0
    examples: tuple[str, ...] = ()
    causes: tuple[Problem, ...] = ()  # the rejected rows behind a failure, reason by reason

    @property
    def limit_text(self) -> str:
        return _figure(self.key, self.limit)

    @property
    def seen_text(self) -> str:
        return _figure(self.key, self.seen)

    def problem(self) -> Problem:
        """The failed gate as a problem of its file (the message names the limit)."""
        if self.strict:
            source = "--strict allows no rejected row"
        else:
            source = f"[checks] {self.key} = {self.limit:g}"
            if self.relaxed:
                source += f", relaxed: {self.relaxed}"
        bound = "at least" if self.key.startswith("min_") else "at most"
        return Problem(
            table=f"{self.table} ({self.path})",
            reason=self.reason,
            column=self.column,
            message=f"{self.detail}; the limit is {bound} {self.limit_text} ({source})",
            rows=self.rows,
            row_count=self.row_count,
            examples=self.examples,
        )

    def as_json(self) -> dict[str, object]:
        """The gate for the manifest's ``gates``."""
        return {
            "gate": self.key,
            "reason": str(self.reason),
            "table": self.table,
            "column": self.column,
            "limit": self.limit if _is_share(self.key) else int(self.limit),
            "seen": self.seen if _is_share(self.key) else int(self.seen),
            "passed": self.passed,
            "detail": self.detail,
            "relaxed": self.relaxed,
            **({"strict": True} if self.strict else {}),
        }


class GateError(InputError):
    """Gates failed: an input error (exit 2) listing each failed gate as a problem of its
    file; ``gates`` holds every gate of the run, as the manifest would (for the console)."""

    def __init__(self, gates: Sequence[Gate]):
        super().__init__([p for g in gates if not g.passed for p in (g.problem(), *g.causes)])
        self.gates = gates_json(gates)


def require_passed(gates: list[Gate], before: Sequence[Gate] = ()) -> list[Gate]:
    """The gates, when every one passed; else ``GateError`` (with the gates ``before``
    them in the run, for the report)."""
    if not all(g.passed for g in gates):
        raise GateError([*before, *gates])
    return gates


def gates_json(gates: Iterable[Gate]) -> list[dict[str, object]]:
    """The manifest's ``gates``: each gate's name, limit, what it saw, passed or failed, and
    the reason of any relaxed limit."""
    return [g.as_json() for g in gates]


def _is_share(key: str) -> bool:
    return isinstance(CheckTerms.model_fields[key].default, float)


def _percent(share: float) -> str:
    if 0 < share < 0.0001:
        return f"{share:.4%}"
    return f"{share:.2%}"


def _figure(key: str, value: float) -> str:
    return _percent(value) if _is_share(key) else f"{int(value):,}"


def _gate(
    terms: CheckTerms,
    key: str,
    reason: Reason,
    table: Table,
    seen: float,
    detail: str,
    *,
    column: str | None = None,
    limit: float | None = None,
    strict: bool = False,
    rows: tuple[int | str, ...] = (),
    row_count: int = 0,
    examples: tuple[str, ...] = (),
    causes: tuple[Problem, ...] = (),
) -> Gate:
    limit = terms.limit(key) if limit is None else limit
    passed = seen >= limit if key.startswith("min_") else seen <= limit
    relaxed = None if strict else terms.relaxed.get(key)
    return Gate(
        key=key,
        reason=reason,
        table=table.name,
        path=str(table.path),
        column=column,
        limit=float(limit),
        seen=float(seen),
        passed=bool(passed),
        detail=detail,
        relaxed=relaxed,
        strict=strict,
        rows=rows if not passed else (),
        row_count=row_count if not passed else 0,
        examples=examples if not passed else (),
        causes=causes if not passed else (),
    )


# ----- each table by itself -----


def empty_tables(tables: Iterable[Table], terms: CheckTerms) -> list[Gate]:
    """EMPTY_TABLE: each table has at least ``min_table_rows`` rows left after its checks."""
    gates = []
    for table in tables:
        kept = len(table.frame)
        if table.rows_read == 0:
            detail = "the file has no data rows (an empty or header-only file)"
        else:
            detail = (
                f"{kept:,} row{'s' if kept != 1 else ''} left after checks "
                f"({table.rows_read:,} read, {len(table.rejects):,} rejected"
                + (f": {_by_reason(table.rejects)})" if len(table.rejects) else ")")
            )
        gates.append(
            _gate(
                terms,
                "min_table_rows",
                Reason.EMPTY_TABLE,
                table,
                kept,
                detail,
                causes=_rejections(table),
            )
        )
    return gates


def rejected_rows(tables: Iterable[Table], terms: CheckTerms, *, strict: bool) -> list[Gate]:
    """TOO_MANY_REJECTED: each table's share of rejected rows is at most
    ``max_rejected_share`` (none at all with ``strict``)."""
    gates = []
    for table in tables:
        rejects = table.rejects
        n = len(rejects)
        share = n / table.rows_read if table.rows_read else 0.0
        detail = f"{n:,} of {table.rows_read:,} rows rejected ({_percent(share)})"
        if n:
            detail += f": {_by_reason(rejects)}"
        columns = sorted({str(c) for c in rejects["column"] if str(c)}) if n else []
        gates.append(
            _gate(
                terms,
                "max_rejected_share",
                Reason.TOO_MANY_REJECTED,
                table,
                share,
                detail,
                column=", ".join(columns) or None,
                limit=0.0 if strict else None,
                strict=strict,
                rows=row_labels(rejects),
                row_count=n,
                causes=_rejections(table),
            )
        )
    return gates


def _rejections(table: Table) -> tuple[Problem, ...]:
    """A table's rejected rows as problems, one per reason, column and message."""
    if not len(table.rejects):
        return ()
    return tuple(rejection_problems(table.rejects, {table.name: table.path}))


def _by_reason(rejects: pd.DataFrame) -> str:
    counts = rejects["reason"].astype(str).value_counts().sort_index()
    return ", ".join(f"{reason} {int(count):,}" for reason, count in counts.items())


# ----- the files together -----


@dataclass(frozen=True)
class MemberFacts:
    """What the member gates look at, as counts and a few ids: worked out from a whole
    program (``member_facts``) or added up over its parts (``engine``)."""

    periods: np.ndarray  # the run's months
    n_attributed: int  # members with a member-month in the run
    n_unscored: int  # of them, without a score
    n_in_risk: int  # of them, with a row in the risk scores
    unscored_ids: pd.Index  # the first few unscored members' ids
    missing_in_risk: pd.Index  # attributed members without a risk row (a sample)
    risk_unmatched: list[str]  # risk-score ids that matched no member (a sample)
    # settling: the claims
    n_in_claims: int = 0
    missing_in_claims: pd.Index | None = None
    claims_unlinked: list[str] | None = None
    member_months: np.ndarray | None = None  # per month of the run
    claims: ClaimMonths | None = None


@dataclass(frozen=True)
class ClaimMonths:
    """The claim lines per month of the run (``per_month``; the last entry: outside it),
    the first and last month outside it, and the first rows outside it."""

    per_month: np.ndarray
    outside_low: int | None
    outside_high: int | None
    outside_rows: tuple[int, ...]


def member_facts(
    program: Program, config: ProgramConfig, periods: Iterable[int], *, settlement: bool
) -> MemberFacts | None:
    """The member gates' facts of a whole program (None: no risk terms or no member)."""
    risk_terms = config.risk
    if risk_terms is None:
        return None
    mm, scores = program.months_and_scores(periods, risk_terms)
    attributed = mm.attributed()
    n_attributed = int(attributed.sum())
    if n_attributed == 0:
        return None
    risk = program.risk_scores
    unscored = scores.defaulted & attributed
    risk_codes = risk.frame["member_code"].to_numpy()
    in_risk = _members_in(risk_codes, mm.n_members) & attributed
    facts = MemberFacts(
        periods=mm.periods,
        n_attributed=n_attributed,
        n_unscored=int(unscored.sum()),
        n_in_risk=int(in_risk.sum()),
        unscored_ids=mm.member_ids[unscored][:5],
        missing_in_risk=mm.member_ids[attributed & ~in_risk][:NEAR_MISS_SAMPLE],
        risk_unmatched=_unmatched_ids(risk.frame[risk_terms.member_id_column], risk_codes),
    )
    claims = program.claims
    if not settlement or claims is None:
        return facts
    claim_codes = claims.frame["member_code"].to_numpy()
    in_claims = _members_in(claim_codes, mm.n_members) & attributed
    # member-months per month, from the risk totals the run worked out already
    per_month = program.risk_totals(mm, scores, risk_terms).member_months.sum(axis=0)
    return replace(
        facts,
        n_in_claims=int(in_claims.sum()),
        missing_in_claims=mm.member_ids[attributed & ~in_claims][:NEAR_MISS_SAMPLE],
        claims_unlinked=list(claims.unlinked_ids),
        member_months=per_month,
        claims=claim_months(claims, mm.periods, config.checks.max_claims_outside_period_share),
    )


def member_gates(
    program: Program, config: ProgramConfig, periods: Iterable[int], *, settlement: bool
) -> list[Gate]:
    """The gates on the run's attributed members: scores missing (TOO_MANY_UNSCORED), ids
    not found in the risk scores or, for a settlement, the claims (MEMBER_IDS_NOT_MATCHED);
    and for a settlement the claims' period: lines outside it (CLAIMS_OUTSIDE_PERIOD) and
    months of it without any (PERIOD_NOT_COVERED)."""
    facts = member_facts(program, config, periods, settlement=settlement)
    if facts is None:
        return []
    return gates_of_facts(facts, config, program.risk_scores, program.claims)


def gates_of_facts(
    facts: MemberFacts, config: ProgramConfig, risk: Table, claims: Table | None
) -> list[Gate]:
    """``member_gates`` from their facts (``risk`` and ``claims``: the tables, for their
    names and paths)."""
    terms = config.checks
    risk_terms = config.risk
    assert risk_terms is not None
    n_attributed = facts.n_attributed
    label = _period_label(facts.periods)
    id_column = risk_terms.member_id_column
    n_unscored = facts.n_unscored
    risk_unmatched = facts.risk_unmatched
    near_risk = (
        near_misses(facts.missing_in_risk, risk_unmatched)
        if n_unscored or facts.n_in_risk < n_attributed
        else []
    )
    gates = [
        _gate(
            terms,
            "max_unscored_share",
            Reason.TOO_MANY_UNSCORED,
            risk,
            n_unscored / n_attributed,
            f"{n_unscored:,} of {n_attributed:,} members attributed in {label} have no "
            f"{risk_terms.score_column} ({_percent(n_unscored / n_attributed)}) and would be "
            f"paid at the default score {risk_terms.default_score:.2f}"
            + (
                "; the files' member ids almost match: "
                + _declaration(near_risk, risk.name, id_column)
                if near_risk
                else ""
            ),
            column=id_column,
            examples=_near_examples(near_risk, risk.name) or _ids(facts.unscored_ids),
        ),
        _match_gate(
            terms,
            "min_members_in_risk_scores",
            risk,
            id_column,
            facts.n_in_risk,
            n_attributed,
            label,
            near_risk,
            facts.missing_in_risk,
            risk_unmatched,
        ),
    ]
    if claims is None or facts.claims is None or facts.member_months is None:
        return gates

    without = facts.missing_in_claims if facts.missing_in_claims is not None else pd.Index([])
    unlinked = facts.claims_unlinked or []
    near_claims = near_misses(without, unlinked) if facts.n_in_claims < n_attributed else []
    gates.append(
        _match_gate(
            terms,
            "min_members_in_claims",
            claims,
            "member_id",
            facts.n_in_claims,
            n_attributed,
            label,
            near_claims,
            without,
            unlinked,
        )
    )
    gates += _claims_period(terms, claims, facts.periods, facts.member_months, facts.claims)
    return gates


def _members_in(codes: np.ndarray, n_members: int) -> np.ndarray:
    """Mask of the members (by code) that appear among ``codes`` (-1: no member)."""
    present = np.zeros(n_members + 1, dtype=bool)
    present[codes] = True  # code -1 marks the extra last slot
    return present[:n_members]


def _unmatched_ids(ids: pd.Series, codes: np.ndarray) -> list[str]:
    unmatched = codes < 0
    if not unmatched.any():
        return []
    values = pd.unique(ids[unmatched].astype("string").to_numpy())
    return [str(v) for v in values[:NEAR_MISS_SAMPLE]]


def _ids(ids: pd.Index, n: int = 5) -> tuple[str, ...]:
    return tuple(f"member {i}" for i in ids[:n])


def _match_gate(
    terms: CheckTerms,
    key: str,
    table: Table,
    column: str,
    n_found: int,
    n_attributed: int,
    label: str,
    near: list[tuple[str, str]],
    missing: pd.Index,
    unmatched: list[str],
) -> Gate:
    share = n_found / n_attributed
    detail = (
        f"{n_found:,} of {n_attributed:,} members attributed in {label} "
        f"({_percent(share)}) have a row in {table.name}"
    )
    if near:
        detail += "; the files' member ids almost match: " + _declaration(near, table.name, column)
    examples = _near_examples(near, table.name)
    if not examples and n_found < n_attributed:
        examples = _ids(missing, 3) + tuple(f"{table.name} has {i!r}" for i in unmatched[:2])
    return _gate(
        terms,
        key,
        Reason.MEMBER_IDS_NOT_MATCHED,
        table,
        share,
        detail,
        column=column,
        examples=examples,
    )


def near_misses(
    expected: Iterable[object], found: Iterable[object], n: int = 5
) -> list[tuple[str, str]]:
    """Pairs (attribution's id, the other file's id) that differ only in leading zeros,
    letter case or surrounding blanks: attribution's members without a row in the other
    file, against the other file's ids that matched no member (at most
    ``NEAR_MISS_SAMPLE`` of each)."""
    wanted = [str(i) for i in list(expected)[:NEAR_MISS_SAMPLE]]
    given = [str(i) for i in list(found)[:NEAR_MISS_SAMPLE]]
    if not wanted or not given:
        return []
    by_key: dict[str, str] = {}
    for value in given:
        by_key.setdefault(_loose(value), value)
    pairs = []
    for value in wanted:
        match = by_key.get(_loose(value))
        if match is not None and match != value:
            pairs.append((value, match))
            if len(pairs) == n:
                break
    return pairs


def _near_examples(pairs: list[tuple[str, str]], table: str) -> tuple[str, ...]:
    return tuple(f"attribution {a!r} ~ {table} {b!r} ({_difference(a, b)})" for a, b in pairs)


def _declaration(pairs: list[tuple[str, str]], table: str, column: str) -> str:
    """What to declare in [inputs] so that the ids match (``config.ColumnFormat.ids``: the
    normalizations applied before ids are matched across files)."""
    a, b = (x.strip() for x in pairs[0])
    steps = []
    if a.lstrip("0") != b.lstrip("0"):
        steps.append("uppercase")
    if len(a) - len(a.lstrip("0")) != len(b) - len(b.lstrip("0")):
        steps.append("strip_leading_zeros")
    if not steps:
        return "declare how they are written in [inputs]"
    ids = "ids = [" + ", ".join(f'"{step}"' for step in steps) + "]"
    zeros_here = len(b) - len(b.lstrip("0")) > len(a) - len(a.lstrip("0"))
    files = [f"[inputs.{table}] {column}"]
    if "uppercase" in steps or not zeros_here:
        files.append("[inputs.attribution] member_id")
    if "strip_leading_zeros" in steps and not zeros_here and "uppercase" not in steps:
        files = ["[inputs.attribution] member_id"]
    return "declare how they are written: " + " and ".join(f"{f} = {{ {ids} }}" for f in files)


def _loose(value: str) -> str:
    return value.strip().upper().lstrip("0") or "0"


def _difference(a: str, b: str) -> str:
    """How two ids that match loosely (``_loose``) differ."""
    kinds = []
    if a != a.strip() or b != b.strip():
        kinds.append("surrounding blanks")
    a, b = a.strip(), b.strip()
    if len(a) - len(a.lstrip("0")) != len(b) - len(b.lstrip("0")):
        kinds.append("leading zeros")
    if a.lstrip("0") != b.lstrip("0"):  # the rest differs only in case
        kinds.append("letter case")
    return ", ".join(kinds) or "written differently"


def claim_months(claims: Table, periods: np.ndarray, limit: float) -> ClaimMonths:
    """The claims' lines per month of the run (and outside it), from their service months;
    the first rows outside it when their share is above ``limit`` (the gate fails)."""
    n_months = len(periods)
    per_month = np.zeros(n_months + 1, dtype=np.int64)  # the last: outside the period
    low = high = None
    chunks = number_chunks(claims.frame["period"])
    for chunk in chunks or ():  # row groups, not rows
        index = month_index(periods, chunk)
        index[index < 0] = n_months
        per_month += np.bincount(index, minlength=n_months + 1)
        outside = chunk[index == n_months]
        if len(outside):
            low = int(outside.min()) if low is None else min(low, int(outside.min()))
            high = int(outside.max()) if high is None else max(high, int(outside.max()))
    rows: tuple[int, ...] = ()
    if per_month[-1] and per_month[-1] / per_month.sum() > limit:
        index = month_index(periods, claims.frame["period"].to_numpy())
        rows = tuple(int(r) for r in claims.frame.index[index < 0][:5])
    return ClaimMonths(per_month, low, high, rows)


def _claims_period(
    terms: CheckTerms,
    claims: Table,
    periods: np.ndarray,
    member_months: np.ndarray,
    lines: ClaimMonths,
) -> list[Gate]:
    """CLAIMS_OUTSIDE_PERIOD and PERIOD_NOT_COVERED, from the claims' service months."""
    label = _period_label(periods)
    per_month, low, high = lines.per_month, lines.outside_low, lines.outside_high
    n_claims = int(per_month.sum())
    n_outside = int(per_month[-1])
    share = n_outside / n_claims if n_claims else 0.0
    detail = (
        f"{n_outside:,} of {n_claims:,} claim lines ({_percent(share)}) have a service month "
        f"outside {label}"
    )
    if low is not None and high is not None:
        detail += f" (from {format_period(low)} to {format_period(high)})"
    rows: tuple[int | str, ...] = ()
    if share > terms.max_claims_outside_period_share:
        rows = lines.outside_rows
        if claims.dataset is not None:  # numbered across a folder's files: file:row
            rows = claims.dataset.labels(lines.outside_rows)
    gates = [
        _gate(
            terms,
            "max_claims_outside_period_share",
            Reason.CLAIMS_OUTSIDE_PERIOD,
            claims,
            share,
            detail,
            column="claim_start_date",
            rows=rows,
            row_count=n_outside,
        )
    ]
    uncovered = (member_months > 0) & (per_month[:-1] == 0)
    months = [
        f"{format_period(int(p))} ({int(m):,} member-months)"
        for p, m in zip(periods[uncovered], member_months[uncovered], strict=True)
    ]
    n_uncovered = int(uncovered.sum())
    detail = (
        f"{n_uncovered} month{'s' if n_uncovered != 1 else ''} of {label} with attributed "
        f"member-months {'have' if n_uncovered != 1 else 'has'} no claim line"
    )
    if months:
        detail += ": " + ", ".join(months[:6]) + (" ..." if len(months) > 6 else "")
    gates.append(
        _gate(
            terms,
            "max_months_without_claims",
            Reason.PERIOD_NOT_COVERED,
            claims,
            n_uncovered,
            detail,
            column="claim_start_date",
        )
    )
    return gates


def practices_without_claims(
    practices: pd.DataFrame, claims: Table, terms: CheckTerms, label: str
) -> Gate:
    """PRACTICE_WITHOUT_CLAIMS: practices with attributed member-months in the year and no
    paid claims (net $0.00). ``practices``: ``practice_id``, ``member_months`` and
    ``claims_cents`` (the paid claims charged to the practice, before any stop-loss)."""
    member_months = practices["member_months"].to_numpy(dtype=np.int64)
    none = (member_months > 0) & (practices["claims_cents"].to_numpy(dtype=np.int64) == 0)
    n_active = int((member_months > 0).sum())
    n = int(none.sum())
    named = [
        f"{pid} ({int(m):,} member-months)"
        for pid, m in zip(practices["practice_id"][none], member_months[none], strict=True)
    ]
    detail = (
        f"{n} of {n_active} practices with attributed member-months in {label} "
        f"{'have' if n != 1 else 'has'} no paid claims"
    )
    if named:
        detail += ": " + ", ".join(named[:5]) + (" ..." if len(named) > 5 else "")
    return _gate(
        terms,
        "max_practices_without_claims",
        Reason.PRACTICE_WITHOUT_CLAIMS,
        claims,
        n,
        detail,
        column="member_id",
    )


def _period_label(periods: np.ndarray) -> str:
    first, last = int(periods[0]), int(periods[-1])
    if first == last:
        return format_period(first)
    if first % 12 == 0 and last == first + 11 and len(periods) == 12:
        return str(1970 + first // 12)
    return f"{format_period(first)}..{format_period(last)}"


def settlement_gates(
    program: Program, config: ProgramConfig, periods: Iterable[int], practices: pd.DataFrame
) -> list[Gate]:
    """Every gate on a settlement's members, claims and practices (``practices`` as for
    ``practices_without_claims``)."""
    gates = member_gates(program, config, periods, settlement=True)
    if program.claims is not None:
        months = sorted({int(p) for p in periods})
        gates.append(
            practices_without_claims(
                practices, program.claims, config.checks, _period_label(np.asarray(months))
            )
        )
    return gates
