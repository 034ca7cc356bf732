"""A program: its input tables, checked and linked once, and the member-level work they share.

``load_program`` reads a data folder (or files named one by one), ``program_from_frames``
takes DataFrames built in a notebook; both run the same checks and give a frozen
``Program``. Linking turns members, practices and months into integer codes
(``attribution.link_attribution``), so every computation after it is array arithmetic.

A program's computations (the month's CCF batches, the year's settlement, its
scenarios) share their member-level work: the attributed member-months of a period,
the members' scores and the practices' risk totals are worked out once per program and
returned again when asked for again (``member_months``, ``member_scores``,
``risk_totals``). Each carries the accounting of the table it read (``TableUse``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from .attribution import (
    MemberIndex,
    MemberMonths,
    attributed_member_months,
    codes_in,
    link_attribution,
    segment_labels,
)
from .config import ColumnFormat, ProgramConfig, RiskTerms
from .errors import InputError, Problem
from .inputs import schema
from .inputs.checks import Table, check_table
from .inputs.claims import check_claims, read_claims
from .inputs.columns import _with_column
from .inputs.read import read_table
from .inputs.readahead import ReadAhead
from .inputs.schema import TableSpec, find_table, table_candidates
from .reasons import Reason
from .risk import MemberScores, RiskTotals, member_scores, risk_totals, segment_totals

T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class Program:
    """A program's input tables, checked and linked. ``claims`` and ``quality`` are only
    read by the jobs that need them.

    Linked, ``attribution`` holds ``member_code``, ``practice_code`` and ``period`` (and
    ``segment``, when the file has one); ``risk_scores`` gains ``member_code``; ``claims``
    holds ``member_code``, ``period`` and ``paid_amount``. ``members`` turns member codes
    back into ids. ``baselines``, when given, are the practices' baselines per segment.
    """

    practices: Table
    attribution: Table
    risk_scores: Table
    members: MemberIndex
    claims: Table | None = None
    quality: Table | None = None
    # effective-dated practices: every dated row as checked (``practices`` then holds each
    # practice's latest row, for coding), with ``practice_code``, ``effective_from_period``
    # and ``effective_to_period`` (-1: open)
    practice_rows: Table | None = None
    baselines: Table | None = None
    _memo: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False)

    def tables(self) -> list[Table]:
        practices = self.practices if self.practice_rows is None else self.practice_rows
        return [
            t
            for t in (
                practices,
                self.baselines,
                self.attribution,
                self.risk_scores,
                self.claims,
                self.quality,
            )
            if t is not None
        ]

    def practice_cells(self, periods: Iterable[int] | np.ndarray) -> pd.DataFrame:
        """The practices row in force in each practice-month of ``periods``, practice-major
        (``practice x n_months + month``, the order of ``RiskTotals`` and the CCF's cells):
        its name, tier and payee columns. Undated practices are in force every month."""
        months = np.asarray(sorted({int(p) for p in periods}), dtype=np.int64)
        return self._once(("practice_cells", tuple(months)), lambda: self._cells(months))

    def _cells(self, months: np.ndarray) -> pd.DataFrame:
        frame = self.practices.frame
        n_months = len(months)
        if self.practice_rows is None:
            rows = np.repeat(np.arange(len(frame)), n_months)
            return frame.iloc[rows].reset_index(drop=True)
        dated = self.practice_rows.frame
        row = in_force(dated.reset_index(drop=True), len(frame), months)
        # a practice-month without a row in force (no member is attributed there: such
        # attribution rows are rejected) shows the practice's latest row
        latest = dated.index.get_indexer(frame.index)  # each practice's latest dated row
        fallback = np.repeat(latest, n_months)
        return dated.iloc[np.where(row >= 0, row, fallback)].reset_index(drop=True)

    def _once(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def member_months(self, periods: Iterable[int]) -> MemberMonths:
        """The attributed member-months of these months (worked out once per months)."""
        months = tuple(sorted({int(p) for p in periods}))
        return self._once(
            ("member_months", months),
            lambda: attributed_member_months(self.attribution, self.practices, self.members, months),
        )

    def member_scores(self, mm: MemberMonths, terms: RiskTerms) -> MemberScores:
        """The scores of the members of ``mm`` under these risk terms (once per months, terms)."""
        key = ("member_scores", tuple(int(p) for p in mm.periods), terms.model_dump_json())
        return self._once(key, lambda: member_scores(self.risk_scores, mm, terms))

    def risk_totals(self, mm: MemberMonths, scores: MemberScores, terms: RiskTerms) -> RiskTotals:
        """``risk.risk_totals`` of these member-months (once per months and risk terms)."""
        key = ("risk_totals", tuple(int(p) for p in mm.periods), terms.model_dump_json())
        return self._once(key, lambda: risk_totals(mm, scores))

    def segment_totals(
        self, mm: MemberMonths, scores: MemberScores, terms: RiskTerms
    ) -> RiskTotals:
        """``risk.segment_totals`` of these member-months (once per months and risk terms)."""
        key = ("segment_totals", tuple(int(p) for p in mm.periods), terms.model_dump_json())
        return self._once(key, lambda: segment_totals(mm, scores))

    def months_and_scores(
        self, periods: Iterable[int], terms: RiskTerms
    ) -> tuple[MemberMonths, MemberScores]:
        """A run's attributed member-months and its members' scores."""
        mm = self.member_months(periods)
        return mm, self.member_scores(mm, terms)


def _risk_spec(config: ProgramConfig) -> TableSpec:
    if config.risk is None:
        raise InputError("the config has no [risk] section, so risk scores cannot be read")
    risk = config.risk
    return schema.risk_scores_spec(risk.member_id_column, risk.score_column, risk.max_score)


def _link_practices(practices: Table, config: ProgramConfig) -> Table:
    tiers = practices.frame["tier"]
    practices = practices.reject_rows(
        ~tiers.isin(config.program.tiers).to_numpy(dtype=bool),
        Reason.UNKNOWN_TIER,
        "tier",
        f"tier is not one of the config's program.tiers {config.program.tiers}",
    )
    if not is_dated(practices.frame):
        return practices
    return _reject_overlaps(practices)


#: The columns of a dated practices row: the months from and to which it is in force.
DATED = ("effective_from_period", "effective_to_period")


def is_dated(frame: pd.DataFrame) -> bool:
    """Whether a practices frame carries effective dates (either column)."""
    return any(c in frame.columns for c in DATED)


def _bounds(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each row's first and last month in force (open ends as -inf / +inf periods)."""
    n = len(frame)
    start = (
        frame["effective_from_period"].to_numpy(np.int64)
        if "effective_from_period" in frame.columns
        else np.full(n, -1, dtype=np.int64)
    )
    end = (
        frame["effective_to_period"].to_numpy(np.int64)
        if "effective_to_period" in frame.columns
        else np.full(n, -1, dtype=np.int64)
    )
    low, high = np.iinfo(np.int64).min // 2, np.iinfo(np.int64).max // 2
    return np.where(start < 0, low, start), np.where(end < 0, high, end)


def _reject_overlaps(practices: Table) -> Table:
    """Dated rows: a row ending before it starts, and every row of a practice whose rows'
    months overlap (which tier would be in force?), are rejected (any rejected practice
    row fails the run)."""
    frame = practices.frame
    start, end = _bounds(frame)
    backwards = end < start
    practices = practices.reject_rows(
        backwards, Reason.OUT_OF_RANGE, "effective_to", "effective_to is before effective_from"
    )
    frame = practices.frame
    start, end = _bounds(frame)
    order = pd.DataFrame(
        {"id": frame["practice_id"].to_numpy(), "start": start, "end": end, "row": np.arange(len(frame))}
    ).sort_values(["id", "start"], kind="stable")
    same = order["id"].to_numpy()[1:] == order["id"].to_numpy()[:-1]
    overlap_next = same & (order["start"].to_numpy()[1:] <= _running_end(order)[:-1])
    rows = order["row"].to_numpy()
    bad = np.zeros(len(frame), dtype=bool)
    bad[rows[1:][overlap_next]] = True
    bad[rows[:-1][overlap_next]] = True
    ids = frame["practice_id"].to_numpy()[bad]
    bad |= np.isin(frame["practice_id"].to_numpy(), ids)
    return practices.reject_rows(
        bad,
        Reason.OVERLAPPING_DATES,
        "effective_from",
        "the practice's rows overlap: two rows are in force in the same month",
    )


def _running_end(order: pd.DataFrame) -> np.ndarray:
    """The latest end of the rows so far, within each practice (rows sorted by start)."""
    return order.groupby("id", sort=False)["end"].cummax().to_numpy()


def in_force(dated: pd.DataFrame, n_practices: int, months: np.ndarray) -> np.ndarray:
    """The dated row in force in each practice-month cell (practice-major), -1 for none.
    ``dated`` has ``practice_code``; its rows do not overlap."""
    start, end = _bounds(dated)
    code = dated["practice_code"].to_numpy(np.int64)
    n_months = len(months)
    row = np.full(n_practices * n_months, -1, dtype=np.int64)
    for m, month in enumerate(months):  # a loop over the run's months, not its rows
        live = (start <= month) & (month <= end)
        row[code[live] * n_months + m] = np.flatnonzero(live)
    return row


def _split_dated(practices: Table) -> tuple[Table, Table | None]:
    """Dated practices: each practice's latest row (for coding members to practices) and
    every dated row with its ``practice_code``."""
    frame = practices.frame
    if not is_dated(frame):
        return practices, None
    start, _ = _bounds(frame)
    order = np.lexsort((start, frame["practice_id"].to_numpy()))
    ids = frame["practice_id"].to_numpy()[order]
    last = np.append(ids[1:] != ids[:-1], True)
    latest = practices.with_frame(frame.iloc[order[last]])
    codes = pd.Index(latest.frame["practice_id"]).get_indexer(frame["practice_id"])
    return latest, practices.with_frame(_with_column(frame, "practice_code", codes))


def _reject_out_of_force(attribution: Table, rows: Table | None, n_practices: int) -> Table:
    """Attribution to a dated practice in a month when none of its rows is in force."""
    if rows is None or not len(attribution.frame):
        return attribution
    frame = attribution.frame
    periods = np.unique(frame["period"].to_numpy())
    row = in_force(rows.frame.reset_index(drop=True), n_practices, periods)
    month = np.searchsorted(periods, frame["period"].to_numpy())
    cell = frame["practice_code"].to_numpy(np.int64) * len(periods) + month
    return attribution.reject_rows(
        row[cell] < 0,
        Reason.UNKNOWN_PRACTICE,
        "practice_id",
        "no row of the practice in practices is in force in this month (effective_from/_to)",
    )


def _link_segments(attribution: Table, config: ProgramConfig) -> Table:
    """Attribution rows whose segment is not one of ``program.segments`` (when it lists
    any) are rejected (UNKNOWN_SEGMENT)."""
    segments = config.program.segments
    if not segments or "segment" not in attribution.frame.columns:
        return attribution
    codes = codes_in(attribution.frame["segment"], pd.Index(segments))
    return attribution.reject_rows(
        codes < 0,
        Reason.UNKNOWN_SEGMENT,
        "segment",
        f"segment is not one of the config's program.segments {segments}",
    )


def _link_baselines(
    baselines: Table | None, practices: Table, config: ProgramConfig
) -> Table | None:
    """Baselines of practices that are not in practices (UNKNOWN_PRACTICE), or of segments
    not in ``program.segments`` (UNKNOWN_SEGMENT), are rejected; segments become text."""
    if baselines is None:
        return None
    frame = baselines.frame
    unknown_practice = codes_in(frame["practice_id"], pd.Index(practices.frame["practice_id"])) < 0
    checks: list[tuple[np.ndarray, str, str | None, str]] = [
        (
            unknown_practice,
            Reason.UNKNOWN_PRACTICE,
            "practice_id",
            "practice_id is not in practices, or its row there was rejected",
        )
    ]
    segments = config.program.segments
    if segments:
        checks.append(
            (
                codes_in(frame["segment"], pd.Index(segments)) < 0,
                Reason.UNKNOWN_SEGMENT,
                "segment",
                f"segment is not one of the config's program.segments {segments}",
            )
        )
    baselines = baselines.reject_all(checks)
    labels = segment_labels(baselines.frame["segment"])
    text = np.asarray(labels.categories, dtype=object)[labels.codes]
    return baselines.with_frame(_with_column(baselines.frame, "segment", text))


def _link_scores(risk_scores: Table, members: MemberIndex, config: ProgramConfig) -> Table:
    member_id = _risk_spec(config).columns[0].name  # InputError without a [risk] section
    codes = members.codes(risk_scores.frame[member_id])
    return risk_scores.with_frame(_with_column(risk_scores.frame, "member_code", codes))


def link_claims(claims: Table, members: MemberIndex) -> Table:
    """The checked claims with their members coded: ``member_code`` (-1 for a member never
    attributed), ``period`` (the service month), ``paid_amount`` and, when the file has
    paid dates, ``paid_period`` (the month paid); ``unlinked_ids``
    keeps a few of the member ids that matched no member, as written."""
    frame = claims.frame
    codes = members.codes(frame["member_id"])
    columns = {
        "member_code": codes,
        "period": frame["period"].array,  # row groups' arrays, as checked
        "paid_amount": frame["paid_amount"].array,
    }
    if "paid_period" in frame.columns:
        columns["paid_period"] = frame["paid_period"].array
    linked = claims.with_frame(pd.DataFrame(columns, index=frame.index, copy=False))
    return replace(linked, unlinked_ids=_unlinked_ids(frame["member_id"], codes))


#: How many of a file's unmatched member ids are kept for a gate's examples.
UNLINKED_KEPT = 2_000


def _unlinked_ids(ids: pd.Series, codes: np.ndarray) -> tuple[str, ...]:
    """Up to ``UNLINKED_KEPT`` distinct ids whose code is -1, as text (none: nothing read)."""
    unmatched = codes < 0
    if not unmatched.any():
        return ()
    values = pd.unique(ids.to_numpy()[unmatched])  # distinct raw values, then a few as text
    return tuple(str(v) for v in values[:UNLINKED_KEPT])


def link_program(
    config: ProgramConfig,
    practices: Table,
    attribution: Table,
    risk_scores: Table,
    claims: Table | None = None,
    quality: Table | None = None,
    baselines: Table | None = None,
) -> Program:
    """The checks across tables, done once: practice tiers, attribution against practices
    (unknown practices, conflicting and repeated member-months) and segments, baselines
    against practices and segments, effective-dated practices (overlaps, attribution in a
    month without a row in force), and members coded in attribution, risk scores and
    claims."""
    practices, rows = _split_dated(_link_practices(practices, config))
    attribution, members = link_attribution(_link_segments(attribution, config), practices)
    attribution = _reject_out_of_force(attribution, rows, len(practices.frame))
    return Program(
        practices=practices,
        attribution=attribution,
        risk_scores=_link_scores(risk_scores, members, config),
        members=members,
        claims=None if claims is None else link_claims(claims, members),
        quality=quality,
        practice_rows=rows,
        baselines=_link_baselines(baselines, practices, config),
    )


def program_from_frames(
    config: ProgramConfig,
    practices: pd.DataFrame,
    attribution: pd.DataFrame,
    risk_scores: pd.DataFrame,
    claims: pd.DataFrame | None = None,
    quality: pd.DataFrame | None = None,
    baselines: pd.DataFrame | None = None,
) -> Program:
    """Notebook entry: a program from in-memory DataFrames, with the same checks as files."""
    formats = config.inputs
    return link_program(
        config,
        practices=check_table(practices, schema.PRACTICES, formats=formats.of("practices")),
        attribution=check_table(
            attribution, schema.ATTRIBUTION, formats=formats.of("attribution")
        ),
        risk_scores=check_table(
            risk_scores, _risk_spec(config), formats=formats.of("risk_scores")
        ),
        claims=None if claims is None else check_claims([(1, claims)], formats=formats.of("claims")),
        quality=None
        if quality is None
        else check_table(quality, schema.QUALITY, formats=formats.of("quality")),
        baselines=None
        if baselines is None
        else check_table(baselines, schema.BASELINES, formats=formats.of("baselines")),
    )


def load_program(
    data_dir: str | Path | None,
    config: ProgramConfig,
    *,
    practices: str | Path | None = None,
    attribution: str | Path | None = None,
    risk_scores: str | Path | None = None,
    claims: str | Path | None = None,
    quality: str | Path | None = None,
    baselines: str | Path | None = None,
    with_claims: bool = False,
    with_quality: bool = False,
    with_baselines: bool = False,
    ahead: ReadAhead | None = None,
) -> Program:
    """Read a program's tables from a data folder (conventional names), each path overridable.

    ``with_claims`` reads what a settlement or a budget needs besides: the claims, the
    practices' baseline columns and attribution's segments (a month's CCF reads none of
    these, so a problem there never stops its fees); ``with_quality`` the quality file;
    ``with_baselines`` (a settlement) the baselines per practice and segment, when the
    folder has them (a file named by ``baselines`` is read in any case). Raises
    ``InputError`` listing every file-level problem (missing files and columns) at once.
    ``ahead``: a read-ahead already decoding some of these files.
    """
    folder = Path(data_dir) if data_dir is not None else Path(".")
    specs = program_specs(
        folder,
        config,
        practices=practices,
        attribution=attribution,
        risk_scores=risk_scores,
        claims=claims,
        quality=quality,
        baselines=baselines,
        with_claims=with_claims,
        with_quality=with_quality,
        with_baselines=with_baselines,
    )
    tables: dict[str, Table] = {}
    paths, problems = table_paths(folder, specs)
    handover = _Handover()
    program: Program | None = None
    with ThreadPoolExecutor(max_workers=1) as background:
        # The claims file, the largest, is read and checked in the background (Arrow and
        # most array arithmetic work outside the interpreter lock) while the other tables
        # are read, checked and linked; the claims' members are coded there too, as soon
        # as attribution has given the program's members.
        claims_read = (
            background.submit(
                _read_and_link_claims, paths["claims"], handover, ahead, config.inputs.of("claims")
            )
            if "claims" in paths
            else None
        )
        try:
            for key, spec, _ in specs:
                if key in paths and key != "claims":
                    try:
                        tables[key] = read_table(paths[key], spec, ahead, config.inputs.of(key))
                    except InputError as exc:
                        problems.extend(exc.problems)
            if not problems:
                # each checked table is handed on as it is linked (popped, not kept), so
                # the unlinked columns are freed while the claims are still being read
                linked_practices, rows = _split_dated(
                    _link_practices(tables.pop("practices"), config)
                )
                linked_attribution, members = link_attribution(
                    _link_segments(tables.pop("attribution"), config), linked_practices
                )
                handover.give(members)
                linked_attribution = _reject_out_of_force(
                    linked_attribution, rows, len(linked_practices.frame)
                )
                program = Program(
                    practices=linked_practices,
                    attribution=linked_attribution,
                    risk_scores=_link_scores(tables.pop("risk_scores"), members, config),
                    members=members,
                    quality=tables.pop("quality", None),
                    practice_rows=rows,
                    baselines=_link_baselines(
                        tables.pop("baselines", None), linked_practices, config
                    ),
                )
        finally:
            handover.close()  # the claims thread never waits for members that will not come
        claims_table: Table | None = None
        linked = False
        if claims_read is not None:
            try:
                claims_table, linked = claims_read.result()
            except InputError as exc:
                problems.extend(exc.problems)
    if problems or program is None:
        order = [spec.name for _, spec, _ in specs]  # report problems in the tables' order
        raise InputError(sorted(problems, key=lambda p: order.index(p.table)))
    if claims_table is not None:
        if not linked:
            claims_table = link_claims(claims_table, program.members)
        program = replace(program, claims=claims_table)
    return program


Specs = list[tuple[str, TableSpec, "str | Path | None"]]


def program_specs(
    folder: Path,
    config: ProgramConfig,
    *,
    practices: str | Path | None = None,
    attribution: str | Path | None = None,
    risk_scores: str | Path | None = None,
    claims: str | Path | None = None,
    quality: str | Path | None = None,
    baselines: str | Path | None = None,
    with_claims: bool = False,
    with_quality: bool = False,
    with_baselines: bool = False,
) -> Specs:
    """The tables a job reads (``load_program``'s arguments): by key, each one's spec and
    the file given instead of the folder's, in the order problems are reported."""
    specs: Specs = [
        ("practices", schema.PRACTICES if with_claims else schema.PRACTICES_FOR_CCF, practices),
        (
            "attribution",
            schema.ATTRIBUTION if with_claims else schema.ATTRIBUTION_FOR_CCF,
            attribution,
        ),
        ("risk_scores", _risk_spec(config), risk_scores),
    ]
    if with_claims:
        specs.append(("claims", schema.CLAIMS, claims))
    if with_baselines or baselines is not None:
        stem = schema.BASELINES.stem
        present = any((folder / f"{stem}{suffix}").exists() for suffix in (".parquet", ".csv"))
        if baselines is not None or present:  # a table only some programs have
            specs.insert(1, ("baselines", schema.BASELINES, baselines))
    if with_quality:
        specs.append(("quality", schema.QUALITY, quality))
    return specs


def table_paths(folder: Path, specs: Specs) -> tuple[dict[str, Path], list[Problem]]:
    """Each table's file (the one given, or the data folder's by its conventional name),
    and the problems of those that cannot be found (MISSING_FILE, TWO_FORMATS)."""
    problems: list[Problem] = []
    paths = {}
    for key, spec, override in specs:
        path = (
            Path(override)
            if override is not None
            else find_table(folder, spec.stem, folder=spec.folder)
        )
        candidates = table_candidates(folder, spec.stem, folder=spec.folder)
        both = [p for p in candidates if (p.exists() if p.suffix else p.is_dir())]
        if override is None and len(both) > 1:
            names = [p.name if p.suffix else f"{p.name}/" for p in both]
            problems.append(
                Problem(
                    spec.name,
                    Reason.TWO_FORMATS,
                    f"{folder}: both {' and '.join(names)} are there; remove the "
                    f"one that is not current, or name the file with --{key.replace('_', '-')}",
                )
            )
        elif override is None and not path.exists():
            where = f"{spec.stem}.parquet or {spec.stem}.csv"
            if spec.folder:
                where = f"{spec.stem}.parquet, {spec.stem}.csv or {spec.stem}/ folder"
            problems.append(
                Problem(
                    spec.name,
                    Reason.MISSING_FILE,
                    f"{folder}: no {where} in the data folder",
                )
            )
        else:
            paths[key] = path
    return paths, problems


class _Handover:
    """The program's members, handed from the thread that links attribution to the thread
    that reads claims: given once, or closed without them."""

    def __init__(self) -> None:
        self._ready = threading.Event()
        self.members: MemberIndex | None = None

    def give(self, members: MemberIndex) -> None:
        self.members = members
        self._ready.set()

    def close(self) -> None:
        self._ready.set()

    def wait(self) -> MemberIndex | None:
        self._ready.wait()
        return self.members


def _read_and_link_claims(
    path: Path,
    members: _Handover,
    ahead: ReadAhead | None,
    formats: Mapping[str, ColumnFormat],
) -> tuple[Table, bool]:
    """Read and check the claims, then code their members when the program's are given."""
    claims = read_claims(path, ahead, formats)
    index = members.wait()
    if index is None:
        return claims, False
    # the main thread codes risk scores with the same index meanwhile: coding only reads it
    # (its hash index, if any, was built when attribution was coded, before the handover)
    return link_claims(claims, index), True

