"""The jobs: read inputs, compute, apply the rejection policy, write files and manifest.

This is the edge between the functional core (``ccf``, ``savings``, ``scenarios``) and
the world (files, the clock). Every job takes a ``ProgramConfig`` (``load_config`` reads
one from a file or a preset; a notebook may build one) and a data folder or an already
loaded ``Program``; the command line is a thin layer over these functions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .audit import file_sha256, tool_version
from .budget.history import Budget, baseline_year, build_budget
from .ccf import CcfBatch, compute_ccf
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
from .money import to_cents
from .outputs.manifest import base_manifest, input_manifest, totals_json
from .outputs.publish import check_destination, publish, run_record
from .outputs.tables import MANIFEST, write_json, write_table
from .periods import format_period, year_periods
from .program import Program, load_program
from .savings.summary import settle_summary
from .savings.waterfall import Settlement
from .savings.year import compute_settlement, performance_year, segment_settlement
from .scenarios.bootstrap import bootstrap_chance
from .scenarios.plan import ScenarioStudy, load_scenarios
from .scenarios.settle import run_scenarios, tornado

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
    engine: EngineOptions | None = None,
) -> tuple[Settlement, RunResult]:
    """The year-end settlement, end to end, from member-level data (a data folder or a
    loaded program) or a practice summary; ``engine`` as for ``run_ccf``."""
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
            compute_settlement(program, config, year)
            if split is None
            else partitioned_settlement(split, year)
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
    backup = publish(out, _fill_outputs(manifest, frames, rejects), force=force)
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
