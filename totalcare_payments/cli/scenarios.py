"""``totalcare scenarios``: what-if settlements for actuaries (the command; its output
is printed by ``console``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .boundary import boundary


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
        str,
        typer.Option(
            "--config",
            "-c",
            help="The base program terms that scenarios change: a TOML file, or the name "
            "of a shipped program (see `totalcare presets`).",
        ),
    ] = "bluekc_medical_home",
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
    with boundary():
        from ..config import load_config
        from ..jobs import run_scenario_study
        from . import console

        dest = out or Path("out") / f"scenarios-{year}"
        with console.progress() as step:
            run = run_scenario_study(
                load_config(config),
                grid,
                year,
                dest,
                data=data,
                draws=draws,
                seed=seed,
                report=report,
                xlsx=xlsx,
                force=force,
                strict=strict,
                progress=step,
            )
        console.show_study(run.study, run.out, run.report, run.xlsx)
        console.show_accounting(run.manifest["inputs"], run.manifest.get("gates"))
