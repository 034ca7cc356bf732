"""``totalcare ledger ...``: what the payment ledger holds, and voiding a batch.

The ledger is ``--ledger`` (an SQLite file or a postgresql:// URL), else the environment
variable ``TOTALCARE_LEDGER``, else ``ledger.sqlite`` in the current folder. Like every
command, each runs inside the one error boundary; the ledger's refusals exit 6.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from .boundary import boundary

LEDGER_ENV = "TOTALCARE_LEDGER"  # (ledger.store.LEDGER_ENV; named here so parsing stays light)
DEFAULT_LEDGER = "ledger.sqlite"

ledger_app = typer.Typer(
    name="ledger",
    help=(
        "The payment ledger: every CCF and settlement batch posted, its lines and the member "
        "roster behind them. List the batches, show one, void one (a reversing batch is "
        "posted), see what a year has paid, export every table. Exit 6 when the ledger "
        "refuses (a newer schema, a batch that is not there or cannot be voided, another "
        "post holding it)."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)

LedgerOpt = Annotated[
    str | None,
    typer.Option(
        "--ledger",
        "-l",
        help=f"The ledger: an SQLite file or postgresql://user:password@host/db. Default: "
        f"${LEDGER_ENV}, else {DEFAULT_LEDGER}.",
        show_default=False,
    ),
]
#: ``ccf`` and ``settle``: a ledger only when one is named (a plain batch otherwise).
RunLedgerOpt = Annotated[
    str | None,
    typer.Option(
        "--ledger",
        "-l",
        help=f"Run through a payment ledger: an SQLite file or "
        f"postgresql://user:password@host/db. Default: ${LEDGER_ENV}, else the config's "
        "[ledger] url; with none of them, no ledger (a batch of its own).",
        show_default=False,
    ),
]


def resolve_ledger(option: str | None, configured: str | None = None) -> str | None:
    """The ledger a command uses: ``--ledger``, else ``TOTALCARE_LEDGER``, else the
    config's ``[ledger] url`` (None: no ledger)."""
    return option or os.environ.get(LEDGER_ENV) or configured or None


def _ledger(option: str | None) -> str:
    return resolve_ledger(option) or DEFAULT_LEDGER


@ledger_app.command("batches")
def batches(ledger: LedgerOpt = None) -> None:
    """List every batch, oldest first: kind, month paid or year settled, status, lines and
    their total."""
    with boundary():
        from ..ledger.book import list_batches
        from ..ledger.store import open_ledger
        from . import console

        book = open_ledger(_ledger(ledger), create=False)
        try:
            console.show_batches(list_batches(book))
        finally:
            book.dispose()


@ledger_app.command("show")
def show(
    batch: Annotated[int, typer.Argument(help="The batch id (see `totalcare ledger batches`).")],
    ledger: LedgerOpt = None,
) -> None:
    """Show one batch: when it was posted, by which tool version and config (sha256), each
    input's sha256 and rows, and its payment lines with their reasons."""
    with boundary():
        from ..ledger.book import show_batch
        from ..ledger.store import open_ledger
        from . import console

        book = open_ledger(_ledger(ledger), create=False)
        try:
            console.show_batch_detail(show_batch(book, batch))
        finally:
            book.dispose()


@ledger_app.command("void")
def void(
    batch: Annotated[int, typer.Argument(help="The posted batch to void.")],
    ledger: LedgerOpt = None,
) -> None:
    """Void a posted batch: a reversing batch is posted whose lines cancel it, and the batch
    is marked voided (posted lines are never changed or deleted). The next batch whose
    retroactive window covers the voided months pays what is due for them again."""
    with boundary():
        from ..ledger.book import void_batch
        from ..ledger.store import open_ledger
        from . import console

        book = open_ledger(_ledger(ledger), create=False)
        try:
            reversal = void_batch(book, batch)
        finally:
            book.dispose()
        console.show_voided(batch, reversal, book.name)


@ledger_app.command("balance")
def balance(
    year: Annotated[int, typer.Option("--year", "-y", help="The year of the service months.")],
    practice: Annotated[
        str | None, typer.Option("--practice", "-p", help="One practice only.")
    ] = None,
    ledger: LedgerOpt = None,
) -> None:
    """What the ledger has paid for a year's service months, per practice and month: the
    current lines, the adjustments, the reversals and the net (posted and voided batches)."""
    with boundary():
        from ..ledger.book import balance as ledger_balance
        from ..ledger.store import open_ledger
        from . import console

        book = open_ledger(_ledger(ledger), create=False)
        try:
            frame = ledger_balance(book, year, practice)
        finally:
            book.dispose()
        console.show_balance(frame, year, book.name)


@ledger_app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("out")
    / "ledger",
    ledger: LedgerOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a finished export (kept as a backup).")
    ] = False,
) -> None:
    """Export every table of the ledger (batches, batch_inputs, lines, roster,
    settlement_lines) as CSV, the large ones as Parquet too, with a manifest."""
    with boundary():
        from ..jobs import export_ledger
        from . import console

        result = export_ledger(_ledger(ledger), out, force=force)
        console.show_exported(result.files, result.out)
