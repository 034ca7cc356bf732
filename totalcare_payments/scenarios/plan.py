"""What-if scenarios: one performance year re-settled under many sets of terms at once.

Before a program's terms are signed, and before each year's settlement, actuaries ask
"what if": a 40% instead of a 50% sharing rate, an MSR of 3% instead of 2%, a trend of
5% not 4%, truncation at $100k or at the 99th percentile, a stricter quality gate.

A **scenario** is the base config with some settlement terms changed (its
``overrides``: dotted config paths such as ``msr.rate`` and their values).
The member-level work of the year (attribution, member-month risk, each member-month's
claims, quality, the CCF paid) is done once by ``performance_year``; every
scenario is then settled from those practice-level aggregates in ONE vectorized pass of
the settlement engine's own waterfall (``settle_year``), so a scenario equal
to the base config reproduces ``totalcare settle`` to the cent. Only the stop-loss
truncation goes back to member level, once per distinct stop-loss.

A scenario file (TOML) holds any of:

- ``[[scenario]]`` tables: a ``name``, an optional ``description``, and the terms it
  changes, as dotted keys (``msr.rate = 0.03``) or nested tables;
- a ``[grid]`` table: dotted config paths, each with a list of values; every
  combination is a scenario, named from its values (``annual_trend=0.05, msr.rate=0.03``);
- a ``[sensitivity]`` table: dotted config paths, each with ``[low, high]``; one
  parameter at a time is moved to its low and its high value around the base, and the
  effect on total payout is reported as a tornado table;
- ``base = false`` to leave out the scenario named ``base`` (the config unchanged),
  which otherwise comes first.

Scenarios may change the ``settlement`` terms and ``program.max_share_rate``: the rest
of the config (risk scores, CCF) is member-level work that all scenarios share.
"""

from __future__ import annotations

import itertools
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..config import ProgramConfig, parse_config
from ..errors import ConfigError
from .bootstrap import Chance

#: The name of the scenario that is the config unchanged.
BASE = "base"
#: What a scenario may change: the settlement terms and the program's cap on the share.
OVERRIDABLE = ("settlement.", "program.max_share_rate")
#: Most scenarios one file may expand to (a grid multiplies quickly).
MAX_SCENARIOS = 100_000
_FILE_KEYS = ("base", "scenario", "grid", "sensitivity")
_SCENARIO_KEYS = ("name", "description")

SUMMARY_COLUMNS = [
    "scenario",
    "practices",
    "practices_paid",
    "practices_billed",
    "member_months",
    "budget_cents",
    "actual_cost_cents",
    "savings_cents",
    "total_paid_cents",
    "shared_loss_cents",
    "net_payment_cents",
    "incurred_cost_cents",
    "ccf_paid_cents",
    "payer_net_savings_cents",
    "paid_vs_base_cents",
    "mean_payment_cents",
    "std_payment_cents",
    "min_payment_cents",
    "max_payment_cents",
    "stop_loss_threshold",
    "overrides",
]


@dataclass(frozen=True)
class Scenario:
    """One set of terms: its name, what it changes in the base config, and the whole config.

    ``overrides`` maps dotted config paths (``msr.rate``) to their values.
    """

    name: str
    overrides: dict[str, Any]
    config: ProgramConfig
    description: str = ""

    def describe(self) -> str:
        """The overrides as one line of text: ``msr.rate=0.03; ...``."""
        return "; ".join(f"{path}={format_value(v)}" for path, v in self.overrides.items())


@dataclass(frozen=True)
class Sensitivity:
    """One parameter of a tornado: its dotted path and the configs at its low and high value."""

    parameter: str
    low: Any
    high: Any
    base_value: Any
    low_config: ProgramConfig
    high_config: ProgramConfig


@dataclass(frozen=True)
class ScenarioPlan:
    """What a scenario file asks for: the scenarios to settle and the tornado's parameters."""

    base: ProgramConfig
    scenarios: list[Scenario]
    sensitivity: list[Sensitivity] = field(default_factory=list)
    source: str = "scenarios"


@dataclass(frozen=True)
class ScenarioResult:
    """Every scenario settled: one row per scenario and practice, and one per scenario.

    ``practices``: ``scenario`` (its name) and the settlement columns (``SETTLEMENT_COLUMNS``,
    money as int64 cents), scenario by scenario in the given order, practices by id.
    ``summary``: one row per scenario (``SUMMARY_COLUMNS``).
    ``base``: the base config's own settlement rows (as ``compute_settlement`` gives them).
    """

    practices: pd.DataFrame
    summary: pd.DataFrame
    base: pd.DataFrame


@dataclass(frozen=True)
class ScenarioStudy:
    """A whole what-if study of a performance year: scenarios, tornado and chance."""

    year: int
    program: str
    result: ScenarioResult
    tornado: pd.DataFrame
    chance: Chance | None
    facts: dict[str, object] = field(default_factory=dict)
    # with baselines per segment: the base terms' budget of each practice and segment
    segments: pd.DataFrame | None = None


# --- reading a scenario file -------------------------------------------------------------


def format_value(value: Any) -> str:
    """A value as a short label: 0.03 -> '0.03', True -> 'true', a table -> '{kind=fixed}'."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{k}={format_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    return str(value)


def _leaves(path: str, value: Any) -> dict[str, Any]:
    """A nested table as its dotted leaf paths; anything else (a list too) is one leaf."""
    if isinstance(value, Mapping) and value:
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(_leaves(f"{path}.{key}" if path else str(key), inner))
        return out
    return {path: value}


def _axes(table: Any, section: str, source: str) -> list[tuple[str, list]]:
    """The ``[grid]`` or ``[sensitivity]`` table as (dotted path, list of values) pairs."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{source}: [{section}] must be a table of dotted config paths")
    axes: list[tuple[str, list]] = []

    def walk(node: Mapping, prefix: str) -> None:
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, list):
                if not value:
                    raise ConfigError(f"{source}: {section}.{path}: the list of values is empty")
                axes.append((path, value))
            elif isinstance(value, Mapping):
                walk(value, path)
            else:
                raise ConfigError(
                    f"{source}: {section}.{path}: give a list of values, e.g. [0.02, 0.03]"
                )

    walk(table, "")
    return axes


def _label(path: str) -> str:
    return path.removeprefix("settlement.")


def _check_path(path: str, where: str, source: str) -> None:
    if not (path.startswith(OVERRIDABLE[0]) or path == OVERRIDABLE[1]):
        raise ConfigError(
            f"{source}: {where}: '{path}' cannot be changed by a scenario: scenarios share "
            "the year's member-level work (risk scores, CCF), so they may change only "
            "settlement.* and program.max_share_rate"
        )


def with_overrides(
    base: ProgramConfig,
    overrides: Mapping[str, Any],
    *,
    scenario: str = "scenario",
    source: str = "scenarios",
) -> ProgramConfig:
    """The base config with the overrides (dotted path -> value) applied and validated.

    A table value is merged key by key (``stop_loss = {kind = "percentile",
    percentile = 0.99}`` keeps the other stop-loss keys); a list replaces the whole list.
    A bad override fails with the scenario's name and the key path.
    """
    base.require_settlement()
    where = f"scenario '{scenario}'"
    data = base.model_dump()
    for path, value in overrides.items():
        for leaf, leaf_value in _leaves(path, value).items():
            _check_path(leaf, where, source)
            node = data
            parts = leaf.split(".")
            for depth, part in enumerate(parts[:-1]):
                child = node.get(part)
                if child is None:
                    child = node[part] = {}
                if not isinstance(child, dict):
                    bad = ".".join(parts[: depth + 1])
                    raise ConfigError(f"{source}: {where}: {leaf}: {bad} is a value, not a table")
                node = child
            node[parts[-1]] = leaf_value
    config = parse_config(data, source=f"{source}: {where}")
    if config.require_settlement().msr.kind == "assigned":
        raise ConfigError(
            f"{source}: {where}: msr.kind 'assigned' needs a practice summary; "
            "scenarios settle from member-level data (use fixed or table)"
        )
    return config


def _value_at(data: Mapping, path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def parse_scenarios(
    spec: Mapping[str, Any], base: ProgramConfig, *, source: str = "scenarios"
) -> ScenarioPlan:
    """Validate a scenario file's contents against the base config; see the module docstring.

    Every scenario is checked with the same rules as a config file (``parse_config``);
    an error names the file, the scenario and the key path.
    """
    base.require_settlement()
    unknown = sorted(set(spec) - set(_FILE_KEYS))
    if unknown:
        raise ConfigError(
            f"{source}: unknown top-level keys {unknown}: a scenario file has "
            "[[scenario]] tables, a [grid], a [sensitivity] table and base = true|false"
        )
    include_base = spec.get("base", True)
    if not isinstance(include_base, bool):
        raise ConfigError(f"{source}: base must be true or false")

    scenarios: list[Scenario] = []
    if include_base:
        scenarios.append(Scenario(BASE, {}, base, "the config unchanged"))

    listed = spec.get("scenario", [])
    if not isinstance(listed, list) or not all(isinstance(s, Mapping) for s in listed):
        raise ConfigError(f"{source}: scenarios are [[scenario]] tables, each with a name")
    for i, item in enumerate(listed, start=1):
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f'{source}: scenario #{i} needs a name (name = "...")')
        description = item.get("description", "")
        if not isinstance(description, str):
            raise ConfigError(f"{source}: scenario '{name}': description must be text")
        overrides: dict[str, Any] = {}
        for key, value in item.items():
            if key not in _SCENARIO_KEYS:
                overrides.update(_leaves(key, value))
        config = with_overrides(base, overrides, scenario=name, source=source)
        scenarios.append(Scenario(name.strip(), overrides, config, description))

    if "grid" in spec:
        axes = _axes(spec["grid"], "grid", source)
        if not axes:
            raise ConfigError(f"{source}: [grid] is empty: give config paths and their values")
        size = math.prod(len(values) for _, values in axes)
        if len(scenarios) + size > MAX_SCENARIOS:
            raise ConfigError(
                f"{source}: the grid expands to {size:,} scenarios; at most "
                f"{MAX_SCENARIOS:,} are allowed"
            )
        for path, _ in axes:
            _check_path(path, f"grid.{path}", source)
        for combination in itertools.product(*(values for _, values in axes)):
            overrides = {path: value for (path, _), value in zip(axes, combination, strict=True)}
            name = ", ".join(f"{_label(p)}={format_value(v)}" for p, v in overrides.items())
            config = with_overrides(base, overrides, scenario=name, source=source)
            scenarios.append(Scenario(name, overrides, config))

    seen: set[str] = set()
    for scenario in scenarios:
        if scenario.name in seen:
            raise ConfigError(
                f"{source}: two scenarios are named '{scenario.name}' (names must be unique"
                + ("; set base = false to name your own 'base')" if scenario.name == BASE else ")")
            )
        seen.add(scenario.name)
    if not scenarios:
        raise ConfigError(f"{source}: no scenarios: add [[scenario]] tables or a [grid]")

    sensitivity = []
    if "sensitivity" in spec:
        base_data = base.model_dump()
        for path, values in _axes(spec["sensitivity"], "sensitivity", source):
            _check_path(path, f"sensitivity.{path}", source)
            if len(values) != 2:
                raise ConfigError(
                    f"{source}: sensitivity.{path}: give [low, high], two values, not {len(values)}"
                )
            low, high = values
            sensitivity.append(
                Sensitivity(
                    parameter=path,
                    low=low,
                    high=high,
                    base_value=_value_at(base_data, path),
                    low_config=with_overrides(
                        base, {path: low}, scenario=f"{path} low", source=source
                    ),
                    high_config=with_overrides(
                        base, {path: high}, scenario=f"{path} high", source=source
                    ),
                )
            )
    return ScenarioPlan(base=base, scenarios=scenarios, sensitivity=sensitivity, source=source)


def load_scenarios(path: str | Path, base: ProgramConfig) -> ScenarioPlan:
    """Read and validate a scenario file (TOML) against the base config."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: scenario file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read scenario file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        spec = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_scenarios(spec, base, source=str(path))


# --- settling ----------------------------------------------------------------------------


