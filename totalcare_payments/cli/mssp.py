"""``totalcare mssp-check``: the engine against Medicare's published ACO settlements
(the command; its output is printed by ``console``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import OutputError
from .boundary import boundary

#: Exit code when the file was read but some ACOs do not match CMS's result.
EXIT_MISMATCH = 1


def mssp_check(
    puf: Annotated[
        Path,
        typer.Argument(
            help="The year's MSSP ACO Public Use File (.csv) as CMS published it "
            "(PY2013, PY2014, PY2018, and PY2022 on by CMS's column names), or the derived "
            "all-years file (PY2016-PY2021).",
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
    presets/mssp_*.toml (sharing rate, MSR table or choice, 2% sequestration,
    payment limit, loss rates, loss limits, relief, termination). The
    engine's shared savings (positive) or shared losses (negative) are
    compared with what CMS actually paid or billed (EarnSaveLoss).

    Prints how many ACOs match (within $1, plus what the rounding of the
    published quality score can move the result), the ACOs the file cannot
    reproduce and why (a loss held to a revenue-based limit: the revenue is
    not published), totals by track and the largest differences. Writes one
    row per ACO with every step: savings rate, MSR, share rate, loss rate,
    engine and CMS amounts, difference, tolerance, match.

    Exit codes: 0 every ACO matches but those named as not reproducible from
    the file; 1 some others do not; 2 the file is missing, unreadable or not
    that year's file.
    """
    with boundary():
        from ..mssp.check import check_puf
        from . import console

        dest = out or Path("out") / f"mssp-check-{year}.csv"
        check = check_puf(puf, year)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            check.comparison.to_csv(dest, index=False)
        except OSError as exc:
            raise OutputError(f"{dest}: cannot write the comparison ({exc.strerror})") from None
        console.show_mssp_check(check, dest)
    if not check.all_match:
        raise typer.Exit(EXIT_MISMATCH)
