"""The ``totalcare`` console script: process settings and read-ahead, then the command.

Before the program itself is loaded (pandas and the rest take about half a second on
one core), the script makes the settings of a batch process and, for a ``ccf`` or
``settle`` run on a data folder, starts decoding that folder's large tables on the
other core (``readahead``). It only peeks at the options it needs for that; the command
line is parsed, checked and run by ``cli`` as usual, and a guess that misses costs only
the read-ahead.

The settings: numpy's linear-algebra library (OpenBLAS) starts worker threads when numpy
is loaded, and they spin for a while on the core the read-ahead uses; the engine does no
matrix algebra, so a batch runs without them (``OPENBLAS_NUM_THREADS=1`` unless set
otherwise). This is set as this module is loaded, before Arrow loads numpy. Then, in
``start_batch``, a less frequent cycle collector and the memory settings
(``memory.keep_freed_memory``).
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from .memory import keep_freed_memory  # after the setting: Arrow loads numpy
from .readahead import read_ahead_inputs

# the commands that read member-level tables, and whether they read claims
_READS = {"ccf": False, "settle": True}


def option(args: list[str], *names: str) -> str | None:
    """The value of the last of these options on a command line (``--name value`` or
    ``--name=value``), or None."""
    value = None
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                value = args[i + 1]
            elif name.startswith("--") and arg.startswith(name + "="):
                value = arg[len(name) + 1 :]
    return value


def read_ahead_for(args: list[str]) -> None:
    """Start the read-ahead of the tables the command on this command line will read."""
    command = next((a for a in args if not a.startswith("-")), None)
    if command not in _READS or "--help" in args or option(args, "--summary") is not None:
        return
    data = option(args, "--data", "-d") or "data"
    if not Path(data).is_dir():
        return
    read_ahead_inputs(
        data,
        with_claims=_READS[command],
        attribution=option(args, "--attribution"),
        claims=option(args, "--claims"),
    )


def start_batch() -> None:
    """The settings of a batch process (see the module's docstring); a script that runs
    the engine as the command does imports this module first and calls this."""
    # Loading pandas, pydantic and the rest creates objects by the hundred thousand, and
    # with the default threshold the cycle collector runs some 190 times meanwhile (about
    # 0.1 s); arrays are freed by reference counting, not by the collector. Like mypy, a
    # batch run collects far less often.
    gc.set_threshold(200_000, 30, 30)
    keep_freed_memory()


def main() -> None:  # pragma: no cover - console script entry
    start_batch()
    with contextlib.suppress(Exception):  # only a head start: the command reports problems
        read_ahead_for(sys.argv[1:])
    from .cli import main as run_command

    run_command()
