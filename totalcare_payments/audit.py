"""The audit trail's fingerprints: sha256 of every input, config and output file, and the
tool's version."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def bytes_sha256(data: bytes) -> str:
    """Hex sha256 of bytes in memory (a config read from the package's presets)."""
    return hashlib.sha256(data).hexdigest()


@cache
def tool_version() -> str:
    """The installed package's version ("0.0.0" when run from a source tree not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("totalcare-payments")
    except PackageNotFoundError:
        return "0.0.0"
