"""The studies the report tests share: the sample program under the example scenario file,
and a generated program of 50 practices under a 46-scenario grid (past every chart's
40-bar limit)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import DEFAULT_CONFIG, ROOT, SAMPLE, make_config

from totalcare_payments.config import load_config
from totalcare_payments.generate import generate_program, write_program
from totalcare_payments.program import load_program
from totalcare_payments.savings.year import performance_year
from totalcare_payments.scenarios.plan import ScenarioStudy, load_scenarios, parse_scenarios
from totalcare_payments.scenarios.settle import study

EXAMPLE = ROOT / "examples" / "scenarios_example.toml"


@pytest.fixture(scope="session")
def sample_study() -> ScenarioStudy:
    config = load_config(DEFAULT_CONFIG)
    data = load_program(SAMPLE, config, with_claims=True, with_quality=True)
    performance = performance_year(data, config, 2026, with_ccf=True)
    plan = load_scenarios(EXAMPLE, config)
    return study(performance, plan, draws=40, seed=7, facts={"program": config.program.name})


@pytest.fixture(scope="session")
def many_study(tmp_path_factory: pytest.TempPathFactory) -> ScenarioStudy:
    """50 practices of about 50 members, 46 scenarios, no [sensitivity], 20 draws."""
    folder: Path = tmp_path_factory.mktemp("many") / "data"
    write_program(generate_program(2500, seed=3, members_per_practice=50), folder)
    config = make_config()
    data = load_program(folder, config, with_claims=True, with_quality=True)
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
    assert len(plan.scenarios) == 46 and len(performance.practices) == 50
    return study(performance, plan, draws=20, seed=1)
