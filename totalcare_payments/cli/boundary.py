"""The one error boundary of every command."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer

from ..errors import EXIT_INTERRUPTED, TotalcareError


@contextlib.contextmanager
def boundary() -> Iterator[None]:
    """A problem the user can fix becomes its message and exit code (never a traceback);
    Ctrl-C a one-line message and exit 130."""
    try:
        yield
    except TotalcareError as exc:
        from . import console

        console.show_error(exc)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        from . import console

        console.interrupted()
        raise Interrupted(EXIT_INTERRUPTED) from None


class Interrupted(typer.Exit):
    """Ctrl-C inside a command, already reported by the boundary (the console script
    reports a Ctrl-C that comes while the command line is being parsed)."""
