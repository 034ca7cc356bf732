"""Publishing a run's output folder atomically.

A run writes into a temporary folder beside the destination and renames it into
place only when every file is complete, so the destination holds either the
previous output or the new one, never a mix. A finalized output (one with a
``manifest.json``) is replaced only with ``force``, and then kept as a dated backup.
An output that cannot be written is an ``OutputError`` naming the path and why.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..errors import OutputError, OutputExistsError
from .tables import MANIFEST


def check_destination(dest: Path, force: bool) -> None:
    """Refuse a destination before any work is done, leaving it untouched: only a missing
    or empty folder is filled, and only a finished run output (its manifest says this
    tool wrote it) is replaced, with ``force``, keeping the old one as a dated backup."""
    if not dest.exists():
        return
    if not dest.is_dir():
        raise OutputExistsError(f"{dest} exists and is not a folder; give --out a folder")
    try:
        entries = [entry.name for entry in dest.iterdir()]
    except OSError as exc:
        raise OutputError(f"{dest}: cannot read the folder ({exc.strerror})") from None
    if not entries:
        return
    if not is_run_output(dest):
        shown = ", ".join(sorted(entries)[:5]) + (", ..." if len(entries) > 5 else "")
        raise OutputExistsError(
            f"{dest} is a folder that is not a run output ({shown}); it is left as it is, "
            "even with --force: give --out a new or empty folder"
        )
    if not force:
        raise OutputExistsError(
            f"{dest} already holds a finalized run ({MANIFEST}); "
            "rerun with --force to replace it (the old one is kept as a dated backup)"
        )


def is_run_output(folder: Path) -> bool:
    """Whether a folder is a finished output of this tool: its manifest names the tool and
    the job (a manifest is the last file written, and the folder is renamed into place)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return (
        isinstance(manifest, dict)
        and manifest.get("tool") == "totalcare_payments"
        and isinstance(manifest.get("job"), str)
    )


def publish(dest: Path, fill: Callable[[Path], None], *, force: bool) -> Path | None:
    """Write a run into a temporary sibling folder with ``fill``, then swap it into ``dest``.

    Returns the backup folder of the replaced output, if there was one.
    """
    return stage_outputs(dest, fill, force=force).swap()


@dataclass(frozen=True)
class Staged:
    """A run's output written in full beside its destination, not yet in its place: a
    ledger batch is staged, then committed, then swapped in, so that a posted batch
    always has its files and a batch whose files could not be written is not posted."""

    dest: Path
    tmp: Path

    def swap(self) -> Path | None:
        """Move the staged folder into place (the old output kept as a backup, returned)."""
        dest, backup = self.dest, None
        try:
            if dest.exists():
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
                backup = dest.parent / f"{dest.name}.backup-{stamp}"
                n = 1
                while backup.exists():
                    backup = dest.parent / f"{dest.name}.backup-{stamp}-{n}"
                    n += 1
                os.rename(dest, backup)
            os.rename(self.tmp, dest)
        except OSError as exc:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise _cannot_write(dest, exc) from None
        return backup

    def discard(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def stage_outputs(dest: Path, fill: Callable[[Path], None], *, force: bool) -> Staged:
    """Write a run into a temporary sibling folder of ``dest`` with ``fill`` (its files
    flushed to disk), checking first that ``dest`` may be written (``check_destination``)."""
    dest = Path(dest)
    check_destination(dest, force)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        for stale in dest.parent.glob(f".{dest.name}.partial-*"):  # left by a killed run
            shutil.rmtree(stale, ignore_errors=True)
        tmp = dest.parent / f".{dest.name}.partial-{os.getpid()}"
        tmp.mkdir()
    except OSError as exc:
        raise _cannot_write(dest, exc) from None
    try:
        fill(tmp)
        for path in tmp.rglob("*"):  # flush file contents before the rename makes them visible
            if path.is_file():
                with path.open("rb") as fh:
                    os.fsync(fh.fileno())
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _cannot_write(dest, exc) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Staged(dest, tmp)


def _cannot_write(dest: Path, exc: OSError) -> OutputError:
    where = exc.filename or dest
    return OutputError(f"{dest}: cannot write the output ({exc.strerror or exc}: {where})")


def run_record() -> dict[str, str]:
    """When and where a run happened: the one record that differs between identical reruns."""
    return {
        "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": os.uname().nodename,
    }
