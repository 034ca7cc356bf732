"""The full year written as DuckDB SQL over the Parquet files: 12 monthly CCF batches + settlement.

    python benchmarks/peer_duckdb.py DATA_DIR OUT.parquet [--config CONFIG.toml]

The default config's rules (see ``peers.read_terms``), reproducing the engine's
arithmetic to the cent: claims summed in whole units of a hundredth of a cent and
rounded half-up to cents once per practice, integer cents rounded half away from zero
after removing float noise at 6 decimals (``to_cents``), average risk rounded half-up
to 4 places, risk ratio to 6. Every constant is a DOUBLE (DuckDB reads ``0.06`` as a DECIMAL,
which would make ``0.06 - 0.04`` exact where numpy's is not). DuckDB uses all cores.
Writes the per-practice table of ``peers.RESULT_COLUMNS``; prints one JSON line of timings.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

T0 = time.perf_counter()

import duckdb  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import (  # noqa: E402
    MONTH_COLUMNS,
    YEAR,
    Terms,
    peer_arguments,
    read_terms,
    stop_loss_units,
)


def d(x: float) -> str:
    """A DOUBLE literal that is exactly the Python float."""
    return f"CAST('{float(x)!r}' AS DOUBLE)"


def macros(t: Terms) -> str:
    bands = " ".join(
        f"WHEN r >= {d(low)} THEN {d(pmpm)}" for low, pmpm in sorted(t.bands, reverse=True)
    )
    tiers = " ".join(f"WHEN '{name}' THEN {d(m)}" for name, m in t.tier_multipliers.items())
    # MSR table: the last band with min_population <= n (the first band below its start)
    band_rows = list(enumerate(t.msr_table))
    pick = " ".join(
        f"WHEN n >= {d(lo)} THEN {i}" for i, (lo, _hi, _a, _b) in reversed(band_rows[1:])
    )
    msr_cases = " ".join(
        f"WHEN {i} THEN "
        + (
            f"{d(a)} - ({d(a)} - {d(b)}) * ((least(greatest(n, {d(lo)}), {d(hi)}) - {d(lo)}) / {d(hi - lo)})"
            if hi > lo
            else f"{d(a)} - ({d(a)} - {d(b)}) * {d(1.0)}"
        )
        for i, (lo, hi, a, b) in band_rows
    )
    return f"""
    CREATE MACRO to_cents(x) AS
        CAST(sign(round(x * 100e0, 6)) * floor(abs(round(x * 100e0, 6)) + 5e-1) AS BIGINT);
    CREATE MACRO units(amount) AS CAST(round(amount * 10000e0) AS BIGINT);
    CREATE MACRO units_to_cents(u) AS CAST(sign(u) * ((abs(u) + 50) // 100) AS BIGINT);
    CREATE MACRO round_half_up(x, places) AS
        sign(round(x * pow(10e0, places), 6))
        * floor(abs(round(x * pow(10e0, places), 6)) + 5e-1) / pow(10e0, places);
    CREATE MACRO band_pmpm(r) AS CASE {bands} ELSE {d(t.bands[0][1])} END;
    CREATE MACRO tier_multiplier(tier) AS CASE tier {tiers} ELSE {d(1.0)} END;
    CREATE MACRO msr_band(n) AS CASE {pick} ELSE 0 END;
    CREATE MACRO msr(n) AS CASE msr_band(n) {msr_cases} END;
    """


def full_year(con: duckdb.DuckDBPyConnection, data: Path, t: Terms) -> None:
    """Builds the tables ``ccf`` and ``settlement`` in the connection."""

    def pq(name: str) -> str:
        return "read_parquet('" + str(data / f"{name}.parquet").replace("'", "''") + "')"

    con.execute(macros(t))
    # attributed member-months of the year, with each member's score (default when missing)
    con.execute(f"""
    CREATE TEMP TABLE member_months AS
    SELECT a.member_id, a.practice_id, p.tier,
           CAST(substr(a.year_month, 6, 2) AS TINYINT) AS month,
           coalesce(r.{t.score_column}, {d(t.default_score)}) AS score
    FROM {pq("attribution")} a
    JOIN {pq("practices")} p USING (practice_id)
    LEFT JOIN {pq("risk_scores")} r USING (member_id)
    WHERE a.year_month LIKE '{YEAR}-%'
    """)
    # monthly CCF: band by the month's average risk, times the tier multiplier, in cents
    con.execute("""
    CREATE TEMP TABLE ccf AS
    WITH monthly AS (
        SELECT practice_id, month, any_value(tier) AS tier, count(*) AS members,
               round_half_up(sum(score) / count(*), 4) AS avg_risk
        FROM member_months GROUP BY practice_id, month
    )
    SELECT practice_id, month,
           members * to_cents(band_pmpm(avg_risk) * tier_multiplier(tier)) AS ccf_cents
    FROM monthly
    """)
    # claims by service month, charged where the member is attributed that month, in
    # whole units of a hundredth of a cent; a member's excess over the stop-loss split over
    # the practices with a positive part of the member's year, each share rounded half-up
    # to a unit (HUGEINT: the product passes BIGINT)
    limit = stop_loss_units(t)
    con.execute(f"""
    CREATE TEMP TABLE parts AS
    WITH attributed AS (
        SELECT m.member_id, m.practice_id, units(c.paid_amount) AS amount
        FROM {pq("claims")} c
        JOIN member_months m
          ON m.member_id = c.member_id AND m.month = month(c.claim_start_date)
        WHERE c.claim_start_date >= DATE '{YEAR}-01-01' AND c.claim_start_date < DATE '{YEAR + 1}-01-01'
    ),
    part AS (
        SELECT member_id, practice_id, CAST(sum(amount) AS BIGINT) AS cost
        FROM attributed GROUP BY member_id, practice_id
    ),
    member AS (
        SELECT *, sum(cost) OVER (PARTITION BY member_id) AS annual,
               sum(greatest(cost, 0)) OVER (PARTITION BY member_id) AS positive_total
        FROM part
    )
    SELECT practice_id, cost,
           CASE WHEN annual > {limit}
                THEN CAST((2 * CAST(annual - {limit} AS HUGEINT) * greatest(cost, 0)
                           + positive_total) // (2 * positive_total) AS BIGINT)
                ELSE 0 END AS truncated
    FROM member
    """)
    con.execute(f"""
    CREATE TEMP TABLE settlement AS
    WITH risk AS (
        SELECT practice_id, count(*) AS member_months,
               round_half_up(sum(score) / count(*), 4) AS avg_risk_score
        FROM member_months GROUP BY practice_id
    ),
    cost AS (
        SELECT practice_id, units_to_cents(sum(cost)) AS claims_paid_cents,
               units_to_cents(sum(truncated)) AS truncated_cents
        FROM parts GROUP BY practice_id
    ),
    q AS (SELECT * FROM {pq("quality")} WHERE year = {YEAR}),
    budget AS (
        SELECT r.practice_id, r.member_months, r.avg_risk_score, p.tier,
               CAST(r.member_months AS DOUBLE) / 12e0 AS population,
               coalesce(c.claims_paid_cents, 0) AS claims_paid_cents,
               coalesce(c.truncated_cents, 0) AS truncated_cents,
               coalesce(q.quality_score, 0e0) AS quality_score,
               coalesce(q.met_quality_gate, false) AS met_quality_gate,
               to_cents(
                   to_cents(p.baseline_pmpm) / 100e0
                   * round_half_up(least(greatest(r.avg_risk_score / p.baseline_risk,
                                                  {d(t.risk_ratio_min)}), {d(t.risk_ratio_max)}), 6)
                   * round_half_up({d((1.0 + t.annual_trend) ** (YEAR - t.baseline_year))}, 6)
               ) AS budget_pmpm_cents
        FROM risk r
        JOIN {pq("practices")} p USING (practice_id)
        LEFT JOIN cost c USING (practice_id)
        LEFT JOIN q USING (practice_id)
    ),
    actual AS (
        SELECT *, budget_pmpm_cents * member_months AS budget_cents,
               to_cents((claims_paid_cents - truncated_cents) / 100e0 * {d(t.completion_factor)})
                   AS actual_cost_cents
        FROM budget
    ),
    savings AS (
        SELECT *, budget_cents - actual_cost_cents AS savings_cents,
               CASE WHEN budget_cents <> 0
                    THEN (budget_cents - actual_cost_cents) / budget_cents ELSE 0e0 END
                   AS savings_rate,
               msr(population) AS msr
        FROM actual
    ),
    earned AS (
        SELECT *,
               savings_cents > 0 AND savings_rate >= msr AS meets_msr,
               CASE WHEN {str(t.quality_gate).lower()} AND NOT met_quality_gate
                         OR quality_score < {d(t.min_quality_score)} THEN 0e0
                    ELSE least({d(t.savings_share_rate)} + {d(t.quality_share_rate)} * quality_score,
                               {d(t.max_share_rate)}) END AS share_rate
        FROM savings
    )
    SELECT practice_id, member_months, avg_risk_score, budget_cents, claims_paid_cents,
           truncated_cents, actual_cost_cents,
           CASE WHEN meets_msr THEN least(
               to_cents(savings_cents / 100e0 * share_rate * {d(1.0 - t.payment_reduction)}),
               to_cents({d(t.payment_limit)} * budget_cents / 100e0))
           ELSE 0 END AS final_payment_cents
    FROM earned
    """)


def main() -> None:
    args = peer_arguments(__doc__ or "")
    t = time.perf_counter()
    terms = read_terms(args.config)
    con = duckdb.connect()
    full_year(con, args.data, terms)
    months = ", ".join(
        f"max(ccf_cents) FILTER (WHERE month = {m}) AS {col}"
        for m, col in enumerate(MONTH_COLUMNS, start=1)
    )
    out = str(args.out).replace("'", "''")
    con.execute(f"""
    COPY (
        SELECT s.practice_id, c.* EXCLUDE (practice_id), s.* EXCLUDE (practice_id)
        FROM settlement s
        FULL JOIN (SELECT practice_id, {months} FROM ccf GROUP BY practice_id) c
          USING (practice_id)
        ORDER BY practice_id
    ) TO '{out}' (FORMAT parquet)
    """)
    job = time.perf_counter() - t
    practices = con.execute("SELECT count(*) FROM settlement").fetchone()[0]
    print(
        json.dumps(
            {
                "peer": "duckdb",
                "practices": practices,
                "job_s": job,
                "process_s": time.perf_counter() - T0,
            }
        )
    )


if __name__ == "__main__":
    main()
