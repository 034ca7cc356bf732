"""Generated bad tables never crash a run; a killed run never leaves a partial output."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from helpers import SAMPLE, make_config, relaxed_checks, write_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from totalcare_payments.cli.app import app
from totalcare_payments.generate import generate_program, write_program


def invoke(*args: str | Path):
    result = CliRunner().invoke(app, [str(a) for a in args])
    # never a Python traceback: any exception other than the CLI's own exit is a defect
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


cell = st.one_of(
    st.none(),
    st.text(max_size=6),
    st.sampled_from(["P0001", "P0002", "P9999", "2026-03", "2026-13", "NaN", "inf", "-1", "1e308"]),
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)
bad_rows = st.lists(st.tuples(cell, cell, cell), min_size=0, max_size=25)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@pytest.mark.slow
@given(rows=bad_rows, table=st.sampled_from(["attribution", "risk_scores", "practices"]))
def test_generated_bad_tables_give_a_clear_answer(tmp_path_factory, rows, table):
    folder = tmp_path_factory.mktemp("bad")
    data = folder / "data"
    shutil.copytree(SAMPLE, data)
    original = pd.read_csv(data / f"{table}.csv", dtype=str)
    columns = list(original.columns[:3])
    bad = pd.DataFrame(rows, columns=columns, dtype=object)
    pd.concat([original, bad], ignore_index=True).to_csv(data / f"{table}.csv", index=False)
    result = invoke("ccf", "--month", "2026-03", "--data", data, "--out", folder / "out")
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        assert "Bad input (exit 2)" in result.output
        return
    manifest = json.loads((folder / "out" / "manifest.json").read_text())
    rejects = pd.read_csv(folder / "out" / "rejects.csv")
    counted = sum(sum(e["rejected"].values()) for e in manifest["inputs"].values())
    assert counted == len(rejects)
    for entry in manifest["inputs"].values():
        assert entry["read"] == entry["used"] + sum(entry["excluded"].values()) + sum(
            entry["rejected"].values()
        )


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    shutil.copytree(SAMPLE, folder)
    return folder


def test_empty_file(data: Path):
    (data / "attribution.csv").write_text("")
    result = invoke("ccf", "--month", "2026-03", "--data", data, "--out", data.parent / "o")
    assert result.exit_code == 2 and "missing column(s) member_id" in result.output


def test_header_only_file(data: Path):
    (data / "attribution.csv").write_text("member_id,practice_id,year_month\n")
    result = invoke("ccf", "--month", "2026-03", "--data", data, "--out", data.parent / "o")
    assert result.exit_code == 2 and "EMPTY_TABLE" in result.output
    assert "attribution.csv" in result.output and "header-only" in result.output


def test_non_utf8_csv(data: Path):
    path = data / "practices.csv"
    path.write_bytes(path.read_bytes().replace(b"Gladstone", "Glädstone".encode("latin-1")))
    result = invoke("ccf", "--month", "2026-03", "--data", data, "--out", data.parent / "o")
    assert result.exit_code == 2
    assert "UNREADABLE" in result.output and "practices.csv" in result.output


def test_truncated_parquet(data: Path, tmp_path: Path):
    frame = pd.read_csv(data / "attribution.csv", dtype=str)
    (data / "attribution.csv").unlink()
    frame.to_parquet(data / "attribution.parquet")
    raw = (data / "attribution.parquet").read_bytes()
    (data / "attribution.parquet").write_bytes(raw[: len(raw) // 2])
    result = invoke("ccf", "--month", "2026-03", "--data", data, "--out", data.parent / "o")
    assert result.exit_code == 2
    assert "UNREADABLE" in result.output and "attribution.parquet" in result.output


def test_huge_and_negative_values_are_rejected(data: Path):
    scores = pd.read_csv(data / "risk_scores.csv", dtype=str)
    scores.loc[0, "mara_px_total"] = "1e308"
    scores.loc[1, "mara_px_total"] = "-0.5"
    scores.to_csv(data / "risk_scores.csv", index=False)
    result = invoke("ccf", "--month", "2026-03", "--data", data, "--out", data.parent / "o")
    assert result.exit_code == 2 and "TOO_MANY_REJECTED" in result.output  # 2 of 586: 0.34%
    config = write_config(data.parent, make_config(relaxed_checks(max_rejected_share=0.01)))
    args = ("--data", data, "--config", config, "--out", data.parent / "o")
    result = invoke("ccf", "--month", "2026-03", *args)
    assert result.exit_code == 0, result.output
    rejects = pd.read_csv(data.parent / "o" / "rejects.csv")
    assert rejects["reason"].tolist() == ["OUT_OF_RANGE", "OUT_OF_RANGE"]


# ---- crash safety -----------------------------------------------------------------------------


def _complete(folder: Path) -> bool:
    """Every file the manifest lists is there with its sha256, and nothing else but run.json."""
    manifest = json.loads((folder / "manifest.json").read_text())
    listed = set(manifest["outputs"])
    present = {p.name for p in folder.iterdir()} - {"manifest.json", "run.json"}
    if listed != present:
        return False
    return all(
        hashlib.sha256((folder / name).read_bytes()).hexdigest() == entry["sha256"]
        for name, entry in manifest["outputs"].items()
    )


@pytest.mark.slow
def test_killed_run_leaves_the_previous_output_or_the_new_one(tmp_path: Path):
    data = tmp_path / "data"
    write_program(generate_program(60_000, seed=3), data)
    dest = tmp_path / "settlement"
    cmd = [
        sys.executable,
        "-m",
        "totalcare_payments",
        "settle",
        "--year",
        "2026",
        "--data",
        str(data),
        "--out",
        str(dest),
    ]
    subprocess.run(cmd, check=True, capture_output=True)
    previous = json.loads((dest / "manifest.json").read_text())["outputs"]
    for delay in (0.3, 0.8, 1.2, 1.6, 2.0, 2.5, 3.0):
        proc = subprocess.Popen(
            [*cmd, "--force"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert dest.is_dir() and _complete(dest), f"partial output after a kill at {delay}s"
        assert json.loads((dest / "manifest.json").read_text())["outputs"] == previous
    # a later run clears what killed runs left beside the destination
    subprocess.run([*cmd, "--force"], check=True, capture_output=True)
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]
    assert _complete(dest)
