"""The full year with this project: all 12 monthly CCF batches of 2026 and the 2026 settlement.

    python benchmarks/peer_engine.py DATA_DIR OUT.parquet [--config CONFIG.toml]

Uses the public API only, with the start-up the ``totalcare`` command makes before it
loads the program: the batch process settings (``process.start_batch``: no BLAS worker
threads, a rarer cycle collector, memory kept and reused) and the read-ahead of
attribution and claims (``inputs.readahead.read_ahead_inputs``, a handle given to the
reader). The input tables are read and checked once (``load_program`` with claims and
quality), then one CCF batch covering the twelve months and the
settlement are computed from them, as a year-end run would. The checks move bad rows
to rejects and exclude rows outside the run; the generated data has no bad rows and
all of its attribution is in 2026, so the settlement sees the same rows the CCF batch
saw. The per-practice results go to OUT.parquet in the layout every peer writes
(``peers.RESULT_COLUMNS``); one JSON line with the in-process timings goes to stdout.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

T0 = time.perf_counter()

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import peer_arguments  # noqa: E402

from totalcare_payments.inputs.readahead import ReadAhead, read_ahead_inputs  # noqa: E402
from totalcare_payments.process import start_batch  # noqa: E402  (before numpy loads)

if TYPE_CHECKING:
    import pandas as pd

YEAR = 2026
MONTHS = [f"{YEAR}-{m:02d}" for m in range(1, 13)]


def full_year(
    data_dir: Path, config_path: Path, ahead: ReadAhead
) -> tuple[pd.DataFrame, dict[str, float]]:
    """The per-practice result table and the time of each step (seconds). The program
    is imported here, after the start-up in ``main``."""
    import numpy as np

    from totalcare_payments.ccf import compute_ccf
    from totalcare_payments.config import load_config
    from totalcare_payments.periods import year_periods
    from totalcare_payments.program import load_program
    from totalcare_payments.savings.year import compute_settlement

    timings: dict[str, float] = {}
    t = time.perf_counter()
    config = load_config(config_path)
    data = load_program(data_dir, config, with_claims=True, with_quality=True, ahead=ahead)
    timings["read_s"] = time.perf_counter() - t

    t = time.perf_counter()
    batch = compute_ccf(data, config, list(year_periods(YEAR)))
    timings["ccf_s"] = time.perf_counter() - t

    t = time.perf_counter()
    settlement = compute_settlement(data, config, YEAR)
    timings["settlement_s"] = time.perf_counter() - t

    ccf = batch.lines.pivot(index="practice_id", columns="year_month", values="ccf_amount_cents")
    ccf = ccf.reindex(columns=MONTHS)
    ccf.columns = ["ccf_" + m.replace("-", "_") for m in MONTHS]
    ccf = ccf.astype("Int64")
    settled = settlement.practices.set_index("practice_id")[
        [
            "member_months",
            "avg_risk_score",
            "budget_cents",
            "claims_paid_cents",
            "truncated_cents",
            "actual_cost_cents",
            "final_payment_cents",
        ]
    ]
    result = ccf.join(settled, how="outer").rename_axis("practice_id").reset_index()
    result["practice_id"] = result["practice_id"].astype(str)
    result = result.sort_values("practice_id", kind="stable").reset_index(drop=True)
    for column in (
        "member_months",
        "budget_cents",
        "claims_paid_cents",
        "truncated_cents",
        "actual_cost_cents",
        "final_payment_cents",
    ):
        result[column] = result[column].astype("Int64")
    result["avg_risk_score"] = result["avg_risk_score"].astype(np.float64)
    return result, timings


def main() -> None:
    start_batch()  # the totalcare command's start-up, before the program is loaded
    args = peer_arguments(__doc__ or "")
    ahead = read_ahead_inputs(args.data, with_claims=True)
    import totalcare_payments.savings.year  # noqa: F401 (the program loads; not part of job_s)

    t = time.perf_counter()
    result, timings = full_year(args.data, args.config, ahead)
    timings["job_s"] = time.perf_counter() - t
    result.to_parquet(args.out, index=False)
    timings["process_s"] = time.perf_counter() - T0
    print(json.dumps({"peer": "engine", "practices": len(result), **timings}), flush=True)
    os._exit(0)  # as the totalcare command ends: no interpreter teardown once all is written


if __name__ == "__main__":
    main()
