"""The user-facing jobs written in polars (lazy, streaming engine, all cores), as a polars user would.

    python benchmarks/peer_polars.py JOB DATA_DIR OUT_DIR [--config CONFIG.toml] [--month YYYY-MM]

JOB is ``ccf_month``, ``ccf_months``, ``settle`` or ``full_year`` (see ``peers.JOBS``). The
default config's rules (see ``peers.read_terms``), reproducing the engine's arithmetic to
the cent: claims summed in whole units of a hundredth of a cent and rounded half-up to
cents once per practice, integer cents rounded half away from zero after removing float
noise at 6 decimals (``to_cents``), average risk rounded half-up to 4 places, risk ratio
to 6.

The plans (``LazyFrame.explain(engine="streaming")`` shows each):

* ``scan_parquet`` reads only the columns a plan uses, with the month and year filters
  pushed into the scan; every query runs on the streaming engine, which works through the
  files in morsels on all cores and was measured here faster than the in-memory engine
  for every plan (and leaner).
* CCF: one group-by by practice and month over attribution joined to the scores, the
  practice as its code in an ``Enum`` of the practice ids and the month a categorical.
* Settlement: attribution is folded once into one row per member and practice, keyed by
  one integer (``member_id x practices + practice code``, the code being the practice's
  place in the ``Enum``, so strings are never hashed per member-month) with a 12-bit mask
  of its months (``bitwise_or``). The claims are joined to it on ``member_id``, kept where
  the mask has the claim's month and summed by that key; the stop-loss takes the members
  over the threshold from a group-by of those parts, joined back (no window function).
  One integer key, because polars joins and groups on several columns through a row
  encoding. ``full_year`` reuses the fold for the twelve months' CCF.

Writes ``ccf.parquet`` and/or ``settlement.parquet`` into OUT_DIR (``peers.CCF_COLUMNS``,
``peers.SETTLEMENT_COLUMNS``); prints one JSON line of timings.
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
    CCF_COLUMNS,
    CCF_FILE,
    SETTLEMENT_COLUMNS,
    SETTLEMENT_FILE,
    Terms,
    job_months,
    peer_arguments,
    read_terms,
    stop_loss_units,
)

ENGINE = "streaming"


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
    expr: pl.Expr | None = None
    for lo, hi, at_min, at_max in t.msr_table:
        pos = (population.clip(lo, hi) - lo) / (hi - lo) if hi > lo else pl.lit(1.0)
        rate = at_min - (at_min - at_max) * pos
        expr = rate if expr is None else pl.when(population >= lo).then(rate).otherwise(expr)
    assert expr is not None
    return expr


class Inputs:
    """The lazy scans of the input files, and the practices' integer codes."""

    def __init__(self, data: Path, t: Terms) -> None:
        self.data = data
        self.t = t
        self.practices = pl.read_parquet(data / "practices.parquet").sort("practice_id")
        self.practice_ids = pl.Enum(self.practices["practice_id"])
        self.n_practices = self.practices.height

    def scan(self, name: str) -> pl.LazyFrame:
        return pl.scan_parquet(self.data / f"{name}.parquet")

    def scores(self) -> pl.LazyFrame:
        return self.scan("risk_scores").select("member_id", score=pl.col(self.t.score_column))

    def code(self, practice_id: pl.Expr) -> pl.Expr:
        """The practice's place in the sorted practice ids (its Enum code), as an Int64."""
        return practice_id.cast(self.practice_ids).to_physical().cast(pl.Int64)

    def coded_practices(self) -> pl.LazyFrame:
        return (
            self.practices.lazy().with_row_index("code").with_columns(pl.col("code").cast(pl.Int64))
        )


def month_filter(months: list[str]) -> pl.Expr:
    """``year_month`` in the run's months: one comparison for one month, a range for a year
    (both pushed into the Parquet scan)."""
    ym = pl.col("year_month")
    if len(months) == 1:
        return ym == months[0]
    if months == [f"{months[0][:4]}-{m:02d}" for m in range(1, 13)]:
        return ym.is_between(pl.lit(months[0]), pl.lit(months[-1]))
    return ym.is_in(months)


def rated(lines: pl.LazyFrame, src: Inputs) -> pl.LazyFrame:
    """CCF lines (practice_id, year_month, members, total) priced: average risk, band, tier."""
    t = src.t
    multiplier = pl.col("tier").replace_strict(
        t.tier_multipliers, default=1.0, return_dtype=pl.Float64
    )
    return (
        lines.join(src.practices.lazy().select("practice_id", "tier"), on="practice_id")
        .with_columns(
            avg_risk_score=round_half_up(pl.col("total") / pl.col("members"), t.score_decimals)
        )
        .with_columns(
            ccf_cents=pl.col("members").cast(pl.Int64)
            * to_cents(band_pmpm(pl.col("avg_risk_score"), t) * multiplier)
        )
        .select(CCF_COLUMNS)
    )


def ccf(src: Inputs, months: list[str]) -> pl.LazyFrame:
    """The CCF lines of the months: one group-by over attribution joined to the scores."""
    lines = (
        src.scan("attribution")
        .filter(month_filter(months))
        # the keys as categoricals (the practice's Enum code): 100 MB less at 1M members
        .with_columns(
            practice_id=pl.col("practice_id").cast(src.practice_ids),
            year_month=pl.col("year_month").cast(pl.Categorical),
        )
        .join(src.scores(), on="member_id", how="left")
        .group_by("practice_id", "year_month")
        .agg(members=pl.len(), total=pl.col("score").fill_null(src.t.default_score).sum())
        .with_columns(pl.col("practice_id", "year_month").cast(pl.String))
    )
    return rated(lines, src)


def member_practices(src: Inputs, year: int) -> pl.DataFrame:
    """One row per member and practice of the year: key = member_id x practices + code,
    the months attributed there as a 12-bit mask, and their count."""
    months = [f"{year}-{m:02d}" for m in range(1, 13)]
    n = src.n_practices
    month = pl.col("year_month").str.slice(5, 2).cast(pl.Int32)
    return (
        src.scan("attribution")
        .filter(month_filter(months))
        .group_by(key=pl.col("member_id") * n + src.code(pl.col("practice_id")))
        .agg(mask=pl.lit(2, pl.Int32).pow(month).bitwise_or(), months=pl.len())
        .collect(engine=ENGINE)
    )


def ccf_from_member_practices(src: Inputs, mp: pl.DataFrame, year: int) -> pl.LazyFrame:
    """The twelve months' CCF lines from the fold (``full_year``): each row's score joined
    once, then counted into every month of its mask."""
    n = src.n_practices
    months = pl.DataFrame({"month": range(1, 13)}, schema={"month": pl.Int32}).lazy()
    lines = (
        mp.lazy()
        .with_columns(member_id=pl.col("key") // n)
        .join(src.scores(), on="member_id", how="left")
        .select(
            code=pl.col("key") % n,
            mask="mask",
            score=pl.col("score").fill_null(src.t.default_score),
        )
        .join(months, how="cross")
        .filter(pl.col("mask") & pl.lit(2, pl.Int32).pow(pl.col("month")) != 0)
        .group_by("code", "month")
        .agg(members=pl.len(), total=pl.col("score").sum())
        .join(src.coded_practices().select("code", "practice_id"), on="code")
        .select(
            "practice_id",
            year_month=pl.lit(f"{year}-") + pl.col("month").cast(pl.String).str.zfill(2),
            members="members",
            total="total",
        )
    )
    return rated(lines, src)


def settlement(src: Inputs, mp: pl.DataFrame, year: int) -> pl.LazyFrame:
    t = src.t
    n = src.n_practices
    limit = stop_loss_units(t)
    folded = mp.lazy()
    # each member's claims at each practice: a claim counts in the month of its service
    # date, where the member is attributed that month (the mask), in whole units
    parts = (
        src.scan("claims")
        .filter(pl.col("claim_start_date").dt.year() == year)
        .select(
            "member_id",
            bit=pl.lit(2, pl.Int32).pow(pl.col("claim_start_date").dt.month().cast(pl.Int32)),
            amount=(pl.col("paid_amount") * 10_000.0).round().cast(pl.Int64),
        )
        .join(folded.select("key", "mask", member_id=pl.col("key") // n), on="member_id")
        .filter(pl.col("mask") & pl.col("bit") != 0)
        .group_by("key")
        .agg(cost=pl.col("amount").sum())
        .with_columns(member_id=pl.col("key") // n, code=pl.col("key") % n)
    )
    # members whose year passes the stop-loss: the excess is split over the practices
    # with a positive part, in proportion to those parts, each share rounded half-up to a
    # unit (Int128: the product passes Int64)
    positive = pl.col("cost").clip(lower_bound=0)
    over = (
        parts.group_by("member_id")
        .agg(excess=pl.col("cost").sum() - limit, positive_total=positive.sum())
        .filter(pl.col("excess") > 0)
    )
    cost = (
        parts.join(over, on="member_id", how="left")
        .with_columns(
            truncated=pl.when(pl.col("excess").is_not_null())
            .then(
                (pl.col("excess").cast(pl.Int128) * 2 * positive + pl.col("positive_total"))
                // (2 * pl.col("positive_total"))
            )
            .otherwise(0)
            .cast(pl.Int64)
        )
        .group_by("code")
        .agg(
            claims_paid_cents=units_to_cents(pl.col("cost").sum()),
            truncated_cents=units_to_cents(pl.col("truncated").sum()),
        )
    )
    risk = (
        folded.with_columns(member_id=pl.col("key") // n)
        .join(src.scores(), on="member_id", how="left")
        .group_by(code=pl.col("key") % n)
        .agg(
            member_months=pl.col("months").sum().cast(pl.Int64),
            total=(pl.col("months") * pl.col("score").fill_null(t.default_score)).sum(),
        )
        .with_columns(
            avg_risk_score=round_half_up(
                pl.col("total") / pl.col("member_months"), t.score_decimals
            )
        )
    )
    quality = (
        src.scan("quality")
        .filter(pl.col("year") == year)
        .select("practice_id", "quality_score", "met_quality_gate")
    )
    trend = round_half_up(pl.lit((1.0 + t.annual_trend) ** (year - t.baseline_year)), 6)
    gate_failed = (pl.col("met_quality_gate").not_() if t.quality_gate else pl.lit(False)) | (
        pl.col("quality_score") < t.min_quality_score
    )
    return (
        risk.join(src.coded_practices(), on="code")
        .join(cost, on="code", how="left")
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
        .select(SETTLEMENT_COLUMNS)
    )


def run(job: str, data: Path, out: Path, t: Terms, month: str, year: int) -> None:
    src = Inputs(data, t)
    out.mkdir(parents=True, exist_ok=True)
    if job in ("ccf_month", "ccf_months"):
        ccf(src, job_months(job, month, year)).collect(engine=ENGINE).sort(
            "practice_id", "year_month"
        ).write_parquet(out / CCF_FILE)
        return
    mp = member_practices(src, year)  # collected once: the claims, the scores and the CCF read it
    plans = [settlement(src, mp, year)]
    if job == "full_year":
        plans.append(ccf_from_member_practices(src, mp, year))
    frames = pl.collect_all(plans, engine=ENGINE)
    frames[0].sort("practice_id").write_parquet(out / SETTLEMENT_FILE)
    if job == "full_year":
        frames[1].sort("practice_id", "year_month").write_parquet(out / CCF_FILE)


def main() -> None:
    args = peer_arguments(__doc__ or "")
    t = time.perf_counter()
    run(args.job, args.data, args.out, read_terms(args.config), args.month, args.year)
    job = time.perf_counter() - t
    print(
        json.dumps(
            {
                "peer": "polars",
                "job": args.job,
                "threads": pl.thread_pool_size(),
                "job_s": job,
                "process_s": time.perf_counter() - T0,
            }
        )
    )


if __name__ == "__main__":
    main()
