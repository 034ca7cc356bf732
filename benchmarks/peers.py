"""Side-by-side benchmark: each user-facing job with this project, with DuckDB SQL and with polars.

    python benchmarks/peers.py --members 1000000 [--seed 7] [--data DIR] [--repeat N]
                               [--jobs ccf_month,ccf_months,settle,full_year]
                               [--peers engine,duckdb,polars] [--month 2026-03]
                               [--json benchmarks/results/peers-1000000.json]

On the same generated Parquet files (``generate_program(members, seed)``, written once
to DIR, by default ``bench_data/peers-<members>-seed<seed>/``, which git ignores), each
peer runs each job in its own process, under the default config:

* ``ccf_month``: the CCF batch of one month (``--month``, 2026-03 by default);
* ``ccf_months``: the CCF batches of the year's twelve months;
* ``settle``: the year-end settlement of 2026;
* ``full_year``: the twelve CCF batches and the settlement in one process.

For the engine the first three are its real commands (``totalcare ccf --month``,
``totalcare ccf --months 2026-01..2026-12``, ``totalcare settle``), start-up, checks and
every output file included; the full year is ``peer_engine.py``, which loads the program
once and computes both. The other peers are ``peer_<name>.py JOB DATA OUT``.

Each process is started by a fresh, tiny wrapper process that measures the wall time
from spawn to exit, the CPU time (user + sys) and the process's own peak RSS (both from
``wait4``; a child's ``ru_maxrss`` starts at the RSS of the process it was spawned from,
which is why the wrapper is small and fresh rather than this script). The results of
each job are then compared to the cent with the engine's, and each peer's jobs with one
another (its one-month CCF with the same month of its twelve, its full year with its
twelve months and its settlement); the script prints a table per job and writes a JSON
file, and exits with status 1 when any results disagree.

This module imports only the standard library at the top: the peer scripts import
``read_terms`` and the column names from it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
DEFAULT_CONFIG = ROOT / "totalcare_payments" / "presets" / "bluekc_medical_home.toml"
PEERS = ("engine", "duckdb", "polars")
TABLES = ("practices", "attribution", "risk_scores", "claims", "quality")
YEAR = 2026
DEFAULT_MONTH = f"{YEAR}-03"

# The user-facing jobs, each run as a whole process by every peer.
JOBS = {
    "ccf_month": "the CCF batch of one month",
    "ccf_months": "the CCF batches of the year's twelve months",
    "settle": "the year-end settlement",
    "full_year": "the twelve CCF batches and the settlement, in one process",
}
CCF_JOBS = ("ccf_month", "ccf_months", "full_year")
SETTLEMENT_JOBS = ("settle", "full_year")

# What every peer script writes into its OUT folder (the engine's commands write their
# own outputs, read by ``load_ccf`` and ``load_settlement``):
CCF_FILE = "ccf.parquet"  # one row per practice and month with a line
CCF_COLUMNS = ["practice_id", "year_month", "members", "avg_risk_score", "ccf_cents"]
SETTLEMENT_FILE = "settlement.parquet"  # one row per practice with member-months in the year
SETTLEMENT_COLUMNS = [
    "practice_id",
    "member_months",
    "avg_risk_score",
    "budget_cents",
    "claims_paid_cents",
    "truncated_cents",
    "actual_cost_cents",
    "final_payment_cents",
]
SCORE_DECIMALS = 4  # avg_risk_score places in the default config

# Issue 16's targets: the engine's wall time over tuned DuckDB's, per job, and its peak
# RSS, at the sizes the issue names (there is none at other sizes).
TARGETS: dict[int, dict[str, Any]] = {
    1_000_000: {
        "wall_vs_duckdb_at_most": {
            "ccf_month": 1.0,
            "ccf_months": 1.0,
            "settle": 0.6,
            "full_year": 0.6,
        },
        "engine_rss_at_most_mb": 1200.0,
    },
    10_000_000: {
        "wall_vs_duckdb_at_most": {job: 0.5 for job in JOBS},
        "engine_rss_at_most_mb": 2500.0,
    },
    30_000_000: {"engine_rss_at_most_mb": 4000.0},
}


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


# --------------------------------------------------------------------------- jobs


def job_months(job: str, month: str = DEFAULT_MONTH, year: int = YEAR) -> list[str]:
    """The CCF months of a job: ``month`` for ``ccf_month``, else the year's twelve."""
    if job == "ccf_month":
        return [month]
    return [f"{year}-{m:02d}" for m in range(1, 13)]


def peer_arguments(doc: str) -> argparse.Namespace:
    """The command line every peer script takes: JOB DATA OUT [--config] [--month] [--year]."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("job", choices=list(JOBS))
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path, help="folder for ccf.parquet / settlement.parquet")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--month", default=DEFAULT_MONTH, help="the month of ccf_month")
    parser.add_argument("--year", type=int, default=YEAR)
    return parser.parse_args()


def totalcare() -> list[str]:
    """The ``totalcare`` command of this interpreter's environment."""
    script = Path(sys.executable).with_name("totalcare")
    return [str(script)] if script.exists() else [sys.executable, "-m", "totalcare_payments"]


def peer_command(
    name: str,
    job: str,
    data: Path,
    out: Path,
    config: Path = DEFAULT_CONFIG,
    month: str = DEFAULT_MONTH,
    year: int = YEAR,
) -> list[str]:
    """The process a peer runs for a job. The engine's CCF and settlement are its real
    commands; its full year, and every job of the other peers, a ``peer_<name>.py`` script."""
    if name == "engine" and job != "full_year":
        common = ["--data", str(data), "--config", str(config), "--out", str(out)]
        if job == "ccf_month":
            return [*totalcare(), "ccf", "--month", month, *common]
        if job == "ccf_months":
            return [*totalcare(), "ccf", "--months", f"{year}-01..{year}-12", *common]
        return [*totalcare(), "settle", "--year", str(year), *common]
    script = BENCH / f"peer_{name}.py"
    period = ["--month", month] if job == "ccf_month" else ["--year", str(year)]
    return [sys.executable, str(script), job, str(data), str(out), "--config", str(config), *period]


def shown_command(command: list[str], data: Path, out: Path, config: Path) -> str:
    """A command as the JSON shows it: the interpreter, folders and config by name."""
    names = {
        sys.executable: "python",
        str(data): "DATA",
        str(out): "OUT",
        str(config): "CONFIG",
        str(Path(sys.executable).with_name("totalcare")): "totalcare",
    }
    words = [names.get(w, w) for w in command]
    words = [str(Path(w).relative_to(ROOT)) if w.startswith(str(ROOT)) else w for w in words]
    return shlex.join(words)


# --------------------------------------------------------------------------- data


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


def run_peer(
    name: str,
    job: str,
    data: Path,
    out: Path,
    config: Path = DEFAULT_CONFIG,
    month: str = DEFAULT_MONTH,
    year: int = YEAR,
) -> dict:
    """Run one job of one peer in its own process; its wall time, CPU time, peak RSS and
    (for the peer scripts) the timings it reports. ``out`` must not exist yet."""
    command = peer_command(name, job, data, out, config, month, year)
    with tempfile.TemporaryDirectory(prefix=f"peer-{name}-{job}-") as tmp:
        measure, stdout, stderr = (Path(tmp) / n for n in ("measure.json", "stdout", "stderr"))
        with stdout.open("wb") as so, stderr.open("wb") as se:
            subprocess.run(
                [sys.executable, "-c", _WRAPPER, str(measure), *command],
                stdout=so,
                stderr=se,
                check=True,
                cwd=ROOT,
            )
        m = json.loads(measure.read_text())
        if m["exit_code"] != 0:
            raise RuntimeError(
                f"{name} {job} failed (exit {m['exit_code']}): {shlex.join(command)}\n"
                f"{stderr.read_text()[-4000:]}{stdout.read_text()[-2000:]}"
            )
        lines = [ln for ln in stdout.read_text().splitlines() if ln.startswith('{"peer"')]
        reported = json.loads(lines[-1]) if lines else {}
    return {
        "wall_s": m["wall_s"],
        "cpu_s": m["user_s"] + m["sys_s"],
        "user_s": m["user_s"],
        "sys_s": m["sys_s"],
        "rss_mb": m["maxrss_kb"] / 1024.0,
        "reported": reported,
    }


# --------------------------------------------------------------------------- results


def _cents(table: Any, column: str) -> Any:
    """A decimal money column (the engine's outputs) as int64 cents, exactly."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.cast(pc.multiply(table[column], pa.scalar(100, pa.int64())), pa.int64())


def load_ccf(out: Path) -> Any:
    """A job's CCF lines as a frame indexed by (practice_id, year_month): members,
    avg_risk_score, ccf_cents. Reads the engine's ``ccf_payments.parquet`` (amounts in
    decimal dollars) or a peer script's ``ccf.parquet`` (cents)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if (out / "ccf_payments.parquet").exists():
        raw = pq.read_table(
            out / "ccf_payments.parquet",
            columns=[
                "practice_id",
                "year_month",
                "attributed_members",
                "avg_risk_score",
                "ccf_amount",
            ],
        )
        table = pa.table(
            {
                "practice_id": raw["practice_id"],
                "year_month": raw["year_month"],
                "members": raw["attributed_members"],
                "avg_risk_score": raw["avg_risk_score"],
                "ccf_cents": _cents(raw, "ccf_amount"),
            }
        )
    else:
        table = pq.read_table(out / CCF_FILE, columns=CCF_COLUMNS)
    frame = table.to_pandas()
    for key in ("practice_id", "year_month"):
        frame[key] = frame[key].astype(str)
    for column in ("members", "ccf_cents"):
        frame[column] = frame[column].astype("int64")
    return frame.set_index(["practice_id", "year_month"]).sort_index()


_ENGINE_SETTLEMENT = {
    "budget_cents": "budget",
    "claims_paid_cents": "claims_paid",
    "truncated_cents": "truncated",
    "actual_cost_cents": "actual_cost",
    "final_payment_cents": "final_payment",
}


def load_settlement(out: Path) -> Any:
    """A job's settlement as a frame indexed by practice_id (``SETTLEMENT_COLUMNS``), from
    the engine's ``settlement.parquet`` (decimal dollars) or a peer script's (cents)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = out / SETTLEMENT_FILE
    names = pq.read_schema(path).names
    if "final_payment" in names:
        raw = pq.read_table(
            path,
            columns=[
                "practice_id",
                "member_months",
                "avg_risk_score",
                *_ENGINE_SETTLEMENT.values(),
            ],
        )
        columns = {
            "practice_id": raw["practice_id"],
            "member_months": raw["member_months"],
            "avg_risk_score": raw["avg_risk_score"],
        }
        columns.update({ours: _cents(raw, theirs) for ours, theirs in _ENGINE_SETTLEMENT.items()})
        table = pa.table(columns)
    else:
        table = pq.read_table(path, columns=SETTLEMENT_COLUMNS)
    frame = table.to_pandas()
    frame["practice_id"] = frame["practice_id"].astype(str)
    for column in SETTLEMENT_COLUMNS[1:]:
        if column != "avg_risk_score":
            frame[column] = frame[column].astype("int64")
    return frame.set_index("practice_id").sort_index()


def load_result(job: str, out: Path) -> dict[str, Any]:
    """The tables a job writes: ``ccf`` and/or ``settlement``."""
    tables = {}
    if job in CCF_JOBS:
        tables["ccf"] = load_ccf(out)
    if job in SETTLEMENT_JOBS:
        tables["settlement"] = load_settlement(out)
    return tables


# --------------------------------------------------------------------------- comparing


def compare_frames(a: Any, b: Any, names: tuple[str, str], examples: int = 5) -> dict:
    """Two result tables, cell by cell on the same keys: integers exactly (money in cents),
    avg_risk_score as its 4-decimal value. (Not as a float: polars divides a float column
    by a constant by multiplying by the reciprocal, so its 10453 / 10000 is
    1.0453000000000001 where numpy's and DuckDB's is 1.0453. The money steps remove such
    one-ulp noise by rounding the scaled value to 6 decimals first, as money.to_cents does.)
    """
    verdict: dict = {"same_keys": bool(a.index.equals(b.index))}
    if not verdict["same_keys"]:
        verdict[f"only_in_{names[0]}"] = [str(k) for k in a.index.difference(b.index)[:examples]]
        verdict[f"only_in_{names[1]}"] = [str(k) for k in b.index.difference(a.index)[:examples]]
    x, y = a.align(b, join="inner", axis=0)
    mismatches: dict = {}
    for column in a.columns:
        u, v = x[column], y[column]
        if column == "avg_risk_score":  # compare the 4-decimal value, see the docstring
            u, v = (w.mul(10**SCORE_DECIMALS).round() for w in (u, v))
        bad = ~((u == v).to_numpy())
        verdict[column] = not bad.any()
        if bad.any():
            mismatches[column] = [
                {"key": str(key), names[0]: _plain(u[key]), names[1]: _plain(v[key])}
                for key in u.index[bad][:examples]
            ]
    verdict["agree"] = verdict["same_keys"] and all(verdict[c] for c in a.columns)
    if mismatches:
        verdict["mismatches"] = mismatches
    return verdict


def compare(results: dict[str, dict[str, Any]]) -> dict:
    """One job's results of every peer against the first peer's (the engine's)."""
    names = list(results)
    base_name, base = names[0], results[names[0]]
    out: dict = {}
    if "ccf" in base:
        out["ccf_lines_compared"] = len(base["ccf"])
    if "settlement" in base:
        out["practices_compared"] = len(base["settlement"])
    out["pairs"] = {}
    for other in names[1:]:
        pair = {
            table: compare_frames(base[table], results[other][table], (base_name, other))
            for table in base
        }
        pair["agree"] = all(v["agree"] for v in pair.values())
        out["pairs"][f"{base_name}_vs_{other}"] = pair
    out["agree"] = all(p["agree"] for p in out["pairs"].values())
    return out


def consistency(by_job: dict[str, dict[str, Any]], month: str) -> dict:
    """Each peer's jobs with one another: its one-month CCF against the same month of its
    twelve, its full year's CCF against its twelve months and its settlement against its
    ``settle``. ``by_job`` maps job -> the tables ``load_result`` read."""
    checks: dict = {}
    twelve = by_job.get("ccf_months", {}).get("ccf")
    if twelve is not None and "ccf_month" in by_job:
        one = twelve[twelve.index.get_level_values("year_month") == month]
        checks["ccf_month_vs_ccf_months"] = compare_frames(
            by_job["ccf_month"]["ccf"], one, ("ccf_month", "ccf_months")
        )
    if "full_year" in by_job:
        if twelve is not None:
            checks["full_year_vs_ccf_months"] = compare_frames(
                by_job["full_year"]["ccf"], twelve, ("full_year", "ccf_months")
            )
        if "settle" in by_job:
            checks["full_year_vs_settle"] = compare_frames(
                by_job["full_year"]["settlement"],
                by_job["settle"]["settlement"],
                ("full_year", "settle"),
            )
    checks["agree"] = all(v["agree"] for v in checks.values())
    return checks


def _plain(value: object) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    try:
        return value.item()  # type: ignore[attr-defined]  # numpy scalar
    except AttributeError:
        return value


# --------------------------------------------------------------------------- reporting


def engine_fingerprint() -> str:
    """sha256 of the package's source files, to tie the figures to the code they measured."""
    package = ROOT / "totalcare_payments"
    return _fingerprint(package, sorted([*package.rglob("*.py"), *package.rglob("*.toml")]))


def peers_fingerprint() -> str:
    """sha256 of this script and the peer scripts: the peers' code the figures measured."""
    return _fingerprint(BENCH, sorted([BENCH / "peers.py", *BENCH.glob("peer_*.py")]))


def _fingerprint(base: Path, paths: list[Path]) -> str:
    import hashlib

    digest = hashlib.sha256()
    for path in paths:
        name = path.relative_to(base).as_posix()
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


def summarize(runs: list[dict], members: int) -> dict:
    """One peer's runs of one job: the lowest wall time and the lowest CPU time of the runs
    (the least disturbed by the machine's other work), CPU-seconds per million members,
    and for memory the highest peak RSS of all runs.

    A process's peak RSS moves from run to run (Arrow's allocators return memory on a
    timer), so the highest is the figure to provision for and to hold to a target.
    """
    fastest = min(runs, key=lambda r: r["wall_s"])
    cpu = min(r["cpu_s"] for r in runs)
    return {
        "wall_s": round(fastest["wall_s"], 3),
        "cpu_s": round(cpu, 3),
        "cpu_s_per_million_members": round(cpu / (members / 1e6), 3),
        "rss_mb": round(max(r["rss_mb"] for r in runs), 1),
        "rss_mb_lowest": round(min(r["rss_mb"] for r in runs), 1),
        "reported": fastest.get("reported", {}),
        "runs": [
            {
                "wall_s": round(r["wall_s"], 3),
                "cpu_s": round(r["cpu_s"], 3),
                "user_s": round(r["user_s"], 3),
                "sys_s": round(r["sys_s"], 3),
                "rss_mb": round(r["rss_mb"], 1),
            }
            for r in runs
        ],
    }


def ratios(best: dict[str, dict]) -> dict[str, float]:
    """The engine's wall time, CPU time and peak RSS over each other peer's, for one job."""
    engine = best["engine"]
    out = {}
    for name in best:
        if name == "engine":
            continue
        for key, field_name in (("wall", "wall_s"), ("cpu", "cpu_s"), ("rss", "rss_mb")):
            out[f"engine_over_{name}_{key}"] = round(engine[field_name] / best[name][field_name], 3)
    return out


def targets_for(members: int, jobs: dict[str, dict]) -> dict:
    """Issue 16's targets at this size, and whether this run meets them."""
    wanted = TARGETS.get(members)
    if wanted is None:
        return {"issue": 16, "note": f"the issue sets no target at {members:,} members"}
    out: dict[str, Any] = {"issue": 16}
    walls = wanted.get("wall_vs_duckdb_at_most", {})
    if walls:
        out["engine_over_duckdb_wall_at_most"] = walls
        out["engine_over_duckdb_wall_met"] = {
            job: jobs[job]["ratios"]["engine_over_duckdb_wall"] <= walls[job]
            for job in jobs
            if job in walls and "engine_over_duckdb_wall" in jobs[job]["ratios"]
        }
    limit = wanted["engine_rss_at_most_mb"]
    out["engine_rss_at_most_mb"] = limit
    out["engine_rss_met"] = {
        job: j["peers"]["engine"]["rss_mb"] <= limit for job, j in jobs.items()
    }
    return out


def print_job(job: str, what: str, best: dict[str, dict], members: int) -> None:
    engine = best["engine"]
    print(f"\n{job}: {what}, {members:,} members")
    print(
        f"{'peer':<8} {'wall s':>8} {'cpu s':>8} {'cpu s/M':>8} {'peak RSS MB':>12} "
        f"{'engine/peer wall':>17} {'engine/peer cpu':>16}"
    )
    for name, b in best.items():
        print(
            f"{name:<8} {b['wall_s']:>8.2f} {b['cpu_s']:>8.2f} "
            f"{b['cpu_s_per_million_members']:>8.2f} {b['rss_mb']:>12.0f} "
            f"{engine['wall_s'] / b['wall_s']:>17.2f} {engine['cpu_s'] / b['cpu_s']:>16.2f}"
        )


def _verdict_line(label: str, verdict: dict) -> str:
    parts = []
    for table, v in verdict.items():
        if isinstance(v, dict):
            bad = [k for k, ok in v.items() if isinstance(ok, bool) and not ok and k != "agree"]
            parts.append(f"{table} {'ok' if v['agree'] else 'DIFFER: ' + ', '.join(bad)}")
    return (
        f"{label}: {'AGREE to the cent' if verdict['agree'] else 'DISAGREE'} ({'; '.join(parts)})"
    )


def _parse_list(text: str, allowed: tuple[str, ...] | list[str], what: str) -> list[str]:
    chosen = [p.strip() for p in text.split(",") if p.strip()]
    unknown = sorted(set(chosen) - set(allowed))
    if unknown or not chosen:
        raise SystemExit(f"--{what}: choose among {', '.join(allowed)} (not {', '.join(unknown)})")
    return [p for p in allowed if p in chosen]  # in the canonical order


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
        "--jobs",
        default=",".join(JOBS),
        help=f"comma list of jobs to run, among {', '.join(JOBS)}",
    )
    parser.add_argument(
        "--peers",
        default=",".join(PEERS),
        help="comma list of peers to run (the engine always runs: it is the base of the ratios)",
    )
    parser.add_argument("--month", default=DEFAULT_MONTH, help="the month of the ccf_month job")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    args = parser.parse_args(argv)
    jobs = _parse_list(args.jobs, list(JOBS), "jobs")
    peers = _parse_list(args.peers, PEERS, "peers")
    if "engine" not in peers:
        parser.error("--peers: the engine is the base of the comparison; include it")
    if args.repeat < 1:
        parser.error("--repeat: at least 1")
    if not args.month.startswith(f"{YEAR}-"):
        parser.error(f"--month: a month of {YEAR}, the year of the generated program")
    read_terms(args.config)  # fail early on a config the peers do not implement
    config = args.config.resolve()

    data = (args.data or default_data_dir(args.members, args.seed)).resolve()
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
    runs: dict[str, dict[str, list[dict]]] = {job: {name: [] for name in peers} for job in jobs}
    results: dict[str, dict[str, dict[str, Any]]] = {job: {} for job in jobs}
    commands: dict[str, dict[str, str]] = {job: {} for job in jobs}
    with tempfile.TemporaryDirectory(prefix="peers-") as tmp:
        for i in range(args.repeat):  # interleaved, so drifts in the machine hit every peer
            for job in jobs:
                for name in peers:
                    out = Path(tmp) / f"{job}-{name}-{i + 1}"
                    r = run_peer(name, job, data, out, config, args.month, YEAR)
                    runs[job][name].append(r)
                    commands[job][name] = shown_command(
                        peer_command(name, job, data, out, config, args.month, YEAR),
                        data,
                        out,
                        config,
                    )
                    print(
                        f"run {i + 1}/{args.repeat} {job:<10} {name:<7} wall {r['wall_s']:7.2f} s"
                        f"  cpu {r['cpu_s']:7.2f} s  peak RSS {r['rss_mb']:7.0f} MB"
                    )
                    if i == args.repeat - 1:  # the last round's results are compared
                        results[job][name] = load_result(job, out)
    source_after = engine_fingerprint()
    load_after = [round(x, 2) for x in os.getloadavg()]

    report_jobs: dict[str, dict] = {}
    for job in jobs:
        what = JOBS[job] + (f" ({args.month})" if job == "ccf_month" else f" ({YEAR})")
        best = {name: summarize(runs[job][name], args.members) for name in peers}
        report_jobs[job] = {
            "what": what,
            "commands": commands[job],
            "peers": best,
            "ratios": ratios(best),
            "agreement": compare(results[job]),
        }
        print_job(job, what, best, args.members)
    checks = {
        name: consistency({job: results[job][name] for job in jobs}, args.month) for name in peers
    }
    targets = targets_for(args.members, report_jobs)

    print()
    for job, j in report_jobs.items():
        for pair, verdict in j["agreement"]["pairs"].items():
            print(_verdict_line(f"{job} {pair}", verdict))
            for table, v in verdict.items():
                if isinstance(v, dict):
                    for column, rows in v.get("mismatches", {}).items():
                        for row in rows:
                            print(f"    {table}.{column}: {row}")
    for name, c in checks.items():
        if len(c) > 1:
            print(_verdict_line(f"{name}'s jobs with one another", c))
    print(
        f"load average (1, 5, 15 min) before {load_before}, after {load_after} "
        f"on {machine()['nproc']} cores"
    )
    if source_after != source_before:
        print(
            "WARNING: the package's source changed during the runs; the engine's figures mix versions"
        )
    print("targets (issue 16): " + json.dumps(targets))
    agree = all(j["agreement"]["agree"] for j in report_jobs.values()) and all(
        c["agree"] for c in checks.values()
    )

    report = {
        "benchmark": "each user-facing job as a whole process: the CCF batch of one month, "
        "the CCF batches of twelve months, the year-end settlement, and the full year "
        "(twelve CCF batches + settlement in one process)",
        "members": args.members,
        "seed": args.seed,
        "data": str(data),
        "config": str(config),
        "year": YEAR,
        "month": args.month,
        "repeat": args.repeat,
        "timed": "process wall time from spawn to exit (start-up, imports, reading the "
        "Parquet files, computing, writing the outputs): the lowest of the runs; CPU time "
        "(user + sys of the process, from wait4): the lowest of the runs; peak RSS (the "
        "process's ru_maxrss): the highest of the runs",
        "engine_source_sha256": source_after,
        "peers_source_sha256": peers_fingerprint(),
        "engine_source_changed_during_runs": source_after != source_before,
        "machine": machine(),
        "load_average_1_5_15": {
            "before": load_before,
            "after": load_after,
            "note": "other processes on the machine compete for its cores; compare with nproc",
        },
        "jobs": report_jobs,
        "consistency": checks,
        "targets": targets,
        "agree": agree,
    }
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {json_path}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
