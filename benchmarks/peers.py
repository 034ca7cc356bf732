"""Side-by-side benchmark: the full year with this project, with DuckDB SQL and with polars.

    python benchmarks/peers.py --members 1000000 [--seed 7] [--data DIR] [--repeat N]
                               [--json benchmarks/results/peers-1000000.json]

On the same generated Parquet files (``generate_program(members, seed)``, written once
to DIR, by default ``bench_data/peers-<members>-seed<seed>/``, which git ignores), each
implementation runs the full year -- all 12 monthly CCF batches of 2026 and the 2026
settlement under the default config -- in its own process:

    python benchmarks/peer_<name>.py DATA OUT.parquet --config CONFIG

Each process is started by a fresh, tiny wrapper process that measures the wall time
from spawn to exit (interpreter start, imports, reading the files, computing, writing
the result) and the process's own peak RSS (``ru_maxrss`` from ``wait4``; a child's
``ru_maxrss`` starts at the RSS of the process it was spawned from, which is why the
wrapper is small and fresh rather than this script). The three results are then
compared to the cent, practice by practice; the script prints a table and writes a JSON
file, and exits with status 1 when the results disagree.

This module imports only the standard library at the top: the peer scripts import
``read_terms`` and the column names from it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
DEFAULT_CONFIG = ROOT / "totalcare_payments" / "presets" / "bluekc_medical_home.toml"
PEERS = ("engine", "duckdb", "polars")
TABLES = ("practices", "attribution", "risk_scores", "claims", "quality")
YEAR = 2026

# The per-practice result every peer writes: one row per practice with member-months in the year.
MONTH_COLUMNS = [f"ccf_{YEAR}_{m:02d}" for m in range(1, 13)]  # CCF amount in cents (null: no line)
SETTLEMENT_COLUMNS = ["budget_cents", "actual_cost_cents", "final_payment_cents"]
INTERMEDIATE_COLUMNS = ["member_months", "avg_risk_score", "claims_paid_cents", "truncated_cents"]
RESULT_COLUMNS = [
    "practice_id",
    *MONTH_COLUMNS,
    *INTERMEDIATE_COLUMNS[:2],
    "budget_cents",
    *INTERMEDIATE_COLUMNS[2:],
    "actual_cost_cents",
    "final_payment_cents",
]

SCORE_DECIMALS = 4  # avg_risk_score places in the default config

TARGETS = {"wall_vs_duckdb": 0.6, "wall_vs_polars": 1.0, "rss_mb": 1536.0}


# --------------------------------------------------------------------------- the rules


@dataclass(frozen=True)
class Terms:
    """The numbers of a config that follows the default config's rules (what the peers implement)."""

    score_column: str
    default_score: float
    score_decimals: int
    bands: list[tuple[float, float]]  # (min_avg_risk, pmpm), ascending
    tier_multipliers: dict[str, float]
    baseline_year: int
    annual_trend: float
    risk_ratio_min: float
    risk_ratio_max: float
    stop_loss: float
    completion_factor: float
    msr_table: list[tuple[float, float, float, float]]  # (min_pop, max_pop, msr_at_min, msr_at_max)
    quality_gate: bool
    min_quality_score: float
    savings_share_rate: float
    quality_share_rate: float
    max_share_rate: float
    payment_reduction: float
    payment_limit: float
    tiers: list[str] = field(default_factory=list)


def read_terms(path: str | Path = DEFAULT_CONFIG, year: int = YEAR) -> Terms:
    """Read a config TOML (plain ``tomllib``, not the package) and check it uses the rules the
    peers implement: band CCF without normalization, fixed stop-loss, a first-dollar MSR
    table, one-sided sharing with the same share rates for every tier, no CCF in cost."""
    raw = tomllib.loads(Path(path).read_text())
    missing = [name for name in ("risk", "ccf", "settlement") if name not in raw]
    if missing:
        raise ValueError(
            f"{path}: the peers do not implement this config: no [{'], ['.join(missing)}]"
        )
    risk, ccf, s = raw["risk"], raw["ccf"], raw["settlement"]
    sharing = s["sharing"]
    savings_rates = set(sharing.get("savings_share_rate", {}).values())
    quality_rates = set(sharing.get("quality_share_rate", {}).values())
    tiers = raw["program"].get("tiers", ["Developing", "Established", "Advanced"])
    unsupported = {
        "risk.missing_score must be 'default'": risk.get("missing_score", "default") != "default",
        "risk.normalize must be false": risk.get("normalize", False),
        "ccf.rate_model must be 'bands'": ccf["rate_model"] != "bands",
        "settlement.stop_loss.kind must be 'fixed'": s.get("stop_loss", {}).get("kind") != "fixed",
        "settlement.msr.kind must be 'table'": s.get("msr", {}).get("kind") != "table",
        "settlement.msr.sharing must be 'first_dollar'": s["msr"].get("sharing", "first_dollar")
        != "first_dollar",
        "settlement.losses must be disabled": s.get("losses", {}).get("enabled", False),
        "settlement.ccf_counts_as_cost must be false": s.get("ccf_counts_as_cost", False),
        "share rates must be the same for every tier (and every tier listed)": len(savings_rates)
        != 1
        or len(quality_rates) != 1
        or set(sharing["savings_share_rate"]) != set(tiers)
        or set(sharing["quality_share_rate"]) != set(tiers),
    }
    problems = [text for text, bad in unsupported.items() if bad]
    if problems:
        raise ValueError(f"{path}: the peers do not implement this config: {'; '.join(problems)}")
    quality = s.get("quality", {})
    return Terms(
        score_column=risk["score_column"],
        default_score=float(risk.get("default_score", 1.0)),
        score_decimals=int(risk.get("score_decimals", 4)),
        bands=sorted((float(b["min_avg_risk"]), float(b["pmpm"])) for b in ccf["bands"]),
        tier_multipliers={k: float(v) for k, v in ccf.get("tier_multipliers", {}).items()},
        baseline_year=int(s["baseline_year"]),
        annual_trend=float(s.get("annual_trend", 0.0)),
        risk_ratio_min=float(s.get("risk_ratio_min", 0.0)),
        risk_ratio_max=float(s.get("risk_ratio_max", math.inf)),
        stop_loss=float(s["stop_loss"]["amount"]),
        completion_factor=float(s.get("completion_factor", 1.0)),
        msr_table=[
            (
                float(b["min_population"]),
                float(b["max_population"]),
                float(b["msr_at_min"]),
                float(b["msr_at_max"]),
            )
            for b in s["msr"]["table"]
        ],
        quality_gate=bool(quality.get("gate", True)),
        min_quality_score=float(quality.get("min_score", 0.0)),
        savings_share_rate=float(savings_rates.pop()),
        quality_share_rate=float(quality_rates.pop()),
        max_share_rate=float(raw["program"]["max_share_rate"]),
        payment_reduction=float(
            s.get("payment_reduction_by_year", {}).get(str(year), s.get("payment_reduction", 0.0))
        ),
        payment_limit=float(s.get("payment_limit", 1.0)),
        tiers=list(tiers),
    )


def stop_loss_units(t: Terms) -> int:
    """The stop-loss threshold rounded half-up to the cent, in units of a hundredth of a
    cent (the unit claims are summed in): a member is truncated above it."""
    return math.floor(round(t.stop_loss * 100.0, 6) + 0.5) * 100


# --------------------------------------------------------------------------- data


def peer_arguments(doc: str) -> argparse.Namespace:
    """The command line every peer script takes: DATA OUT.parquet [--config CONFIG]."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    return parser.parse_args()


def default_data_dir(members: int, seed: int) -> Path:
    return ROOT / "bench_data" / f"peers-{members}-seed{seed}"


def ensure_data(folder: Path, members: int, seed: int) -> bool:
    """Generate the program into ``folder`` unless it is there; True when it was generated.

    Generation runs in its own process, so this one stays small (see the module docstring).
    """
    marker = folder / "_generated.json"
    if all((folder / f"{name}.parquet").exists() for name in TABLES):
        if marker.exists():
            made = json.loads(marker.read_text())
            if (made.get("members"), made.get("seed")) != (members, seed):
                raise SystemExit(
                    f"{folder} holds a program of {made.get('members')} members (seed "
                    f"{made.get('seed')}), not {members} (seed {seed}): pass another --data"
                )
        return False
    code = (
        "import json, sys; from pathlib import Path\n"
        "from totalcare_payments.generate import generate_program, write_program\n"
        "folder, members, seed = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])\n"
        "write_program(generate_program(members, seed=seed), folder)\n"
        "(folder / '_generated.json').write_text(json.dumps({'members': members, 'seed': seed}))\n"
    )
    subprocess.run([sys.executable, "-c", code, str(folder), str(members), str(seed)], check=True)
    return True


def warm_cache(folder: Path) -> None:
    """Read every input file once, so that no peer pays for a cold page cache."""
    for name in TABLES:
        with (folder / f"{name}.parquet").open("rb") as fh:
            while fh.read(1 << 24):
                pass


# --------------------------------------------------------------------------- running

# Spawns the command, waits for it with wait4 and writes wall time and the child's rusage.
_WRAPPER = """
import json, os, sys, time
t = time.perf_counter()
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - t
with open(sys.argv[1], "w") as fh:
    json.dump({"wall_s": wall, "maxrss_kb": usage.ru_maxrss, "user_s": usage.ru_utime,
               "sys_s": usage.ru_stime, "exit_code": os.waitstatus_to_exitcode(status)}, fh)
"""


def run_peer(name: str, data: Path, out: Path, config: Path = DEFAULT_CONFIG) -> dict:
    """Run ``peer_<name>.py`` in its own process; its wall time, peak RSS and reported timings."""
    script = BENCH / f"peer_{name}.py"
    with tempfile.TemporaryDirectory(prefix=f"peer-{name}-") as tmp:
        measure, stdout, stderr = (Path(tmp) / n for n in ("measure.json", "stdout", "stderr"))
        with stdout.open("wb") as so, stderr.open("wb") as se:
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    _WRAPPER,
                    str(measure),
                    sys.executable,
                    str(script),
                    str(data),
                    str(out),
                    "--config",
                    str(config),
                ],
                stdout=so,
                stderr=se,
                check=True,
                cwd=ROOT,
            )
        m = json.loads(measure.read_text())
        if m["exit_code"] != 0:
            raise RuntimeError(
                f"peer_{name}.py failed (exit {m['exit_code']}):\n{stderr.read_text()[-4000:]}"
            )
        lines = [ln for ln in stdout.read_text().splitlines() if ln.startswith("{")]
        reported = json.loads(lines[-1]) if lines else {}
    return {
        "wall_s": m["wall_s"],
        "rss_mb": m["maxrss_kb"] / 1024.0,
        "cpu_s": m["user_s"] + m["sys_s"],
        "reported": reported,
    }


# --------------------------------------------------------------------------- comparing


def compare(results: dict[str, Path], examples: int = 5) -> dict:
    """Compare the peers' result files to the cent, each against the first (the engine).

    Every column of ``RESULT_COLUMNS`` must be equal, on the same set of practices: money
    exactly, in cents (a missing CCF line only where the other has none too); the
    intermediate avg_risk_score as its 4-decimal value. (Not as a float: polars divides a
    float column by a constant by multiplying by the reciprocal, so its 10453 / 10000 is
    1.0453000000000001 where numpy's and DuckDB's is 1.0453. The money steps remove such
    one-ulp noise by rounding the scaled value to 6 decimals first, as money.to_cents does.)
    """
    import pyarrow.parquet as pq

    frames = {}
    for name, path in results.items():
        frame = pq.read_table(path, columns=RESULT_COLUMNS).to_pandas()
        frame["practice_id"] = frame["practice_id"].astype(str)
        frames[name] = frame.set_index("practice_id").sort_index()
    names = list(frames)
    base_name = names[0]
    base = frames[base_name]
    groups = {
        "ccf": MONTH_COLUMNS,
        **{c: [c] for c in SETTLEMENT_COLUMNS},
        **{c: [c] for c in INTERMEDIATE_COLUMNS},
    }
    out: dict = {
        "practices_compared": len(base),
        "ccf_lines_compared": int(base[MONTH_COLUMNS].notna().sum().sum()),
        "pairs": {},
    }
    agree_all = True
    for other_name in names[1:]:
        other = frames[other_name]
        same_practices = base.index.equals(other.index)
        pair: dict = {"same_practices": bool(same_practices)}
        if not same_practices:
            only_a = base.index.difference(other.index)
            only_b = other.index.difference(base.index)
            pair["only_in_" + base_name] = [str(x) for x in only_a[:examples]]
            pair["only_in_" + other_name] = [str(x) for x in only_b[:examples]]
        a, b = base.align(other, join="inner", axis=0)
        mismatches: dict = {}
        for group, cols in groups.items():
            bad_cells = 0
            for col in cols:
                x, y = a[col], b[col]
                if col == "avg_risk_score":  # compare the 4-decimal value, see the docstring
                    x, y = (v.mul(10**SCORE_DECIMALS).round() for v in (x, y))
                both_null = x.isna() & y.isna()
                equal = (x == y).fillna(False).astype(bool) | both_null
                bad = ~equal
                if bad.any():
                    bad_cells += int(bad.sum())
                    mismatches.setdefault(group, []).extend(
                        {
                            "practice_id": str(pid),
                            "column": col,
                            base_name: _plain(x[pid]),
                            other_name: _plain(y[pid]),
                        }
                        for pid in x.index[bad][:examples]
                    )
            pair[group] = bad_cells == 0
        pair["agree"] = bool(same_practices and all(pair[g] for g in groups))
        if mismatches:
            pair["mismatches"] = mismatches
        agree_all &= pair["agree"]
        out["pairs"][f"{base_name}_vs_{other_name}"] = pair
    out["agree"] = bool(agree_all)
    return out


def _plain(value: object) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    try:
        return value.item()  # numpy scalar
    except AttributeError:
        return value


# --------------------------------------------------------------------------- reporting


def engine_fingerprint() -> str:
    """sha256 of the package's source files, to tie the figures to the code they measured."""
    import hashlib

    digest = hashlib.sha256()
    package = ROOT / "totalcare_payments"
    for path in sorted([*package.rglob("*.py"), *package.rglob("*.toml")]):
        name = path.relative_to(package).as_posix()
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    memory_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    from importlib import metadata  # here: every peer script imports this module

    versions = {"python": platform.python_version()}
    for package in ("pandas", "numpy", "pyarrow", "duckdb", "polars", "totalcare-payments"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "nproc": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "memory_gb": memory_gb,
        "cpu_model": cpu,
        "platform": platform.platform(),
        "versions": versions,
    }


def summarize(runs: dict[str, list[dict]]) -> dict[str, dict]:
    """Best of the runs: the lowest wall time; for memory, the highest peak RSS of all runs.

    A process's peak RSS moves from run to run (Arrow's allocators return memory on a
    timer), so the highest is the figure to provision for and to hold to a target.
    """
    best = {}
    for name, rs in runs.items():
        fastest = min(rs, key=lambda r: r["wall_s"])
        best[name] = {
            "wall_s": round(fastest["wall_s"], 3),
            "rss_mb": round(max(r["rss_mb"] for r in rs), 1),
            "rss_mb_lowest": round(min(r["rss_mb"] for r in rs), 1),
            "cpu_s": round(fastest["cpu_s"], 3),
            "reported": fastest.get("reported", {}),
            "runs": [
                {
                    "wall_s": round(r["wall_s"], 3),
                    "rss_mb": round(r["rss_mb"], 1),
                    "cpu_s": round(r["cpu_s"], 3),
                }
                for r in rs
            ],
        }
    return best


def ratios_and_targets(best: dict[str, dict]) -> tuple[dict, dict]:
    """engine/peer ratios of wall time and peak RSS, and the issue's targets (met or not)."""
    engine = best["engine"]
    others = [n for n in best if n != "engine"]
    ratios = {
        f"engine_over_{n}_wall": round(engine["wall_s"] / best[n]["wall_s"], 3) for n in others
    }
    ratios.update(
        {f"engine_over_{n}_rss": round(engine["rss_mb"] / best[n]["rss_mb"], 3) for n in others}
    )
    targets: dict[str, object] = {
        "engine_rss_at_most_mb": TARGETS["rss_mb"],
        "engine_rss_met": engine["rss_mb"] <= TARGETS["rss_mb"],
    }
    for name, key in (("duckdb", "wall_vs_duckdb"), ("polars", "wall_vs_polars")):
        if name in best:
            ratio = ratios[f"engine_over_{name}_wall"]
            targets[f"engine_over_{name}_wall_at_most"] = TARGETS[key]
            targets[f"engine_over_{name}_wall_met"] = ratio <= TARGETS[key]
    return ratios, targets


def print_table(best: dict[str, dict], members: int) -> None:
    engine = best["engine"]
    print(f"\nFull year 2026 (12 CCF batches + settlement), {members:,} members")
    print(
        f"{'peer':<8} {'wall s':>9} {'peak RSS MB':>12} {'cpu s':>8} "
        f"{'engine/peer wall':>17} {'engine/peer RSS':>16}"
    )
    for name, b in best.items():
        print(
            f"{name:<8} {b['wall_s']:>9.2f} {b['rss_mb']:>12.0f} {b['cpu_s']:>8.2f} "
            f"{engine['wall_s'] / b['wall_s']:>17.2f} {engine['rss_mb'] / b['rss_mb']:>16.2f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="folder of the generated Parquet files (generated when missing)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="where to write the results (default benchmarks/results/peers-<members>.json)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs of each peer")
    parser.add_argument(
        "--peers",
        default=",".join(PEERS),
        help="comma list of peers to run (the first is the base of the ratios)",
    )
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    args = parser.parse_args(argv)
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = sorted(set(peers) - set(PEERS))
    if unknown or "engine" not in peers:
        parser.error(f"--peers: choose among {', '.join(PEERS)}, engine included")
    peers.remove("engine")
    peers.insert(0, "engine")
    read_terms(args.config)  # fail early on a config the peers do not implement

    data = args.data or default_data_dir(args.members, args.seed)
    t = time.perf_counter()
    if ensure_data(data, args.members, args.seed):
        print(
            f"generated {args.members:,} members (seed {args.seed}) into {data} "
            f"in {time.perf_counter() - t:.1f} s"
        )
    else:
        print(f"using the program in {data}")
    warm_cache(data)
    load_before = [round(x, 2) for x in os.getloadavg()]
    source_before = engine_fingerprint()

    json_path = args.json or BENCH / "results" / f"peers-{args.members}.json"
    runs: dict[str, list[dict]] = {name: [] for name in peers}
    with tempfile.TemporaryDirectory(prefix="peers-") as tmp:
        outputs = {name: Path(tmp) / f"{name}.parquet" for name in peers}
        for i in range(args.repeat):  # interleaved, so drifts in the machine hit every peer
            for name in peers:
                r = run_peer(name, data, outputs[name], args.config)
                runs[name].append(r)
                print(
                    f"run {i + 1}/{args.repeat} {name:<7} wall {r['wall_s']:7.2f} s  "
                    f"peak RSS {r['rss_mb']:7.0f} MB  cpu {r['cpu_s']:7.2f} s"
                )
        agreement = compare(outputs)

    source_after = engine_fingerprint()
    best = summarize(runs)
    print_table(best, args.members)
    ratios, targets = ratios_and_targets(best)

    print(
        f"\npractices compared: {agreement['practices_compared']:,}; "
        f"CCF lines compared: {agreement['ccf_lines_compared']:,}"
    )
    for pair, verdict in agreement["pairs"].items():
        detail = ", ".join(
            f"{k} {'ok' if v else 'DIFFER'}"
            for k, v in verdict.items()
            if isinstance(v, bool) and k != "agree"
        )
        print(f"{pair}: {'AGREE to the cent' if verdict['agree'] else 'DISAGREE'} ({detail})")
        for group, rows in verdict.get("mismatches", {}).items():
            for row in rows:
                print(f"    {group}: {row}")
    print(
        f"load average (1, 5, 15 min) before {load_before}, after "
        f"{[round(x, 2) for x in os.getloadavg()]} on {machine()['nproc']} cores"
    )
    if source_after != source_before:
        print(
            "WARNING: the package's source changed during the runs; the engine's figures mix versions"
        )
    print("targets (issue 5): " + ", ".join(f"{k}={v}" for k, v in targets.items()))

    report = {
        "benchmark": "full year 2026: 12 monthly CCF batches + year-end settlement",
        "members": args.members,
        "seed": args.seed,
        "data": str(data),
        "config": str(args.config),
        "repeat": args.repeat,
        "timed": "process wall time from spawn to exit (start-up, imports, reading the "
        "Parquet files, computing, writing the result): the lowest of the runs; peak RSS "
        "(the process's ru_maxrss): the highest of the runs",
        "engine_source_sha256": source_after,
        "engine_source_changed_during_runs": source_after != source_before,
        "machine": machine(),
        "load_average_1_5_15": {
            "before": load_before,
            "after": [round(x, 2) for x in os.getloadavg()],
            "note": "other processes on the machine compete for its cores; compare with nproc",
        },
        "peers": best,
        "ratios": ratios,
        "targets": targets,
        "agreement": agreement,
    }
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {json_path}")
    return 0 if agreement["agree"] else 1


if __name__ == "__main__":
    sys.exit(main())
