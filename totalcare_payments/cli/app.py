"""The typer app: every command, each a thin layer over ``jobs`` inside one error boundary.

Exit codes: 0 success; 2 bad input; 3 bad config; 4 refused to overwrite a finalized
run; 5 an output cannot be written; 130 interrupted (``mssp-check`` also exits 1 when
some ACO does not match). Errors are short messages naming the file, column, rows and
reason -- never a traceback for something the user can fix.

This module loads only typer: a command that reads a data folder starts its read-ahead
(``inputs.readahead``) as soon as its options are parsed, and only then loads the
program (pandas and the rest), so the large files are decoded on the other core
meanwhile.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from ..errors import InputError
from .boundary import boundary
from .ledger import RunLedgerOpt, ledger_app, resolve_ledger
from .mssp import mssp_check
from .scenarios import scenarios

if TYPE_CHECKING:
    from ..engine.options import Engine, EngineOptions
    from ..inputs.readahead import ReadAhead

#: The program settled when no ``--config`` is given (``config.DEFAULT_PRESET``; named
#: here too so that parsing the command line does not load pydantic).
DEFAULT_PRESET = "bluekc_medical_home"

app = typer.Typer(
    name="totalcare",
    help=(
        "Care Coordination Fees and shared-savings settlements for medical-home programs.\n\n"
        "Run the month's CCF payment batch (ccf), settle a performance year's shared savings "
        "(settle), build practices' budgets from their history (budget), model what-if "
        "settlements (scenarios), check the engine against "
        "Medicare's published settlements (mssp-check), list the shipped programs (presets) "
        "and write a synthetic program to try it on (generate); with --ledger, ccf and settle "
        "post to the payment ledger (ledger: its batches, balances, voids, exports). "
        "Exit codes: 0 success, 2 bad input, 3 bad config, 4 refused to overwrite, "
        "5 cannot write output, 6 the ledger refuses, 130 interrupted."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


ConfigOpt = Annotated[
    str,
    typer.Option(
        "--config",
        "-c",
        help="Program terms: a TOML file, or the name of a shipped program "
        "(see `totalcare presets`).",
    ),
]
DataOpt = Annotated[
    Path,
    typer.Option(
        "--data",
        "-d",
        help="Folder with practices, attribution, risk_scores, claims and quality "
        "(.parquet or .csv, by those names; claims may also be a claims/ folder of "
        ".parquet files, read as one table).",
    ),
]
ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force", help="Replace a finalized output folder (the old one is kept as a backup)."
    ),
]
StrictOpt = Annotated[
    bool, typer.Option("--strict", help="Fail the run on any rejected input row.")
]
FileOpt = Annotated[Path | None, typer.Option(help="Use this file instead of the data folder's.")]
ClaimsOpt = Annotated[
    Path | None,
    typer.Option(
        help="Use this claims file instead of the data folder's, or a folder of .parquet files "
        "(one per paid month, or any; subfolders too) read as one table."
    ),
]
EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        help="How to run: auto (in one piece when the inputs fit the memory limit, else "
        "local), memory (in one piece), local (partitioned by member, on this machine's "
        "cores) or dask (partitioned, as Dask tasks; a local cluster without --scheduler).",
    ),
]
WorkersOpt = Annotated[
    int | None,
    typer.Option("--workers", help="Processes for a partitioned run. Default: the machine's cores."),
]
MemoryOpt = Annotated[
    str | None,
    typer.Option(
        "--memory-limit",
        help="Memory the run may use (2GB, 512MB): sets the bucket count of a partitioned "
        "run. Default: half of the memory available, at most 8 GB.",
    ),
]
BucketsOpt = Annotated[
    int | None,
    typer.Option("--buckets", help="Buckets of a partitioned run (default: from --memory-limit)."),
]
WorkDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--work-dir",
        help="Folder for a partitioned run's bucketed inputs (default: a temporary folder).",
    ),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option("--scheduler", help="A Dask scheduler's address (tcp://host:port) for --engine dask."),
]
# Below this many member-level rows, auto reads a program in one piece
# (``engine.options.SMALL_PROGRAM_ROWS``).
_SMALL_ROWS = 4_000_000
# generate writes larger programs in blocks of members (bounded memory)
STREAM_ABOVE = 10_000_000
STREAM_BLOCK = 1_000_000


def _files(
    practices: Path | None,
    attribution: Path | None,
    risk_scores: Path | None,
    claims: Path | None = None,
    quality: Path | None = None,
    baselines: Path | None = None,
) -> dict[str, str | Path | None]:
    """The files given on the command line instead of the data folder's, by table."""
    return {
        "practices": practices,
        "attribution": attribution,
        "risk_scores": risk_scores,
        "claims": claims,
        "quality": quality,
        "baselines": baselines,
    }


def engine_choice(
    engine: str,
    workers: int | None,
    memory_limit: str | None,
    buckets: int | None,
    work_dir: Path | None,
    scheduler: str | None,
) -> EngineOptions:
    """The engine and its options named on the command line, checked."""
    from ..engine.options import ENGINES, EngineOptions, parse_size

    if engine not in ENGINES:
        raise InputError(f"--engine must be one of {', '.join(ENGINES)}, not '{engine}'")
    if workers is not None and workers < 1:
        raise InputError("--workers must be at least 1")
    if buckets is not None and buckets < 1:
        raise InputError("--buckets must be at least 1")
    if scheduler is not None and engine != "dask":
        raise InputError("--scheduler needs --engine dask")
    return EngineOptions(
        engine=cast("Engine", engine),
        workers=workers,
        memory_limit=None if memory_limit is None else parse_size(memory_limit),
        buckets=buckets,
        work_dir=work_dir,
        scheduler=scheduler,
    )


def _reads_ahead(engine: str, data: Path, files: list[Path | None], names: list[str]) -> bool:
    """Whether to start the read-ahead: a run in one piece (a partitioned run reads its
    inputs bucket by bucket); under auto, when the member-level files are not large."""
    if engine in ("local", "dask"):
        return False
    if engine == "memory":
        return True
    from ..engine.options import file_rows
    from ..inputs.schema import find_table

    paths = [  # claims may be a folder of Parquet files: all of them count
        given if given is not None else find_table(data, name, folder=name == "claims")
        for given, name in zip(files, names, strict=True)
    ]
    return file_rows(paths) < _SMALL_ROWS


def read_ahead(
    data: Path, *, with_claims: bool, attribution: Path | None, claims: Path | None = None
) -> ReadAhead | None:
    """Start decoding the data folder's large tables; None when there is nothing to read
    ahead. Only a head start: any problem is left to the reader, which reports it."""
    if not data.is_dir():
        return None
    from ..inputs.readahead import read_ahead_inputs

    try:
        return read_ahead_inputs(
            data, with_claims=with_claims, attribution=attribution, claims=claims
        )
    except Exception:  # the reader meets the problem and reports it
        return None


@app.command()
def ccf(
    month: Annotated[
        str | None, typer.Option("--month", "-m", help="The month to pay, as YYYY-MM.")
    ] = None,
    months: Annotated[
        str | None,
        typer.Option("--months", help="Several months: 2026-01..2026-12, or a comma list."),
    ] = None,
    data: DataOpt = Path("data"),
    config: ConfigOpt = DEFAULT_PRESET,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output folder. Default: out/ccf-MONTHS.")
    ] = None,
    practices: FileOpt = None,
    attribution: FileOpt = None,
    risk_scores: FileOpt = None,
    force: ForceOpt = False,
    strict: StrictOpt = False,
    ledger: RunLedgerOpt = None,
    post: Annotated[
        bool,
        typer.Option(
            "--post",
            help="With a ledger: post the batch (without it, a draft is recorded and written, "
            "not posted).",
        ),
    ] = False,
    pay_date: Annotated[
        str | None,
        typer.Option("--pay-date", help="With a ledger: the pay date, YYYY-MM-DD. Default: the "
        "first day of the month paid.", show_default=False),
    ] = None,
    engine: EngineOpt = "auto",
    workers: WorkersOpt = None,
    memory_limit: MemoryOpt = None,
    buckets: BucketsOpt = None,
    work_dir: WorkDirOpt = None,
    scheduler: SchedulerOpt = None,
) -> None:
    """Run the monthly Care Coordination Fee batch and write the payment file.

    One payment line per practice and month (attributed members, average risk score,
    PMPM rate, fee), control totals by tier and month, the rejected input rows and a
    manifest of every input and output with its sha256. Amounts are in dollars and
    cents, rounded half-up; the control total is the exact sum of the lines.

    With a ledger (--ledger FILE or postgresql://..., $TOTALCARE_LEDGER, or the config's
    [ledger] url), the month's batch recomputes the ccf.retro_months before it from these
    inputs and pays, per practice and month, exactly the difference from everything posted
    before, with each member's reason; it writes payments.csv, payment_lines.csv,
    roster.csv, control totals, outside_window.csv and a remittance statement per
    practice. --post posts it; the same inputs and config as a posted batch post nothing.
    """
    with boundary():
        if (month is None) == (months is None):
            raise InputError("give either --month YYYY-MM or --months FIRST..LAST")
        how = engine_choice(engine, workers, memory_limit, buckets, work_dir, scheduler)
        ahead = (
            read_ahead(data, with_claims=False, attribution=attribution)
            if _reads_ahead(how.engine, data, [attribution], ["attribution"])
            else None
        )
        from ..config import load_config
        from ..jobs import run_ccf
        from ..periods import parse_month_range, parse_year_month
        from . import console

        try:
            periods = [parse_year_month(month)] if month else parse_month_range(months or "")
        except ValueError as exc:
            raise InputError(str(exc)) from None
        label = month or (months or "").replace("..", "_to_").replace(",", "_")
        dest = out or Path("out") / f"ccf-{label}"
        terms = load_config(config)
        book = resolve_ledger(ledger, terms.ledger.url)
        if book is not None:
            if month is None:
                raise InputError("a ledger batch pays one month: give --month YYYY-MM")
            given = (workers, memory_limit, buckets, work_dir, scheduler)
            if how.engine not in ("auto", "memory") or any(v is not None for v in given):
                raise InputError(
                    "a ledger batch keeps each member's roster line and runs in one piece: "
                    "--engine, --workers, --memory-limit, --buckets, --work-dir and "
                    "--scheduler do not go with --ledger"
                )
            from ..jobs import run_ccf_ledger

            with console.progress() as step:
                run = run_ccf_ledger(
                    terms,
                    data,
                    periods[0],
                    dest,
                    book,
                    post=post,
                    pay_date=_pay_date(pay_date),
                    force=force,
                    strict=strict,
                    paths=_files(practices, attribution, risk_scores),
                    progress=step,
                    ahead=ahead,
                )
            console.show_ledger_batch(run)
            if run.manifest:
                console.show_accounting(run.manifest["inputs"], run.manifest.get("gates"))
            return
        if post or pay_date:
            raise InputError("--post and --pay-date go with a ledger (--ledger)")
        with console.progress() as step:
            batch, result = run_ccf(
                terms,
                data,
                periods,
                dest,
                force=force,
                strict=strict,
                paths=_files(practices, attribution, risk_scores),
                progress=step,
                ahead=ahead,
                engine=how,
            )
        console.show_ccf(
            batch.lines,
            batch.control_totals,
            result.out,
            batch.members_defaulted,
            len(result.rejects),
        )
        console.show_accounting(result.manifest["inputs"], result.manifest.get("gates"))


@app.command()
def settle(
    year: Annotated[int, typer.Option("--year", "-y", help="The performance year to settle.")],
    data: Annotated[
        Path,
        typer.Option("--data", "-d", help="Folder with the member-level tables (as for ccf)."),
    ] = Path("data"),
    summary: Annotated[
        Path | None,
        typer.Option(
            "--summary",
            help="Settle from a practice-level summary instead (budget or baseline_pmpm, "
            "member_months, actual_cost, quality_score, ...).",
        ),
    ] = None,
    config: ConfigOpt = DEFAULT_PRESET,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output folder. Default: out/settlement-YEAR."),
    ] = None,
    practices: FileOpt = None,
    attribution: FileOpt = None,
    risk_scores: FileOpt = None,
    claims: ClaimsOpt = None,
    quality: FileOpt = None,
    baselines: Annotated[
        Path | None,
        typer.Option(
            help="Baselines per practice and segment (budget's baselines.csv) instead of the "
            "data folder's, if any: each segment is budgeted apart."
        ),
    ] = None,
    force: ForceOpt = False,
    strict: StrictOpt = False,
    ledger: RunLedgerOpt = None,
    post: Annotated[
        bool,
        typer.Option("--post", help="With a ledger: post the settlement (else a draft)."),
    ] = False,
    stage: Annotated[
        str,
        typer.Option(
            "--stage", help="With a ledger: an interim or the final settlement of the year."
        ),
    ] = "final",
    runout_months: Annotated[
        int | None,
        typer.Option(
            "--runout-months",
            help="With a ledger: the months of claims payments after the year counted "
            "(recorded; the chain ladder's runout).",
            show_default=False,
        ),
    ] = None,
    engine: EngineOpt = "auto",
    workers: WorkersOpt = None,
    memory_limit: MemoryOpt = None,
    buckets: BucketsOpt = None,
    work_dir: WorkDirOpt = None,
    scheduler: SchedulerOpt = None,
) -> None:
    """Settle a performance year's shared savings: budget, actual cost, savings, share, payment.

    Writes settlement.csv/.parquet with every step of the waterfall for each practice
    (risk ratio, budget, truncation, completion, savings rate, MSR, quality, share rate,
    payment limit, losses) and a reason code (PAID, CAPPED, BELOW_MSR, NO_SAVINGS,
    QUALITY_GATE, LOSS, LOSS_CAPPED), control totals and a manifest. With baselines per
    segment (a baselines file), each practice's budget is the sum of its segments' and
    settlement_segments.csv shows them.

    With a ledger (--ledger, $TOTALCARE_LEDGER or the config's [ledger] url), the
    settlement is recorded as an interim or final one (--stage, --runout-months) and
    posts per practice the difference from what was posted for the year before (a final
    after an interim: the true-up), in settlement_lines.csv; when the config counts the
    CCF as cost, the CCF is the ledger's posted CCF of the year.
    """
    with boundary():
        how = engine_choice(engine, workers, memory_limit, buckets, work_dir, scheduler)
        ahead = (
            read_ahead(data, with_claims=True, attribution=attribution, claims=claims)
            if summary is None
            and _reads_ahead(how.engine, data, [attribution, claims], ["attribution", "claims"])
            else None
        )
        from ..config import load_config
        from ..jobs import run_settlement
        from . import console

        dest = out or Path("out") / f"settlement-{year}"
        terms = load_config(config)
        book = resolve_ledger(ledger, terms.ledger.url)
        if book is not None:
            if summary is not None:
                raise InputError("a ledger settlement is settled from member-level data (--data)")
            from ..jobs import run_settlement_ledger

            with console.progress() as step:
                settled, run = run_settlement_ledger(
                    terms,
                    year,
                    dest,
                    book,
                    data=data,
                    stage=stage,
                    runout_months=runout_months,
                    post=post,
                    force=force,
                    strict=strict,
                    paths=_files(practices, attribution, risk_scores, claims, quality, baselines),
                    progress=step,
                    ahead=ahead,
                    engine=how,
                )
            if settled is not None and run.out is not None:
                console.show_settlement(
                    settled.practices,
                    settled.control_totals,
                    run.out,
                    settled.notes,
                    settled.segments,
                )
            console.show_ledger_settlement(run)
            return
        if post or runout_months is not None:
            raise InputError("--post and --runout-months go with a ledger (--ledger)")
        with console.progress() as step:
            settlement, result = run_settlement(
                terms,
                year,
                dest,
                data=data if summary is None else None,
                summary=summary,
                force=force,
                strict=strict,
                paths=_files(practices, attribution, risk_scores, claims, quality, baselines),
                progress=step,
                ahead=ahead,
                engine=how,
            )
        console.show_settlement(
            settlement.practices,
            settlement.control_totals,
            result.out,
            settlement.notes,
            settlement.segments,
        )
        console.show_accounting(result.manifest["inputs"], result.manifest.get("gates"))


@app.command()
def budget(
    history: Annotated[
        list[str],
        typer.Option(
            "--history",
            help="A baseline year and its data folder, as YEAR=FOLDER (practices, attribution, "
            "risk_scores, claims); repeat for each year.",
        ),
    ],
    practices: Annotated[
        Path,
        typer.Option(
            "--practices",
            help="The performance year's practices file: the practices to budget, with "
            "their names and tiers.",
        ),
    ],
    config: ConfigOpt = DEFAULT_PRESET,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("out")
    / "budget",
    force: ForceOpt = False,
    strict: StrictOpt = False,
) -> None:
    """Build each practice's budget from its history: baseline PMPM and risk.

    Each baseline year goes through the settlement's steps (attribution by month, risk,
    stop-loss truncation, completion); the years are restated at the last year's risk,
    trended to it, weighted ([budget] year_weights), optionally blended with a reference
    cost. Writes practices.csv (baseline_pmpm, baseline_risk: what settle reads),
    baselines.csv (the baseline of each practice and segment, when attribution carries
    more than one segment: settle --baselines budgets each apart), budget_build.csv/.parquet
    (every step per practice, segment and year) and a manifest.
    """
    with boundary():
        folders: dict[int, Path] = {}
        for item in history:
            year_text, sep, folder = item.partition("=")
            if not sep or not year_text.strip().isdigit() or not folder:
                raise InputError(f"--history takes YEAR=FOLDER, not '{item}'")
            year = int(year_text)
            if year in folders:
                raise InputError(f"--history names baseline year {year} twice")
            folders[year] = Path(folder)
        from ..config import load_config
        from ..jobs import run_budget
        from . import console

        terms = load_config(config)
        with console.progress() as step:
            built, result = run_budget(
                terms,
                dict(folders),
                practices,
                out,
                force=force,
                strict=strict,
                progress=step,
            )
        console.show_budget(built.practices, built.build, result.out, built.notes)


app.command()(scenarios)
app.command("mssp-check")(mssp_check)
app.add_typer(ledger_app, name="ledger")


def _pay_date(text: str | None) -> str | None:
    """A pay date as written, checked: YYYY-MM-DD."""
    if text is None:
        return None
    import datetime as dt

    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise InputError(f"--pay-date '{text}' is not a date YYYY-MM-DD") from None


@app.command()
def presets(
    name: Annotated[
        str | None,
        typer.Argument(help="A program to print as TOML (to copy and edit).", show_default=False),
    ] = None,
) -> None:
    """List the programs shipped with the package, or print one of them as TOML.

    Any command's --config takes such a name, or the path of a TOML file of your own:
    `totalcare presets bluekc_medical_home > my_program.toml`, edit it, then
    `totalcare ccf --config my_program.toml ...`.
    """
    with boundary():
        from ..config import preset, preset_names, preset_text
        from . import console

        if name is None:
            console.show_presets({n: preset(n).program.name for n in preset_names()})
        else:
            console.show_preset(preset_text(name))


@app.command()
def generate(
    members: Annotated[int, typer.Option("--members", "-n", help="How many members.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same files.")] = 7,
    year: Annotated[int, typer.Option(help="The program year of attribution and claims.")] = 2026,
    members_per_practice: Annotated[int, typer.Option(help="Average practice panel size.")] = 1000,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the tables to.")] = Path(
        "generated"
    ),
    paid_dates: Annotated[
        bool,
        typer.Option(
            "--paid-dates",
            help="Give the claims a paid_date (for a chain-ladder completion factor).",
        ),
    ] = False,
    segments: Annotated[
        str | None,
        typer.Option(
            "--segments",
            help="Give attribution a segment column: the segments' names, comma-separated, "
            "each optionally with its share of the members (aged_nondual=0.6,aged_dual=0.2,"
            "disabled=0.15,esrd=0.05; equal shares where none is given).",
        ),
    ] = None,
    block_members: Annotated[
        int | None,
        typer.Option(
            "--block-members",
            help="Write the members in blocks of this many, each from its own random stream, "
            "in bounded memory (Parquet only). Default: in one piece up to 10,000,000 "
            "members, in blocks of 1,000,000 above.",
        ),
    ] = None,
) -> None:
    """Write a synthetic program (practices, attribution, risk scores, claims, quality).

    Realistic and deterministic for a seed: churn and practice switching, lognormal risk
    scores with some members unscored, claims rising with risk, catastrophic members and
    reversals. For trying the tool and for benchmarks; not any payer's experience.
    """
    with boundary():
        if members < 1 or members_per_practice < 1:
            raise InputError("--members and --members-per-practice must be at least 1")
        if fmt not in ("parquet", "csv"):
            raise InputError(f"--format must be parquet or csv, not '{fmt}'")
        from ..generate import generate_program, parse_segments, stream_program, write_program
        from . import console

        try:
            shares = None if segments is None else parse_segments(segments)
        except ValueError as exc:
            raise InputError(f"--segments: {exc}") from None
        if block_members is not None and block_members < 1:
            raise InputError("--block-members must be at least 1")
        block = block_members or (STREAM_BLOCK if members > STREAM_ABOVE else None)
        if block is not None:
            if fmt != "parquet":
                raise InputError("--block-members writes Parquet only (--format parquet)")
            with console.progress() as step:
                step(f"Generating and writing in blocks of {block:,} members")
                paths, rows = stream_program(
                    members,
                    out,
                    block_members=block,
                    seed=seed,
                    year=year,
                    members_per_practice=members_per_practice,
                    paid_dates=paid_dates,
                    segments=shares,
                )
            console.show_generated(rows, paths)
            return
        with console.progress() as step:
            step("Generating")
            tables = generate_program(
                members,
                seed=seed,
                year=year,
                members_per_practice=members_per_practice,
                paid_dates=paid_dates,
                segments=shares,
            )
            step("Writing")
            paths = write_program(tables, out, fmt=fmt)
        console.show_generated({name: tables[name].num_rows for name in tables}, paths)
