"""Every command example in the README runs, from a folder laid out like the repository."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest
from conftest import ROOT
from typer.testing import CliRunner

from totalcare_payments.cli import app

README = ROOT / "README.md"
EXAMPLES = re.findall(r"^\$ totalcare (.+)$", README.read_text(), re.M)


def test_readme_has_examples():
    assert len(EXAMPLES) >= 4


REFERENCE = Path(
    os.environ.get("TOTALCARE_MSSP_DIR", ROOT.parent / "shared" / "reference" / "mssp")
)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkout-like folder: sample data and configs, with ../shared/reference/mssp beside it."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("sample_data", "configs"):
        (repo / name).symlink_to(ROOT / name)
    (tmp_path / "shared" / "reference").mkdir(parents=True)
    (tmp_path / "shared" / "reference" / "mssp").symlink_to(REFERENCE)
    monkeypatch.chdir(repo)
    return repo


@pytest.mark.parametrize("example", EXAMPLES)
def test_readme_example_runs(example: str, workdir: Path):
    args = shlex.split(example)
    if args[0] == "mssp-check" and not REFERENCE.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"the Medicare reference files are missing: {REFERENCE}")
        pytest.skip(f"the Medicare reference files are not at {REFERENCE}")
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    out = Path(args[args.index("--out") + 1])
    assert out.exists() and (out.is_file() or any(out.iterdir()))


def test_readme_shows_the_demo_figures(workdir: Path):
    result = CliRunner().invoke(
        app, ["ccf", "--month", "2026-03", "--data", "sample_data", "--out", "out/m"]
    )
    assert result.exit_code == 0, result.output
    text = README.read_text()
    demo = [ln for ln in result.output.splitlines() if ln.startswith("│ 2026-03")]
    assert len(demo) == 6
    for line in demo:
        assert line in text, f"README is missing the demo line: {line}"


def test_help_explains_every_command():
    runner = CliRunner()
    top = runner.invoke(app, ["--help"])
    assert top.exit_code == 0
    for command in ("ccf", "settle", "generate"):
        assert command in top.output
        sub = runner.invoke(app, [command, "--help"])
        assert sub.exit_code == 0 and "--out" in sub.output


def test_readme_shows_the_settlement_figures(workdir: Path):
    result = CliRunner().invoke(
        app, ["settle", "--year", "2026", "--data", "sample_data", "--out", "out/s"]
    )
    assert result.exit_code == 0, result.output
    text = README.read_text()
    lines = [ln for ln in result.output.splitlines() if ln.startswith("│ P000")]
    assert len(lines) == 6
    for line in lines:
        assert line in text, f"README is missing the settlement line: {line}"
