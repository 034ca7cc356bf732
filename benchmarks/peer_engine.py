"""A job with this project through its public API, in one process (``full_year`` above all).

    python benchmarks/peer_engine.py JOB DATA_DIR OUT_DIR [--config CONFIG.toml] [--month YYYY-MM]

``peers.py`` runs the engine's CCF and settlement jobs as the real ``totalcare`` commands;
the full year -- the twelve monthly CCF batches of 2026 and the 2026 settlement from one
reading of the inputs, as a year-end run would -- has no command of its own, and is this
script. It takes every job of ``peers.JOBS``, so that a job can also be timed in process.

It makes the start-up the ``totalcare`` command makes before it loads the program: the
batch process settings (``process.start_batch``: no BLAS worker threads, a rarer cycle
collector, memory kept and reused) and the read-ahead of attribution and claims
(``inputs.readahead.read_ahead_inputs``, a handle given to the reader). The input tables
are read and checked once (``load_program``), then one CCF batch covering the job's months
and/or the settlement are computed from them. The checks move bad rows to rejects and
exclude rows outside the run; the generated data has no bad rows and all of its
attribution is in 2026, so the settlement sees the same rows the CCF batch saw. The
results go to OUT_DIR in the layout every peer script writes (``peers.CCF_COLUMNS``,
``peers.SETTLEMENT_COLUMNS``); one JSON line with the in-process timings goes to stdout.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

T0 = time.perf_counter()

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import (  # noqa: E402
    CCF_FILE,
    CCF_JOBS,
    SETTLEMENT_FILE,
    SETTLEMENT_JOBS,
    job_months,
    peer_arguments,
)

from totalcare_payments.inputs.readahead import ReadAhead, read_ahead_inputs  # noqa: E402
from totalcare_payments.process import start_batch  # noqa: E402  (before numpy loads)


def run(
    job: str,
    data_dir: Path,
    out: Path,
    config_path: Path,
    months: list[str],
    year: int,
    ahead: ReadAhead,
) -> dict[str, float]:
    """Compute the job and write its tables; the time of each step (seconds). The program
    is imported here, after the start-up in ``main``."""
    import pandas as pd

    from totalcare_payments.ccf import compute_ccf
    from totalcare_payments.config import load_config
    from totalcare_payments.periods import parse_year_month
    from totalcare_payments.program import load_program
    from totalcare_payments.savings.year import compute_settlement

    settling = job in SETTLEMENT_JOBS
    timings: dict[str, float] = {}
    t = time.perf_counter()
    config = load_config(config_path)
    data = load_program(data_dir, config, with_claims=settling, with_quality=settling, ahead=ahead)
    timings["read_s"] = time.perf_counter() - t
    out.mkdir(parents=True, exist_ok=True)

    if job in CCF_JOBS:
        t = time.perf_counter()
        lines = compute_ccf(data, config, [parse_year_month(m) for m in months]).lines
        timings["ccf_s"] = time.perf_counter() - t
        ccf = pd.DataFrame(
            {
                "practice_id": lines["practice_id"].astype(str),
                "year_month": lines["year_month"].astype(str),
                "members": lines["attributed_members"].astype("int64"),
                "avg_risk_score": lines["avg_risk_score"].astype("float64"),
                "ccf_cents": lines["ccf_amount_cents"].astype("int64"),
            }
        )
        ccf.to_parquet(out / CCF_FILE, index=False)

    if settling:
        t = time.perf_counter()
        practices = compute_settlement(data, config, year).practices
        timings["settlement_s"] = time.perf_counter() - t
        settlement = pd.DataFrame(
            {
                "practice_id": practices["practice_id"].astype(str),
                "member_months": practices["member_months"].astype("int64"),
                "avg_risk_score": practices["avg_risk_score"].astype("float64"),
                **{
                    column: practices[column].astype("int64")
                    for column in (
                        "budget_cents",
                        "claims_paid_cents",
                        "truncated_cents",
                        "actual_cost_cents",
                        "final_payment_cents",
                    )
                },
            }
        )
        settlement.to_parquet(out / SETTLEMENT_FILE, index=False)
    return timings


def main() -> None:
    start_batch()  # the totalcare command's start-up, before the program is loaded
    args = peer_arguments(__doc__ or "")
    ahead = read_ahead_inputs(args.data, with_claims=args.job in SETTLEMENT_JOBS)
    import totalcare_payments.savings.year  # noqa: F401 (the program loads; not part of job_s)

    t = time.perf_counter()
    months = job_months(args.job, args.month, args.year)
    timings = run(args.job, args.data, args.out, args.config, months, args.year, ahead)
    timings["job_s"] = time.perf_counter() - t
    timings["process_s"] = time.perf_counter() - T0
    print(json.dumps({"peer": "engine", "job": args.job, **timings}), flush=True)
    os._exit(0)  # as the totalcare command ends: no interpreter teardown once all is written


if __name__ == "__main__":
    main()
