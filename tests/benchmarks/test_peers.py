"""The side-by-side benchmark's peers (benchmarks/peers.py): the engine (its real commands
and its full year), DuckDB SQL and polars run every user-facing job on a small generated
program and agree on every line to the cent, job by job and each peer's jobs with one
another.

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
MEMBERS = 50_000  # 50 practices of about 1,000 members

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


def _run_all(data: Path, folder: Path, jobs: tuple[str, ...]) -> tuple[dict, dict]:
    """Every peer's run of every job: (job -> peer -> measure, job -> peer -> tables)."""
    measures: dict = {job: {} for job in jobs}
    results: dict = {job: {} for job in jobs}
    for job in jobs:
        for name in peers.PEERS:
            out = folder / f"{job}-{name}"
            measures[job][name] = peers.run_peer(name, job, data, out)
            results[job][name] = peers.load_result(job, out)
    return measures, results


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    folder = tmp_path_factory.mktemp("peers")
    data = folder / "data"
    write_program(generate_program(MEMBERS, seed=7), data)
    return _run_all(data, folder, tuple(peers.JOBS))


@pytest.mark.slow
def test_every_job_agrees_to_the_cent(runs: tuple[dict, dict]) -> None:
    _, results = runs
    practices = MEMBERS // 1000
    lines = {"ccf_month": practices, "ccf_months": 12 * practices, "full_year": 12 * practices}
    for job in peers.JOBS:
        verdict = peers.compare(results[job])
        mismatches = {pair: v for pair, v in verdict["pairs"].items() if not v["agree"]}
        assert verdict["agree"], (job, mismatches)
        assert set(verdict["pairs"]) == {"engine_vs_duckdb", "engine_vs_polars"}
        if job in lines:
            assert verdict["ccf_lines_compared"] == lines[job], job
        if job in peers.SETTLEMENT_JOBS:
            assert verdict["practices_compared"] == practices, job


@pytest.mark.slow
def test_each_peers_jobs_agree_with_one_another(runs: tuple[dict, dict]) -> None:
    """The one-month CCF is that month of the twelve; the full year is the twelve months'
    CCF and the settlement, for every peer."""
    _, results = runs
    for name in peers.PEERS:
        checks = peers.consistency({job: results[job][name] for job in peers.JOBS}, "2026-03")
        assert set(checks) == {
            "ccf_month_vs_ccf_months",
            "full_year_vs_ccf_months",
            "full_year_vs_settle",
            "agree",
        }
        assert checks["agree"], (name, checks)


@pytest.mark.slow
def test_each_run_is_measured(runs: tuple[dict, dict]) -> None:
    """Wall time, CPU time and peak RSS come from the peer's own process (wait4); the peer
    scripts report their job's own timing too."""
    measures, _ = runs
    for job, by_peer in measures.items():
        for name, m in by_peer.items():
            assert m["wall_s"] > 0 and m["rss_mb"] > 0, (job, name)
            assert m["cpu_s"] == pytest.approx(m["user_s"] + m["sys_s"]), (job, name)
            if name != "engine" or job == "full_year":
                assert m["reported"]["peer"] == name and m["reported"]["job"] == job
    summary = peers.summarize([measures["settle"]["duckdb"]], MEMBERS)
    assert summary["cpu_s_per_million_members"] == pytest.approx(summary["cpu_s"] / 0.05, abs=0.011)


@pytest.mark.slow
def test_the_program_exercises_the_rules(runs: tuple[dict, dict]) -> None:
    """Agreement means something only if payments, zeros and stop-loss truncation all occur."""
    _, results = runs
    settlement = results["settle"]["engine"]["settlement"]
    assert list(settlement.columns) == peers.SETTLEMENT_COLUMNS[1:]
    assert (settlement["final_payment_cents"] > 0).any()
    assert (settlement["final_payment_cents"] == 0).any()
    assert (settlement["truncated_cents"] > 0).any()
    ccf = results["ccf_months"]["engine"]["ccf"]
    assert ccf["ccf_cents"].nunique() > 1 and (ccf["ccf_cents"] > 0).all()


def test_a_one_cent_difference_is_a_disagreement() -> None:
    """The comparison finds a single cent, names the cell, and tells a missing line apart."""
    import pandas as pd

    base = pd.DataFrame(
        {"practice_id": ["P1", "P2"], "budget_cents": [100, 200], "avg_risk_score": [1.0453, 0.9]}
    ).set_index("practice_id")
    other = base.copy()
    other.loc["P2", "budget_cents"] = 201
    other.loc["P1", "avg_risk_score"] = 10453 / 10000 * (1 + 1e-15)  # noise below 4 places
    verdict = peers.compare_frames(base, other, ("engine", "duckdb"))
    assert not verdict["agree"]
    assert verdict["avg_risk_score"] and not verdict["budget_cents"]
    assert verdict["mismatches"]["budget_cents"] == [{"key": "P2", "engine": 200, "duckdb": 201}]
    shorter = peers.compare_frames(base, base.iloc[:1], ("engine", "polars"))
    assert not shorter["agree"] and shorter["only_in_engine"] == ["P2"]


def test_the_targets_are_the_issues() -> None:
    """Issue 16 at 1M members: settle and full year at most 0.6 x DuckDB's wall time, the
    CCF jobs no slower than DuckDB, and peak RSS under 1.2 GB; e.g. settle 1.5 s against
    DuckDB's 2.0 s is 0.75, missed; full year 1.0 s against 2.0 s is 0.5, met."""

    def job(ratio: float, rss: float) -> dict:
        return {"ratios": {"engine_over_duckdb_wall": ratio}, "peers": {"engine": {"rss_mb": rss}}}

    jobs = {"settle": job(1.5 / 2.0, 900.0), "full_year": job(1.0 / 2.0, 1300.0)}
    targets = peers.targets_for(1_000_000, jobs)
    assert targets["engine_over_duckdb_wall_met"] == {"settle": False, "full_year": True}
    assert targets["engine_rss_met"] == {"settle": True, "full_year": False}
    assert "note" in peers.targets_for(100_000, jobs)


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
    claims with fractions of a cent, and a member with claims in a month of the year in
    which they are attributed nowhere (not counted) and in another year (not counted)."""
    import pandas as pd
    import pyarrow as pa

    frames = {name: table.to_pandas() for name, table in tables.items()}
    first = int(frames["attribution"]["member_id"].max()) + 1
    switcher, at_limit, fractions, gap = first, first + 1, first + 2, first + 3
    months = [f"2026-{m:02d}" for m in range(1, 13)]
    attribution = [(switcher, "P0001" if i < 6 else "P0002", m) for i, m in enumerate(months)]
    attribution += [(member, "P0001", m) for member in (at_limit, fractions) for m in months]
    attribution += [(gap, "P0002", m) for m in months if m not in ("2026-05", "2026-06")]
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
        (gap, "2026-05-15", 250_000.00),  # attributed nowhere in May: not counted
        (gap, "2026-07-01", 1_000.50),
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
    _, results = _run_all(data, tmp_path, ("settle", "ccf_month"))
    for job in ("settle", "ccf_month"):
        verdict = peers.compare(results[job])
        assert verdict["agree"], (job, verdict["pairs"])
