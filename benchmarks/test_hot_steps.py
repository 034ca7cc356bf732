"""pytest-benchmark suite of the hot steps at 100,000 members (``make bench``).

Each benchmark times one step of the full year on a generated program; the figures
go to pytest-benchmark's table (and ``--benchmark-json``), never into assertions.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from totalcare_payments.ccf import compute_ccf
from totalcare_payments.config import preset
from totalcare_payments.generate import generate_program, write_program
from totalcare_payments.periods import year_periods
from totalcare_payments.program import load_program
from totalcare_payments.savings.year import compute_settlement, performance_year, settle_year

MEMBERS = 100_000


@pytest.fixture(scope="session")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bench") / f"members-{MEMBERS}"
    write_program(generate_program(MEMBERS, seed=7), folder)
    return folder


@pytest.fixture(scope="session")
def config():
    return preset("bluekc_medical_home")


def test_load_inputs(benchmark, program, config):
    data = benchmark(load_program, program, config, with_claims=True, with_quality=True)
    assert data.members is not None and len(data.members) > 0.9 * MEMBERS


def test_ccf_twelve_months(benchmark, program, config):
    data = load_program(program, config)
    batch = benchmark(compute_ccf, data, config, list(year_periods(2026)))
    assert batch.total_cents > 0


def test_settlement(benchmark, program, config):
    data = load_program(program, config, with_claims=True, with_quality=True)
    settlement = benchmark(compute_settlement, data, config, 2026)
    assert len(settlement.practices) == 100


def test_performance_year(benchmark, program, config):
    data = load_program(program, config, with_claims=True, with_quality=True)
    year = benchmark(performance_year, data, config, 2026, with_ccf=True)
    assert len(year.practices) == 100


def test_hundred_scenarios(benchmark, program, config):
    data = load_program(program, config, with_claims=True, with_quality=True)
    year = performance_year(data, config, 2026, with_ccf=True)
    rows, _ = benchmark(settle_year, year, [config] * 100)
    assert len(rows) == 100 * len(year.practices)
