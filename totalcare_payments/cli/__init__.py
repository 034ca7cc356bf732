"""The ``totalcare`` command: a thin layer of typer commands over ``jobs``.

``main`` is the console script (and ``python -m totalcare_payments``): it makes the
settings of a batch process (``process.start_batch``) before anything heavy is loaded,
runs the typer app, which parses the command line once, and exits without tearing
down the interpreter. Every command runs inside one error boundary (``boundary.boundary``):
a problem the user can fix is a short message and an exit code, never a traceback.
"""

from __future__ import annotations

import os
import sys

from ..errors import EXIT_INTERRUPTED


def main() -> None:  # pragma: no cover - console script entry
    """The command, then a hard exit once its output is flushed.

    Tearing down the interpreter (pandas, Arrow and every array still referenced) takes
    a noticeable part of a short batch run and has nothing left to do: outputs are
    written, closed and renamed into place before the command returns. Like mypy, the
    script exits without it.
    """
    reported: tuple[type[BaseException], ...] = ()  # exits whose Ctrl-C is already reported
    try:
        from ..process import start_batch  # first: it sets OPENBLAS_NUM_THREADS before numpy

        start_batch()
        from .app import app
        from .boundary import Interrupted

        reported = (Interrupted,)

        app()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 0 if done.code is None else 1
        if code == 1 and not isinstance(done.code, int):  # sys.exit("message")
            print(done.code, file=sys.stderr)
        if code == EXIT_INTERRUPTED and not isinstance(done.__context__, reported):
            _interrupted()  # Ctrl-C while typer parsed the command line
    except KeyboardInterrupt:  # Ctrl-C while the program or the command loaded
        _interrupted()
        code = EXIT_INTERRUPTED
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _interrupted() -> None:
    from . import console

    console.interrupted()
