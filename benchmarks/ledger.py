"""Benchmark of the payment ledger: posting a month of a million-member program, and a
batch whose retroactive window recomputes three months before its own, on SQLite and on
PostgreSQL.

    python benchmarks/ledger.py --members 1000000 [--seed 7] [--postgres URL]
                                [--json benchmarks/results/ledger-1000000.json]

On a generated program (``generate_program(members, seed)``, written once to
``bench_data/ledger-<members>-seed<seed>/``, which git ignores), with the default config
(``ccf.retro_months = 3``), each database gets a new ledger and four monthly batches:

* January, the ledger's first batch: every member-month of January posted as a roster
  line (about 0.9 roster lines per member): **post**;
* February and March: each recomputes its months back to January;
* April, from a feed restated from February on (1% of the members terminated): the
  window January to April is recomputed, every posted roster line of January to March
  read back, diffed member by member against the recomputed roster, and April's lines
  and the adjustments posted: **retro recompute**.

Each figure is the wall time of the ledger's part of the batch (``ledger.book.post_ccf``:
one locked transaction that reads what was posted, computes the differences and writes
the batch), the best of ``--repeat`` fresh ledgers; the whole April job in the same
process (reading the inputs, computing the fees and the roster, posting, writing
payments.csv, payment_lines.csv, roster.csv and the remittances) is measured too.
PostgreSQL runs when ``--postgres`` or ``TOTALCARE_TEST_POSTGRES_URL`` names a server
(each run in a schema of its own, dropped afterwards).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import sqlalchemy as sa

from totalcare_payments.ccf import ccf_roster, compute_ccf
from totalcare_payments.config import preset
from totalcare_payments.generate import generate_program, write_program
from totalcare_payments.jobs import _batch_record, member_text, run_ccf_ledger
from totalcare_payments.ledger.book import post_ccf
from totalcare_payments.ledger.store import open_ledger
from totalcare_payments.outputs.manifest import input_manifest
from totalcare_payments.periods import format_period, parse_year_month
from totalcare_payments.program import Program, load_program

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"post_s": 10.0, "retro_s": 20.0}
MONTHS = ["2026-01", "2026-02", "2026-03", "2026-04"]


def _data(members: int, seed: int) -> tuple[Path, Path]:
    """The generated program, and a copy whose attribution terminates 1% of the members
    from February on (April's restated feed)."""
    base = ROOT / "bench_data" / f"ledger-{members}-seed{seed}"
    restated = base.with_name(base.name + "-restated")
    if not (base / "attribution.parquet").exists():
        write_program(generate_program(members, seed=seed), base, fmt="parquet")
    if not (restated / "attribution.parquet").exists():
        restated.mkdir(parents=True, exist_ok=True)
        for path in base.glob("*.parquet"):
            if path.name != "attribution.parquet":
                (restated / path.name).write_bytes(path.read_bytes())
        table = pq.read_table(base / "attribution.parquet")
        frame = table.to_pandas()
        members_ = frame["member_id"].to_numpy()
        leaving = (members_ % 100) == 7
        months = frame["year_month"].astype(str).to_numpy()
        keep = ~(leaving & (months >= "2026-02"))
        pq.write_table(table.filter(keep), restated / "attribution.parquet")
    return base, restated


def _due(program: Program, config, month: str) -> tuple[pd.DataFrame, list[int]]:
    period = parse_year_month(month)
    window = [p for p in range(period - 3, period + 1) if p >= parse_year_month("2026-01")]
    due = ccf_roster(program, config, window)
    due["member_id"] = member_text(due["member_id"])
    return due, window


def _post(url: str, program: Program, config, month: str) -> dict[str, float | int]:
    due, window = _due(program, config, month)
    record = _batch_record(
        "ccf", month, config, input_manifest(program.tables()), retro_months=3,
        pay_date=f"{month}-01",
    )

    def due_before(_: list[int]) -> pd.DataFrame:
        return pd.DataFrame(columns=["practice_id", "period", "members", "amount_cents"])

    ledger = open_ledger(url, create=True)
    try:
        start = time.perf_counter()
        posting = post_ccf(ledger, record, due, window, due_before, post=True)
        seconds = time.perf_counter() - start
    finally:
        ledger.dispose()
    return {
        "seconds": seconds,
        "window_months": len(posting.window),
        "due_roster_rows": len(due),
        "roster_lines_posted": len(posting.roster),
        "adjusted_roster_lines": int((posting.roster["kind"] == "adjustment").sum()),
    }


def _fresh(kind: str, postgres: str | None, folder: Path) -> tuple[str, object]:
    """A new ledger: an SQLite file, or a PostgreSQL schema (with its cleanup)."""
    if kind == "sqlite":
        path = folder / f"ledger-{uuid.uuid4().hex[:8]}.sqlite"
        return str(path), lambda: [p.unlink() for p in folder.glob(path.name + "*")]
    assert postgres is not None
    schema = f"ledger_bench_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(postgres.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")

    def drop() -> None:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        engine.dispose()

    separator = "&" if "?" in postgres else "?"
    return f"{postgres}{separator}options=-csearch_path%3D{schema}", drop


def run(members: int, seed: int, repeat: int, postgres: str | None) -> dict:
    base, restated = _data(members, seed)
    config = preset("bluekc_medical_home")
    program = load_program(base, config)
    april = load_program(restated, config)
    kinds = ["sqlite"] + (["postgresql"] if postgres else [])
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for kind in kinds:
            best: dict[str, dict] = {}
            for _ in range(repeat):
                url, cleanup = _fresh(kind, postgres, folder)
                try:
                    runs = {m: _post(url, program, config, m) for m in MONTHS[:3]}
                    runs[MONTHS[3]] = _post(url, april, config, MONTHS[3])
                finally:
                    cleanup()  # type: ignore[operator]
                for month, figures in runs.items():
                    if month not in best or figures["seconds"] < best[month]["seconds"]:
                        best[month] = figures
            # the whole April job once, in this process, after January to March are posted
            url, cleanup = _fresh(kind, postgres, folder)
            try:
                for month in MONTHS[:3]:
                    _post(url, program, config, month)
                start = time.perf_counter()
                job = run_ccf_ledger(
                    config, restated, parse_year_month(MONTHS[3]), folder / f"out-{kind}", url,
                    post=True, force=True,
                )
                job_seconds = time.perf_counter() - start
            finally:
                cleanup()  # type: ignore[operator]
            results[kind] = {
                "post_s": round(best[MONTHS[0]]["seconds"], 3),
                "post_roster_lines": best[MONTHS[0]]["roster_lines_posted"],
                "retro_s": round(best[MONTHS[3]]["seconds"], 3),
                "retro_window_months": best[MONTHS[3]]["window_months"],
                "retro_due_roster_rows": best[MONTHS[3]]["due_roster_rows"],
                "retro_roster_lines_posted": best[MONTHS[3]]["roster_lines_posted"],
                "retro_adjusted_roster_lines": best[MONTHS[3]]["adjusted_roster_lines"],
                "april_job_s": round(job_seconds, 3),
                "months": {m: round(f["seconds"], 3) for m, f in best.items()},
                "april_net_cents": int(job.payments["net_amount_cents"].sum()),
            }
    due = compute_ccf(april, config, [parse_year_month(m) for m in MONTHS]).lines
    return {
        "members": members,
        "seed": seed,
        "repeat": repeat,
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
        },
        "member_months_january": int(
            due.loc[due["year_month"] == format_period(parse_year_month(MONTHS[0])), "attributed_members"].sum()
        ),
        "databases": results,
        "targets": TARGETS,
        "within_targets": all(
            r["post_s"] < TARGETS["post_s"] and r["retro_s"] < TARGETS["retro_s"]
            for r in results.values()
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", default=os.environ.get("TOTALCARE_TEST_POSTGRES_URL"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    result = run(args.members, args.seed, args.repeat, args.postgres)
    text = json.dumps(result, indent=2) + "\n"
    path = args.json or ROOT / "benchmarks" / "results" / f"ledger-{args.members}.json"
    path.write_text(text)
    print(text)
    for kind, figures in result["databases"].items():
        print(
            f"{kind}: post {figures['post_roster_lines']:,} roster lines {figures['post_s']:.2f} s; "
            f"retro recompute of {figures['retro_window_months']} months "
            f"{figures['retro_s']:.2f} s; the whole April job {figures['april_job_s']:.2f} s"
        )
    np.seterr()


if __name__ == "__main__":
    main()
