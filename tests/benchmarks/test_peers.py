"""The side-by-side benchmark's peers (benchmarks/peers.py): the engine, DuckDB SQL and polars
run the full year on a small generated program and agree on every practice to the cent.

Results only: nothing here asserts a timing. Needs the optional dependency group ``peers``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

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
