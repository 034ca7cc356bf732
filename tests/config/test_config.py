"""Config validation: every shipped config loads; mistakes fail at load with the key's path."""

from __future__ import annotations

import pytest
from helpers import CONFIGS, make_config

from totalcare_payments.config import load_config
from totalcare_payments.errors import ConfigError


@pytest.mark.parametrize(
    "path",
    sorted(p for p in CONFIGS.glob("*.toml") if not p.name.startswith("scenarios")),
    ids=lambda p: p.name,
)
def test_shipped_configs_load(path):
    config = load_config(path)
    assert config.program.name


def _error(changes: dict) -> str:
    with pytest.raises(ConfigError) as info:
        make_config(changes)
    return str(info.value)


def test_unknown_key_names_its_path():
    assert "settlement.msr.rates: unknown key" in _error({"settlement": {"msr": {"rates": 0.02}}})


def test_wrong_type_names_its_path():
    assert "settlement.annual_trend" in _error({"settlement": {"annual_trend": "four percent"}})


def test_negative_fee_is_rejected():
    text = _error({"ccf": {"bands": [{"min_avg_risk": 0.0, "pmpm": -1.0}]}})
    assert "ccf.bands.0.pmpm" in text and "greater than or equal to 0" in text


def test_bands_out_of_order_are_rejected():
    bands = [
        {"min_avg_risk": 0.0, "pmpm": 2.0},
        {"min_avg_risk": 1.2, "pmpm": 3.0},
        {"min_avg_risk": 1.0, "pmpm": 4.0},
    ]
    assert "bands are out of order" in _error({"ccf": {"bands": bands}})


def test_sharing_rates_that_could_pass_the_cap_are_rejected():
    text = _error({"settlement": {"sharing": {"quality_share_rate": {"Advanced": 0.30}}}})
    assert "tier 'Advanced' could earn a share_rate of 0.5500" in text
    assert "max_share_rate 0.5" in text


def test_rate_model_needs_its_section():
    assert "[ccf.linear] is missing" in _error({"ccf": {"rate_model": "linear"}})


def test_member_tiers_need_one_fee_per_tier():
    text = _error(
        {
            "ccf": {
                "rate_model": "member_tiers",
                "member_tiers": {"quantiles": [0.5], "pmpm": [1.0, 2.0, 3.0]},
            }
        }
    )
    assert "pmpm needs one fee per tier" in text


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[program\nname = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_tier_keyed_loss_limits_must_name_program_tiers():
    losses = {"enabled": True, "loss_limit_by_tier": {"Platinum": 0.01}}
    with pytest.raises(ConfigError, match=r"settlement\.losses\.loss_limit_by_tier"):
        make_config({"settlement": {"losses": losses}})
    losses = {"enabled": True, "revenue_loss_limit_by_tier": {"Platinum": 0.02}}
    with pytest.raises(ConfigError, match="revenue_loss_limit_by_tier"):
        make_config({"settlement": {"losses": losses}})


def test_msr_choice_needs_its_choices_and_a_table():
    with pytest.raises(ConfigError, match="choices"):
        make_config({"settlement": {"msr": {"kind": "choice"}}})
    with pytest.raises(ConfigError, match="needs"):
        make_config({"settlement": {"msr": {"kind": "choice", "choices": [0.01], "table": None}}})


def test_new_terms_reject_impossible_values():
    for changes in (
        {"termination": {"losses_waived_through_month": 13}},
        {"losses": {"relief_share": 1.5}},
        {"sharing": {"below_msr_share": -0.1}},
        {"quality": {"standard_sharing": "maximum"}},
    ):
        with pytest.raises(ConfigError):
            make_config({"settlement": changes})


def test_segment_terms_are_checked_at_load():
    assert "lists ['esrd'] more than once" in _error(
        {"program": {"segments": ["esrd", "aged", "esrd"]}}
    )
    assert "segment name is empty" in _error({"program": {"segments": ["esrd", " "]}})
    listed = {"program": {"segments": ["aged", "esrd"]}}
    text = _error({**listed, "settlement": {"annual_trend_by_segment": {"ESRD": 0.05}}})
    assert "settlement.annual_trend_by_segment names segments ['ESRD']" in text
    text = _error({**listed, "budget": {"trend_factors_by_segment": {"dual": {"2024": 1.1}}}})
    assert "budget.trend_factors_by_segment names segments ['dual']" in text
    assert "settlement.annual_trend_by_segment.esrd" in _error(
        {"settlement": {"annual_trend_by_segment": {"esrd": 2.0}}}
    )
    # without a list, any segment may have its own trend
    config = make_config({"settlement": {"annual_trend_by_segment": {"esrd": 0.06}}})
    assert config.require_settlement().annual_trend_by_segment == {"esrd": 0.06}
