"""The README's ledger section: its commands run in order on one ledger, and its table of
reasons is the one list of roster reasons."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from helpers import ROOT, SAMPLE
from typer.testing import CliRunner

from totalcare_payments.cli.app import app
from totalcare_payments.reasons import roster_reasons

TEXT = (ROOT / "README.md").read_text()
SECTION = TEXT[TEXT.index("## The payment ledger") : TEXT.index("## Proof on real")]
EXAMPLES = re.findall(r"^\$ totalcare (.+)$", SECTION, re.M)


@pytest.mark.slow
def test_the_ledger_examples_run_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sample_data").symlink_to(SAMPLE)
    monkeypatch.chdir(tmp_path)
    outputs = []
    for example in EXAMPLES:
        result = CliRunner().invoke(app, shlex.split(example))
        assert result.exit_code == 0, f"{example}\n{result.output}"
        outputs.append(result.output)
    assert len(EXAMPLES) >= 8
    # March posted (1), April as a draft (2, replaced), April posted (3), April again
    assert "Batch 1 posted" in outputs[0]
    assert "Draft batch 2" in outputs[1] and "not posted" in outputs[1]
    assert "Batch 3 posted" in outputs[2]
    assert "Nothing posted: batch 3" in outputs[3]
    assert "reversal batch 4" in "\n".join(outputs)
    assert (tmp_path / "out" / "ledger-export" / "roster.csv").exists()


def test_the_reasons_table_is_the_roster_reasons() -> None:
    rows = re.findall(r"^\| ([A-Z_]+) \| (.+) \|$", SECTION, re.M)
    assert rows == [(str(reason), meaning) for reason, meaning in roster_reasons().items()]


def test_exit_code_6_is_documented() -> None:
    assert re.search(r"^\| 6 \| the payment ledger refuses", TEXT, re.M)


def test_help_explains_the_ledger_commands() -> None:
    runner = CliRunner()
    top = runner.invoke(app, ["--help"])
    assert "ledger" in top.output and "6 the ledger refuses" in top.output
    for command in ("batches", "show", "void", "balance", "export"):
        sub = runner.invoke(app, ["ledger", command, "--help"])
        assert sub.exit_code == 0 and "--ledger" in sub.output, command
    for command in ("ccf", "settle"):
        sub = runner.invoke(app, [command, "--help"])
        assert "--ledger" in sub.output and "--post" in sub.output
