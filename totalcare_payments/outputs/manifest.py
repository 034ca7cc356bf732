"""A run's manifest: the tool, the config, every input with its accounting, the totals.

Every figure in it is a function of the inputs and config, so a rerun writes the same
manifest; when and where a run happened is ``run.json`` (``publish.run_record``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import numpy as np
import pandas as pd

from ..audit import tool_version
from ..config import ProgramConfig
from ..inputs.checks import Table, TableUse, accounting_of
from .tables import text_columns


def input_manifest(tables: list[Table], uses: Iterable[TableUse] = ()) -> dict[str, dict]:
    """Each input's path, sha256 and accounting (read = used + excluded + rejected), by
    what the run's computation used of it (``uses``; a table without one: every clean row)."""
    tables = list(tables)
    accounting = accounting_of(tables, uses)
    entries: dict[str, dict] = {}
    for t in tables:
        entry: dict[str, object] = {"path": str(t.path), "sha256": t.sha256, **accounting[t.name]}
        if t.dataset is not None:  # a folder of files: each one, with its sha256 and rows
            entry["files"] = t.dataset.manifest()
        entries[t.name] = entry
    return entries


def base_manifest(job: str, config: ProgramConfig) -> dict:
    """The manifest's head: tool, version, job, and the config's source and sha256."""
    return {
        "tool": "totalcare_payments",
        "version": tool_version(),
        "job": job,
        "config": {
            "source": config.source,
            "sha256": config.sha256,
            "program": config.program.name,
        },
    }


def totals_json(totals: pd.DataFrame) -> list[dict]:
    """Control totals for the manifest: money as exact decimal text."""
    text = text_columns(totals)
    records = []
    # the totals' columns are names (str), which pandas-stubs types as any Hashable
    rows = cast(list[dict[str, Any]], totals.to_dict("records"))
    for i, raw in enumerate(rows):
        records.append(
            {
                col.removesuffix("_cents"): (
                    text[col.removesuffix("_cents")][i].as_py()
                    if col.endswith("_cents")
                    else _plain(value)
                )
                for col, value in raw.items()
            }
        )
    return records


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value
