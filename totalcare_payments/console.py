"""Terminal output: the only module that prints. Rich tables for results, plain text for errors."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from .errors import InputError, TotalcareError
from .money import format_cents
from .settlement import REASONS

# Wide enough for the result tables when output goes to a file or a CI log.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True, highlight=False)


def dollars(cents: int | np.integer) -> str:
    text = str(format_cents(np.array([int(cents)]))[0])  # type: ignore[call-overload]
    sign = "-" if text.startswith("-") else ""
    whole, frac = text.lstrip("-").split(".")
    return f"{sign}${int(whole):,}.{frac}"


@contextmanager
def progress(enabled: bool = True) -> Iterator[object]:
    """A spinner naming the current step; silent when output is not a terminal."""
    if not enabled or not err.is_terminal:
        yield lambda _step: None
        return
    with err.status("Starting") as status:
        yield lambda step: status.update(f"{step}...")


def show_error(exc: TotalcareError) -> None:
    kind = {2: "Bad input", 3: "Bad config", 4: "Refused"}.get(exc.exit_code, "Error")
    err.print(f"[bold red]{kind}[/] (exit {exc.exit_code})", highlight=False)
    if isinstance(exc, InputError):
        for problem in exc.problems:
            err.print(f"  - {problem.describe()}", markup=False, soft_wrap=True)
    else:
        err.print(f"  {exc}", markup=False, soft_wrap=True)


def show_ccf(
    lines: pd.DataFrame, totals: pd.DataFrame, out_dir: Path, defaulted: int, rejects: int
) -> None:
    table = Table(title="Care Coordination Fee batch", title_justify="left")
    for name, justify in [
        ("month", "left"),
        ("practice", "left"),
        ("tier", "left"),
        ("members", "right"),
        ("avg risk", "right"),
        ("PMPM", "right"),
        ("fee", "right"),
    ]:
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    shown = lines if len(lines) <= 40 else lines.head(40)
    for row in shown.itertuples(index=False):
        table.add_row(
            row.year_month,
            str(row.practice_id),
            row.tier,
            f"{row.attributed_members:,}",
            f"{row.avg_risk_score:.4f}",
            dollars(row.pmpm_rate_cents),
            dollars(row.ccf_amount_cents),
        )
    if len(lines) > len(shown):
        table.add_row(
            "...", f"{len(lines) - len(shown)} more lines in the payment file", "", "", "", "", ""
        )
    out.print(table)
    _show_totals(totals, ["practices", "member_months", "ccf_amount_cents"], "Control totals")
    out.print(
        f"Members given the default risk score: {defaulted:,}   Rejected input rows: {rejects:,}"
    )
    out.print(f"Payment file and manifest written to [bold]{out_dir}[/]")


def _show_totals(totals: pd.DataFrame, columns: list[str], title: str) -> None:
    table = Table(title=title, title_justify="left")
    table.add_column("scope")
    table.add_column("key")
    for c in columns:
        table.add_column(c.removesuffix("_cents"), justify="right")
    for row in totals.to_dict("records"):
        table.add_row(
            str(row["scope"]),
            str(row["key"]),
            *[dollars(row[c]) if c.endswith("_cents") else f"{int(row[c]):,}" for c in columns],
        )
    out.print(table)


def show_settlement(
    frame: pd.DataFrame, totals: pd.DataFrame, out_dir: Path | None, notes: dict
) -> None:
    table = Table(title="Shared savings settlement", title_justify="left")
    cols = [
        ("practice", "left"),
        ("budget", "right"),
        ("actual cost", "right"),
        ("savings", "right"),
        ("MSR", "right"),
        ("share", "right"),
        ("payment", "right"),
        ("reason", "left"),
    ]
    for name, justify in cols:
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    shown = frame if len(frame) <= 40 else frame.head(40)
    for row in shown.itertuples(index=False):
        table.add_row(
            str(row.practice_id),
            dollars(row.budget_cents),
            dollars(row.actual_cost_cents),
            f"{row.savings_rate:.2%}",
            f"{row.msr:.2%}",
            f"{row.share_rate:.2%}",
            dollars(row.final_payment_cents),
            row.reason,
        )
    if len(frame) > len(shown):
        table.add_row(
            "...",
            f"{len(frame) - len(shown)} more practices in settlement.csv",
            *[""] * (len(cols) - 2),
        )
    out.print(table)
    for reason in sorted(frame["reason"].unique()):
        out.print(f"  {reason}: {REASONS[reason]}")
    program = totals[totals["scope"] == "program"].iloc[0]
    waterfall = Table(title="Program waterfall", title_justify="left")
    waterfall.add_column("step")
    waterfall.add_column("amount", justify="right")
    for label, col in [
        ("budget", "budget_cents"),
        ("claims paid", "claims_paid_cents"),
        ("truncated by stop-loss", "truncated_cents"),
        ("CCF counted as cost", "ccf_cost_cents"),
        ("actual cost", "actual_cost_cents"),
        ("savings", "savings_cents"),
        ("qualifying savings", "qualifying_savings_cents"),
        ("earned before limit", "earned_before_limit_cents"),
        ("earned", "earned_cents"),
        ("shared losses", "shared_loss_cents"),
        ("final payments (net)", "final_payment_cents"),
    ]:
        waterfall.add_row(label, dollars(program[col]))
    out.print(waterfall)
    for key, value in notes.items():
        out.print(f"  {key.replace('_', ' ')}: {value}")
    if out_dir is not None:
        out.print(f"Settlement and manifest written to [bold]{out_dir}[/]")


def fail(exc: TotalcareError) -> None:
    show_error(exc)
    sys.exit(exc.exit_code)


def show_generated(rows: dict[str, int], paths: dict[str, Path]) -> None:
    table = Table(title="Synthetic program", title_justify="left")
    table.add_column("table")
    table.add_column("rows", justify="right")
    table.add_column("file")
    for name, count in rows.items():
        table.add_row(name, f"{count:,}", str(paths[name]))
    out.print(table)
