"""The side-by-side benchmark's peers (benchmarks/peers.py): the engine, DuckDB SQL and polars
run the full year on a small generated program and agree on every practice to the cent.

Results only: nothing here asserts a timing. Needs the optional dependency group ``peers``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from totalcare_payments.generate import generate_program, write_program

ROOT = Path(__file__).resolve().parents[2]
PEERS_SCRIPT = ROOT / "benchmarks" / "peers.py"
MEMBERS = 40_000  # 40 practices of about 1,000 members

_INSTALL = "install the optional dependency group 'peers': pip install -e '.[peers]'"
pytest.importorskip("duckdb", reason=f"duckdb is not installed: {_INSTALL}")
pytest.importorskip("polars", reason=f"polars is not installed: {_INSTALL}")


def _load_peers():
    spec = importlib.util.spec_from_file_location("peers", PEERS_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("peers", module)
    spec.loader.exec_module(module)
    return module


peers = _load_peers()


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("peers")
    data = folder / "data"
    write_program(generate_program(MEMBERS, seed=7), data)
    outputs = {}
    for name in peers.PEERS:
        outputs[name] = folder / f"{name}.parquet"
        peers.run_peer(name, data, outputs[name])
    return outputs


@pytest.mark.slow
def test_the_three_peers_agree_to_the_cent(results: dict[str, Path]) -> None:
    verdict = peers.compare(results)
    mismatches = {pair: v.get("mismatches") for pair, v in verdict["pairs"].items()}
    assert verdict["agree"], mismatches
    assert verdict["practices_compared"] == MEMBERS // 1000
    assert verdict["ccf_lines_compared"] == 12 * verdict["practices_compared"]


@pytest.mark.slow
def test_the_program_exercises_the_rules(results: dict[str, Path]) -> None:
    """Agreement means something only if payments, zeros and stop-loss truncation all occur."""
    import pandas as pd

    engine = pd.read_parquet(results["engine"])
    assert list(engine.columns) == peers.RESULT_COLUMNS
    assert (engine["final_payment_cents"] > 0).any()
    assert (engine["final_payment_cents"] == 0).any()
    assert (engine["truncated_cents"] > 0).any()
    assert engine[peers.MONTH_COLUMNS].notna().all().all()


def test_the_peers_refuse_a_config_with_other_rules() -> None:
    terms = peers.read_terms(peers.DEFAULT_CONFIG)
    assert terms.stop_loss == 100_000.0
    assert terms.risk_ratio_max == 1.03
    with pytest.raises(ValueError, match="do not implement"):
        peers.read_terms(ROOT / "totalcare_payments" / "presets" / "cpc_plus_track1.toml")


def _with_rule_cases(tables: dict) -> dict:
    """Generated tables plus members on whom the rules that could be read two ways bite:
    a switcher over the stop-loss whose second practice's part is negative (a reversal
    dated in its months), a member at exactly the stop-loss in a float sum that passes it,
    and claims with fractions of a cent."""
    import pandas as pd
    import pyarrow as pa

    frames = {name: table.to_pandas() for name, table in tables.items()}
    first = int(frames["attribution"]["member_id"].max()) + 1
    switcher, at_limit, fractions = first, first + 1, first + 2
    months = [f"2026-{m:02d}" for m in range(1, 13)]
    attribution = [(switcher, "P0001" if i < 6 else "P0002", m) for i, m in enumerate(months)]
    attribution += [(member, "P0001", m) for member in (at_limit, fractions) for m in months]
    claims = [
        (switcher, "2026-03-10", 150_000.1234),  # P0001: 50,000.1234 over $100,000
        (switcher, "2025-12-20", 5_000.00),  # outside the year
        (switcher, "2026-08-03", -5_000.00),  # its reversal, in a P0002 month
        (at_limit, "2026-04-01", 62_514.41),  # 100,000.00 exactly; 100,000.00000000001
        (at_limit, "2026-04-02", 11_735.57),  # as a float sum
        (at_limit, "2026-04-03", 25_750.02),
        (fractions, "2026-05-01", 10.0049),
        (fractions, "2026-05-02", 10.0049),
        (fractions, "2026-05-03", 20.0025),
    ]
    ids = int(frames["claims"]["claim_id"].max()) + 1 + np.arange(len(claims))
    ids[2] = ids[1]  # the reversal's claim_id is its payment's
    extra_claims = pd.DataFrame(claims, columns=["member_id", "claim_start_date", "paid_amount"])
    extra_claims.insert(0, "claim_id", ids)
    extra_claims["claim_start_date"] = pd.to_datetime(extra_claims["claim_start_date"]).dt.date
    frames["attribution"] = pd.concat(
        [frames["attribution"], pd.DataFrame(attribution, columns=frames["attribution"].columns)],
        ignore_index=True,
    )
    frames["claims"] = pd.concat([frames["claims"], extra_claims], ignore_index=True)
    return {
        name: pa.Table.from_pandas(frame, schema=tables[name].schema, preserve_index=False)
        for name, frame in frames.items()
    }


@pytest.mark.slow
def test_the_peers_agree_where_the_rules_could_be_read_two_ways(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_program(_with_rule_cases(generate_program(2_000, seed=7)), data)
    outputs = {}
    for name in peers.PEERS:
        outputs[name] = tmp_path / f"{name}.parquet"
        peers.run_peer(name, data, outputs[name])
    verdict = peers.compare(outputs)
    mismatches = {pair: v.get("mismatches") for pair, v in verdict["pairs"].items()}
    assert verdict["agree"], mismatches
