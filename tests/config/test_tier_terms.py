"""Every tier of ``program.tiers`` has every per-tier term written out, or the config fails.

A tier left out of ``ccf.tier_multipliers`` was paid a multiplier of 1.0, and one left out
of ``settlement.sharing``'s rates a share of 0%, silently. Now it is a config error (exit
3) naming the key and the tier; the shipped presets write every value out and pay what
they paid before.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import SAMPLE, make_config, write_config
from typer.testing import CliRunner

from totalcare_payments.ccf import compute_ccf
from totalcare_payments.cli.app import app
from totalcare_payments.config import preset, preset_names
from totalcare_payments.errors import ConfigError
from totalcare_payments.periods import parse_month_range
from totalcare_payments.program import load_program

PER_TIER = [
    ("ccf", "tier_multipliers"),
    ("settlement.sharing", "savings_share_rate"),
    ("settlement.sharing", "quality_share_rate"),
]


def _without(section: str, key: str, tier: str) -> dict:
    """``make_config`` changes deleting one tier's value of a per-tier term."""
    change: dict = {key: {tier: None}}
    for part in reversed(section.split(".")):
        change = {part: change}
    return change


@pytest.mark.parametrize(("section", "key"), PER_TIER)
@pytest.mark.parametrize("tier", ["Developing", "Advanced"])
def test_a_tier_without_its_term_is_a_config_error(section: str, key: str, tier: str) -> None:
    with pytest.raises(ConfigError) as failure:
        make_config(_without(section, key, tier))
    message = str(failure.value)
    assert f"{section}.{key} has no value for tier(s) '{tier}'" in message
    assert "every tier of program.tiers ['Developing', 'Established', 'Advanced']" in message


def test_every_missing_tier_is_named() -> None:
    changes = {"ccf": {"tier_multipliers": {"Developing": None, "Advanced": None}}}
    with pytest.raises(ConfigError, match=r"tier\(s\) 'Developing', 'Advanced'"):
        make_config(changes)


def test_a_tier_without_its_term_stops_the_command_with_exit_3(tmp_path: Path) -> None:
    config = tmp_path / "program.toml"
    text = (SAMPLE.parent / "totalcare_payments/presets/bluekc_medical_home.toml").read_text()
    config.write_text(text.replace("Advanced = 1.20\n", "", 1))
    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data)
    args = ["ccf", "--month", "2026-03", "--data", str(data), "--config", str(config)]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 3, result.output
    flat = " ".join(result.output.split())
    assert "Bad config (exit 3)" in flat
    assert "ccf.tier_multipliers has no value for tier(s) 'Advanced'" in flat
    assert not (tmp_path / "out").exists()


def test_overrides_by_tier_stay_optional() -> None:
    config = make_config({"settlement": {"losses": {"loss_limit_by_tier": {"Advanced": 0.05}}}})
    assert config.settlement is not None
    assert config.settlement.losses.loss_limit_by_tier == {"Advanced": 0.05}


def test_a_program_without_ccf_or_settlement_needs_none_of_their_terms() -> None:
    config = make_config({"ccf": None})
    assert config.ccf is None
    config = make_config({"settlement": None})
    assert config.settlement is None


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_writes_every_tier_out(name: str) -> None:
    config = preset(name)
    for tier in config.program.tiers:
        if config.ccf is not None:
            assert tier in config.ccf.tier_multipliers
        if config.settlement is not None:
            assert tier in config.settlement.sharing.savings_share_rate
            assert tier in config.settlement.sharing.quality_share_rate


@pytest.mark.parametrize("name", ["bluekc_medical_home", "cpc_plus_track1"])
def test_configs_written_by_the_tests_still_load(name: str, tmp_path: Path) -> None:
    """The presets the command-line tests write out as TOML (``helpers.write_config``,
    which writes tier names as bare keys: the Medicare presets' have spaces)."""
    from totalcare_payments.config import load_config

    path = write_config(tmp_path, preset(name))
    assert load_config(path).model_dump() == preset(name).model_dump()


def test_cpc_plus_pays_what_it_paid_with_the_silent_multiplier() -> None:
    """The preset now writes 1.00 for every tier: the fees are those of the old implicit
    default (a config built without the check, tier_multipliers empty)."""
    config = preset("cpc_plus_track1")
    assert config.ccf is not None
    assert config.ccf.tier_multipliers == dict.fromkeys(config.program.tiers, 1.0)
    implicit = config.model_copy(
        update={"ccf": config.ccf.model_copy(update={"tier_multipliers": {}})}
    )
    months = parse_month_range("2026-01..2026-12")
    program = load_program(SAMPLE, config)
    written = compute_ccf(program, config, months).lines
    silent = compute_ccf(load_program(SAMPLE, implicit), implicit, months).lines
    assert written.equals(silent)
    assert int(written["ccf_amount_cents"].sum()) > 0
