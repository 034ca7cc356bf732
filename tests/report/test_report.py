"""The scenario study's HTML report and Excel workbook: self-contained, complete, the same
bytes on a rerun, and the report opens in a headless browser."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from helpers import DEFAULT_CONFIG, SAMPLE, make_config

from totalcare_payments.config import load_config
from totalcare_payments.generate import generate_program, write_program
from totalcare_payments.program import load_program
from totalcare_payments.report.charts import program_waterfall
from totalcare_payments.report.html import html_report, write_html
from totalcare_payments.report.workbook import SHEETS, write_xlsx
from totalcare_payments.savings.year import performance_year
from totalcare_payments.scenarios.plan import ScenarioStudy, load_scenarios, parse_scenarios
from totalcare_payments.scenarios.settle import study

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "scenarios_example.toml"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


@pytest.fixture(scope="module")
def sample_study() -> ScenarioStudy:
    config = load_config(DEFAULT_CONFIG)
    data = load_program(SAMPLE, config, with_claims=True, with_quality=True)
    performance = performance_year(data, config, 2026, with_ccf=True)
    plan = load_scenarios(EXAMPLE, config)
    return study(performance, plan, draws=40, seed=7, facts={"program": config.program.name})


@pytest.fixture(scope="module")
def written(sample_study, tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("report")
    return write_html(sample_study, folder / "report.html"), write_xlsx(
        sample_study, folder / "scenarios.xlsx"
    )


# What a page would fetch: a src or href to another host, a script, a stylesheet link, an
# @import or a CSS url() that is not a fragment.
EXTERNAL = [
    r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:|//|ftp:)""",
    r"<script\b",
    r"<link\b",
    r"<iframe\b",
    r"<object\b",
    r"@import",
    r"""url\(\s*["']?(?!#)""",
    r"""<img\b[^>]*\bsrc\s*=\s*["']?(?!data:)""",
]


def test_report_has_every_chart_and_loads_nothing(written):
    html_path, _ = written
    text = html_path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert text.count("<svg ") == 5  # waterfall, scenarios, tornado, distribution, MSR chance
    for anchor in ("waterfall", "scenarios", "tornado", "chance", "practices"):
        assert f'<section id="{anchor}">' in text
    for pattern in EXTERNAL:
        assert not re.search(pattern, text, re.I), pattern
    # the tables: a scenario name, the tornado's parameters and money as dollars
    assert "sharing 40%" in text and "settlement.payment_limit" in text
    assert "$36,418.58" in text  # the base total paid on the sample program
    # each chart's ids are its own, so charts in one page do not clash
    ids = re.findall(r'\bid="([^"]+)"', text)
    assert len(ids) == len(set(ids))


def test_report_is_the_same_on_a_rerun(sample_study):
    assert html_report(sample_study) == html_report(sample_study)


def test_workbook_has_the_named_sheets_in_dollars(written, sample_study):
    _, xlsx_path = written
    book = openpyxl.load_workbook(xlsx_path, read_only=True)
    assert book.sheetnames == list(SHEETS)
    rows = list(book["Summary"].iter_rows(values_only=True))
    header = list(rows[0])
    assert "total_paid" in header and "total_paid_cents" not in header
    base = dict(zip(header, rows[1], strict=True))
    expected = sample_study.result.summary["total_paid_cents"].iloc[0] / 100
    assert base["scenario"] == "base" and base["total_paid"] == pytest.approx(expected)
    practices = list(book["Practices"].iter_rows(values_only=True))
    assert len(practices) - 1 == len(sample_study.result.practices)
    tornado = list(book["Tornado"].iter_rows(values_only=True))
    assert len(tornado) - 1 == len(sample_study.tornado)
    book.close()


def test_workbook_is_the_same_bytes_on_a_rerun(sample_study, tmp_path):
    one = write_xlsx(sample_study, tmp_path / "one.xlsx").read_bytes()
    two = write_xlsx(sample_study, tmp_path / "two.xlsx").read_bytes()
    assert one == two


def test_waterfall_steps_add_up_to_each_total(sample_study):
    steps = program_waterfall(sample_study.result.base)
    running = 0
    for row in steps.itertuples(index=False):
        if row.kind == "total":
            assert running == row.amount_cents or row.step == "budget", row.step
            running = row.amount_cents
        else:
            running += row.amount_cents
    base = sample_study.result.base
    totals = steps.set_index("step")["amount_cents"]
    assert totals["final payments"] == base["final_payment_cents"].sum()
    assert totals["savings"] == base["savings_cents"].sum()


def test_report_of_many_scenarios_and_practices(tmp_path):
    """Past 40 scenarios or practices the charts switch to sorted curves and the top 40."""
    write_program(generate_program(2500, seed=3, members_per_practice=50), tmp_path / "data")
    config = make_config()
    data = load_program(tmp_path / "data", config, with_claims=True, with_quality=True)
    performance = performance_year(data, config, 2026, with_ccf=True)
    plan = parse_scenarios(
        {
            "grid": {
                "settlement.annual_trend": list(np.linspace(0.0, 0.1, 9).round(4)),
                "settlement.payment_limit": [0.05, 0.1, 0.15, 0.2, 0.3],
            }
        },
        config,
    )
    assert len(plan.scenarios) == 46 and len(performance.practices) > 40
    result = study(performance, plan, draws=20, seed=1)
    text = html_report(result)
    assert text.count("<svg ") == 4  # no tornado without [sensitivity]
    assert "No [sensitivity] table" in text
    assert "Showing" not in text  # 46 scenarios and 50 practices fit the tables


def _browser() -> str | None:
    return next((b for b in BROWSERS if shutil.which(b)), None)


def test_report_opens_in_a_headless_browser(written, tmp_path):
    browser = _browser()
    if browser is None:
        pytest.skip(
            "no headless browser: install one (Debian/Ubuntu: apt-get install chromium) "
            "to open the report as a reader would"
        )
    html_path, _ = written
    done = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            html_path.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert "<h1>Savings scenarios:" in dom
    assert dom.count("<svg") == 5
    assert "net::ERR" not in done.stderr
