"""A synthetic medical-home program: practices, attribution, risk scores, claims and quality.

Deterministic for a seed (numpy ``default_rng``) and fully vectorized: the whole
program is built with array operations, so a million members take seconds. It is
the data behind the sample program, the tests and the benchmarks; the numbers
are illustrative, chosen to look like a commercial primary-care population, and
are not any payer's experience.

The assumptions, in the words an actuary would use (every rate below is a
module constant, named so that tests and docs can refer to it):

Practices
    About one practice per ``members_per_practice`` members. Practice size
    varies: each practice's share of the members is proportional to a
    lognormal weight (sigma ``PRACTICE_SIZE_SIGMA``), so panels range from
    roughly a third to three times the average. Tiers are drawn
    Developing / Established / Advanced with probabilities 30% / 45% / 25%.
    ``baseline_risk`` ~ Normal(1.02, 0.07) clipped to [0.85, 1.20];
    ``baseline_pmpm`` = ``BASELINE_PMPM`` ($400) x baseline_risk x a mean-one
    Lognormal(0.06), clipped to [$300, $550]: a baseline budget that follows the
    baseline population's risk and sits near the population's cost after a
    $100,000 stop-loss, so practices' savings rates spread around a few percent.

Attribution (one row per member per month of ``year``)
    Each member is attributed to one practice. 6% join mid-year (first month
    uniform over February..December), 6% leave mid-year (last month uniform
    over January..November), 3% switch practice once (switch month uniform
    over February..December, the new practice drawn by size and never the old
    one); the rest (85%) are attributed all twelve months. Spans are
    contiguous, and a member is never attributed to two practices in a month.

Risk scores (one row per member, "MARA-style")
    ``mara_px_total`` (prospective) ~ Lognormal(sigma ``PX_SIGMA`` = 0.6),
    rescaled so the population mean is exactly 1.0 before rounding. The
    medical part is a Normal(0.75, 0.08) share of the total (clipped to
    [0.40, 0.95]); the pharmacy part is the remainder, so medical + rx = total
    to within rounding. A member's *true* relative cost is px_total times a
    mean-one Lognormal(sigma 0.5) error: the prospective model explains part of
    the variation, as real prospective models do. ``mara_cx_total``
    (concurrent) is the true relative cost times a smaller mean-one
    Lognormal(sigma 0.25) error, rescaled to mean 1.0: the concurrent model fits
    the year's cost more closely. All scores have 4 decimals. 2% of members
    (``MISSING_SCORE_RATE``) have no row at all, as happens with new enrollees.

Claims (one row per claim line, paid dollars)
    For a member with true relative cost ``rel``, the expected annual cost is
    ``12 x CLAIM_LINE_MEAN x rel`` (about $4,500 a year before catastrophic
    claims). It splits into frequency and severity: the number of lines in
    the member's attributed months is Poisson with mean
    ``12 x a x months / 12``, where ``a = rel^0.6 / mean(rel^0.6)`` (so about
    12 lines a member-year on average, more for sicker members), and each
    line's amount is Lognormal(sigma ``CLAIM_AMOUNT_SIGMA`` = 1.1) with mean
    ``CLAIM_LINE_MEAN x rel / a`` (larger lines for sicker members), rounded
    to cents and at least $1.00. Catastrophic members (0.3%, chosen with
    probability proportional to ``rel``) add a Lognormal annual amount with
    median $280,000, clipped to [$150,000, $800,000], split over 2 + Poisson(4)
    large lines. Overall that is about $5,100 a member a year, or ~$450 per
    attributed member-month.

    About 2% of lines (``OUTSIDE_ATTRIBUTION_RATE``) fall in months in which
    the member is *not* attributed (before a mid-year joiner joins or after a
    leaver leaves: the member is enrolled with the payer but has no medical
    home), as real claim extracts do. Service dates are uniform within the
    month. 2% of lines (``REVERSAL_RATE``) are reversed: the reversal row has
    the same claim_id, member_id and claim_start_date and the negated amount,
    so the pair nets to zero. ``claim_id`` increases with the service date,
    and rows are ordered by service date (each day's original lines in random
    order, then that day's reversals), not by member.

    Paid dates (only when asked for: ``paid_dates=True``, ``generate --paid-dates``): each
    line gets a ``paid_date`` = its service date + a lag in days ~ Lognormal with median
    ``PAID_LAG_MEDIAN_DAYS`` (21) and sigma ``PAID_LAG_SIGMA`` (0.8), at most
    ``PAID_LAG_MAX_DAYS`` (365): about a third of the lines are paid in their service
    month, 83% by the next month's end, 95% within two months after it and 99.5% within
    five, a commercial book's runout in round terms. The draws come from their
    own random stream (seed, ``PAID_DATE_STREAM``), so the other tables and columns are
    the same with or without paid dates.

Segments (only when asked for: ``segments=...``, ``generate --segments``)
    Attribution gains a ``segment`` column: each member is drawn into one of the segments
    named, with the shares given (equal shares by default), and ``SEGMENT_CHANGE_RATE``
    (2%) of members move once to another segment, from a month uniform over
    February..December (as a Medicare beneficiary becomes dual-eligible or starts
    dialysis). The segment is a label only: costs and scores do not depend on it. The
    draws come from their own random stream (seed, ``SEGMENT_STREAM``), so every other
    table and column is the same with or without segments.

Quality (one row per practice)
    ``quality_score`` ~ Beta(14, 4) (mean 0.78, mostly 0.6-0.95) plus a tier
    effect of -0.03 / 0 / +0.03 for Developing / Established / Advanced,
    clipped to [0, 1]; ``met_quality_gate`` is ``quality_score >=
    QUALITY_GATE_STANDARD`` (0.65), which about 10% of practices miss.

Memory: at 1,000,000 members the whole program (about 11.3 million attribution
rows and 11.8 million claim rows) is held in memory at once; generating and
writing it as Parquet peaks at about 1.3 GB and takes about 13 seconds on two
cores, so ``generate_program`` serves every size and no streaming variant is
needed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

TABLE_NAMES = ("practices", "attribution", "risk_scores", "claims", "quality")
FORMATS = ("parquet", "csv")

TIERS = ("Developing", "Established", "Advanced")
TIER_PROBABILITIES = (0.30, 0.45, 0.25)
TIER_QUALITY_EFFECT = (-0.03, 0.0, 0.03)
PRACTICE_SIZE_SIGMA = 0.5

JOIN_RATE = 0.06
LEAVE_RATE = 0.06
SWITCH_RATE = 0.03

PX_SIGMA = 0.6
PX_MEDICAL_SHARE = 0.75
PREDICTION_ERROR_SIGMA = 0.5
CONCURRENT_ERROR_SIGMA = 0.25
MISSING_SCORE_RATE = 0.02
MAX_SCORE = 50.0

CLAIM_LINES_PER_YEAR = 12.0
CLAIM_LINE_MEAN = 375.0
CLAIM_AMOUNT_SIGMA = 1.1
FREQUENCY_ELASTICITY = 0.6
CATASTROPHIC_RATE = 0.003
CATASTROPHIC_MEDIAN = 280_000.0
CATASTROPHIC_RANGE = (150_000.0, 800_000.0)
OUTSIDE_ATTRIBUTION_RATE = 0.02
REVERSAL_RATE = 0.02
PAID_LAG_MEDIAN_DAYS = 21.0
PAID_LAG_SIGMA = 0.8
PAID_LAG_MAX_DAYS = 365
PAID_DATE_STREAM = 18  # the paid dates' own random stream: default_rng([seed, 18])
SEGMENT_CHANGE_RATE = 0.02
SEGMENT_STREAM = 19  # the segments' own random stream: default_rng([seed, 19])
BLOCK_STREAM = 20  # a block's own random stream, streaming: default_rng([seed, 20, block])

QUALITY_GATE_STANDARD = 0.65
BASELINE_PMPM = 400.0

MEMBER_ID_BASE = 100_000_000
CLAIM_ID_BASE = 5_000_000_000

_PLACES = (
    "Northland",
    "Riverside",
    "Prairie",
    "Lakeview",
    "Cedar Ridge",
    "Oak Hollow",
    "Westport",
    "Brookside",
    "Summit",
    "Blue Valley",
    "Crossroads",
    "Parkville",
    "Liberty",
    "Shawnee",
    "Midtown",
    "Plaza",
    "Gladstone",
    "Raytown",
    "Overland",
    "Lee's Summit",
    "Waldo",
    "Red Bridge",
    "Northgate",
    "Hillcrest",
    "Union Hill",
    "Briarcliff",
    "Meadowbrook",
    "Stonegate",
    "Pleasant Valley",
    "Heartland",
)
_KINDS = (
    "Family Medicine",
    "Primary Care",
    "Internal Medicine",
    "Family Practice",
    "Health Clinic",
    "Medical Group",
    "Family Physicians",
    "Community Health",
    "Pediatrics",
    "Medical Associates",
)

_SCHEMAS: dict[str, pa.Schema] = {
    "practices": pa.schema(
        [
            ("practice_id", pa.string()),
            ("practice_name", pa.string()),
            ("tier", pa.string()),
            ("baseline_pmpm", pa.float64()),
            ("baseline_risk", pa.float64()),
        ]
    ),
    "attribution": pa.schema(
        [("member_id", pa.int64()), ("practice_id", pa.string()), ("year_month", pa.string())]
    ),
    "risk_scores": pa.schema(
        [
            ("member_id", pa.int64()),
            ("mara_cx_total", pa.float64()),
            ("mara_px_total", pa.float64()),
            ("mara_px_medical", pa.float64()),
            ("mara_px_rx", pa.float64()),
        ]
    ),
    "claims": pa.schema(
        [
            ("claim_id", pa.int64()),
            ("member_id", pa.int64()),
            ("claim_start_date", pa.date32()),
            ("paid_amount", pa.float64()),
        ]
    ),
    "quality": pa.schema(
        [
            ("practice_id", pa.string()),
            ("year", pa.int32()),
            ("quality_score", pa.float64()),
            ("met_quality_gate", pa.bool_()),
        ]
    ),
}

# decimals of each float column, for CSV output without scientific notation
_DECIMALS = {
    "baseline_pmpm": 2,
    "baseline_risk": 4,
    "mara_cx_total": 4,
    "mara_px_total": 4,
    "mara_px_medical": 4,
    "mara_px_rx": 4,
    "paid_amount": 2,
    "quality_score": 4,
}


def generate_program(
    members: int,
    *,
    seed: int = 7,
    year: int = 2026,
    members_per_practice: int = 1000,
    paid_dates: bool = False,
    segments: Mapping[str, float] | Sequence[str] | None = None,
) -> dict[str, pa.Table]:
    """Build a synthetic program of ``members`` members for calendar ``year``.

    Returns the five input tables keyed by name (``TABLE_NAMES``), with the
    project's input columns and Arrow types. The same arguments always give
    the same tables. The distributions are described in the module docstring.

    members: number of distinct members attributed at some point in the year (>= 1).
    seed: seed of numpy's ``default_rng``; every random draw comes from it, in a fixed order.
    year: the performance year; attribution covers its twelve months, claims fall in it.
    members_per_practice: average panel size; the number of practices is
        ``max(1, round(members / members_per_practice))``.
    paid_dates: give the claims a ``paid_date`` column (for a chain-ladder completion
        factor); the other tables and columns are the same either way.
    segments: give attribution a ``segment`` column: the segments' names, or their names
        and shares of the members (scaled to sum to 1); the other tables and columns are
        the same either way.
    """
    if members < 1:
        raise ValueError("members must be at least 1.")
    if members_per_practice < 1:
        raise ValueError("members_per_practice must be at least 1.")
    if not 1900 <= year <= 2200:
        raise ValueError("year must be between 1900 and 2200.")
    rng = np.random.default_rng(seed)
    n_practices = max(1, round(members / members_per_practice))

    practices, weights = _practices(rng, n_practices)
    practice_ids = practices.column("practice_id").combine_chunks()
    start, end, first_practice, second_practice, switch_month = _spans(rng, members, weights)
    attribution = _attribution(
        year, practice_ids, start, end, first_practice, second_practice, switch_month
    )
    risk_scores, relative_cost = _risk_scores(rng, members)
    claims = _claims(rng, year, start, end, relative_cost)
    quality = _quality(rng, year, practices)
    if paid_dates:  # their own stream: every other draw is as without them
        claims = _with_paid_dates(np.random.default_rng([seed, PAID_DATE_STREAM]), claims)
    if segments is not None:  # their own stream too
        shares = segments if isinstance(segments, Mapping) else dict.fromkeys(segments, 1.0)
        attribution = _with_segments(
            np.random.default_rng([seed, SEGMENT_STREAM]), attribution, start, end, shares
        )
    return {
        "practices": practices,
        "attribution": attribution,
        "risk_scores": risk_scores,
        "claims": claims,
        "quality": quality,
    }


def write_program(
    tables: dict[str, pa.Table], out_dir: str | Path, *, fmt: str = "parquet"
) -> dict[str, Path]:
    """Write the tables to ``out_dir`` as ``<name>.parquet`` or ``<name>.csv``; return the paths.

    Parquet files are written with fixed options (snappy compression, dictionary
    encoding, 1,048,576-row row groups) and carry no timestamps, so the same
    tables give byte-identical files. CSV files (meant for small sample
    programs) have a header row, dates as YYYY-MM-DD, booleans as true/false
    and floats with fixed decimals (2 for dollars, 4 for scores and rates),
    never in scientific notation.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, not '{fmt}'.")
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, table in tables.items():
        path = folder / f"{name}.{fmt}"
        if fmt == "parquet":
            pq.write_table(
                table,
                path,
                row_group_size=1 << 20,
                compression="snappy",
                use_dictionary=True,
                write_statistics=True,
            )
        else:
            with path.open("wb") as fh:
                fh.write((",".join(table.column_names) + "\n").encode())
                pacsv.write_csv(
                    _csv_ready(table),
                    fh,
                    write_options=pacsv.WriteOptions(include_header=False, quoting_style="none"),
                )
        paths[name] = path
    return paths


def _csv_ready(table: pa.Table) -> pa.Table:
    """Float columns as fixed-decimal text; other columns as Arrow writes them."""
    columns = []
    for field, column in zip(table.schema, table.columns, strict=True):
        if pa.types.is_floating(field.type):
            places = _DECIMALS.get(field.name, 6)
            values = column.to_numpy()
            column = pa.array(np.char.mod(f"%.{places}f", values).astype(object), pa.string())
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def _table(name: str, columns: dict[str, pa.Array | np.ndarray]) -> pa.Table:
    schema = _SCHEMAS[name]
    arrays = [
        values.cast(f.type)
        if isinstance(values := columns[f.name], pa.Array)
        else pa.array(values, type=f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def _mean_one_lognormal(rng: np.random.Generator, sigma: float, size: int) -> np.ndarray:
    """Lognormal draws with expectation 1.0 (mu = -sigma^2 / 2)."""
    return rng.lognormal(mean=-0.5 * sigma * sigma, sigma=sigma, size=size)


def _practices(rng: np.random.Generator, n: int) -> tuple[pa.Table, np.ndarray]:
    """The practices table and each practice's share of the members (sums to 1)."""
    numbers = np.arange(1, n + 1)
    width = max(4, len(str(n)))
    ids = np.char.add("P", np.char.zfill(numbers.astype(str), width))
    places = np.array(_PLACES)[rng.integers(0, len(_PLACES), size=n)]
    kinds = np.array(_KINDS)[rng.integers(0, len(_KINDS), size=n)]
    names = np.char.add(np.char.add(np.char.add(places, " "), kinds), " ")
    names = np.char.add(names, numbers.astype(str))
    tier = np.array(TIERS)[rng.choice(len(TIERS), size=n, p=TIER_PROBABILITIES)]
    baseline_risk = np.round(np.clip(rng.normal(1.02, 0.07, size=n), 0.85, 1.20), 4)
    pmpm = BASELINE_PMPM * baseline_risk * _mean_one_lognormal(rng, 0.06, n)
    baseline_pmpm = np.round(np.clip(pmpm, 300.0, 550.0), 2)
    weights = _mean_one_lognormal(rng, PRACTICE_SIZE_SIGMA, n)
    table = _table(
        "practices",
        {
            "practice_id": ids.astype(object),
            "practice_name": names.astype(object),
            "tier": tier.astype(object),
            "baseline_pmpm": baseline_pmpm,
            "baseline_risk": baseline_risk,
        },
    )
    return table, weights / weights.sum()


def _spans(
    rng: np.random.Generator, members: int, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per member: first and last attributed month (0..11), practices and switch month.

    A member is at ``first_practice`` in months before ``switch_month`` and at
    ``second_practice`` from it on; ``switch_month`` is 12 for members who never switch.
    """
    n_practices = len(weights)
    kind = rng.random(members, dtype=np.float32)
    joins = kind < JOIN_RATE
    leaves = (kind >= JOIN_RATE) & (kind < JOIN_RATE + LEAVE_RATE)
    switches = (kind >= JOIN_RATE + LEAVE_RATE) & (kind < JOIN_RATE + LEAVE_RATE + SWITCH_RATE)
    if n_practices == 1:
        switches[:] = False
    month = rng.integers(1, 12, size=members, dtype=np.int8)  # 1..11
    start = np.where(joins, month, 0).astype(np.int8)
    end = np.where(leaves, month - 1, 11).astype(np.int8)
    switch_month = np.where(switches, month, 12).astype(np.int8)

    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    first = np.searchsorted(cdf, rng.random(members), side="right").astype(np.int32)
    second = np.searchsorted(cdf, rng.random(members), side="right").astype(np.int32)
    np.minimum(first, n_practices - 1, out=first)
    np.minimum(second, n_practices - 1, out=second)
    same = second == first
    second[same] = (second[same] + 1) % n_practices
    return start, end, first, second, switch_month


def _member_months(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each attributed member-month's member and month (0..11), by member then month."""
    months = (end - start + 1).astype(np.int64)
    member = np.repeat(np.arange(len(months), dtype=np.int32), months)
    offsets = np.cumsum(months) - months
    month = (np.arange(len(member), dtype=np.int64) - np.repeat(offsets, months)).astype(np.int8)
    month += np.repeat(start, months)
    return member, month


def parse_segments(text: str) -> dict[str, float]:
    """``"a,b,c"`` (equal shares) or ``"a=0.6,b=0.3,c=0.1"`` as {segment: share}."""
    items = text.split(",")
    with_share = ["=" in item for item in items]
    if any(with_share) and not all(with_share):
        raise ValueError("give every segment a share, or none")
    shares: dict[str, float] = {}
    for item in items:
        name, sep, share = (part.strip() for part in item.partition("="))
        if not name:
            raise ValueError(f"a segment without a name in '{text}'")
        if name in shares:
            raise ValueError(f"segment '{name}' is named twice")
        try:
            value = float(share) if sep else 1.0
        except ValueError:
            raise ValueError(f"the share of '{name}' is not a number: '{share}'") from None
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"the share of '{name}' must be a positive number, not {share}")
        shares[name] = value
    return shares


def _with_segments(
    rng: np.random.Generator,
    attribution: pa.Table,
    start: np.ndarray,
    end: np.ndarray,
    shares: Mapping[str, float],
) -> pa.Table:
    """Attribution with each member-month's ``segment``: one draw per member by the shares,
    and a few members moving once to another segment (see the module docstring)."""
    names = list(shares)
    if not names:
        raise ValueError("segments must name at least one segment")
    p = np.array([shares[n] for n in names], dtype=np.float64)
    if not (np.all(np.isfinite(p)) and np.all(p > 0)):
        raise ValueError("segment shares must be positive numbers")
    members, n_seg = len(start), len(names)
    first = rng.choice(n_seg, size=members, p=p / p.sum()).astype(np.int32)
    moves = (rng.random(members) < SEGMENT_CHANGE_RATE) & (n_seg > 1)
    move_month = rng.integers(1, 12, size=members, dtype=np.int8)  # February..December
    second = (first + rng.integers(1, max(n_seg, 2), size=members, dtype=np.int32)) % n_seg
    member, month = _member_months(start, end)
    moved = moves[member] & (month >= move_month[member])
    segment = np.where(moved, second[member], first[member])
    labels = pa.array(names, pa.string())
    column = pc.take(labels, pa.array(segment, pa.int32()))
    return attribution.append_column(pa.field("segment", pa.string()), column)


def _attribution(
    year: int,
    practice_ids: pa.Array,
    start: np.ndarray,
    end: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    switch_month: np.ndarray,
) -> pa.Table:
    """Member-month rows, by member then month: np.repeat over each member's span."""
    months = (end - start + 1).astype(np.int64)
    member, month = _member_months(start, end)
    switched = month >= np.repeat(switch_month, months)
    practice = np.where(switched, np.repeat(second, months), np.repeat(first, months))
    labels = pa.array([f"{year:04d}-{m:02d}" for m in range(1, 13)], pa.string())
    return _table(
        "attribution",
        {
            "member_id": member.astype(np.int64) + MEMBER_ID_BASE,
            "practice_id": pc.take(practice_ids, pa.array(practice, pa.int32())),
            "year_month": pc.take(labels, pa.array(month, pa.int8())),
        },
    )


def _risk_scores(rng: np.random.Generator, members: int) -> tuple[pa.Table, np.ndarray]:
    """The vendor-shaped score file and each member's true relative cost (mean about 1)."""
    px = _mean_one_lognormal(rng, PX_SIGMA, members)
    px /= px.mean()
    relative_cost = px * _mean_one_lognormal(rng, PREDICTION_ERROR_SIGMA, members)
    cx = relative_cost * _mean_one_lognormal(rng, CONCURRENT_ERROR_SIGMA, members)
    cx /= cx.mean()
    share = np.clip(rng.normal(PX_MEDICAL_SHARE, 0.08, size=members), 0.40, 0.95)
    px_total = np.round(np.clip(px, 0.0, MAX_SCORE), 4)
    px_medical = np.round(px_total * share, 4)
    px_rx = np.round(px_total - px_medical, 4)
    cx_total = np.round(np.clip(cx, 0.0, MAX_SCORE), 4)
    keep = rng.random(members, dtype=np.float32) >= MISSING_SCORE_RATE
    table = _table(
        "risk_scores",
        {
            "member_id": np.flatnonzero(keep).astype(np.int64) + MEMBER_ID_BASE,
            "mara_cx_total": cx_total[keep],
            "mara_px_total": px_total[keep],
            "mara_px_medical": px_medical[keep],
            "mara_px_rx": px_rx[keep],
        },
    )
    return table, relative_cost


def _month_start_days(year: int) -> np.ndarray:
    """Days since 1970-01-01 of the first day of each month of ``year``, and of the next January."""
    months = np.arange(f"{year:04d}-01", f"{year + 1:04d}-02", dtype="datetime64[M]")
    return months.astype("datetime64[D]").astype(np.int32)


def _claims(
    rng: np.random.Generator,
    year: int,
    start: np.ndarray,
    end: np.ndarray,
    relative_cost: np.ndarray,
) -> pa.Table:
    """Claim lines: Poisson frequency and lognormal severity by member, catastrophic members,
    lines outside attribution, and reversals (see the module docstring)."""
    members = len(relative_cost)
    attributed = (end - start + 1).astype(np.int32)
    frequency = relative_cost**FREQUENCY_ELASTICITY
    frequency /= frequency.mean()
    line_mean = CLAIM_LINE_MEAN * relative_cost / frequency

    # lines in attributed months, and (scaled to OUTSIDE_ATTRIBUTION_RATE of all lines)
    # lines in the months before joining or after leaving
    rate_in = CLAIM_LINES_PER_YEAR * frequency * attributed / 12.0
    rate_out = CLAIM_LINES_PER_YEAR * frequency * (12 - attributed) / 12.0
    scale_out = 0.0
    if rate_out.sum() > 0:
        outside = OUTSIDE_ATTRIBUTION_RATE / (1.0 - OUTSIDE_ATTRIBUTION_RATE)
        scale_out = outside * rate_in.sum() / rate_out.sum()
    n_in = rng.poisson(rate_in).astype(np.int32)
    n_out = rng.poisson(rate_out * scale_out).astype(np.int32)

    member_in = np.repeat(np.arange(members, dtype=np.int32), n_in)
    month_in = start[member_in] + _uniform_int(rng, attributed[member_in])
    member_out = np.repeat(np.arange(members, dtype=np.int32), n_out)
    pick = _uniform_int(rng, 12 - attributed[member_out])
    month_out = np.where(pick < start[member_out], pick, pick + attributed[member_out])
    member = np.concatenate([member_in, member_out])
    month = np.concatenate([month_in, month_out]).astype(np.int8)
    del member_in, member_out, month_in, month_out, pick
    amount = line_mean[member] * _mean_one_lognormal(rng, CLAIM_AMOUNT_SIGMA, len(member))

    # catastrophic members: a large annual amount split over a few large lines
    chance = np.minimum(CATASTROPHIC_RATE * relative_cost / relative_cost.mean(), 1.0)
    catastrophic = np.flatnonzero(rng.random(members) < chance).astype(np.int32)
    low, high = CATASTROPHIC_RANGE
    annual = np.clip(rng.lognormal(np.log(CATASTROPHIC_MEDIAN), 0.45, len(catastrophic)), low, high)
    n_cat = 2 + rng.poisson(4.0, len(catastrophic)).astype(np.int32)
    group = np.repeat(np.arange(len(catastrophic)), n_cat)
    share = rng.exponential(size=len(group))
    share /= np.bincount(group, weights=share, minlength=len(catastrophic))[group]
    member_cat = catastrophic[group]
    month_cat = start[member_cat] + _uniform_int(rng, attributed[member_cat])
    member = np.concatenate([member, member_cat])
    month = np.concatenate([month, month_cat.astype(np.int8)])
    amount = np.concatenate([amount, annual[group] * share])
    amount = np.maximum(np.round(amount, 2), 1.0)

    # service date uniform within the month, as a day of the year (int16 sorts by radix)
    month_days = _month_start_days(year)
    first_day = month_days[month] - month_days[0]
    length = month_days[month + 1] - month_days[month]
    day = (first_day + _uniform_int(rng, length)).astype(np.int16)

    # order by service date, random within a day; claim_id follows that order
    order = rng.permutation(len(day))
    order = order[np.argsort(day[order], kind="stable")]
    member, day, amount = member[order], day[order], amount[order]
    del order
    claim_id = np.arange(CLAIM_ID_BASE, CLAIM_ID_BASE + len(day), dtype=np.int64)

    # reversals: same claim_id, member and date, negated amount; after the day's lines
    reversed_ = np.flatnonzero(rng.random(len(day), dtype=np.float32) < REVERSAL_RATE)
    day_all = np.concatenate([day, day[reversed_]])
    order = np.argsort(day_all, kind="stable")
    claim_id = np.concatenate([claim_id, claim_id[reversed_]])[order]
    member_id = np.concatenate([member, member[reversed_]])[order].astype(np.int64)
    member_id += MEMBER_ID_BASE
    paid = np.concatenate([amount, -amount[reversed_]])[order]
    date = day_all[order].astype(np.int32) + month_days[0]
    return _table(
        "claims",
        {
            "claim_id": claim_id,
            "member_id": member_id,
            "claim_start_date": pa.array(date, pa.int32()).view(pa.date32()),
            "paid_amount": paid,
        },
    )


def _with_paid_dates(rng: np.random.Generator, claims: pa.Table) -> pa.Table:
    """The claims with a ``paid_date``: the service date + a lognormal lag in days."""
    service = claims.column("claim_start_date").combine_chunks().view(pa.int32())
    lag = rng.lognormal(np.log(PAID_LAG_MEDIAN_DAYS), PAID_LAG_SIGMA, claims.num_rows)
    days = np.minimum(np.rint(lag), PAID_LAG_MAX_DAYS).astype(np.int32)
    paid = pa.array(service.to_numpy() + days, pa.int32()).view(pa.date32())
    return claims.append_column(pa.field("paid_date", pa.date32()), paid)


def _uniform_int(rng: np.random.Generator, high: np.ndarray) -> np.ndarray:
    """A uniform integer in 0 .. high-1 for each element (high >= 1), as int32."""
    return (rng.random(len(high), dtype=np.float32) * high).astype(np.int32).clip(0, high - 1)


def _quality(rng: np.random.Generator, year: int, practices: pa.Table) -> pa.Table:
    """One quality row per practice: Beta(14, 4) plus a tier effect; gate at the standard."""
    n = practices.num_rows
    tier = practices.column("tier").to_numpy(zero_copy_only=False)
    effect = np.select([tier == name for name in TIERS], list(TIER_QUALITY_EFFECT), default=0.0)
    score = np.round(np.clip(rng.beta(14.0, 4.0, size=n) + effect, 0.0, 1.0), 4)
    return _table(
        "quality",
        {
            "practice_id": practices.column("practice_id").combine_chunks(),
            "year": np.full(n, year, dtype=np.int32),
            "quality_score": score,
            "met_quality_gate": score >= QUALITY_GATE_STANDARD,
        },
    )


def stream_program(
    members: int,
    out_dir: str | Path,
    *,
    block_members: int,
    seed: int = 7,
    year: int = 2026,
    members_per_practice: int = 1000,
    paid_dates: bool = False,
    segments: Mapping[str, float] | Sequence[str] | None = None,
) -> tuple[dict[str, Path], dict[str, int]]:
    """Write a synthetic program of any size in bounded memory, as Parquet: the members in
    blocks of ``block_members``, each block generated as ``generate_program`` generates a
    program (the same distributions) from its own random stream, ``default_rng([seed,
    BLOCK_STREAM, block])``, and appended to the files as row groups. The practices and
    quality come from ``default_rng(seed)``, as in one piece, and every block's members
    are spread over all of them; member ids and claim ids run on from block to block
    (claim ids increase with the service date within a block). Deterministic for its
    arguments; not the same files as ``generate_program`` in one piece (whose claim ids
    follow the service dates of all members together). Returns the paths and row counts."""
    if members < 1 or block_members < 1:
        raise ValueError("members and block_members must be at least 1.")
    if members_per_practice < 1:
        raise ValueError("members_per_practice must be at least 1.")
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n_practices = max(1, round(members / members_per_practice))
    practices, weights = _practices(rng, n_practices)
    practice_ids = practices.column("practice_id").combine_chunks()
    quality = _quality(rng, year, practices)
    paths = {name: folder / f"{name}.parquet" for name in TABLE_NAMES}
    rows = dict.fromkeys(TABLE_NAMES, 0)
    options = {"compression": "snappy", "use_dictionary": True, "write_statistics": True}
    for name, table in (("practices", practices), ("quality", quality)):
        pq.write_table(table, paths[name], row_group_size=1 << 20, **options)
        rows[name] = table.num_rows
    writers: dict[str, pq.ParquetWriter] = {}
    shares = None
    if segments is not None:
        shares = segments if isinstance(segments, Mapping) else dict.fromkeys(segments, 1.0)
    claims_written = 0
    try:
        for block, first in enumerate(range(0, members, block_members)):  # blocks, not members
            n = min(block_members, members - first)
            block_rng = np.random.default_rng([seed, BLOCK_STREAM, block])
            start, end, first_practice, second_practice, switch_month = _spans(
                block_rng, n, weights
            )
            attribution = _attribution(
                year, practice_ids, start, end, first_practice, second_practice, switch_month
            )
            risk_scores, relative_cost = _risk_scores(block_rng, n)
            claims = _claims(block_rng, year, start, end, relative_cost)
            if paid_dates:
                claims = _with_paid_dates(
                    np.random.default_rng([seed, PAID_DATE_STREAM, block]), claims
                )
            if shares is not None:
                attribution = _with_segments(
                    np.random.default_rng([seed, SEGMENT_STREAM, block]),
                    attribution,
                    start,
                    end,
                    shares,
                )
            parts = {
                "attribution": _shifted(attribution, {"member_id": first}),
                "risk_scores": _shifted(risk_scores, {"member_id": first}),
                "claims": _shifted(claims, {"member_id": first, "claim_id": claims_written}),
            }
            claims_written += claims.num_rows
            for name, table in parts.items():
                if name not in writers:
                    writers[name] = pq.ParquetWriter(paths[name], table.schema, **options)
                writers[name].write_table(table, row_group_size=1 << 20)
                rows[name] += table.num_rows
            del parts, attribution, risk_scores, claims
    finally:
        for writer in writers.values():
            writer.close()
    return paths, rows


def _shifted(table: pa.Table, offsets: dict[str, int]) -> pa.Table:
    """The table with these integer columns moved on by their offsets."""
    for name, offset in offsets.items():
        at = table.schema.get_field_index(name)
        column = pc.add(table.column(name), pa.scalar(offset, pa.int64()))
        table = table.set_column(at, table.schema.field(at), column)
    return table
