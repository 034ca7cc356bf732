"""``totalcare mssp-check``: the engine against Medicare's published ACO settlements.

Registered in ``cli.py`` as ``app.command("mssp-check")(mssp_check)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from . import console
from .errors import InputError, TotalcareError
from .mssp import MsspCheck, check_puf

#: Exit code when the file was read but some ACOs do not match CMS's result.
EXIT_MISMATCH = 1


def _money(value: float) -> str:
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


def show_check(check: MsspCheck, out_path: Path, shown: int = 10) -> None:
    """Print the match count, the per-track totals and the largest differences."""
    out = console.out
    verdict = (
        "[bold green]all match[/]"
        if check.all_match
        else f"[bold red]{check.mismatched:,} do not match[/]"
    )
    out.print(
        f"[bold]MSSP PY{check.year}[/]: {check.matched:,} of {check.rows:,} ACOs match CMS's "
        f"EarnSaveLoss ({verdict}); largest difference {_money(check.max_abs_difference)}"
    )
    out.print(f"  file: {check.path}", markup=False)

    tracks = Table(
        title="By track (engine = this program's presets; CMS = EarnSaveLoss)", title_justify="left"
    )
    for name in ["track", "ACOs", "match", "engine net", "CMS net", "max |difference|"]:
        tracks.add_column(name, justify="left" if name == "track" else "right", no_wrap=True)
    for row in check.by_track().itertuples(index=False):
        tracks.add_row(
            str(row.track),
            f"{row.acos:,}",
            f"{row.matched:,}",
            _money(row.engine_total),
            _money(row.published_total),
            _money(row.max_abs_difference),
        )
    out.print(tracks)

    largest = check.largest_differences(shown)
    diffs = Table(
        title="Largest differences (mismatches first; tolerance: $1 + quality-score rounding)",
        title_justify="left",
    )
    for name, justify in [
        ("ACO", "left"),
        ("track", "left"),
        ("engine", "right"),
        ("CMS", "right"),
        ("difference", "right"),
        ("tolerance", "right"),
        ("match", "left"),
        ("reason", "left"),
    ]:
        diffs.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for row in largest.itertuples(index=False):
        diffs.add_row(
            str(row.aco_id),
            str(row.track),
            _money(row.engine_result),
            _money(row.published_result),
            _money(row.difference),
            _money(row.tolerance),
            "yes" if row.match else "[bold red]NO[/]",
            str(row.reason),
        )
    out.print(diffs)

    table = check.msr_table
    if len(table):
        tracks_with_table = ", ".join(sorted(pd.unique(table["track"])))
        out.print(
            f"MSR table ({tracks_with_table}, 3,000+ beneficiaries): reproduces MinSavPerc for "
            f"{check.msr_table_matched:,} of {len(table):,} ACOs "
            f"(largest gap {table['abs_error'].max():.2e})"
        )
    out.print(f"Row-by-row comparison written to [bold]{escape(str(out_path))}[/]")


def mssp_check(
    puf: Annotated[
        Path,
        typer.Argument(
            help="The year's MSSP ACO Public Use File (.csv) as CMS published it "
            "(PY2013, PY2014, PY2018), or the derived all-years file (PY2016-PY2021).",
            metavar="PUF.csv",
            show_default=False,
        ),
    ],
    year: Annotated[
        int, typer.Option("--year", "-y", help="The performance year of the file (e.g. 2018).")
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Where to write the row-by-row comparison (CSV). "
            "Default: out/mssp-check-YEAR.csv.",
        ),
    ] = None,
) -> None:
    """Re-settle every ACO in a Medicare Shared Savings Program file and compare.

    Each ACO's benchmark, expenditures, beneficiaries, quality score and
    minimum savings rate go through the same settlement engine and config
    language as any other program, with the track presets in
    configs/mssp_*.toml (sharing rate, MSR table, 2% sequestration, payment
    limit, loss rates, loss limit). The engine's shared savings (positive)
    or shared losses (negative) are compared with what CMS actually paid or
    billed (EarnSaveLoss).

    Prints how many ACOs match (within $1, plus what the rounding of the
    published quality score can move the result), totals by track and the
    largest differences. Writes one row per ACO with every step: savings
    rate, MSR, share rate, loss rate, engine and CMS amounts, difference,
    tolerance, match.

    Exit codes: 0 every ACO matches; 1 some do not; 2 the file is missing,
    unreadable or not that year's file.
    """
    dest = out or Path("out") / f"mssp-check-{year}.csv"
    try:
        check = check_puf(puf, year)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            check.comparison.to_csv(dest, index=False)
        except OSError as exc:
            raise InputError(f"{dest}: cannot write the comparison ({exc.strerror})") from None
    except TotalcareError as exc:
        console.show_error(exc)
        raise typer.Exit(exc.exit_code) from None
    show_check(check, dest)
    if not check.all_match:
        raise typer.Exit(EXIT_MISMATCH)
