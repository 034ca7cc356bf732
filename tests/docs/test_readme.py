"""Every command example in the README runs, from a folder laid out like the repository."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest
from helpers import ROOT
from typer.testing import CliRunner

from totalcare_payments.cli.app import app

# the scenario documents (matplotlib, xlsxwriter) and whole README examples: make test
pytestmark = pytest.mark.slow

README = ROOT / "README.md"
_TEXT = README.read_text()
#: The ledger section's examples run one after the other, on one ledger
#: (tests/docs/test_readme_ledger.py); every other example runs on its own.
LEDGER_SECTION = _TEXT[_TEXT.index("## The payment ledger") : _TEXT.index("## Proof on real")]
EXAMPLES = re.findall(r"^\$ totalcare (.+)$", _TEXT.replace(LEDGER_SECTION, ""), re.M)


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
    for name in ("sample_data", "examples"):
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
    if "--out" in args:  # a command that writes: its output is there
        out = Path(args[args.index("--out") + 1])
        assert out.exists() and (out.is_file() or any(out.iterdir()))
    else:  # a command that prints
        assert result.output.strip()


DEMO = {  # what `make demo` runs, and how its table rows start
    "ccf": (["ccf", "--month", "2026-03", "--data", "sample_data", "--out", "out/m"], "│ 2026-03"),
    "settle": (["settle", "--year", "2026", "--data", "sample_data", "--out", "out/s"], "│ P000"),
}


@pytest.mark.parametrize("job", sorted(DEMO))
def test_readme_shows_the_demo_figures(job: str, workdir: Path):
    args, row_start = DEMO[job]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    text = README.read_text()
    rows = [ln for ln in result.output.splitlines() if ln.startswith(row_start)]
    assert len(rows) == 6
    for line in rows:
        assert line in text, f"README is missing the demo line: {line}"


def test_help_explains_every_command():
    runner = CliRunner()
    top = runner.invoke(app, ["--help"])
    assert top.exit_code == 0
    for command in ("ccf", "settle", "scenarios", "mssp-check", "generate"):
        assert command in top.output
        sub = runner.invoke(app, [command, "--help"])
        assert sub.exit_code == 0 and "--out" in sub.output
    assert "presets" in top.output
