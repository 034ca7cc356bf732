"""The jobs: read inputs, compute, apply the rejection policy, write files and manifest.

This is the edge between the functional core (``ccf``, ``savings``, ``scenarios``) and
the world (files, the clock). Every job takes a ``ProgramConfig`` (``load_config`` reads
one from a file or a preset; a notebook may build one) and a data folder or an already
loaded ``Program``; the command line is a thin layer over these functions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .audit import file_sha256, tool_version
from .budget.history import Budget, baseline_year, build_budget
from .ccf import CcfBatch, ccf_roster, compute_ccf
from .config import BudgetTerms, ProgramConfig
from .engine import EngineOptions
from .engine.run import (
    engine_program,
    partitioned_ccf,
    partitioned_member_gates,
    partitioned_settlement,
    partitioned_settlement_gates,
)
from .errors import InputError, OutputError, OutputExistsError
from .gates import (
    empty_tables,
    gates_json,
    member_gates,
    rejected_rows,
    require_passed,
    settlement_gates,
)
from .inputs import schema
from .inputs.checks import Table
from .inputs.policy import all_rejects_of, enforce_policy, rejection_problems
from .inputs.read import read_table
from .inputs.readahead import ReadAhead
from .money import dollars, to_cents
from .outputs.manifest import base_manifest, input_manifest, totals_json
from .outputs.publish import check_destination, publish, run_record, stage_outputs
from .outputs.remittance import remittance_pages, write_remittances
from .outputs.tables import MANIFEST, write_json, write_table
from .periods import format_period, parse_year_month, year_periods
from .program import Program, load_program
from .savings.summary import settle_summary
from .savings.waterfall import Settlement
from .savings.year import compute_settlement, performance_year, segment_settlement
from .scenarios.bootstrap import bootstrap_chance
from .scenarios.plan import ScenarioStudy, load_scenarios
from .scenarios.settle import run_scenarios, tornado

if TYPE_CHECKING:  # the ledger (SQLAlchemy) loads only with a job that uses it
    from .ledger.book import BatchRecord, Posting

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass
class RunResult:
    """What a run computed and wrote."""

    out: Path
    manifest: dict
    files: list[Path]
    rejects: pd.DataFrame
    backup: Path | None = None


def _fill_outputs(
    manifest: dict, tables: dict[str, pd.DataFrame], rejects: pd.DataFrame
) -> Callable[[Path], None]:
    def fill(folder: Path) -> None:
        written: list[Path] = []
        for stem, frame in tables.items():
            written += write_table(frame, folder, stem)
        written += write_table(rejects, folder, "rejects", parquet=False)
        manifest["outputs"] = {
            p.name: {"sha256": file_sha256(p), "rows": _rows(tables, rejects, p)} for p in written
        }
        write_json(folder / MANIFEST, manifest)
        write_json(folder / "run.json", run_record())

    return fill


def _rows(tables: dict[str, pd.DataFrame], rejects: pd.DataFrame, path: Path) -> int:
    return len(tables.get(path.stem, rejects))


def _program(
    data: str | Path | Program,
    config: ProgramConfig,
    *,
    with_claims: bool = False,
    with_quality: bool = False,
    with_baselines: bool = False,
    paths: dict[str, str | Path | None] | None = None,
    ahead: ReadAhead | None = None,
) -> Program:
    if isinstance(data, Program):
        return data
    return load_program(
        data,
        config,
        with_claims=with_claims,
        with_quality=with_quality,
        with_baselines=with_baselines,
        ahead=ahead,
        **(paths or {}),
    )


def run_ccf(
    config: ProgramConfig,
    data: str | Path | Program,
    months: list[int],
    out: str | Path,
    *,
    force: bool = False,
    strict: bool = False,
    paths: dict[str, str | Path | None] | None = None,
    progress: Progress = _quiet,
    ahead: ReadAhead | None = None,
    engine: EngineOptions | None = None,
) -> tuple[CcfBatch, RunResult]:
    """The monthly CCF batch, end to end: payment lines, control totals, rejects, manifest.

    ``data``: a data folder, or a program already loaded; ``paths``: files that replace
    the folder's; ``ahead``: a read-ahead already decoding the folder's large files;
    ``engine``: how to run it (in one piece, or partitioned by member: ``engine``).
    """
    out = Path(out)
    check_destination(out, force)
    config.require_ccf()
    progress("Reading inputs")
    split = engine_program(config, data, months, engine, settle=False, paths=paths)
    program = _program(data, config, paths=paths, ahead=ahead) if split is None else split.program
    progress("Computing fees")
    gates = require_passed(empty_tables(program.tables(), config.checks))
    rejects = enforce_policy(program.tables(), strict=strict)  # before any cascade it causes
    gates += require_passed(rejected_rows(program.tables(), config.checks, strict=strict), gates)
    batch = compute_ccf(program, config, months) if split is None else partitioned_ccf(split)
    gates += require_passed(
        member_gates(program, config, batch.periods, settlement=False)
        if split is None
        else partitioned_member_gates(split, settlement=False),
        gates,
    )
    manifest = base_manifest("ccf", config)
    manifest["months"] = [format_period(p) for p in batch.periods]
    manifest["inputs"] = input_manifest(program.tables(), batch.uses)
    manifest["gates"] = gates_json(gates)
    manifest["notes"] = {"members_defaulted_score": batch.members_defaulted}
    manifest["control_totals"] = totals_json(batch.control_totals)
    progress("Writing payment file")
    tables = {"ccf_payments": batch.lines, "control_totals": batch.control_totals}
    fill = _fill_outputs(manifest, tables, rejects)
    backup = publish(out, fill, force=force)
    files = sorted(out.iterdir())
    return batch, RunResult(out=out, manifest=manifest, files=files, rejects=rejects, backup=backup)


def run_settlement(
    config: ProgramConfig,
    year: int,
    out: str | Path,
    *,
    data: str | Path | Program | None = None,
    summary: str | Path | None = None,
    force: bool = False,
    strict: bool = False,
    paths: dict[str, str | Path | None] | None = None,
    progress: Progress = _quiet,
    ahead: ReadAhead | None = None,
    ccf_paid: pd.Series | None = None,
    before_publish: Callable[[Settlement, dict], dict[str, pd.DataFrame]] | None = None,
    engine: EngineOptions | None = None,
    publisher: Callable[[Path, Callable[[Path], None], bool], Path | None] | None = None,
) -> tuple[Settlement, RunResult]:
    """The year-end settlement, end to end, from member-level data (a data folder or a
    loaded program) or a practice summary.

    ``ccf_paid``: the CCF paid for the year by practice (cents), from a payment ledger;
    ``before_publish(settlement, manifest)``: more tables to write with it (a ledger's
    settlement lines), called once the settlement is computed; ``engine`` as for
    ``run_ccf``; ``publisher(out, fill, force)``: how the files are put in place (default
    ``publish``; a ledger stages them, commits, then swaps them in)."""
    out = Path(out)
    check_destination(out, force)
    config.require_settlement()
    manifest = base_manifest("settlement", config)
    manifest["year"] = year
    progress("Reading inputs")
    if summary is not None:
        table = read_table(summary, schema.PRACTICE_SUMMARY)
        tables: list[Table] = [table]
        gates = require_passed(empty_tables(tables, config.checks))
        rejects = all_rejects_of(tables)
        if len(rejects):
            raise InputError(rejection_problems(rejects, {table.name: table.path}))
        progress("Settling")
        settlement = settle_summary(table.frame, config, year)
        manifest["inputs"] = input_manifest(tables)
        manifest["gates"] = gates_json(gates)
    else:
        if data is None:
            raise InputError("give a data folder (--data) or a practice summary (--summary)")
        split = engine_program(
            config, data, list(year_periods(year)), engine, settle=True, paths=paths
        )
        program = split.program if split is not None else _program(
            data,
            config,
            with_claims=True,
            with_quality=True,
            with_baselines=True,
            paths=paths,
            ahead=ahead,
        )
        progress("Settling")
        gates = require_passed(empty_tables(program.tables(), config.checks))
        rejects = enforce_policy(program.tables(), strict=strict)
        gates += require_passed(rejected_rows(program.tables(), config.checks, strict=strict), gates)
        settlement = (
            compute_settlement(program, config, year, ccf_paid=ccf_paid)
            if split is None
            else partitioned_settlement(split, year, ccf_paid=ccf_paid)
        )
        claims = settlement.practices["claims_paid_cents"] + settlement.practices["truncated_cents"]
        with_claims = settlement.practices.assign(claims_cents=claims)
        gates += require_passed(
            settlement_gates(program, config, year_periods(year), with_claims)
            if split is None
            else partitioned_settlement_gates(split, with_claims),
            gates,
        )
        manifest["inputs"] = input_manifest(program.tables(), settlement.uses)
        manifest["gates"] = gates_json(gates)
    manifest["notes"] = settlement.notes
    manifest["control_totals"] = totals_json(settlement.control_totals)
    progress("Writing settlement")
    frames = {"settlement": settlement.practices, "control_totals": settlement.control_totals}
    if settlement.segments is not None:  # the budget of each practice and segment
        frames["settlement_segments"] = settlement.segments
    if settlement.completion is not None:  # the chain ladder's triangle and factors
        frames["completion_triangle"] = settlement.completion.triangle()
        frames["completion_factors"] = settlement.completion.factors()
    if before_publish is not None:
        frames.update(before_publish(settlement, manifest))
    fill = _fill_outputs(manifest, frames, rejects)
    backup = (
        publish(out, fill, force=force) if publisher is None else publisher(out, fill, force)
    )
    return settlement, RunResult(
        out=out, manifest=manifest, files=sorted(out.iterdir()), rejects=rejects, backup=backup
    )


def run_budget(
    config: ProgramConfig,
    history: dict[int, str | Path | Program],
    practices: str | Path,
    out: str | Path,
    *,
    force: bool = False,
    strict: bool = False,
    progress: Progress = _quiet,
) -> tuple[Budget, RunResult]:
    """Budgets from history, end to end: each baseline year (a data folder or a loaded
    program) through attribution, risk, stop-loss and completion, the benchmark of every
    practice of the performance year's ``practices`` file, written as ``practices.csv``
    (what the settlement reads), ``baselines.csv`` (each practice's baseline per segment,
    when the history has more than one segment) and ``budget_build.csv``/``.parquet``
    (every step per practice, segment and year), with the manifest."""
    out = Path(out)
    check_destination(out, force)
    config.require_settlement()
    terms = config.budget or BudgetTerms()
    manifest = base_manifest("budget", config)
    progress("Reading the performance year's practices")
    table = read_table(practices, schema.PRACTICES_FOR_CCF)
    gates = require_passed(empty_tables([table], config.checks))
    rejects_by_year = [enforce_policy([table], strict=strict).assign(year="")]
    inputs: dict[str, dict] = {"practices": input_manifest([table])}
    frames: dict[int, pd.DataFrame] = {}
    for year in sorted(history):
        progress(f"Baseline year {year}")
        program = _program(history[year], config, with_claims=True)
        tables = program.tables()
        gates += require_passed(empty_tables(tables, config.checks), gates)
        rejects_by_year.append(enforce_policy(tables, strict=strict).assign(year=str(year)))
        gates += require_passed(rejected_rows(tables, config.checks, strict=strict), gates)
        frames[year] = baseline_year(program, config, year)
        inputs[str(year)] = input_manifest(tables)
    progress("Building budgets")
    budget = build_budget(frames, table.frame, terms)
    rejects = pd.concat(rejects_by_year, ignore_index=True)
    manifest["baseline_years"] = sorted(history)
    manifest["inputs"] = inputs
    manifest["gates"] = gates_json(gates)
    manifest["notes"] = budget.notes

    def fill(folder: Path) -> None:
        written = write_table(budget.practices, folder, "practices", parquet=False)
        rows = {"practices": len(budget.practices), "budget_build": len(budget.build)}
        if budget.baselines is not None:
            written += write_table(budget.baselines, folder, "baselines", parquet=False)
            rows["baselines"] = len(budget.baselines)
        written += write_table(budget.build, folder, "budget_build")
        written += write_table(rejects, folder, "rejects", parquet=False)
        manifest["outputs"] = {
            p.name: {"sha256": file_sha256(p), "rows": rows.get(p.stem, len(rejects))}
            for p in written
        }
        write_json(folder / MANIFEST, manifest)
        write_json(folder / "run.json", run_record())

    progress("Writing budgets")
    backup = publish(out, fill, force=force)
    return budget, RunResult(
        out=out, manifest=manifest, files=sorted(out.iterdir()), rejects=rejects, backup=backup
    )


@dataclass
class StudyRun:
    """What a scenario study computed and wrote."""

    study: ScenarioStudy
    out: Path
    manifest: dict
    files: list[Path]
    rejects: pd.DataFrame
    report: Path | None = None
    xlsx: Path | None = None
    backup: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)



def _check_document(path: Path | None, out: Path, force: bool) -> None:
    if path is None or _inside(path, out):
        return
    if path.exists() and not force:
        raise OutputExistsError(f"{path} already exists; rerun with --force to replace it")
    if path.exists() and path.is_dir():
        raise OutputExistsError(f"{path} is a folder, not a file")



def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().parent == folder.resolve()



def run_scenario_study(
    config: ProgramConfig,
    scenarios_path: str | Path,
    year: int,
    out: str | Path,
    *,
    data: str | Path | Program,
    draws: int = 200,
    seed: int = 7,
    report: str | Path | None = None,
    xlsx: str | Path | None = None,
    force: bool = False,
    strict: bool = False,
    progress: Progress = _quiet,
) -> StudyRun:
    """Read the inputs, settle every scenario, run the tornado and the bootstrap, write files.

    A report or workbook path directly inside ``out`` is written into the output folder
    (and listed in its manifest); elsewhere it is written after the folder is published.
    """
    out = Path(out)
    report_path = Path(report) if report is not None else None
    xlsx_path = Path(xlsx) if xlsx is not None else None
    check_destination(out, force)
    for path in (report_path, xlsx_path):
        _check_document(path, out, force)
    scenarios_path = Path(scenarios_path)
    config.require_settlement()
    plan = load_scenarios(scenarios_path, config)
    timings: dict[str, float] = {}

    progress("Reading inputs")
    start = time.perf_counter()
    program = _program(data, config, with_claims=True, with_quality=True, with_baselines=True)
    timings["read_inputs"] = time.perf_counter() - start
    progress("Member-level work (attribution, risk, claims)")
    start = time.perf_counter()
    gates = require_passed(empty_tables(program.tables(), config.checks))
    rejects = enforce_policy(program.tables(), strict=strict)
    gates += require_passed(rejected_rows(program.tables(), config.checks, strict=strict), gates)
    performance = performance_year(program, config, year, with_ccf=True)
    claims = to_cents(performance.costs.claims_by_practice[performance.active])
    gates += require_passed(
        settlement_gates(
            program, config, year_periods(year), performance.practices.assign(claims_cents=claims)
        ),
        gates,
    )
    timings["performance_year"] = time.perf_counter() - start
    progress(f"Settling {len(plan.scenarios):,} scenarios")
    facts: dict[str, object] = {
        "program": config.program.name,
        "performance year": year,
        "config": f"{config.source} (sha256 {config.sha256[:12]})",
        "scenario file": f"{scenarios_path} (sha256 {file_sha256(scenarios_path)[:12]})",
        "scenarios": len(plan.scenarios),
        "sensitivity parameters": len(plan.sensitivity),
        "practices settled": len(performance.practices),
        "member months": f"{int(performance.practices['member_months'].sum()):,}",
        "bootstrap": f"{draws:,} draws, seed {seed}" if draws else "not run (--draws 0)",
        "tool": f"totalcare_payments {tool_version()}",
    }
    start = time.perf_counter()
    settled = run_scenarios(performance, config, plan.scenarios)
    timings["scenarios"] = time.perf_counter() - start
    start = time.perf_counter()
    sensitivity = tornado(performance, config, plan.sensitivity)
    timings["tornado"] = time.perf_counter() - start
    chance = None
    if draws:
        progress(f"Bootstrap: {draws:,} draws")
        start = time.perf_counter()
        chance = bootstrap_chance(performance, config, draws=draws, seed=seed)
        timings["chance"] = time.perf_counter() - start
    result = ScenarioStudy(
        year=year,
        program=config.program.name,
        result=settled,
        tornado=sensitivity,
        chance=chance,
        facts=facts,
        segments=segment_settlement(performance, config),
    )

    manifest = base_manifest("scenarios", config)
    manifest["year"] = year
    manifest["scenario_file"] = {
        "path": str(scenarios_path),
        "sha256": file_sha256(scenarios_path),
        "scenarios": [s.name for s in plan.scenarios],
        "sensitivity": [s.parameter for s in plan.sensitivity],
    }
    manifest["chance"] = {"draws": draws, "seed": seed}
    manifest["inputs"] = input_manifest(program.tables(), performance.uses)
    manifest["gates"] = gates_json(gates)
    manifest["notes"] = performance.notes

    tables: dict[str, tuple[pd.DataFrame, bool]] = {
        "scenario_practices": (result.result.practices, True),
        "scenario_summary": (result.result.summary, True),
        "tornado": (result.tornado, False),
    }
    if result.chance is not None:
        tables["chance"] = (result.chance.practices, False)
    if result.segments is not None:  # the base terms' budget by practice and segment
        tables["settlement_segments"] = (result.segments, False)
    tables["rejects"] = (rejects, False)
    documents = _document_writers(report_path, xlsx_path)

    def fill(folder: Path) -> None:
        written: dict[str, int | None] = {}
        for stem, (frame, parquet) in tables.items():
            for path in write_table(frame, folder, stem, parquet=parquet):
                written[path.name] = len(frame)
        for path, writer in documents:
            if _inside(path, out):
                writer(result, folder / path.name)
                written[path.name] = None
        manifest["outputs"] = {
            name: {"sha256": file_sha256(folder / name)}
            | ({"rows": rows} if rows is not None else {})
            for name, rows in written.items()
        }
        write_json(folder / MANIFEST, manifest)
        write_json(folder / "run.json", run_record())

    progress("Writing outputs")
    start = time.perf_counter()
    backup = publish(out, fill, force=force)
    timings["write_outputs"] = time.perf_counter() - start
    start = time.perf_counter()
    for path, writer in documents:
        if not _inside(path, out):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                writer(result, path)
            except OSError as exc:
                raise OutputError(f"{path}: cannot write it ({exc.strerror})") from None
    timings["write_documents"] = time.perf_counter() - start
    return StudyRun(
        study=result,
        out=out,
        manifest=manifest,
        files=sorted(out.iterdir()),
        rejects=rejects,
        report=report_path,
        xlsx=xlsx_path,
        backup=backup,
        timings=timings,
    )


def _document_writers(
    report: Path | None, xlsx: Path | None
) -> list[tuple[Path, Callable[[ScenarioStudy, str | Path], Path]]]:
    """The study's document writers. They load matplotlib and xlsxwriter, which only a
    study asking for its documents needs: loaded here, not when the payment jobs load."""
    writers: list[tuple[Path, Callable[[ScenarioStudy, str | Path], Path]]] = []
    if report is not None:
        from .report.html import write_html

        writers.append((report, write_html))
    if xlsx is not None:
        from .report.workbook import write_xlsx

        writers.append((xlsx, write_xlsx))
    return writers


# ---- the payment ledger --------------------------------------------------------------------


@dataclass
class LedgerRun:
    """What a ledger batch did and wrote: the posting (``status``: posted, draft, or
    already, with the batch that holds the same inputs), its files (none when already
    posted), and the payments per practice."""

    posting: Posting
    payments: pd.DataFrame
    ledger: str
    out: Path | None = None
    manifest: dict = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    new_ledger: bool = False  # this batch made the ledger: it pays from its months on
    rejects: pd.DataFrame = field(default_factory=pd.DataFrame)
    backup: Path | None = None


def _batch_record(
    kind: str,
    period: str,
    config: ProgramConfig,
    inputs: dict[str, dict],
    **extra: object,
) -> BatchRecord:
    from .ledger.book import BatchRecord

    return BatchRecord(
        kind=kind,
        period=period,
        config_source=config.source,
        config_sha256=config.sha256,
        tool_version=tool_version(),
        inputs=[
            {"table": name, "path": i["path"], "sha256": i["sha256"], "read": i["read"], "used": i["used"]}
            for name, i in inputs.items()
        ],
        **extra,  # type: ignore[arg-type]
    )


def run_ccf_ledger(
    config: ProgramConfig,
    data: str | Path | Program,
    month: int,
    out: str | Path,
    ledger: str,
    *,
    post: bool = False,
    pay_date: str | None = None,
    force: bool = False,
    strict: bool = False,
    paths: dict[str, str | Path | None] | None = None,
    progress: Progress = _quiet,
    ahead: ReadAhead | None = None,
) -> LedgerRun:
    """The month's CCF batch through the payment ledger: recompute the retroactive window
    (``ccf.retro_months`` before ``month``) from these inputs, post (or, without ``post``,
    record as a draft) per member-month the difference from everything posted before,
    and write what accounts payable loads: payments.csv, payment_lines.csv, roster.csv,
    control totals, the differences outside the window and a remittance statement per
    practice. The same inputs and config as a posted batch post and write nothing."""
    from .ledger.book import post_ccf
    from .ledger.store import open_ledger

    out = Path(out)
    check_destination(out, force)
    _, ccf_terms = config.require_ccf()
    progress("Reading inputs")
    program = _program(data, config, paths=paths, ahead=ahead)
    progress("Computing fees")
    gates = require_passed(empty_tables(program.tables(), config.checks))
    rejects = enforce_policy(program.tables(), strict=strict)
    gates += require_passed(rejected_rows(program.tables(), config.checks, strict=strict), gates)
    covered = {int(p) for p in np.unique(program.attribution.frame["period"].to_numpy())}
    window = [
        p for p in range(month - ccf_terms.retro_months, month + 1) if p in covered or p == month
    ]
    batch = compute_ccf(program, config, window)  # MONTH_NOT_IN_DATA for a month not covered
    gates += require_passed(member_gates(program, config, batch.periods, settlement=False), gates)
    due = ccf_roster(program, config, window)
    due["member_id"] = member_text(due["member_id"])
    inputs = input_manifest(program.tables(), batch.uses)
    record = _batch_record(
        "ccf",
        format_period(month),
        config,
        inputs,
        retro_months=ccf_terms.retro_months,
        pay_date=pay_date or f"{format_period(month)}-01",
    )

    def due_before(months: list[int]) -> pd.DataFrame:
        known = [m for m in months if m in covered]
        if not known:
            return pd.DataFrame(columns=["practice_id", "period", "members", "amount_cents"])
        earlier = compute_ccf(program, config, known).lines
        return pd.DataFrame(
            {
                "practice_id": earlier["practice_id"].astype(str).to_numpy(),
                "period": [parse_year_month(m) for m in earlier["year_month"]],
                "members": earlier["attributed_members"].to_numpy(np.int64),
                "amount_cents": earlier["ccf_amount_cents"].to_numpy(np.int64),
            }
        )

    made: dict[str, Any] = {}

    def stage_files(posting: Posting) -> None:
        """The batch's files, staged inside the posting's transaction: a batch whose files
        cannot be written is not posted, and a posted batch always has them."""
        progress("Writing payment files")
        cells = program.practice_cells([month])
        payments = ledger_payments(posting, cells, record)
        manifest = base_manifest("ccf", config)
        manifest["months"] = [format_period(p) for p in posting.window]
        manifest["ledger"] = {
            "ledger": book.name,
            "batch_id": posting.batch_id,
            "status": posting.status,
            "month_paid": record.period,
            "pay_date": record.pay_date,
            "retro_months": record.retro_months,
            "fingerprint": record.fingerprint,
        }
        manifest["inputs"] = inputs
        manifest["gates"] = gates_json(gates)
        manifest["notes"] = {"members_defaulted_score": batch.members_defaulted}
        line_file = ledger_line_file(posting)
        roster_file = ledger_roster_file(posting)
        totals = ledger_control_totals(payments, line_file, roster_file)
        manifest["control_totals"] = totals_json(totals)
        tables = {
            "payments": payments,
            "payment_lines": line_file,
            "roster": roster_file,
            "control_totals": totals,
            "outside_window": posting.outside,
        }
        names = dict(
            zip(cells["practice_id"].astype(str), cells["practice_name"].astype(str), strict=True)
        )
        statements = remittances(config, posting, payments, record, names)

        def fill(folder: Path) -> None:
            written: list[Path] = []
            rows: dict[str, int] = {}
            for stem, frame in tables.items():
                written += write_table(frame, folder, stem, parquet=stem == "roster")
                rows[stem] = len(frame)
            written += write_table(rejects, folder, "rejects", parquet=False)
            rows["rejects"] = len(rejects)
            written += write_remittances(folder, statements)
            manifest["outputs"] = {
                str(p.relative_to(folder)): {"sha256": file_sha256(p)}
                | ({"rows": rows[p.stem]} if p.suffix != ".html" else {})
                for p in written
            }
            write_json(folder / MANIFEST, manifest)
            write_json(folder / "run.json", run_record())

        made.update(staged=stage_outputs(out, fill, force=force), payments=payments, manifest=manifest)

    progress("Posting to the ledger" if post else "Recording a draft in the ledger")
    book = open_ledger(ledger, create=True)
    try:
        posting = post_ccf(
            book, record, due, window, due_before, post=post, before_commit=stage_files
        )
    except BaseException:
        if "staged" in made:  # staged, then the commit failed: nothing posted, no files
            made["staged"].discard()
        raise
    finally:
        book.dispose()
    if posting.status == "already":
        return LedgerRun(posting=posting, payments=pd.DataFrame(), ledger=book.name)
    try:
        backup = made["staged"].swap()
    except OutputError as exc:
        if posting.status != "posted":
            raise
        raise OutputError(
            f"{exc} -- batch {posting.batch_id} is posted in {book.name}; "
            f"`totalcare ledger show {posting.batch_id}` shows it"
        ) from None
    return LedgerRun(
        posting=posting,
        payments=made["payments"],
        ledger=book.name,
        out=out,
        manifest=made["manifest"],
        files=sorted(out.iterdir()),
        new_ledger=book.created,
        rejects=rejects,
        backup=backup,
    )


def member_text(ids: pd.Series) -> pd.Series:
    """Member ids as the ledger stores them: text, as written (integers without decimals);
    a categorical's categories are turned to text, once each."""
    if isinstance(ids.dtype, pd.CategoricalDtype):
        text = pd.Index(_as_text(ids.cat.categories.to_numpy()), dtype=object)
        codes = ids.cat.codes.to_numpy()
        return pd.Series(pd.Categorical.from_codes(codes, categories=text), index=ids.index)
    return pd.Series(_as_text(ids.to_numpy()), index=ids.index)


def _as_text(values: np.ndarray) -> np.ndarray:
    return pa.array(values).cast(pa.string()).to_numpy(zero_copy_only=False)


def ledger_payments(posting: Posting, cells: pd.DataFrame, record: BatchRecord) -> pd.DataFrame:
    """payments.csv: one row per practice paid by the batch: the payee in force in the
    month paid (columns the practices file has), the pay date, the current month's
    amount, the adjustments' and the net."""
    lines_ = posting.lines
    current = lines_["kind"].to_numpy() == "current"
    amounts = pd.DataFrame(
        {
            "practice_id": lines_["practice_id"].astype(str).to_numpy(),
            "current_amount_cents": np.where(current, lines_["amount_cents"], 0).astype(np.int64),
            "adjustment_amount_cents": np.where(current, 0, lines_["amount_cents"]).astype(np.int64),
        }
    )
    by_practice = amounts.groupby("practice_id", sort=True).sum().reset_index()
    by_practice["net_amount_cents"] = (
        by_practice["current_amount_cents"] + by_practice["adjustment_amount_cents"]
    )
    payee = [c for c in schema.PAYEE_COLUMNS if c in cells.columns]
    payees = cells.assign(practice_id=cells["practice_id"].astype(str))[["practice_id", *payee]]
    payments = by_practice.merge(payees.drop_duplicates("practice_id"), on="practice_id", how="left")
    payments.insert(0, "batch_id", np.int64(posting.batch_id))
    payments.insert(2 + len(payee), "pay_date", record.pay_date or "")
    columns = ["batch_id", "practice_id", *payee, "pay_date"]
    columns += ["current_amount_cents", "adjustment_amount_cents", "net_amount_cents"]
    return payments[columns]


def ledger_line_file(posting: Posting) -> pd.DataFrame:
    """payment_lines.csv: the batch's practice-month lines."""
    lines_ = posting.lines
    return pd.DataFrame(
        {
            "batch_id": np.full(len(lines_), posting.batch_id, dtype=np.int64),
            "practice_id": lines_["practice_id"].astype(str).to_numpy(),
            "service_month": [format_period(p) for p in lines_["period"]],
            "kind": lines_["kind"].to_numpy(),
            "members": lines_["members"].to_numpy(np.int64),
            "amount_cents": lines_["amount_cents"].to_numpy(np.int64),
            "reason": lines_["reason"].fillna("").to_numpy(),
        }
    )


def ledger_roster_file(posting: Posting) -> pd.DataFrame:
    """roster.csv: the member roster behind the batch's lines."""
    r = posting.roster
    months = np.unique(r["period"].to_numpy(np.int64))
    labels = np.array([format_period(p) for p in months], dtype=object)
    return pd.DataFrame(
        {
            "batch_id": np.full(len(r), posting.batch_id, dtype=np.int64),
            "member_id": r["member_id"].to_numpy(),
            "practice_id": r["practice_id"].astype(str).to_numpy(),
            "service_month": labels[np.searchsorted(months, r["period"].to_numpy(np.int64))],
            "kind": r["kind"].to_numpy(),
            "tier": r["tier"].to_numpy(),
            "member_months": r["member_months"].to_numpy(np.int64),
            "risk_score": r["risk_score"].to_numpy(np.float64),
            "rate_cents": r["rate_cents"].to_numpy(np.int64),
            "fee_cents": r["fee_cents"].to_numpy(np.int64),
            "reason": r["reason"].fillna("").to_numpy(),
        }
    )


def ledger_control_totals(
    payments: pd.DataFrame, lines_: pd.DataFrame, roster_: pd.DataFrame
) -> pd.DataFrame:
    """The batch's control totals: the batch, each kind of line and each service month,
    from the lines; the payments file and the roster, which tie to the lines' total."""
    rows = [
        {
            "scope": "batch",
            "key": "lines",
            "practices": int(lines_["practice_id"].nunique()),
            "lines": len(lines_),
            "members": int(lines_["members"].sum()),
            "amount_cents": int(lines_["amount_cents"].sum()),
        },
        {
            "scope": "batch",
            "key": "payments",
            "practices": len(payments),
            "lines": len(payments),
            "members": int(lines_["members"].sum()),
            "amount_cents": int(payments["net_amount_cents"].sum()),
        },
        {
            "scope": "batch",
            "key": "roster",
            "practices": int(roster_["practice_id"].nunique()),
            "lines": len(roster_),
            "members": int(roster_["member_months"].sum()),
            "amount_cents": int(roster_["fee_cents"].sum()),
        },
    ]
    for scope, column in (("kind", "kind"), ("service_month", "service_month")):
        for key, part in lines_.groupby(column, sort=True):
            rows.append(
                {
                    "scope": scope,
                    "key": str(key),
                    "practices": int(part["practice_id"].nunique()),
                    "lines": len(part),
                    "members": int(part["members"].sum()),
                    "amount_cents": int(part["amount_cents"].sum()),
                }
            )
    return pd.DataFrame(rows)


def remittances(
    config: ProgramConfig,
    posting: Posting,
    payments: pd.DataFrame,
    record: BatchRecord,
    names: dict[str, str],
) -> dict[str, str]:
    """Each paid practice's remittance statement (HTML); ``names``: the practices' names
    in force in the month paid."""
    lines_ = ledger_line_file(posting)
    roster_ = ledger_roster_file(posting)
    adjusted = roster_.loc[roster_["kind"].to_numpy() != "current"]
    payee = [c for c in schema.PAYEE_COLUMNS if c in payments.columns]
    facts = {}
    for row in payments.to_dict("records"):  # one statement per practice
        practice = str(row["practice_id"])
        facts[practice] = {
            "program": config.program.name,
            "practice": practice,
            "practice name": names.get(practice, ""),
            **{column: str(row[column]) for column in payee},
            "batch": f"{posting.batch_id} ({posting.status})",
            "month paid": record.period,
            "pay date": str(row["pay_date"]),
            "current month": dollars(int(row["current_amount_cents"])),
            "adjustments": dollars(int(row["adjustment_amount_cents"])),
            "net payment": dollars(int(row["net_amount_cents"])),
        }
    return remittance_pages(facts, lines_, adjusted, draft=posting.status != "posted")


def run_settlement_ledger(
    config: ProgramConfig,
    year: int,
    out: str | Path,
    ledger: str,
    *,
    data: str | Path | Program,
    stage: str = "final",
    runout_months: int | None = None,
    post: bool = False,
    force: bool = False,
    strict: bool = False,
    paths: dict[str, str | Path | None] | None = None,
    progress: Progress = _quiet,
    ahead: ReadAhead | None = None,
    engine: EngineOptions | None = None,
) -> tuple[Settlement | None, LedgerRun]:
    """The year's settlement through the payment ledger: an interim or final settlement
    (``stage``), after ``runout_months`` of claims payments (the chain ladder's runout),
    posted as the difference from what the ledger paid for the year before (a final after
    an interim: the true-up). When the config counts the CCF as cost, the CCF is the
    ledger's posted CCF of the year. The same inputs and config as a posted settlement
    post and write nothing (the settlement is then None)."""
    from .ledger.book import posted_ccf_by_practice, posting_settlement
    from .ledger.store import open_ledger

    if stage not in ("interim", "final"):
        raise InputError(f"--stage is interim or final, not '{stage}'")
    terms = config.require_settlement()
    if runout_months is not None:
        completion = terms.completion.model_copy(update={"runout_months": runout_months})
        settlement_terms = terms.model_copy(update={"completion": completion})
        updated = config.model_copy(update={"settlement": settlement_terms})
        updated.remember_source(config.source, config.sha256)
        config = updated
    book = open_ledger(ledger, create=True)
    try:
        ccf_paid = (
            posted_ccf_by_practice(book, year) if config.require_settlement().ccf_counts_as_cost else None
        )
        posted: list[Posting] = []
        transaction = ExitStack()

        def post_it(settlement: Settlement, manifest: dict) -> dict[str, pd.DataFrame]:
            record = _batch_record(
                "settlement",
                f"{year:04d}",
                config,
                manifest["inputs"],
                stage=stage,
                runout_months=config.require_settlement().completion.runout_months,
            )
            settled = settlement.practices.assign(
                practice_id=settlement.practices["practice_id"].astype(str)
            )
            # the transaction stays open until the files are staged (``put_in_place``)
            posting = transaction.enter_context(
                posting_settlement(book, record, settled, post=post)
            )
            posted.append(posting)
            manifest["ledger"] = {
                "ledger": book.name,
                "batch_id": posting.batch_id,
                "status": posting.status,
                "stage": stage,
                "fingerprint": record.fingerprint,
                "ccf_from_ledger": ccf_paid is not None,
            }
            if posting.status == "already":
                raise _AlreadyPostedError()
            frame = posting.lines.assign(batch_id=np.int64(posting.batch_id))
            return {
                "settlement_lines": frame[
                    ["batch_id", "practice_id", "kind", "final_payment_cents", "amount_cents", "reason"]
                ]
            }

        def put_in_place(dest: Path, fill: Callable[[Path], None], force: bool) -> Path | None:
            """Stage the files, commit the posting, then move the files into place: a
            settlement whose files cannot be written is not posted."""
            staged = stage_outputs(dest, fill, force=force)
            try:
                transaction.close()  # commits
            except BaseException:
                staged.discard()
                raise
            return staged.swap()

        try:
            settlement, result = run_settlement(
                config,
                year,
                out,
                data=data,
                force=force,
                strict=strict,
                paths=paths,
                progress=progress,
                ahead=ahead,
                ccf_paid=ccf_paid,
                before_publish=post_it,
                engine=engine,
                publisher=put_in_place,
            )
        except _AlreadyPostedError as exc:
            transaction.__exit__(type(exc), exc, exc.__traceback__)
            return None, LedgerRun(
                posting=posted[0], payments=pd.DataFrame(), ledger=book.name
            )
        except BaseException as exc:
            transaction.__exit__(type(exc), exc, exc.__traceback__)  # rolled back
            raise
    finally:
        book.dispose()
    return settlement, LedgerRun(
        posting=posted[0],
        payments=posted[0].lines,
        ledger=book.name,
        out=result.out,
        manifest=result.manifest,
        files=result.files,
        new_ledger=book.created,
        rejects=result.rejects,
        backup=result.backup,
    )


class _AlreadyPostedError(Exception):
    """The settlement's inputs and config were posted before: nothing is written."""


def export_ledger(ledger: str, out: str | Path, *, force: bool = False) -> RunResult:
    """Every table of a ledger as CSV (roster and lines as Parquet too), with a manifest."""
    from .ledger.book import export_tables
    from .ledger.store import open_ledger

    out = Path(out)
    check_destination(out, force)
    book = open_ledger(ledger, create=False)
    try:
        tables = export_tables(book)
    finally:
        book.dispose()
    manifest: dict[str, object] = {
        "tool": "totalcare_payments",
        "version": tool_version(),
        "job": "ledger-export",
        "ledger": book.name,
    }

    def fill(folder: Path) -> None:
        written: list[Path] = []
        for stem, frame in tables.items():
            written += write_table(frame, folder, stem, parquet=stem in ("roster", "lines"))
        manifest["outputs"] = {
            p.name: {"sha256": file_sha256(p), "rows": len(tables[p.stem])} for p in written
        }
        write_json(folder / MANIFEST, manifest)
        write_json(folder / "run.json", run_record())

    backup = publish(out, fill, force=force)
    return RunResult(
        out=out, manifest=manifest, files=sorted(out.iterdir()), rejects=pd.DataFrame(), backup=backup
    )
