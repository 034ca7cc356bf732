"""Every command behind one error boundary: documented exit codes and one-line messages for
outputs that cannot be written and for Ctrl-C, never a traceback, nothing left behind;
help that shows every command and its options as written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import SAMPLE
from typer.testing import CliRunner

from totalcare_payments import errors, jobs
from totalcare_payments.cli.app import app
from totalcare_payments.generate import generate_program, write_program
from totalcare_payments.reasons import Reason


def _invoke(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_an_output_under_a_regular_file_is_an_output_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    code, text = _invoke(
        "ccf", "--month", "2026-03", "--data", SAMPLE, "--out", blocker / "ccf"
    )
    assert code == errors.EXIT_OUTPUT_ERROR == 5
    assert "Cannot write output (exit 5)" in text and str(blocker / "ccf") in text
    assert blocker.read_text() == "not a folder\n"


def test_an_output_where_nothing_can_be_written_is_an_output_error() -> None:
    # /proc takes no new folders, even for root (a read-only folder does not stop root)
    code, text = _invoke("settle", "--year", "2026", "--data", SAMPLE, "--out", "/proc/tc/out")
    assert code == 5, text
    assert "/proc/tc/out" in text


@pytest.mark.parametrize(
    "args",
    [
        ["ccf", "--month", "2026-03", "--data", str(SAMPLE)],
        ["settle", "--year", "2026", "--data", str(SAMPLE)],
    ],
)
def test_ctrl_c_in_a_command_is_one_line_and_exit_130(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(jobs, "run_ccf", interrupted)
    monkeypatch.setattr(jobs, "run_settlement", interrupted)
    code, text = _invoke(*args, "--out", tmp_path / "out")
    assert code == errors.EXIT_INTERRUPTED == 130
    assert text.strip().splitlines() == ["Interrupted (exit 130): no partial output is left"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_ctrl_c_during_a_real_run_leaves_nothing_behind(tmp_path: Path) -> None:
    """SIGINT at several moments of a real settlement (start-up, reading, settling,
    writing): exit 130, a one-line message, and no partial folder: the output is whole
    (when the signal came after it was published) or absent."""
    data = tmp_path / "data"
    write_program(generate_program(60_000, seed=5), data, fmt="parquet")
    command = [sys.executable, "-m", "totalcare_payments", "settle", "--year", "2026"]
    for delay in (0.2, 0.5, 0.9, 1.4):
        out = tmp_path / f"out-{delay}"
        process = subprocess.Popen(
            [*command, "--data", str(data), "--out", str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
        if process.returncode == 0:  # finished before the signal: a whole output
            assert (out / "manifest.json").exists()
            continue
        assert process.returncode == 130, stdout + stderr
        assert "Traceback" not in stderr
        assert stderr.strip().splitlines()[-1] == "Interrupted (exit 130): no partial output is left"
        # the output is whole (published before the signal) or absent, never partial
        assert not out.exists() or (out / "manifest.json").exists()
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_every_command_has_help_that_exits_0() -> None:
    code, text = _invoke("--help")
    assert code == 0
    for command in ("ccf", "settle", "scenarios", "mssp-check", "presets", "generate"):
        assert command in text
        sub_code, sub_text = _invoke(command, "--help")
        assert sub_code == 0, command
        assert "Usage:" in sub_text
    flat = " ".join(text.split())
    for exit_code in ("2 bad input", "3 bad config", "4 refused", "5 cannot write", "130"):
        assert exit_code in flat


def test_scenarios_help_shows_the_scenario_file_tables_as_written() -> None:
    code, text = _invoke("scenarios", "--help")
    assert code == 0
    flat = " ".join(text.split())
    for table in ("[[scenario]]", "[grid]", "[sensitivity]", "[low, high]"):
        assert table in flat, table


def test_presets_lists_the_shipped_programs_and_prints_one() -> None:
    code, text = _invoke("presets")
    assert code == 0 and "bluekc_medical_home" in text and "mssp_enhanced" in text
    code, text = _invoke("presets", "cpc_plus_track1")
    assert code == 0 and "[ccf]" in text
    code, text = _invoke("presets", "no_such_program")
    assert code == 3 and "bluekc_medical_home" in text


def test_the_process_exits_with_the_commands_code() -> None:
    """The console script's hard exit keeps the command's exit code."""
    result = subprocess.run(
        [sys.executable, "-m", "totalcare_payments", "ccf", "--month", "2026-13"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "120"},
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_result_tables_never_cut_a_cell(tmp_path: Path) -> None:
    """Written to a file or a CI log, a table is as wide as its longest cell: no reason
    code or name ends in an ellipsis (``QUALITY_GA…``)."""
    summary = SAMPLE / "practice_summary.csv"
    code, text = _invoke("settle", "--year", "2026", "--summary", summary, "--out", tmp_path / "s")
    assert code == 0, text
    assert "…" not in text
    assert ("QUALITY_GATE" in text and "Riverside Pediatrics" not in text) or "…" not in text
    for line in text.splitlines():
        if line.startswith("│ A10"):  # every practice row shows its whole reason code
            assert line.rstrip().endswith("│")
            assert line.split("│")[-2].strip() in {r.value for r in Reason}
