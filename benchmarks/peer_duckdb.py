"""The user-facing jobs written as DuckDB SQL over the Parquet files, as a DuckDB user would.

    python benchmarks/peer_duckdb.py JOB DATA_DIR OUT_DIR [--config CONFIG.toml] [--month YYYY-MM]

JOB is ``ccf_month`` (the CCF batch of one month), ``ccf_months`` (the twelve months of
the year), ``settle`` (the year-end settlement) or ``full_year`` (both). The default
config's rules (see ``peers.read_terms``), reproducing the engine's arithmetic to the
cent: claims summed in whole units of a hundredth of a cent and rounded half-up to cents
once per practice, integer cents rounded half away from zero after removing float noise
at 6 decimals (``to_cents``), average risk rounded half-up to 4 places, risk ratio to 6.
Every constant is a DOUBLE (DuckDB reads ``0.06`` as a DECIMAL, which would make
``0.06 - 0.04`` exact where numpy's is not).

The plans are lean (``EXPLAIN ANALYZE`` shows each):

* CCF: one hash aggregate by practice and month over attribution joined to the scores
  (a probe of the member-months into the scores' hash table); the scan reads only
  ``member_id``, ``practice_id`` and ``year_month``, and the month filter is pushed into it.
  Practice ids and months stay dictionary vectors from the Parquet pages to the group keys.
* Settlement: attribution is folded once into one row per member and practice with a
  12-bit mask of the months (``bit_or``), a tenth of the member-months, numbered 0, 1, 2, ...
  The claims (``member_id``, ``claim_start_date``, ``paid_amount`` only) are probed into it
  and summed by that number where the mask has the claim's month (a direct-addressed
  table: DuckDB knows the number's range); the stop-loss takes the members over the
  threshold from a group-by of those parts, joined back -- no window function over
  members, and no member-month table is ever built.
* ``full_year`` builds the member-practice fold once and derives both from it.

DuckDB runs on all the machine's cores (``threads``), does not keep insertion order where
nothing is ordered, and may address groups by their integer key directly
(``perfect_ht_threshold``: DuckDB's own choice, made from the statistics of the keys --
the Parquet statistics of ``member_id``, the fold's numbers -- of a direct-addressed table
instead of a hash table when the keys' range is small enough). Writes ``ccf.parquet`` and/or ``settlement.parquet`` into OUT_DIR
(``peers.CCF_COLUMNS``, ``peers.SETTLEMENT_COLUMNS``); prints one JSON line of timings.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

T0 = time.perf_counter()

import duckdb  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import (  # noqa: E402
    CCF_FILE,
    SETTLEMENT_FILE,
    Terms,
    job_months,
    peer_arguments,
    read_terms,
    stop_loss_units,
)


def d(x: float) -> str:
    """A DOUBLE literal that is exactly the Python float."""
    return f"CAST('{float(x)!r}' AS DOUBLE)"


def s(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def macros(t: Terms) -> str:
    bands = " ".join(
        f"WHEN r >= {d(low)} THEN {d(pmpm)}" for low, pmpm in sorted(t.bands, reverse=True)
    )
    tiers = " ".join(f"WHEN {s(name)} THEN {d(m)}" for name, m in t.tier_multipliers.items())
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


class Sources:
    """``read_parquet`` of each input file, and the filters of a run's months."""

    def __init__(self, data: Path, t: Terms) -> None:
        self.data = data
        self.t = t

    def __getattr__(self, name: str) -> str:
        return f"read_parquet({s(str(self.data / f'{name}.parquet'))})"

    def scores(self) -> str:
        return f"(SELECT member_id, {self.t.score_column} AS score FROM {self.risk_scores})"


def month_filter(months: list[str]) -> str:
    """``year_month`` in the run's months: one comparison for one month, a range for a year
    (both pushed into the Parquet scan)."""
    if len(months) == 1:
        return f"year_month = {s(months[0])}"
    if months == [f"{months[0][:4]}-{m:02d}" for m in range(1, 13)]:
        return f"year_month BETWEEN {s(months[0])} AND {s(months[-1])}"
    return "year_month IN (" + ", ".join(s(m) for m in months) + ")"


def ccf_sql(src: Sources, months: list[str]) -> str:
    """The CCF lines of the months: members and the sum of their scores by practice and
    month in one aggregate, then the band and tier of each of the (few) lines."""
    t = src.t
    return f"""
    WITH lines AS (
        SELECT a.practice_id, a.year_month, count(*) AS members,
               sum(coalesce(r.score, {d(t.default_score)})) AS total
        FROM {src.attribution} a LEFT JOIN {src.scores()} r USING (member_id)
        WHERE a.{month_filter(months)}
        GROUP BY a.practice_id, a.year_month
    ),
    rated AS (
        SELECT l.practice_id, l.year_month, l.members,
               round_half_up(l.total / l.members, {t.score_decimals}) AS avg_risk_score, p.tier
        FROM lines l JOIN {src.practices} p USING (practice_id)
    )
    SELECT practice_id, year_month, members, avg_risk_score,
           members * to_cents(band_pmpm(avg_risk_score) * tier_multiplier(tier)) AS ccf_cents
    FROM rated
    """


def member_practices_sql(src: Sources, year: int) -> str:
    """One row per member and practice of the year: the months attributed there as a
    12-bit mask, and their count (attribution has one row per member-month); numbered
    0, 1, 2, ... (``part``), a dense integer key whose range DuckDB knows."""
    months = [f"{year}-{m:02d}" for m in range(1, 13)]
    return f"""
    SELECT (row_number() OVER ()) - 1 AS part, *
    FROM (
        SELECT member_id, practice_id,
               bit_or(1::INTEGER << CAST(substr(year_month, 6, 2) AS INTEGER)) AS mask,
               count(*) AS months
        FROM {src.attribution} WHERE {month_filter(months)}
        GROUP BY member_id, practice_id
    )
    """


def ccf_from_member_practices_sql(src: Sources, year: int) -> str:
    """The twelve months' CCF lines from the member-practice fold (``full_year``): each row's
    score is joined once (a member, not a member-month), then counted into the months its
    mask holds."""
    t = src.t
    return f"""
    WITH months AS (SELECT range AS month FROM range(1, 13)),
    scored AS (
        SELECT m.practice_id, m.mask, coalesce(r.score, {d(t.default_score)}) AS score
        FROM member_practices m LEFT JOIN {src.scores()} r USING (member_id)
    ),
    lines AS (
        SELECT s.practice_id, k.month, count(*) AS members, sum(s.score) AS total
        FROM scored s JOIN months k ON (s.mask >> k.month) & 1 = 1
        GROUP BY s.practice_id, k.month
    ),
    rated AS (
        SELECT l.practice_id, '{year}-' || lpad(CAST(l.month AS VARCHAR), 2, '0') AS year_month,
               l.members, round_half_up(l.total / l.members, {t.score_decimals}) AS avg_risk_score,
               p.tier
        FROM lines l JOIN {src.practices} p USING (practice_id)
    )
    SELECT practice_id, year_month, members, avg_risk_score,
           members * to_cents(band_pmpm(avg_risk_score) * tier_multiplier(tier)) AS ccf_cents
    FROM rated
    """


def settlement_sql(src: Sources, year: int) -> str:
    """The settlement from the member-practice fold (the table ``member_practices``)."""
    t = src.t
    limit = stop_loss_units(t)
    return f"""
    WITH summed AS (
        -- each member's claims at each practice: a claim counts in the month of its
        -- service date, where the member is attributed that month (the mask), in units;
        -- grouped by the fold's row number (a direct-addressed table, not a hash table)
        SELECT m.part, sum(units(c.paid_amount)) AS cost
        FROM {src.claims} c JOIN member_practices m USING (member_id)
        WHERE c.claim_start_date >= DATE '{year}-01-01'
          AND c.claim_start_date < DATE '{year + 1}-01-01'
          AND (m.mask >> month(c.claim_start_date)) & 1 = 1
        GROUP BY m.part
    ),
    parts AS (
        SELECT m.member_id, m.practice_id, s.cost
        FROM summed s JOIN member_practices m USING (part)
    ),
    over_limit AS (
        -- members whose year passes the stop-loss: the excess is split over the practices
        -- with a positive part, in proportion to those parts
        SELECT member_id, sum(cost) - {limit} AS excess, sum(greatest(cost, 0)) AS positive_total
        FROM parts GROUP BY member_id HAVING sum(cost) > {limit}
    ),
    cost AS (
        SELECT p.practice_id, units_to_cents(sum(p.cost)) AS claims_paid_cents,
               units_to_cents(coalesce(sum(
                   -- each share rounded half-up to a unit (HUGEINT: the product passes BIGINT)
                   CAST((2 * CAST(o.excess AS HUGEINT) * greatest(p.cost, 0) + o.positive_total)
                        // (2 * o.positive_total) AS BIGINT)), 0)) AS truncated_cents
        FROM parts p LEFT JOIN over_limit o USING (member_id)
        GROUP BY p.practice_id
    ),
    risk AS (
        SELECT m.practice_id, sum(m.months) AS member_months,
               round_half_up(sum(m.months * coalesce(r.score, {d(t.default_score)}))
                             / sum(m.months), {t.score_decimals}) AS avg_risk_score
        FROM member_practices m LEFT JOIN {src.scores()} r USING (member_id)
        GROUP BY m.practice_id
    ),
    q AS (SELECT practice_id, quality_score, met_quality_gate FROM {src.quality} WHERE year = {year}),
    budget AS (
        SELECT r.practice_id, r.member_months, r.avg_risk_score,
               CAST(r.member_months AS DOUBLE) / 12e0 AS population,
               coalesce(c.claims_paid_cents, 0) AS claims_paid_cents,
               coalesce(c.truncated_cents, 0) AS truncated_cents,
               coalesce(q.quality_score, 0e0) AS quality_score,
               coalesce(q.met_quality_gate, false) AS met_quality_gate,
               to_cents(
                   to_cents(p.baseline_pmpm) / 100e0
                   * round_half_up(least(greatest(r.avg_risk_score / p.baseline_risk,
                                                  {d(t.risk_ratio_min)}), {d(t.risk_ratio_max)}), 6)
                   * round_half_up({d((1.0 + t.annual_trend) ** (year - t.baseline_year))}, 6)
               ) AS budget_pmpm_cents
        FROM risk r
        JOIN {src.practices} p USING (practice_id)
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
    """


def copy(con: duckdb.DuckDBPyConnection, query: str, path: Path) -> None:
    con.execute(f"COPY ({query} ORDER BY ALL) TO {s(str(path))} (FORMAT parquet)")


def run(job: str, data: Path, out: Path, t: Terms, month: str) -> dict[str, int]:
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    con = duckdb.connect(
        config={
            "threads": threads or 1,
            "preserve_insertion_order": False,
            "perfect_ht_threshold": 24,
        }
    )
    con.execute(macros(t))
    src = Sources(data, t)
    year = int(month[:4])
    out.mkdir(parents=True, exist_ok=True)
    if job in ("ccf_month", "ccf_months"):
        copy(con, ccf_sql(src, job_months(job, month)), out / CCF_FILE)
    else:
        # the member-practice fold: built once, read by the claims and the scores (and
        # by the twelve months' CCF in the full year)
        con.execute(f"CREATE TEMP TABLE member_practices AS {member_practices_sql(src, year)}")
        if job == "full_year":
            copy(con, ccf_from_member_practices_sql(src, year), out / CCF_FILE)
        copy(con, settlement_sql(src, year), out / SETTLEMENT_FILE)
    return {"threads": int(threads or 1)}


def main() -> None:
    args = peer_arguments(__doc__ or "")
    t = time.perf_counter()
    info = run(args.job, args.data, args.out, read_terms(args.config), args.month)
    job = time.perf_counter() - t
    print(
        json.dumps(
            {
                "peer": "duckdb",
                "job": args.job,
                **info,
                "job_s": job,
                "process_s": time.perf_counter() - T0,
            }
        )
    )


if __name__ == "__main__":
    main()
