"""Where a run may write: a new or empty folder, or -- with --force -- a finished run
output of this tool, kept as a dated backup. Anything else is refused with exit 4 and
left exactly as it was."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from helpers import SAMPLE
from typer.testing import CliRunner

from totalcare_payments.cli.app import app


def _ccf(out: Path, *extra: str) -> tuple[int, str]:
    args = ["ccf", "--month", "2026-03", "--data", str(SAMPLE), "--out", str(out), *extra]
    result = CliRunner().invoke(app, args)
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
def test_a_folder_that_is_not_a_run_output_is_left_untouched(tmp_path: Path, force: bool):
    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data)
    before = _snapshot(data)
    code, text = _ccf(data, *(["--force"] if force else []))
    assert code == 4, text
    assert "not a run output" in text and "left as it is" in text
    assert _snapshot(data) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # no backup, no partial


def test_a_manifest_of_another_tool_does_not_make_a_run_output(tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"name": "someone else's"}))
    code, text = _ccf(out, "--force")
    assert code == 4 and "not a run output" in text
    assert json.loads((out / "manifest.json").read_text()) == {"name": "someone else's"}


def test_an_empty_folder_is_filled(tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    code, text = _ccf(out)
    assert code == 0, text
    assert (out / "manifest.json").exists()


def test_a_finished_run_is_replaced_only_with_force_and_kept_as_a_backup(tmp_path: Path):
    out = tmp_path / "out"
    assert _ccf(out)[0] == 0
    first = _snapshot(out)
    code, text = _ccf(out)
    assert code == 4 and "--force" in text
    assert _snapshot(out) == first
    assert _ccf(out, "--force")[0] == 0
    backups = list(tmp_path.glob("out.backup-*"))
    assert len(backups) == 1 and _snapshot(backups[0]) == first


def test_a_file_is_not_a_destination(tmp_path: Path):
    out = tmp_path / "payments.csv"
    out.write_text("keep me\n")
    code, text = _ccf(out, "--force")
    assert code == 4 and "is not a folder" in text
    assert out.read_text() == "keep me\n"
