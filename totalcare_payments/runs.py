"""Payment runs: read inputs, compute, apply the rejection policy, write files and manifest.

This is the edge between the functional core (``ccf``, ``settlement``) and the
world (files, the clock). The CLI is a thin layer over these functions, and a
notebook can call them too.

Rejection policy: rows that fail a check are rejected and written to
``rejects.csv``. The run fails (exit 2) when a rejection would make a payment
wrong -- a practice row, an unknown practice or tier, a member attributed to two
practices in one month -- or, with ``strict``, on any rejection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__, schema
from .audit import file_sha256
from .ccf import CcfBatch, compute_ccf
from .config import ProgramConfig, load_config
from .errors import InputError, Problem
from .inputs import REJECT_COLUMNS, ProgramData, Table, load_inputs, read_table
from .outputs import (
    MANIFEST,
    check_destination,
    publish,
    run_record,
    text_columns,
    write_json,
    write_table,
)
from .periods import format_period
from .settlement import Settlement, compute_settlement, settle_summary

# Rejections that always fail a run: each would make some payment wrong.
FATAL_REASONS = frozenset(
    {
        schema.UNKNOWN_PRACTICE,
        schema.CONFLICTING_ATTRIBUTION,
        schema.UNKNOWN_TIER,
        schema.DUPLICATE_KEY,  # two scores for a member, two quality rows: which is right?
    }
)
Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass
class RunResult:
    """What a run computed and wrote."""

    out: Path
    manifest: dict
    files: list[Path]
    rejects: pd.DataFrame
    backup: Path | None = None


def all_rejects(data: ProgramData) -> pd.DataFrame:
    return all_rejects_of(data.tables())


def rejection_problems(rejects: pd.DataFrame, paths: dict[str, Path]) -> list[Problem]:
    """One problem per table, reason and column: the rows and the first failing records."""
    problems = []
    for (table, reason, column, message), part in rejects.groupby(
        ["table", "reason", "column", "message"], sort=True
    ):
        rows = part["row"].to_numpy(dtype=np.int64)
        problems.append(
            Problem(
                table=f"{table} ({paths.get(str(table), table)})",
                reason=str(reason),
                column=str(column) or None,
                message=str(message),
                rows=tuple(int(r) for r in rows[:5]),
                row_count=len(rows),
                examples=tuple(str(r) for r in part["record"].head(3)),
            )
        )
    return problems


def enforce_policy(data: ProgramData, *, strict: bool) -> pd.DataFrame:
    """Raise ``InputError`` when rejections would make a payment wrong (or any, when strict)."""
    rejects = all_rejects(data)
    if rejects.empty:
        return rejects
    fatal = rejects["reason"].isin(FATAL_REASONS) | (rejects["table"] == "practices")
    if strict:
        fatal[:] = True
    if fatal.any():
        paths = {t.name: t.path for t in data.tables()}
        raise InputError(rejection_problems(rejects[fatal.to_numpy()], paths))
    return rejects


def input_manifest(data: ProgramData) -> dict[str, dict]:
    return {
        t.name: {"path": str(t.path), "sha256": t.sha256, **t.accounting()} for t in data.tables()
    }


def base_manifest(job: str, config: ProgramConfig, config_path: Path) -> dict:
    return {
        "tool": "totalcare_payments",
        "version": __version__,
        "job": job,
        "config": {
            "path": str(config_path),
            "sha256": file_sha256(config_path),
            "program": config.program.name,
        },
    }


def _fill_outputs(
    manifest: dict, tables: dict[str, pd.DataFrame], rejects: pd.DataFrame
) -> Callable[[Path], None]:
    def fill(folder: Path) -> None:
        written: list[Path] = []
        for stem, frame in tables.items():
            written += write_table(frame, folder, stem)
        written += write_table(rejects, folder, "rejects", parquet=False)
        manifest["outputs"] = {
            p.name: {"sha256": file_sha256(p), "rows": _rows(tables, rejects, p)} for p in written
        }
        write_json(folder / MANIFEST, manifest)
        write_json(folder / "run.json", run_record())

    return fill


def _rows(tables: dict[str, pd.DataFrame], rejects: pd.DataFrame, path: Path) -> int:
    return len(tables.get(path.stem, rejects))


def run_ccf(
    config_path: str | Path,
    data_dir: str | Path,
    months: list[int],
    out: str | Path,
    *,
    force: bool = False,
    strict: bool = False,
    paths: dict[str, str | Path | None] | None = None,
    progress: Progress = _quiet,
) -> tuple[CcfBatch, RunResult]:
    """The monthly CCF batch, end to end: payment lines, control totals, rejects, manifest."""
    out = Path(out)
    check_destination(out, force)
    config_path = Path(config_path)
    config = load_config(config_path)
    config.require_ccf()
    progress("Reading inputs")
    data = load_inputs(data_dir, config, **(paths or {}))
    progress("Computing fees")
    batch = compute_ccf(data, config, months)
    rejects = enforce_policy(data, strict=strict)
    manifest = base_manifest("ccf", config, config_path)
    manifest["months"] = [format_period(p) for p in batch.periods]
    manifest["inputs"] = input_manifest(data)
    manifest["notes"] = {"members_defaulted_score": batch.members_defaulted}
    manifest["control_totals"] = _totals_json(batch.control_totals)
    progress("Writing payment file")
    tables = {"ccf_payments": batch.lines, "control_totals": batch.control_totals}
    fill = _fill_outputs(manifest, tables, rejects)
    backup = publish(out, fill, force=force)
    files = sorted(out.iterdir())
    return batch, RunResult(out=out, manifest=manifest, files=files, rejects=rejects, backup=backup)


def _totals_json(totals: pd.DataFrame) -> list[dict]:
    """Control totals for the manifest: money as exact decimal text."""
    text = text_columns(totals)
    records = []
    for i, raw in enumerate(totals.to_dict("records")):
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


def run_settlement(
    config_path: str | Path,
    year: int,
    out: str | Path,
    *,
    data_dir: str | Path | None = None,
    summary: str | Path | None = None,
    force: bool = False,
    strict: bool = False,
    paths: dict[str, str | Path | None] | None = None,
    progress: Progress = _quiet,
) -> tuple[Settlement, RunResult]:
    """The year-end settlement, end to end, from member-level data or a practice summary."""
    out = Path(out)
    check_destination(out, force)
    config_path = Path(config_path)
    config = load_config(config_path)
    config.require_settlement()
    manifest = base_manifest("settlement", config, config_path)
    manifest["year"] = year
    progress("Reading inputs")
    if summary is not None:
        table = read_table(summary, schema.PRACTICE_SUMMARY)
        tables: list[Table] = [table]
        rejects = all_rejects_of(tables)
        if len(rejects):
            raise InputError(rejection_problems(rejects, {table.name: table.path}))
        progress("Settling")
        settlement = settle_summary(table.frame, config, year)
        manifest["inputs"] = {
            table.name: {"path": str(table.path), "sha256": table.sha256, **table.accounting()}
        }
    else:
        if data_dir is None:
            raise InputError("give a data folder (--data) or a practice summary (--summary)")
        data = load_inputs(data_dir, config, with_claims=True, with_quality=True, **(paths or {}))
        progress("Settling")
        settlement = compute_settlement(data, config, year)
        rejects = enforce_policy(data, strict=strict)
        manifest["inputs"] = input_manifest(data)
    manifest["notes"] = settlement.notes
    manifest["control_totals"] = _totals_json(settlement.control_totals)
    progress("Writing settlement")
    frames = {"settlement": settlement.practices, "control_totals": settlement.control_totals}
    backup = publish(out, _fill_outputs(manifest, frames, rejects), force=force)
    return settlement, RunResult(
        out=out, manifest=manifest, files=sorted(out.iterdir()), rejects=rejects, backup=backup
    )


def all_rejects_of(tables: list[Table]) -> pd.DataFrame:
    """Every rejected row of the tables, in table and row order."""
    frames = [t.rejects for t in tables if len(t.rejects)]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in REJECT_COLUMNS})
    return (
        pd.concat(frames, ignore_index=True)
        .sort_values(["table", "row", "reason"], kind="stable")
        .reset_index(drop=True)
    )
