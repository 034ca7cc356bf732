"""``totalcare scenarios``: what-if settlements for actuaries, and their terminal summary.

Registered in ``cli.py`` as ``app.command()(scenarios)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from . import console
from .config import DEFAULT_CONFIG
from .errors import TotalcareError

#: Rows of a terminal table before "... more in FILE".
SHOWN_ROWS = 30


def _percent(value: float) -> str:
    return f"{value:.1%}"


def show_summary(summary: pd.DataFrame, shown: int = SHOWN_ROWS) -> None:
    """One line per scenario: what the program pays and what the payer keeps."""
    table = Table(title="Scenarios", title_justify="left")
    columns = [
        ("scenario", "left"),
        ("total paid", "right"),
        ("vs base", "right"),
        ("paid", "right"),
        ("payer net savings", "right"),
        ("mean", "right"),
        ("std", "right"),
    ]
    for name, justify in columns:
        table.add_column(
            name,
            justify=justify,  # type: ignore[arg-type]
            no_wrap=name != "scenario",
            min_width=24 if name == "scenario" else None,
        )
    for row in summary.head(shown).itertuples(index=False):
        table.add_row(
            str(row.scenario),
            console.dollars(row.total_paid_cents),
            console.dollars(row.paid_vs_base_cents),
            f"{row.practices_paid:,}/{row.practices:,}",
            console.dollars(row.payer_net_savings_cents),
            console.dollars(row.mean_payment_cents),
            console.dollars(row.std_payment_cents),
        )
    if len(summary) > shown:
        table.add_row("...", f"{len(summary) - shown:,} more in scenario_summary.csv")
    console.out.print(table)


def show_tornado(tornado: pd.DataFrame) -> None:
    """The sensitivity table, largest swing first."""
    if tornado.empty:
        return
    table = Table(title="Sensitivity of total paid (largest swing first)", title_justify="left")
    for name in ["parameter", "base", "low", "high", "paid at low", "paid at high", "swing"]:
        table.add_column(name, justify="left" if name == "parameter" else "right", no_wrap=True)
    for row in tornado.itertuples(index=False):
        table.add_row(
            str(row.parameter),
            str(row.base_value),
            str(row.low),
            str(row.high),
            console.dollars(row.total_paid_low_cents),
            console.dollars(row.total_paid_high_cents),
            console.dollars(row.swing_cents),
        )
    console.out.print(table)


def show_chance(chance: pd.DataFrame, draws: int, seed: int, shown: int = SHOWN_ROWS) -> None:
    """Per practice: the chance that noise passes the MSR, and the payment's spread."""
    table = Table(
        title=f"Chance ({draws:,} bootstrap draws of each practice's members, seed {seed})",
        title_justify="left",
    )
    for name in [
        "practice",
        "members",
        "savings rate",
        "MSR",
        "P(noise passes MSR)",
        "P(paid)",
        "payment p5",
        "p50",
        "p95",
    ]:
        table.add_column(name, justify="left" if name == "practice" else "right", no_wrap=True)
    for row in chance.head(shown).itertuples(index=False):
        table.add_row(
            str(row.practice_id),
            f"{row.members:,}",
            _percent(row.savings_rate),
            _percent(row.msr),
            _percent(row.p_pass_msr_if_no_savings),
            _percent(row.p_paid),
            console.dollars(row.payment_p5_cents),
            console.dollars(row.payment_p50_cents),
            console.dollars(row.payment_p95_cents),
        )
    if len(chance) > shown:
        table.add_row("...", f"{len(chance) - shown:,} more practices in chance.csv")
    console.out.print(table)


def scenarios(
    year: Annotated[int, typer.Option("--year", "-y", help="The performance year to settle.")],
    grid: Annotated[
        Path,
        typer.Option(
            "--grid",
            "-g",
            help="The scenario file (TOML): [[scenario]] tables, a [grid] of values to "
            "combine, a [sensitivity] table of [low, high]. See docs/scenarios.md.",
        ),
    ],
    data: Annotated[
        Path,
        typer.Option("--data", "-d", help="Folder with the member-level tables (as for settle)."),
    ] = Path("data"),
    config: Annotated[
        Path,
        typer.Option("--config", "-c", help="The base program terms (TOML) that scenarios change."),
    ] = DEFAULT_CONFIG,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output folder. Default: out/scenarios-YEAR."),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            help="Also write a self-contained HTML report (tables and charts; opens "
            "without a network).",
        ),
    ] = None,
    xlsx: Annotated[
        Path | None,
        typer.Option("--xlsx", help="Also write an Excel workbook with the same tables."),
    ] = None,
    draws: Annotated[
        int,
        typer.Option(
            "--draws",
            min=0,
            help="Bootstrap draws per practice for the chance table (0: skip it).",
        ),
    ] = 200,
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed of the bootstrap: same seed, same figures.")
    ] = 7,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Replace a finalized output folder (kept as a backup) and existing "
            "report or workbook files.",
        ),
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail the run on any rejected input row.")
    ] = False,
) -> None:
    """What if the terms were different? Re-settle a performance year under many scenarios.

    Each scenario is the base config with some settlement terms changed: the sharing
    rate, the minimum savings rate, the trend, the stop-loss truncation, the quality
    gate, the payment limit... The member-level work (attribution, risk, claims) is
    done once; every scenario is settled in one pass of the same waterfall as
    `totalcare settle`, so the scenario named "base" reproduces it to the cent.

    Writes to the output folder: scenario_practices.csv/.parquet (every settlement
    column for each scenario and practice), scenario_summary.csv/.parquet (per
    scenario: total paid, practices paid, the payer's net savings after shared
    savings and CCF, mean and spread of payments, change against base), tornado.csv
    (one parameter at a time, sorted by swing), chance.csv (per practice, from a
    seeded bootstrap of its members: the probability that its savings rate passes
    the MSR when its true savings are zero, and its payment's mean, 5th, 50th and
    95th percentile), rejects.csv and manifest.json.

    Exit codes: 0 success, 2 bad input, 3 bad config or scenario file, 4 refused to
    overwrite.
    """
    from .report import run_scenario_study

    dest = out or Path("out") / f"scenarios-{year}"
    try:
        with console.progress() as step:
            run = run_scenario_study(
                config,
                grid,
                year,
                dest,
                data_dir=data,
                draws=draws,
                seed=seed,
                report=report,
                xlsx=xlsx,
                force=force,
                strict=strict,
                progress=step,  # type: ignore[arg-type]
            )
    except TotalcareError as exc:
        console.fail(exc)
        return
    result = run.study
    show_summary(result.result.summary)
    show_tornado(result.tornado)
    if result.chance is not None:
        show_chance(result.chance.practices, result.chance.draws, result.chance.seed)
    console.out.print(f"Scenario tables and manifest written to [bold]{run.out}[/]")
    for label, path in (("HTML report", run.report), ("Excel workbook", run.xlsx)):
        if path is not None:
            console.out.print(f"{label} written to [bold]{path}[/]")
