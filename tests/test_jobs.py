"""The jobs end to end: reordering the rows of every input file changes no output byte."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import make_config, member_level_programs, relaxed_checks, stop_losses, write_program
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from totalcare_payments.jobs import run_ccf, run_settlement
from totalcare_payments.periods import format_period, year_periods


def _outputs(folder: Path) -> dict[str, bytes]:
    """Every output file's bytes; the manifest without the inputs' paths and fingerprints
    (the files were reordered, so their sha256 differ); run.json (time, host) left out."""
    files = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != "run.json"}
    manifest = json.loads(files.pop("manifest.json"))
    for entry in manifest["inputs"].values():
        entry.pop("path"), entry.pop("sha256")
    files["manifest.json"] = json.dumps(manifest, sort_keys=True).encode()
    return files


def _run(tables: dict[str, pd.DataFrame], folder: Path, config) -> dict[str, dict[str, bytes]]:
    """The CCF batch of the months with members, and the 2026 settlement, from CSV files."""
    data = write_program(folder / "data", **tables)
    present = set(tables["attribution"]["year_month"])
    months = [p for p in year_periods(2026) if format_period(p) in present]
    run_ccf(config, data, months, folder / "ccf")
    run_settlement(config, 2026, folder / "settle", data=data)
    return {job: _outputs(folder / job) for job in ("ccf", "settle")}


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@pytest.mark.slow
@given(tables=member_level_programs(), stop_loss=stop_losses, seed=st.integers(0, 2**32 - 1))
def test_reordering_input_rows_changes_no_output_byte(tmp_path_factory, tables, stop_loss, seed):
    # generated programs (no claims, members without scores...) that the gates would stop
    config = make_config({"settlement": {"stop_loss": stop_loss}, **relaxed_checks()})
    rng = np.random.default_rng(seed)
    shuffled = {
        name: frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
        for name, frame in tables.items()
    }
    first = _run(tables, tmp_path_factory.mktemp("ordered"), config)
    second = _run(shuffled, tmp_path_factory.mktemp("shuffled"), config)
    for job in first:
        assert first[job].keys() == second[job].keys()
        for name, content in first[job].items():
            assert content == second[job][name], f"{job}/{name} differs"
