"""What-if scenarios: the base reproduces the settlement to the cent, grids and overrides
validate, summaries are checked by hand, the tornado sorts by swing, the bootstrap is
seeded and settles through the same waterfall, and the command runs end to end."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from helpers import DEFAULT_CONFIG, MONTHS_2026, ROOT, SAMPLE, attribution_rows, make_config
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from totalcare_payments.cli.scenarios import scenarios as scenarios_command
from totalcare_payments.config import load_config
from totalcare_payments.errors import ConfigError
from totalcare_payments.program import load_program, program_from_frames
from totalcare_payments.savings import year as performance_year_module
from totalcare_payments.savings.waterfall import SETTLEMENT_COLUMNS
from totalcare_payments.savings.year import compute_settlement, performance_year
from totalcare_payments.scenarios import bootstrap as scenario_bootstrap
from totalcare_payments.scenarios import settle as scenario_settle
from totalcare_payments.scenarios.bootstrap import bootstrap_chance
from totalcare_payments.scenarios.plan import BASE, parse_scenarios, with_overrides
from totalcare_payments.scenarios.settle import run_scenarios, tornado

EXAMPLE = ROOT / "examples" / "scenarios_example.toml"
DOC = ROOT / "docs" / "scenarios.md"


# --- a program small enough to settle by hand ------------------------------------------
# Terms: the default config with trend factor 1 (baseline_year = the year), completion 1.0,
# a fixed MSR of 2%, payment limit 10%, share = 0.25 + 0.25 x quality_score, gate on.
# Every score is 1.0, so risk_ratio = 1 and the CCF band is $5.00 (Developing x 0.90 = $4.50).
TINY_TERMS = {
    "settlement": {
        "baseline_year": 2026,
        "completion_factor": 1.0,
        "payment_limit": 0.10,
        "msr": {"kind": "fixed", "rate": 0.02, "table": None},
    }
}
TINY_PRACTICES = pd.DataFrame(
    {
        "practice_id": ["A", "B", "C"],
        "practice_name": ["Alpha", "Beta", "Gamma"],
        "tier": ["Established", "Developing", "Established"],
        "baseline_pmpm": [500.0, 500.0, 500.0],
        "baseline_risk": [1.0, 1.0, 1.0],
    }
)
TINY_ATTRIBUTION = pd.DataFrame(
    attribution_rows("a1", "A", MONTHS_2026)
    + attribution_rows("a2", "A", MONTHS_2026)
    + attribution_rows("b1", "B", MONTHS_2026)
    + attribution_rows("c1", "C", MONTHS_2026)
)
TINY_SCORES = pd.DataFrame({"member_id": ["a1", "a2", "b1", "c1"], "mara_px_total": [1.0] * 4})
TINY_CLAIMS = pd.DataFrame(
    [
        ("k1", "a1", "2026-02-10", 3000.00),
        ("k2", "a2", "2026-05-10", 6000.00),
        ("k3", "b1", "2026-03-10", 5940.00),
        ("k4", "c1", "2026-07-10", 7000.00),
    ],
    columns=["claim_id", "member_id", "claim_start_date", "paid_amount"],
)
TINY_QUALITY = pd.DataFrame(
    {
        "practice_id": ["A", "B", "C"],
        "year": [2026] * 3,
        "quality_score": [0.8, 0.6, 0.5],
        "met_quality_gate": [True, True, True],
    }
)


@pytest.fixture(scope="module")
def tiny():
    config = make_config(TINY_TERMS)
    data = program_from_frames(
        config, TINY_PRACTICES, TINY_ATTRIBUTION, TINY_SCORES, TINY_CLAIMS, TINY_QUALITY
    )
    return config, performance_year(data, config, 2026, with_ccf=True)


@pytest.fixture(scope="module")
def sample():
    config = load_config(DEFAULT_CONFIG)
    data = load_program(SAMPLE, config, with_claims=True, with_quality=True)
    return config, performance_year(data, config, 2026, with_ccf=True)


def _plan(spec: dict, config):
    return parse_scenarios(spec, config, source="test.toml")


# --- the base reproduces the settlement ---------------------------------------------------


def test_base_scenario_reproduces_compute_settlement_to_the_cent(sample):
    config, performance = sample
    plan = _plan({"scenario": [{"name": "trend 5%", "settlement": {"annual_trend": 0.05}}]}, config)
    result = run_scenarios(performance, config, plan.scenarios)
    expected = compute_settlement(
        load_program(SAMPLE, config, with_claims=True, with_quality=True), config, 2026
    ).practices
    base = result.practices[result.practices["scenario"] == BASE].drop(columns="scenario")
    # every column, every value, every dtype
    pd.testing.assert_frame_equal(base.reset_index(drop=True), expected)
    pd.testing.assert_frame_equal(result.base, expected)
    assert list(result.practices.columns) == ["scenario", *SETTLEMENT_COLUMNS]
    summary = result.summary.set_index("scenario")
    assert summary.loc[BASE, "total_paid_cents"] == expected["final_payment_cents"].clip(0).sum()
    assert summary.loc[BASE, "paid_vs_base_cents"] == 0


def test_scenarios_settle_in_one_pass_of_the_settlement_engine(sample, monkeypatch):
    config, performance = sample
    calls = []
    real = scenario_settle.settle_year

    def spy(year, configs):
        calls.append(len(configs))
        return real(year, configs)

    monkeypatch.setattr(scenario_settle, "settle_year", spy)
    plan = _plan({"grid": {"settlement.annual_trend": [0.03, 0.04, 0.05]}}, config)
    run_scenarios(performance, config, plan.scenarios)
    assert calls == [1 + len(plan.scenarios)]  # the base and every scenario, one call


def test_a_scenario_settles_as_its_own_config_would(sample):
    config, performance = sample
    plan = _plan(
        {
            "scenario": [
                {"name": "p99", "settlement.stop_loss": {"kind": "percentile", "percentile": 0.99}}
            ]
        },
        config,
    )
    result = run_scenarios(performance, config, plan.scenarios)
    alone = compute_settlement(
        load_program(SAMPLE, config, with_claims=True, with_quality=True),
        plan.scenarios[1].config,
        2026,
    ).practices
    got = result.practices[result.practices["scenario"] == "p99"].drop(columns="scenario")
    pd.testing.assert_frame_equal(got.reset_index(drop=True), alone)


# --- summary figures by hand --------------------------------------------------------------


def test_summary_figures_by_hand(tiny):
    config, performance = tiny
    plan = _plan(
        {
            "scenario": [
                {
                    "name": "sharing 30%",
                    "settlement": {
                        "sharing": {
                            "savings_share_rate": {"Established": 0.15, "Developing": 0.15},
                            "quality_share_rate": {"Established": 0.15, "Developing": 0.15},
                        }
                    },
                },
                {"name": "MSR 0.5%", "settlement.msr.rate": 0.005},
            ]
        },
        config,
    )
    result = run_scenarios(performance, config, plan.scenarios)
    s = result.summary.set_index("scenario")
    # A: 24 member months x $500 = $12,000 budget; claims $3,000 + $6,000 = $9,000;
    #    savings $3,000 = 25% >= 2%; share 0.25 + 0.25 x 0.8 = 0.45: $1,350, limited to
    #    10% x $12,000 = $1,200 (CAPPED).
    # B: 12 x $500 = $6,000; claims $5,940; savings $60 = 1% < 2%: BELOW_MSR, $0.
    # C: $6,000 budget; claims $7,000: NO_SAVINGS, $0.
    # CCF paid: A 24 x $5.00 = $120; B 12 x $4.50 = $54; C 12 x $5.00 = $60: $234.
    base = s.loc[BASE]
    assert base["budget_cents"] == 2_400_000  # $24,000
    assert base["actual_cost_cents"] == 2_194_000  # $9,000 + $5,940 + $7,000
    assert base["savings_cents"] == 206_000  # $2,060
    assert base["total_paid_cents"] == 120_000
    assert base["practices_paid"] == 1
    assert base["ccf_paid_cents"] == 23_400
    # budget 24,000 - incurred 21,940 - paid 1,200 - CCF 234 = $626
    assert base["payer_net_savings_cents"] == 62_600
    assert base["mean_payment_cents"] == 40_000  # (1,200 + 0 + 0) / 3
    # std over the 3 practices (ddof 0): sqrt((800^2 + 400^2 + 400^2) / 3) = $565.685...
    assert base["std_payment_cents"] == 56_569
    assert (base["min_payment_cents"], base["max_payment_cents"]) == (0, 120_000)
    assert base["incurred_cost_cents"] == 2_194_000  # nothing truncated, completion 1.0
    # sharing 30%: A's share 0.15 + 0.15 x 0.8 = 0.27: $3,000 x 0.27 = $810, under the limit
    assert s.loc["sharing 30%", "total_paid_cents"] == 81_000
    assert s.loc["sharing 30%", "paid_vs_base_cents"] == -39_000
    assert s.loc["sharing 30%", "payer_net_savings_cents"] == 101_600  # 2,060 - 810 - 234
    # MSR 0.5%: B's 1% now passes: share 0.25 + 0.25 x 0.6 = 0.40: $60 x 0.40 = $24
    assert s.loc["MSR 0.5%", "total_paid_cents"] == 122_400
    assert s.loc["MSR 0.5%", "practices_paid"] == 2
    rows = result.practices.set_index(["scenario", "practice_id"])
    assert rows.loc[(BASE, "A"), "reason"] == "CAPPED"
    assert rows.loc[("MSR 0.5%", "B"), "final_payment_cents"] == 2_400


TINY_SHARES = st.floats(0.0, 0.5, allow_nan=False)


@settings(max_examples=25, deadline=None)
@given(
    savings_share=TINY_SHARES,
    quality_part=st.floats(0.0, 1.0),
    msr=st.floats(0.0, 0.1),
    limit=st.floats(0.0, 1.0),
    trend=st.floats(-0.1, 0.3),
    net=st.booleans(),
)
def test_total_paid_never_exceeds_max_share_of_positive_savings(
    tiny, savings_share, quality_part, msr, limit, trend, net
):
    config, performance = tiny
    quality_share = (0.5 - savings_share) * quality_part
    rates = {t: savings_share for t in ("Developing", "Established", "Advanced")}
    quality = {t: quality_share for t in ("Developing", "Established", "Advanced")}
    plan = _plan(
        {
            "base": False,
            "scenario": [
                {
                    "name": "random",
                    "settlement": {
                        "sharing": {"savings_share_rate": rates, "quality_share_rate": quality},
                        "msr": {"rate": msr, "sharing": "net" if net else "first_dollar"},
                        "payment_limit": limit,
                        "baseline_year": 2025,
                        "annual_trend": trend,
                    },
                }
            ],
        },
        config,
    )
    result = run_scenarios(performance, config, plan.scenarios)
    positive = result.practices["savings_cents"].clip(lower=0).sum()
    paid = result.summary["total_paid_cents"].iloc[0]
    # each practice's payment is rounded to the cent: at most half a cent each over
    assert paid <= config.program.max_share_rate * positive + 0.5 * len(result.practices)


# --- reading scenario files ---------------------------------------------------------------


def test_grid_expands_to_every_combination_named_from_its_values(tiny):
    config, _ = tiny
    spec = tomllib.loads(
        """
        [grid]
        "settlement.annual_trend" = [0.04, 0.05]
        settlement.msr.rate = [0.02, 0.03, 0.04]
        """
    )
    plan = _plan(spec, config)
    names = [s.name for s in plan.scenarios]
    assert names[0] == BASE and len(names) == 1 + 2 * 3
    assert names[1:3] == ["annual_trend=0.04, msr.rate=0.02", "annual_trend=0.04, msr.rate=0.03"]
    last = plan.scenarios[-1]
    assert last.name == "annual_trend=0.05, msr.rate=0.04"
    assert last.config.settlement.annual_trend == 0.05
    assert last.config.settlement.msr.rate == 0.04
    # everything else is the base's
    assert last.config.settlement.payment_limit == config.settlement.payment_limit
    assert last.overrides == {"settlement.annual_trend": 0.05, "settlement.msr.rate": 0.04}


def test_grid_values_may_be_tables_merged_into_the_base(tiny):
    config, _ = tiny
    spec = tomllib.loads(
        """
        base = false
        [grid]
        "settlement.stop_loss" = [{kind = "percentile", percentile = 0.99}, {kind = "none"}]
        """
    )
    plan = _plan(spec, config)
    assert [s.name for s in plan.scenarios] == [
        "stop_loss={kind=percentile,percentile=0.99}",
        "stop_loss={kind=none}",
    ]
    assert plan.scenarios[0].config.settlement.stop_loss.percentile == 0.99


def test_the_example_file_is_valid_and_names_its_scenarios():
    config = load_config(DEFAULT_CONFIG)
    plan = parse_scenarios(tomllib.loads(EXAMPLE.read_text()), config)
    names = [s.name for s in plan.scenarios]
    for expected in (
        "sharing 40%",
        "MSR 3%",
        "trend 5%",
        "truncation at 99th percentile",
        "stricter quality gate",
    ):
        assert expected in names
    forty = plan.scenarios[names.index("sharing 40%")].config
    assert config.share_rate_ceiling("Advanced") == 0.5
    assert forty.share_rate_ceiling("Advanced") == pytest.approx(0.4)
    assert len(plan.sensitivity) >= 4


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (  # a misspelt key: the scenario and the key path
            '[[scenario]]\nname = "typo"\nsettlement.msr.rat = 0.03',
            r"scenario 'typo'.*\n.*settlement\.msr\.rat: unknown key",
        ),
        (  # an impossible value
            '[[scenario]]\nname = "too high"\nsettlement.msr.rate = 1.5',
            r"scenario 'too high'.*\n.*settlement\.msr\.rate: .*less than or equal to 1",
        ),
        (  # terms that could pass the program's cap
            '[[scenario]]\nname = "greedy"\n'
            "settlement.sharing.savings_share_rate = { Advanced = 0.4 }",
            r"scenario 'greedy'.*max_share_rate",
        ),
        (  # member-level work is shared: a scenario may not change the CCF
            '[[scenario]]\nname = "fees"\nccf.rate_model = "linear"',
            r"scenario 'fees'.*'ccf\.rate_model' cannot be changed",
        ),
        ("[[scenario]]\nsettlement.annual_trend = 0.05", r"scenario #1 needs a name"),
        ('[[scenario]]\nname = "base"', r"two scenarios are named 'base'"),
        ('[[scenario]]\nname = "assigned"\nsettlement.msr.kind = "assigned"', r"practice summary"),
        (
            '[grid]\n"settlement.annual_trend" = 0.05',
            r"grid\.settlement\.annual_trend: give a list",
        ),
        ('[grid]\n"settlement.annual_trend.x" = [1]', r"annual_trend is a value, not a table"),
        ('[grid]\n"settlement.msr.rate" = [2.0]', r"msr\.rate=2.*\n.*settlement\.msr\.rate"),
        ('[sensitivity]\n"settlement.annual_trend" = [0.01, 0.02, 0.03]', r"give \[low, high\]"),
        (
            '[sensitivity]\n"program.max_share_rate" = [0.3, 0.5]',
            r"program\.max_share_rate low.*\n.*max_share_rate",
        ),
        ("[scenarios]\n", r"unknown top-level keys \['scenarios'\]"),
        ("[grid]\n", r"\[grid\] is empty"),
        ("base = false", r"no scenarios"),
    ],
)
def test_bad_scenario_files_name_the_scenario_and_key(tiny, toml, message):
    config, _ = tiny
    with pytest.raises(ConfigError) as err:
        _plan(tomllib.loads(toml), config)
    assert re.search(message, str(err.value), re.S), str(err.value)
    assert str(err.value).startswith("test.toml")


def test_overrides_merge_tables_and_replace_values(tiny):
    config, _ = tiny
    changed = with_overrides(
        config, {"settlement.stop_loss": {"kind": "percentile", "percentile": 0.95}}
    )
    assert changed.settlement.stop_loss.kind == "percentile"
    assert changed.settlement.stop_loss.amount == config.settlement.stop_loss.amount
    assert with_overrides(config, {}) == config


# --- tornado ------------------------------------------------------------------------------


def test_tornado_sorts_parameters_by_swing(tiny):
    config, performance = tiny
    plan = _plan(
        {
            "sensitivity": {
                "settlement.stop_loss.amount": [50000.0, 200000.0],  # no member near: $0
                "settlement.payment_limit": [0.05, 0.20],  # A: $600 .. $1,350: $750
                "settlement.msr.rate": [0.005, 0.05],  # B's $24 in at 0.5%: $1,224 .. $1,200
            }
        },
        config,
    )
    table = tornado(performance, config, plan.sensitivity)
    assert list(table["parameter"]) == [
        "settlement.payment_limit",
        "settlement.msr.rate",
        "settlement.stop_loss.amount",
    ]
    assert list(table["swing_cents"]) == [75_000, 2_400, 0]
    first = table.iloc[0]
    assert (first["total_paid_low_cents"], first["total_paid_high_cents"]) == (60_000, 135_000)
    assert first["base_total_paid_cents"] == 120_000
    assert (first["change_low_cents"], first["change_high_cents"]) == (-60_000, 15_000)
    assert first["base_value"] == "0.1"
    assert tornado(performance, config, []).empty


# --- chance (bootstrap) -------------------------------------------------------------------


def test_bootstrap_is_seeded_and_its_probabilities_are_probabilities(sample):
    config, performance = sample
    one = bootstrap_chance(performance, config, draws=40, seed=3)
    two = bootstrap_chance(performance, config, draws=40, seed=3)
    other = bootstrap_chance(performance, config, draws=40, seed=4)
    pd.testing.assert_frame_equal(one.practices, two.practices)
    np.testing.assert_array_equal(one.payments_cents, two.payments_cents)
    assert not np.array_equal(one.payments_cents, other.payments_cents)
    assert one.payments_cents.shape == (40, len(one.practices))
    for column in ("p_pass_msr_if_no_savings", "p_meets_msr", "p_paid"):
        values = one.practices[column].to_numpy()
        assert ((values >= 0) & (values <= 1)).all()
    t = one.practices
    assert (t["payment_p5_cents"] <= t["payment_p50_cents"]).all()
    assert (t["payment_p50_cents"] <= t["payment_p95_cents"]).all()
    # chunking the draws does not change them
    small = bootstrap_chance(performance, config, draws=40, seed=3, cells_per_chunk=1000)
    np.testing.assert_array_equal(small.payments_cents, one.payments_cents)


def test_bootstrap_settles_draws_through_the_settlement_waterfall(sample, monkeypatch):
    config, performance = sample
    calls = []
    real = scenario_bootstrap.settle_rows

    def spy(rows, t):
        calls.append(len(rows))
        return real(rows, t)

    monkeypatch.setattr(scenario_bootstrap, "settle_rows", spy)
    monkeypatch.setattr(performance_year_module, "settle_rows", spy)
    bootstrap_chance(performance, config, draws=10, seed=1)
    n = len(performance.practices)
    # the actual settlement, then each draw under the actual budget and at zero savings
    assert calls == [n, 10 * n, 10 * n]


def _identical_program():
    """A: 4 members, $1,000 each; B: 3 members, $1,000 each; D: one member."""
    practices = pd.DataFrame(
        {
            "practice_id": ["A", "B", "D"],
            "practice_name": ["A", "B", "D"],
            "tier": ["Established"] * 3,
            "baseline_pmpm": [100.0, 84.0, 100.0],
            "baseline_risk": [1.0] * 3,
        }
    )
    members = {"A": ["a1", "a2", "a3", "a4"], "B": ["b1", "b2", "b3"], "D": ["d1"]}
    attribution = pd.DataFrame(
        [
            row
            for p, ms in members.items()
            for m in ms
            for row in attribution_rows(m, p, MONTHS_2026)
        ]
    )
    everyone = [m for ms in members.values() for m in ms]
    scores = pd.DataFrame({"member_id": everyone, "mara_px_total": [1.0] * len(everyone)})
    claims = pd.DataFrame(
        {
            "claim_id": [f"k{i}" for i in range(len(everyone))],
            "member_id": everyone,
            "claim_start_date": ["2026-01-15"] * len(everyone),
            "paid_amount": [1000.0] * 7 + [950.0],
        }
    )
    quality = pd.DataFrame(
        {
            "practice_id": ["A", "B", "D"],
            "year": [2026] * 3,
            "quality_score": [1.0] * 3,
            "met_quality_gate": [True] * 3,
        }
    )
    config = make_config(TINY_TERMS)
    data = program_from_frames(config, practices, attribution, scores, claims, quality)
    return config, performance_year(data, config, 2026, with_ccf=True)


def test_bootstrap_of_identical_members_is_certain():
    config, performance = _identical_program()
    chance = bootstrap_chance(performance, config, draws=50, seed=11)
    t = chance.practices.set_index("practice_id")
    # with every member alike, every draw costs exactly the expected cost: savings are 0,
    # never > 0, so noise never passes the MSR
    assert (t["p_pass_msr_if_no_savings"] == 0.0).all()
    assert (t["savings_rate_sd_if_no_savings"] == 0.0).all()
    # A: budget 48 x $100 = $4,800, cost $4,000: 16.7% >= 2%, so every draw meets the MSR
    # B: budget 36 x $84 = $3,024, cost $3,000: 0.79% < 2%, so none does
    assert t.loc["A", "p_meets_msr"] == 1.0 and t.loc["A", "p_paid"] == 1.0
    assert t.loc["B", "p_meets_msr"] == 0.0 and t.loc["B", "p_paid"] == 0.0
    # and each draw pays what the settlement pays: $800 x 0.5 = $400, under the $480 limit
    for practice in ("A", "B", "D"):
        row = t.loc[practice]
        assert row["payment_p5_cents"] == row["payment_p95_cents"] == row["final_payment_cents"]
    assert t.loc["A", "final_payment_cents"] == 40_000
    # D has one member: every draw is the practice itself, settled to the same cent
    d = list(chance.practices["practice_id"]).index("D")
    assert (chance.payments_cents[:, d] == t.loc["D", "final_payment_cents"]).all()


# --- the command --------------------------------------------------------------------------


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:  # a group, so that the command keeps its name
        """totalcare"""

    app.command()(scenarios_command)
    return app


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("sample_data", "examples"):
        (tmp_path / name).symlink_to(ROOT / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.slow
def test_command_writes_tables_report_workbook_and_manifest(workdir):
    args = [
        "scenarios", "--year", "2026", "--grid", "examples/scenarios_example.toml",
        "--data", "sample_data", "--out", "out/sc", "--draws", "30",
        "--report", "out/sc/report.html", "--xlsx", "out/sc.xlsx",
    ]  # fmt: skip
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code == 0, result.output
    out = workdir / "out" / "sc"
    for name in (
        "scenario_practices.csv", "scenario_practices.parquet", "scenario_summary.csv",
        "scenario_summary.parquet", "tornado.csv", "chance.csv", "rejects.csv",
        "manifest.json", "report.html",
    ):  # fmt: skip
        assert (out / name).is_file(), name
    assert (workdir / "out" / "sc.xlsx").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["job"] == "scenarios" and manifest["year"] == 2026
    assert manifest["chance"] == {"draws": 30, "seed": 7}
    assert "report.html" in manifest["outputs"]
    summary = pd.read_csv(out / "scenario_summary.csv")
    assert manifest["outputs"]["scenario_summary.csv"]["rows"] == len(summary)
    assert summary["scenario"].iloc[0] == "base"
    assert "sharing 40%" in result.output and "Sensitivity" in result.output
    practices = pd.read_csv(out / "scenario_practices.csv", dtype=str)
    settled = compute_settlement(
        load_program(SAMPLE, make_config(), with_claims=True, with_quality=True),
        make_config(),
        2026,
    ).practices
    base = practices[practices["scenario"] == "base"]
    assert list(base["final_payment"]) == [f"{c / 100:.2f}" for c in settled["final_payment_cents"]]
    # a finalized output is not replaced without --force; with it, it is
    again = CliRunner().invoke(_app(), args)
    assert again.exit_code == 4 and "Traceback" not in again.output
    forced = CliRunner().invoke(_app(), [*args, "--force"])
    assert forced.exit_code == 0, forced.output


def test_command_reports_a_bad_scenario_file_without_a_traceback(workdir):
    (workdir / "bad.toml").write_text('[[scenario]]\nname = "x"\nsettlement.msr.rat = 0.1\n')
    result = CliRunner().invoke(
        _app(),
        ["scenarios", "--year", "2026", "--grid", "bad.toml", "--data", "sample_data"],
    )
    assert result.exit_code == 3
    assert "settlement.msr.rat" in result.output and "Traceback" not in result.output
    missing = CliRunner().invoke(
        _app(), ["scenarios", "--year", "2026", "--grid", "nope.toml", "--data", "sample_data"]
    )
    assert missing.exit_code == 3 and "scenario file not found" in missing.output


DOC_EXAMPLES = re.findall(r"^\$ totalcare (scenarios .+)$", DOC.read_text(), re.M)


def test_docs_have_a_scenarios_example():
    assert DOC_EXAMPLES


@pytest.mark.parametrize("example", DOC_EXAMPLES)
def test_docs_example_runs_and_prints_what_the_docs_show(example: str, workdir: Path):
    args = shlex.split(example)
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code == 0, result.output
    for flag in ("--report", "--xlsx", "--out"):
        if flag in args:
            assert Path(args[args.index(flag) + 1]).exists()
    shown = re.search(r"<!-- scenarios-output -->\n```text\n(.*?)```", DOC.read_text(), re.S)
    if shown and example == DOC_EXAMPLES[0]:
        lines = shown.group(1).strip().splitlines()
        assert len(lines) > 5
        for line in lines:
            assert line in result.output, f"docs/scenarios.md shows a line not printed: {line}"
