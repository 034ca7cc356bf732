"""One list of reason codes: the checks, the outputs and the docs name the same ones."""

from __future__ import annotations

import re

import pytest
from helpers import ROOT

from totalcare_payments.reasons import Reason, reasons_of
from totalcare_payments.savings.waterfall import REASONS

README = (ROOT / "README.md").read_text()
DOCS = "\n".join(p.read_text() for p in sorted((ROOT / "docs").glob("*.md")))


def _bad_input_table_codes() -> set[str]:
    section = README[README.index("### Bad input") : README.index("## Config")]
    codes = set()
    for line in section.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 3 and re.fullmatch(r"[A-Z][A-Z_]+", cells[2]):
            codes.add(cells[2])
    return codes


def test_every_code_is_its_own_name_and_has_a_kind_and_a_meaning() -> None:
    for reason in Reason:
        assert reason.value == reason.name
        assert reason.kind in ("rejected", "excluded", "input", "outcome", "reference", "adjustment")
        assert reason.meaning and reason.meaning[0].islower()


def test_the_readme_table_names_every_input_code_and_no_other() -> None:
    table = _bad_input_table_codes()
    rows_and_files = {r.value for r in (*reasons_of("rejected"), *reasons_of("input"))}
    assert table == rows_and_files
    for excluded in reasons_of("excluded"):
        assert excluded.value in README


@pytest.mark.parametrize("reason", reasons_of("outcome"))
def test_every_settlement_outcome_is_documented(reason: Reason) -> None:
    assert reason.value in README and reason.value in DOCS
    assert REASONS[reason.value] == reason.meaning


def test_the_settlement_outcomes_are_the_enums() -> None:
    assert set(REASONS) == {r.value for r in reasons_of("outcome")}


def test_no_module_spells_a_reason_code_as_a_string() -> None:
    """Checks name reasons through the Enum; a quoted code elsewhere is a second list."""
    codes = {r.value for r in Reason}
    offenders = []
    for path in sorted((ROOT / "totalcare_payments").rglob("*.py")):
        if path.name == "reasons.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            for quoted in re.findall(r'"([A-Z][A-Z_]{3,})"', line):
                if quoted in codes:
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {quoted}")
    assert offenders == []
