"""The ``totalcare`` command: a thin layer over ``runs`` and the library.

Exit codes: 0 success; 2 bad input; 3 bad config; 4 refused to overwrite a finalized
run. Errors are short messages naming the file, column, rows and reason -- never a
traceback for something the user can fix.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from . import console
from .config import DEFAULT_CONFIG
from .errors import InputError, TotalcareError
from .mssp_cli import mssp_check
from .periods import parse_month_range, parse_year_month
from .scenarios_cli import scenarios

app = typer.Typer(
    name="totalcare",
    help=(
        "Care Coordination Fees and shared-savings settlements for medical-home programs.\n\n"
        "Run the month's CCF payment batch (ccf), settle a performance year's shared savings "
        "(settle), model what-if settlements (scenarios), and check the engine against "
        "Medicare's published settlements (mssp-check). "
        "Exit codes: 0 success, 2 bad input, 3 bad config, 4 refused to overwrite."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ConfigOpt = Annotated[
    Path,
    typer.Option(
        "--config", "-c", help="Program terms (TOML). Default: the Blue KC-style program."
    ),
]
DataOpt = Annotated[
    Path,
    typer.Option(
        "--data",
        "-d",
        help="Folder with practices, attribution, risk_scores, claims and quality "
        "(.parquet or .csv, by those names).",
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


def _run(action):
    try:
        return action()
    except TotalcareError as exc:
        console.fail(exc)


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
    config: ConfigOpt = DEFAULT_CONFIG,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output folder. Default: out/ccf-MONTHS.")
    ] = None,
    practices: FileOpt = None,
    attribution: FileOpt = None,
    risk_scores: FileOpt = None,
    force: ForceOpt = False,
    strict: StrictOpt = False,
) -> None:
    """Run the monthly Care Coordination Fee batch and write the payment file.

    One payment line per practice and month (attributed members, average risk score,
    PMPM rate, fee), control totals by tier and month, the rejected input rows and a
    manifest of every input and output with its sha256. Amounts are in dollars and
    cents, rounded half-up; the control total is the exact sum of the lines.
    """
    from .runs import run_ccf

    def body() -> None:
        if (month is None) == (months is None):
            raise InputError("give either --month YYYY-MM or --months FIRST..LAST")
        try:
            periods = [parse_year_month(month)] if month else parse_month_range(months or "")
        except ValueError as exc:
            raise InputError(str(exc)) from None
        label = month or (months or "").replace("..", "_to_").replace(",", "_")
        dest = out or Path("out") / f"ccf-{label}"
        with console.progress() as step:
            batch, result = run_ccf(
                config,
                data,
                periods,
                dest,
                force=force,
                strict=strict,
                paths={
                    "practices": practices,
                    "attribution": attribution,
                    "risk_scores": risk_scores,
                },
                progress=step,
            )
        console.show_ccf(
            batch.lines,
            batch.control_totals,
            result.out,
            batch.members_defaulted,
            len(result.rejects),
        )

    _run(body)


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
    config: ConfigOpt = DEFAULT_CONFIG,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output folder. Default: out/settlement-YEAR."),
    ] = None,
    claims: FileOpt = None,
    quality: FileOpt = None,
    force: ForceOpt = False,
    strict: StrictOpt = False,
) -> None:
    """Settle a performance year's shared savings: budget, actual cost, savings, share, payment.

    Writes settlement.csv/.parquet with every step of the waterfall for each practice
    (risk ratio, budget, truncation, completion, savings rate, MSR, quality, share rate,
    payment limit, losses) and a reason code (PAID, CAPPED, BELOW_MSR, NO_SAVINGS,
    QUALITY_GATE, LOSS, LOSS_CAPPED), control totals and a manifest.
    """
    from .runs import run_settlement

    def body() -> None:
        dest = out or Path("out") / f"settlement-{year}"
        with console.progress() as step:
            settlement, result = run_settlement(
                config,
                year,
                dest,
                data_dir=data if summary is None else None,
                summary=summary,
                force=force,
                strict=strict,
                paths={"claims": claims, "quality": quality},
                progress=step,
            )
        console.show_settlement(
            settlement.practices, settlement.control_totals, result.out, settlement.notes
        )

    _run(body)


app.command("mssp-check")(mssp_check)
app.command()(scenarios)


def main() -> None:  # pragma: no cover - console script entry
    """The command, then a hard exit once its output is flushed (the console script,
    ``startup.main``, runs this after its start-up settings).

    Tearing down the interpreter (pandas, Arrow and every array still referenced) takes
    a noticeable part of a short batch run and has nothing left to do: outputs are
    written, closed and renamed into place before the command returns. Like mypy, the
    script exits without it.
    """
    try:
        app()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 0 if done.code is None else 1
        if code == 1 and not isinstance(done.code, int):  # sys.exit("message")
            print(done.code, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    from .startup import main as start

    start()


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
) -> None:
    """Write a synthetic program (practices, attribution, risk scores, claims, quality).

    Realistic and deterministic for a seed: churn and practice switching, lognormal risk
    scores with some members unscored, claims rising with risk, catastrophic members and
    reversals. For trying the tool and for benchmarks; not any payer's experience.
    """
    from .generate import generate_program, write_program

    def body() -> None:
        if members < 1 or members_per_practice < 1:
            raise InputError("--members and --members-per-practice must be at least 1")
        if fmt not in ("parquet", "csv"):
            raise InputError(f"--format must be parquet or csv, not '{fmt}'")
        with console.progress() as step:
            step("Generating")
            tables = generate_program(
                members, seed=seed, year=year, members_per_practice=members_per_practice
            )
            step("Writing")
            paths = write_program(tables, out, fmt=fmt)
        console.show_generated({name: tables[name].num_rows for name in tables}, paths)

    _run(body)
