"""The full year written in polars (lazy, all cores): 12 monthly CCF batches + settlement.

    python benchmarks/peer_polars.py DATA_DIR OUT.parquet [--config CONFIG.toml]

The default config's rules (see ``peers.read_terms``), reproducing the engine's
arithmetic to the cent: claims summed in whole units of a hundredth of a cent and
rounded half-up to cents once per practice, integer cents rounded half away from zero
after removing float noise at 6 decimals (``to_cents``), average risk rounded half-up
to 4 places, risk ratio to 6. One lazy query plan per result; the attributed member-months are collected once
because both the CCF and the settlement use them. Writes the per-practice table of
``peers.RESULT_COLUMNS``; prints one JSON line of timings.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

T0 = time.perf_counter()

import polars as pl  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import (  # noqa: E402
    MONTH_COLUMNS,
    YEAR,
    Terms,
    peer_arguments,
    read_terms,
    stop_loss_units,
)


def round_half_up(x: pl.Expr, places: int) -> pl.Expr:
    """Half away from zero, after rounding the scaled value to 6 decimals (money.round_half_up)."""
    factor = 10.0**places
    scaled = (x * factor).round(6)
    return scaled.sign() * (scaled.abs() + 0.5).floor() / factor


def to_cents(x: pl.Expr) -> pl.Expr:
    """Dollars to whole cents, half away from zero (money.to_cents)."""
    scaled = (x * 100.0).round(6)
    return (scaled.sign() * (scaled.abs() + 0.5).floor()).cast(pl.Int64)


def units_to_cents(units: pl.Expr) -> pl.Expr:
    """Whole units (hundredths of a cent) to whole cents, half-up (money.units_to_cents)."""
    return units.sign() * ((units.abs() + 50) // 100)


def band_pmpm(avg_risk: pl.Expr, t: Terms) -> pl.Expr:
    """PMPM of the highest band whose min_avg_risk is not above avg_risk."""
    expr = pl.lit(t.bands[0][1])
    for low, pmpm in t.bands[1:]:
        expr = pl.when(avg_risk >= low).then(pl.lit(pmpm)).otherwise(expr)
    return expr


def msr(population: pl.Expr, t: Terms) -> pl.Expr:
    """The MSR table: the last band with min_population <= n (else the first), linear
    from msr_at_min to msr_at_max within it, n clamped to the band."""
    expr = None
    for lo, hi, at_min, at_max in t.msr_table:
        pos = (population.clip(lo, hi) - lo) / (hi - lo) if hi > lo else pl.lit(1.0)
        rate = at_min - (at_min - at_max) * pos
        expr = rate if expr is None else pl.when(population >= lo).then(rate).otherwise(expr)
    return expr


def full_year(data: Path, t: Terms) -> pl.DataFrame:
    def scan(name: str) -> pl.LazyFrame:
        return pl.scan_parquet(data / f"{name}.parquet")

    practices = scan("practices").with_columns(
        multiplier=pl.col("tier").replace_strict(
            t.tier_multipliers, default=1.0, return_dtype=pl.Float64
        )
    )
    # attributed member-months of the year, with each member's score (default when missing)
    member_months = (
        scan("attribution")
        .filter(pl.col("year_month").str.starts_with(f"{YEAR}-"))
        .join(practices.select("practice_id"), on="practice_id", how="semi")
        .join(scan("risk_scores").select("member_id", t.score_column), on="member_id", how="left")
        .select(
            "member_id",
            "practice_id",
            month=pl.col("year_month").str.slice(5, 2).cast(pl.Int8),
            score=pl.col(t.score_column).fill_null(t.default_score),
        )
        .collect()
        .lazy()
    )

    # monthly CCF: band by the month's average risk, times the tier multiplier, in cents
    ccf = (
        member_months.group_by("practice_id", "month")
        .agg(members=pl.len(), total=pl.col("score").sum())
        .join(practices.select("practice_id", "multiplier"), on="practice_id")
        .with_columns(avg_risk=round_half_up(pl.col("total") / pl.col("members"), t.score_decimals))
        .with_columns(
            ccf_cents=pl.col("members")
            * to_cents(band_pmpm(pl.col("avg_risk"), t) * pl.col("multiplier"))
        )
        .select("practice_id", "month", "ccf_cents")
    )

    # claims by service month, charged where the member is attributed that month;
    # the stop-loss excess of a member taken from each practice in proportion to its part
    # (amounts in whole units of a hundredth of a cent; the excess split over the practices
    # with a positive part, each share rounded half-up to a unit, in Int128: the product
    # passes Int64)
    limit = stop_loss_units(t)
    positive = pl.col("cost").clip(lower_bound=0)
    parts = (
        scan("claims")
        .filter(pl.col("claim_start_date").dt.year() == YEAR)
        .select(
            "member_id",
            amount=(pl.col("paid_amount") * 10_000.0).round().cast(pl.Int64),
            member_month=pl.col("member_id") * 16 + pl.col("claim_start_date").dt.month(),
        )
        # one integer key rather than on=["member_id", "month"]: polars joins on several
        # columns through a row encoding, which here costs ~30% more CPU and ~300 MB more
        .join(
            member_months.select(
                "practice_id", member_month=pl.col("member_id") * 16 + pl.col("month")
            ),
            on="member_month",
        )
        .group_by("member_id", "practice_id")
        .agg(cost=pl.col("amount").sum())
        .with_columns(
            annual=pl.col("cost").sum().over("member_id"),
            positive_total=positive.sum().over("member_id"),
        )
        .with_columns(
            truncated=pl.when(pl.col("annual") > limit)
            .then(
                (
                    (pl.col("annual") - limit).cast(pl.Int128) * 2 * positive
                    + pl.col("positive_total")
                )
                // (2 * pl.col("positive_total"))
            )
            .otherwise(0)
            .cast(pl.Int64)
        )
        .group_by("practice_id")
        .agg(
            claims_paid_cents=units_to_cents(pl.col("cost").sum()),
            truncated_cents=units_to_cents(pl.col("truncated").sum()),
        )
    )

    quality = scan("quality").filter(pl.col("year") == YEAR)
    trend = round_half_up(pl.lit((1.0 + t.annual_trend) ** (YEAR - t.baseline_year)), 6)
    gate_failed = (pl.col("met_quality_gate").not_() if t.quality_gate else pl.lit(False)) | (
        pl.col("quality_score") < t.min_quality_score
    )
    settlement = (
        member_months.group_by("practice_id")
        .agg(member_months=pl.len(), total=pl.col("score").sum())
        .with_columns(
            avg_risk_score=round_half_up(
                pl.col("total") / pl.col("member_months"), t.score_decimals
            )
        )
        .join(practices, on="practice_id")
        .join(parts, on="practice_id", how="left")
        .join(quality, on="practice_id", how="left")
        .with_columns(
            pl.col("claims_paid_cents", "truncated_cents").fill_null(0),
            quality_score=pl.col("quality_score").fill_null(0.0),
            met_quality_gate=pl.col("met_quality_gate").fill_null(False),
            risk_ratio=round_half_up(
                (pl.col("avg_risk_score") / pl.col("baseline_risk")).clip(
                    t.risk_ratio_min, t.risk_ratio_max
                ),
                6,
            ),
        )
        .with_columns(
            budget_pmpm_cents=to_cents(
                to_cents(pl.col("baseline_pmpm")) / 100.0 * pl.col("risk_ratio") * trend
            )
        )
        .with_columns(
            budget_cents=pl.col("budget_pmpm_cents") * pl.col("member_months"),
            actual_cost_cents=to_cents(
                (pl.col("claims_paid_cents") - pl.col("truncated_cents"))
                / 100.0
                * t.completion_factor
            ),
        )
        .with_columns(
            savings_cents=pl.col("budget_cents") - pl.col("actual_cost_cents"),
            msr=msr(pl.col("member_months") / 12.0, t),
            share_rate=pl.when(gate_failed)
            .then(0.0)
            .otherwise(
                pl.min_horizontal(
                    t.savings_share_rate + t.quality_share_rate * pl.col("quality_score"),
                    pl.lit(t.max_share_rate),
                )
            ),
        )
        .with_columns(
            savings_rate=pl.when(pl.col("budget_cents") != 0)
            .then(pl.col("savings_cents") / pl.col("budget_cents"))
            .otherwise(0.0)
        )
        .with_columns(
            final_payment_cents=pl.when(
                (pl.col("savings_cents") > 0) & (pl.col("savings_rate") >= pl.col("msr"))
            )
            .then(
                pl.min_horizontal(
                    to_cents(
                        pl.col("savings_cents")
                        / 100.0
                        * pl.col("share_rate")
                        * (1.0 - t.payment_reduction)
                    ),
                    to_cents(t.payment_limit * pl.col("budget_cents") / 100.0),
                )
            )
            .otherwise(0)
        )
        .select(
            "practice_id",
            "member_months",
            "avg_risk_score",
            "budget_cents",
            "claims_paid_cents",
            "truncated_cents",
            "actual_cost_cents",
            "final_payment_cents",
        )
    )
    ccf_wide = ccf.group_by("practice_id").agg(
        pl.col("ccf_cents").filter(pl.col("month") == m).first().alias(column)
        for m, column in enumerate(MONTH_COLUMNS, start=1)
    )
    ccf_df, settlement_df = pl.collect_all([ccf_wide, settlement])
    return ccf_df.join(settlement_df, on="practice_id", how="full", coalesce=True).sort(
        "practice_id"
    )


def main() -> None:
    args = peer_arguments(__doc__ or "")
    t = time.perf_counter()
    result = full_year(args.data, read_terms(args.config))
    job = time.perf_counter() - t
    result.write_parquet(args.out)
    print(
        json.dumps(
            {
                "peer": "polars",
                "practices": result.height,
                "job_s": job,
                "process_s": time.perf_counter() - T0,
            }
        )
    )


if __name__ == "__main__":
    main()
