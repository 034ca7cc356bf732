"""What-if scenarios: one performance year re-settled under many sets of terms at once.

Before a program's terms are signed, and before each year's settlement, actuaries ask
"what if": a 40% instead of a 50% sharing rate, an MSR of 3% instead of 2%, a trend of
5% not 4%, truncation at $100k or at the 99th percentile, a stricter quality gate.

A **scenario** is the base config with some settlement terms changed (its
``overrides``: dotted config paths such as ``settlement.msr.rate`` and their values).
The member-level work of the year (attribution, member-month risk, each member-month's
claims, quality, the CCF paid) is done once by ``settlement.performance_year``; every
scenario is then settled from those practice-level aggregates in ONE vectorized pass of
the settlement engine's own waterfall (``settlement.settle_year``), so a scenario equal
to the base config reproduces ``totalcare settle`` to the cent. Only the stop-loss
truncation goes back to member level, once per distinct stop-loss.

A scenario file (TOML) holds any of:

- ``[[scenario]]`` tables: a ``name``, an optional ``description``, and the terms it
  changes, as dotted keys (``settlement.msr.rate = 0.03``) or nested tables;
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import settlement
from .chance import Chance, bootstrap_chance
from .claims import stop_loss_threshold
from .config import ProgramConfig, StopLoss, parse_config
from .errors import ConfigError
from .money import round_half_up
from .settlement import SETTLEMENT_COLUMNS, PerformanceYear

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

    ``overrides`` maps dotted config paths (``settlement.msr.rate``) to their values.
    """

    name: str
    overrides: dict[str, Any]
    config: ProgramConfig
    description: str = ""

    def describe(self) -> str:
        """The overrides as one line of text: ``settlement.msr.rate=0.03; ...``."""
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

    A table value is merged key by key (``settlement.stop_loss = {kind = "percentile",
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
            f"{source}: {where}: settlement.msr.kind 'assigned' needs a practice summary; "
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


def _block_totals(rows: pd.DataFrame, blocks: int, column: str) -> np.ndarray:
    return rows[column].to_numpy(dtype=np.int64).reshape(blocks, -1).sum(axis=1)


def _total_paid(rows: pd.DataFrame, blocks: int) -> np.ndarray:
    final = rows["final_payment_cents"].to_numpy(dtype=np.int64).reshape(blocks, -1)
    return np.clip(final, 0, None).sum(axis=1)


def _thresholds(performance: PerformanceYear, configs: Sequence[ProgramConfig]) -> np.ndarray:
    """Each config's stop-loss threshold in dollars (NaN: no stop-loss), once per stop-loss."""
    annual = performance.costs.annual_cost()
    attributed = performance.costs.attributed
    known: dict[str, float] = {}
    out = np.empty(len(configs))
    for i, config in enumerate(configs):
        stop_loss: StopLoss = config.require_settlement().stop_loss
        key = stop_loss.model_dump_json()
        if key not in known:
            value = stop_loss_threshold(stop_loss, annual, attributed)
            known[key] = np.nan if np.isinf(value) else round(value, 2)
        out[i] = known[key]
    return out


def _by_practice_id(performance: PerformanceYear) -> np.ndarray:
    """Row order that sorts a block of settlement rows by practice_id, as settlements are."""
    return np.asarray(performance.practices["practice_id"].argsort(kind="stable"))


def run_scenarios(
    performance: PerformanceYear, base_config: ProgramConfig, scenarios: Sequence[Scenario]
) -> ScenarioResult:
    """Settle the year under every scenario in one vectorized pass of the settlement engine.

    ``performance`` is the year's member-level work (``performance_year(..., with_ccf=True)``,
    so that the CCF paid in the year is known for the payer's net savings). The base config
    is settled in the same pass, for the base figures and each scenario's change against it.

    The summary's money columns, per scenario (sums over practices, in cents):

    - ``total_paid``: the shared-savings payments (positive final payments);
    - ``shared_loss``: losses billed (two-sided programs); ``net_payment`` = sum of final payments;
    - ``budget``, ``actual_cost``, ``savings``: the settlement's own (actual cost after
      stop-loss truncation and completion, with CCF when the terms count it as cost);
    - ``incurred_cost``: claims paid grossed up by the completion factor, untruncated, no
      CCF: what the members' care cost the payer;
    - ``payer_net_savings`` = budget - incurred_cost - net_payment - ccf_paid: what the
      payer keeps against the budget in cash, after paying shared savings and the year's
      Care Coordination Fees. It uses the untruncated cost, so a stop-loss scenario
      changes it only through what it changes in the payments;
    - ``paid_vs_base``: total_paid minus the base config's;
    - ``mean/std/min/max_payment``: of the practices' final payments (std over all
      practices of the program, ddof = 0), rounded to cents.
    """
    configs = [base_config] + [s.config for s in scenarios]
    rows, _ = settlement.settle_year(performance, configs)
    blocks = len(configs)
    n = len(performance.practices)
    order = _by_practice_id(performance)
    take = (np.arange(blocks)[:, None] * n + order[None, :]).ravel()
    ordered = rows[SETTLEMENT_COLUMNS].take(take).reset_index(drop=True)

    base_rows = ordered.iloc[:n].reset_index(drop=True)
    practices = ordered.iloc[n:].reset_index(drop=True)
    names = np.array([s.name for s in scenarios], dtype=object)
    practices.insert(0, "scenario", np.repeat(names, n))

    k = len(scenarios)
    final = rows["final_payment_cents"].to_numpy(dtype=np.int64).reshape(blocks, n)
    paid = _total_paid(rows, blocks)
    budget = _block_totals(rows, blocks, "budget_cents")
    actual = _block_totals(rows, blocks, "actual_cost_cents")
    # the waterfall's step 5 with nothing truncated and no CCF: the cost the payer incurred
    incurred_rows = settlement.actual_cost(
        rows.assign(truncated_cents=0, ccf_cost_cents=0),
        {"completion_factor": rows["completion_factor"].to_numpy()},
    )
    incurred = _block_totals(incurred_rows, blocks, "actual_cost_cents")
    net_payment = final.sum(axis=1)
    ccf_paid = int(np.asarray(performance.ccf_paid_cents, dtype=np.int64).sum())
    mean = round_half_up(final.mean(axis=1), 0).astype(np.int64)
    std = round_half_up(final.std(axis=1), 0).astype(np.int64)
    summary = pd.DataFrame(
        {
            "scenario": names,
            "practices": np.full(k, n, dtype=np.int64),
            "practices_paid": (final > 0).sum(axis=1)[1:].astype(np.int64),
            "practices_billed": (final < 0).sum(axis=1)[1:].astype(np.int64),
            "member_months": _block_totals(rows, blocks, "member_months")[1:],
            "budget_cents": budget[1:],
            "actual_cost_cents": actual[1:],
            "savings_cents": _block_totals(rows, blocks, "savings_cents")[1:],
            "total_paid_cents": paid[1:],
            "shared_loss_cents": _block_totals(rows, blocks, "shared_loss_cents")[1:],
            "net_payment_cents": net_payment[1:],
            "incurred_cost_cents": incurred[1:],
            "ccf_paid_cents": np.full(k, ccf_paid, dtype=np.int64),
            "payer_net_savings_cents": (budget - incurred - net_payment - ccf_paid)[1:],
            "paid_vs_base_cents": paid[1:] - paid[0],
            "mean_payment_cents": mean[1:],
            "std_payment_cents": std[1:],
            "min_payment_cents": final.min(axis=1)[1:],
            "max_payment_cents": final.max(axis=1)[1:],
            "stop_loss_threshold": _thresholds(performance, configs)[1:],
            "overrides": np.array([s.describe() for s in scenarios], dtype=object),
        },
        columns=SUMMARY_COLUMNS,
    )
    return ScenarioResult(practices=practices, summary=summary, base=base_rows)


TORNADO_COLUMNS = [
    "parameter",
    "base_value",
    "low",
    "high",
    "base_total_paid_cents",
    "total_paid_low_cents",
    "total_paid_high_cents",
    "change_low_cents",
    "change_high_cents",
    "swing_cents",
]


def tornado(
    performance: PerformanceYear, base_config: ProgramConfig, sensitivity: Sequence[Sensitivity]
) -> pd.DataFrame:
    """One parameter at a time at its low and its high value: the effect on total payout.

    ``total_paid`` is the sum of the practices' positive final payments; ``change_*`` is
    against the base config; ``swing`` = |total_paid_high - total_paid_low|. Rows are
    sorted by swing, largest first (ties keep the file's order), as a tornado chart is.
    """
    if not sensitivity:
        return pd.DataFrame(
            {
                c: pd.Series(dtype=np.int64 if c.endswith("_cents") else object)
                for c in TORNADO_COLUMNS
            }
        )
    configs = [base_config]
    for item in sensitivity:
        configs += [item.low_config, item.high_config]
    rows, _ = settlement.settle_year(performance, configs)
    paid = _total_paid(rows, len(configs))
    low, high = paid[1::2], paid[2::2]
    table = pd.DataFrame(
        {
            "parameter": [s.parameter for s in sensitivity],
            "base_value": [format_value(s.base_value) for s in sensitivity],
            "low": [format_value(s.low) for s in sensitivity],
            "high": [format_value(s.high) for s in sensitivity],
            "base_total_paid_cents": np.full(len(sensitivity), paid[0], dtype=np.int64),
            "total_paid_low_cents": low,
            "total_paid_high_cents": high,
            "change_low_cents": low - paid[0],
            "change_high_cents": high - paid[0],
            "swing_cents": np.abs(high - low),
        },
        columns=TORNADO_COLUMNS,
    )
    table = table.astype({"parameter": object, "base_value": object, "low": object, "high": object})
    return table.sort_values("swing_cents", ascending=False, kind="stable").reset_index(drop=True)


def study(
    performance: PerformanceYear,
    plan: ScenarioPlan,
    *,
    draws: int = 200,
    seed: int = 7,
    facts: dict[str, object] | None = None,
) -> ScenarioStudy:
    """Scenarios, tornado and (with ``draws`` > 0) the bootstrap chance, for one year."""
    result = run_scenarios(performance, plan.base, plan.scenarios)
    table = tornado(performance, plan.base, plan.sensitivity)
    chance = bootstrap_chance(performance, plan.base, draws=draws, seed=seed) if draws else None
    return ScenarioStudy(
        year=performance.year,
        program=plan.base.program.name,
        result=result,
        tornado=table,
        chance=chance,
        facts=dict(facts or {}),
    )
