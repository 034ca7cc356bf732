"""Errors a user can fix, each with the exit code a scheduler acts on.

Exit codes (documented in the README):

* 0  success
* 2  bad input: a file, column or row of the input tables
* 3  bad config: the program's TOML terms
* 4  refused to overwrite a finalized batch (rerun with ``--force``)
* 5  an output cannot be written (a read-only folder, a file where a folder should be)
* 6  the payment ledger refuses: a ledger of a newer schema, another post holding it
  past the wait, a batch that is not there or cannot be voided
* 130  interrupted (Ctrl-C): nothing is left behind

A mistyped command line (an unknown option, a missing ``--year``) is reported by the
command-line parser, also with exit 2.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .reasons import Reason

EXIT_BAD_INPUT = 2
EXIT_BAD_CONFIG = 3
EXIT_OUTPUT_EXISTS = 4
EXIT_OUTPUT_ERROR = 5
EXIT_LEDGER = 6
EXIT_INTERRUPTED = 130


class TotalcareError(Exception):
    """Base class: a problem the user can fix, reported without a traceback."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One failed check, pandera-style: what, where, how many, examples."""

    table: str
    reason: str
    message: str
    column: str | None = None
    rows: tuple[int | str, ...] = ()  # row numbers, or file:row in a folder of files
    row_count: int = 0
    examples: tuple[str, ...] = field(default=())

    def describe(self) -> str:
        where = self.table + (f", column '{self.column}'" if self.column else "")
        text = f"{where}: {self.reason}: {self.message}"
        if self.row_count:
            shown = ", ".join(str(r) for r in self.rows[:5])
            more = f" and {self.row_count - 5} more" if self.row_count > 5 else ""
            text += f" ({self.row_count} row{'s' if self.row_count != 1 else ''}: {shown}{more})"
        if self.examples:
            text += "; e.g. " + ", ".join(self.examples[:5])
        return text


class InputError(TotalcareError):
    """The input tables cannot give a correct payment."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, problems: list[Problem] | Problem | str, *, path: str | None = None):
        if isinstance(problems, str):
            problems = [Problem(table=path or "input", reason=Reason.INVALID, message=problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems = list(problems)
        self.path = path
        super().__init__("\n".join(p.describe() for p in self.problems))


class ConfigError(TotalcareError):
    """The program config is missing, malformed or describes impossible terms."""

    exit_code = EXIT_BAD_CONFIG


class OutputExistsError(TotalcareError):
    """A finalized output exists and ``force`` was not given."""

    exit_code = EXIT_OUTPUT_EXISTS


class OutputError(TotalcareError):
    """An output cannot be written: the destination is read-only, full, or not a folder."""

    exit_code = EXIT_OUTPUT_ERROR


class LedgerError(TotalcareError):
    """The payment ledger refuses: its schema is newer than this tool's, another post holds
    it past the wait, or a batch asked for is not there or cannot be changed so."""

    exit_code = EXIT_LEDGER
