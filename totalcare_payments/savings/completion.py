"""The completion factor estimated from the claims' own paid dates: the chain ladder.

Claims with a ``paid_period`` (the month paid) are summed, vectorized (one
``np.bincount``), into the triangle of incurred month x paid lag (lag = months from the
service month to the month paid, 0 when paid in the service month) of every claim paid
by the evaluation month: the year's last month plus ``runout_months``. The small
cumulative triangle is handed to ``chainladder`` (the actuarial field's library), whose
volume-weighted development gives each lag's age-to-age factor (the sum over incurred
months of cumulative paid at lag k+1 over the same months' at lag k) and its factor to
ultimate (the product of the age-to-age factors from that lag on; no tail beyond the
triangle's last lag).

Each of the year's incurred months is observed at lag ``evaluation - month``; its
estimated ultimate is its paid to date x that lag's factor to ultimate. The year's
completion factor = the year's estimated ultimate / the year's paid to date (the months
weighted by their paid amounts), rounded half-up to six decimals: the factor the
settlement's waterfall multiplies claims paid by.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import ConfigError, InputError, Problem
from ..inputs.checks import Table
from ..money import UNITS_PER_DOLLAR, round_half_up, units_to_cents
from ..periods import format_period
from ..reasons import Reason

#: the decimals the estimated factor is rounded to (half-up), as the trend factor's
FACTOR_DECIMALS = 6


@dataclass(frozen=True)
class CompletionEstimate:
    """A chain-ladder completion factor and what it was worked out from."""

    year: int
    runout_months: int
    evaluation_period: int  # the last month of payments counted
    factor: float  # the year's completion factor, six decimals
    paid: np.ndarray  # (incurred months, lags) incremental paid units; 0 where not observed
    observed: np.ndarray  # (incurred months, lags) bool: paid by the evaluation month
    first_period: int  # the triangle's first incurred month
    age_to_age: np.ndarray  # (lags - 1,) lag k to k+1
    to_ultimate: np.ndarray  # (lags,) from lag k to ultimate (1 at the last lag)
    claims_after_runout: int  # claims of the year's months paid after the evaluation month

    @property
    def cumulative(self) -> np.ndarray:
        return np.where(self.observed, np.cumsum(self.paid, axis=1), np.nan)

    def triangle(self) -> pd.DataFrame:
        """One row per observed cell: incurred month, lag, month paid, paid in that lag and
        paid to that lag (cumulative), in cents."""
        months, lags = np.nonzero(self.observed)
        cumulative = np.cumsum(self.paid, axis=1)
        incurred = self.first_period + months
        return pd.DataFrame(
            {
                "incurred_month": [format_period(int(p)) for p in incurred],
                "lag": lags.astype(np.int64),
                "paid_month": [format_period(int(p)) for p in incurred + lags],
                "paid_cents": units_to_cents(np.rint(self.paid[months, lags]).astype(np.int64)),
                "cumulative_paid_cents": units_to_cents(
                    np.rint(cumulative[months, lags]).astype(np.int64)
                ),
            }
        )

    def factors(self) -> pd.DataFrame:
        """One row per lag: its age-to-age factor (to the next lag), its factor to ultimate,
        and the year's incurred month observed at that lag (if any) with its paid to date
        and estimated ultimate; then a row ``year``: the year's totals and its factor."""
        n_lags = len(self.to_ultimate)
        year_first = (self.year - 1970) * 12
        month = np.full(n_lags, "", dtype=object)
        paid_units = np.zeros(n_lags)
        ultimate_units = np.zeros(n_lags)
        for period, lag, paid in self._year_months():
            month[lag] = format_period(period)
            paid_units[lag] = paid
            ultimate_units[lag] = paid * self.to_ultimate[lag]
        year_months = f"{format_period(year_first)}..{format_period(year_first + 11)}"
        paid_cents = units_to_cents(np.rint(paid_units).astype(np.int64))
        ultimate_cents = units_to_cents(np.rint(ultimate_units).astype(np.int64))
        total_paid = units_to_cents(int(np.rint(paid_units.sum())))
        total_ultimate = units_to_cents(int(np.rint(ultimate_units.sum())))
        return pd.DataFrame(  # one frame from whole arrays: its text columns in one piece
            {
                "lag": [str(k) for k in range(n_lags)] + ["year"],
                "age_to_age": np.append(self.age_to_age, [np.nan, np.nan]),
                "to_ultimate": np.append(self.to_ultimate, self.factor),
                "incurred_month": [*month, year_months],
                "paid_cents": np.append(paid_cents, total_paid),
                "ultimate_cents": np.append(ultimate_cents, total_ultimate),
            }
        )

    def _year_months(self) -> list[tuple[int, int, float]]:
        """(incurred month, lag observed, paid to date in units) of the year's months."""
        year_first = (self.year - 1970) * 12
        rows = []
        for period in range(year_first, year_first + 12):
            i = period - self.first_period
            if i < 0:
                continue
            lag = self.evaluation_period - period
            rows.append((period, lag, float(self.paid[i, : lag + 1].sum())))
        return rows

    def notes(self) -> dict[str, object]:
        return {
            "completion_method": "chain_ladder",
            "completion_factor": f"{self.factor:.{FACTOR_DECIMALS}f}",
            "completion_runout_months": self.runout_months,
            "completion_evaluation_month": format_period(self.evaluation_period),
            "claims_paid_after_runout": self.claims_after_runout,
        }


def _problem(message: str) -> InputError:
    return InputError(Problem("claims", Reason.NO_COMPLETION_ESTIMATE, message, column="paid_date"))


def development_factors(cumulative: np.ndarray, first_period: int) -> tuple[np.ndarray, np.ndarray]:
    """Volume-weighted age-to-age factors and factors to ultimate of a cumulative
    incurred-month x lag triangle (NaN where not observed), by ``chainladder``."""
    try:
        import chainladder  # imported when asked for: the library takes seconds to load
    except ImportError as missing:
        raise ConfigError(
            'settlement.completion.method = "chain_ladder" needs the chainladder package: '
            "pip install 'totalcare_payments[actuarial]'"
        ) from missing

    n_lags = cumulative.shape[1]
    if n_lags == 1:
        return np.zeros(0), np.ones(1)
    months, lags = np.nonzero(~np.isnan(cumulative))
    long = pd.DataFrame(
        {
            "origin": _month_starts(first_period + months),
            "development": _month_starts(first_period + months + lags),
            "paid": cumulative[months, lags] / UNITS_PER_DOLLAR,
        }
    )
    with warnings.catch_warnings():  # the library's own deprecation notices, not the user's
        warnings.simplefilter("ignore")
        triangle = chainladder.Triangle(  # type: ignore[abstract]
            long, origin="origin", development="development", columns="paid", cumulative=True
        )
        development = chainladder.Development(average="volume").fit(triangle)
    age_to_age = np.asarray(development.ldf_.values, dtype=float).ravel()[: n_lags - 1]
    to_ultimate = np.append(np.asarray(development.cdf_.values, dtype=float).ravel(), 1.0)
    return age_to_age, to_ultimate[:n_lags]


def _month_starts(periods: np.ndarray) -> pd.DatetimeIndex:
    """Periods (months since 1970-01) as the first day of their month."""
    return pd.DatetimeIndex(np.asarray(periods, dtype="datetime64[M]").astype("datetime64[ns]"))


def estimate_completion(claims: Table, year: int, runout_months: int) -> CompletionEstimate:
    """The chain-ladder completion factor of a year, from the claims paid by the end of the
    runout (``year``'s December plus ``runout_months``)."""
    if "paid_period" not in claims.frame.columns:
        raise InputError(
            Problem(
                "claims",
                Reason.MISSING_COLUMN,
                f"{claims.path}: the chain-ladder completion factor "
                '(settlement.completion.method = "chain_ladder") needs the claims\' paid_date',
                column="paid_date",
            )
        )
    year_last = (year - 1970) * 12 + 11
    evaluation = year_last + runout_months
    frame = claims.frame
    incurred = np.asarray(frame["period"].to_numpy(), dtype=np.int64)
    paid_period = np.asarray(frame["paid_period"].to_numpy(), dtype=np.int64)
    amount = np.rint(np.asarray(frame["paid_amount"].to_numpy(), dtype=float) * UNITS_PER_DOLLAR)
    in_year = (incurred > year_last - 12) & (incurred <= year_last)
    after = paid_period > evaluation
    used = (incurred <= year_last) & ~after
    if not (used & in_year).any():
        raise _problem(f"{claims.path}: no claim of {year} paid by {format_period(evaluation)}")
    first = int(incurred[used].min())
    n_months = year_last - first + 1
    n_lags = evaluation - first + 1
    cell = (incurred[used] - first) * n_lags + (paid_period[used] - incurred[used])
    paid = np.bincount(cell, weights=amount[used], minlength=n_months * n_lags)
    paid = paid.reshape(n_months, n_lags)
    observed = (np.arange(n_months)[:, None] + np.arange(n_lags)[None, :]) <= (evaluation - first)
    cumulative = np.where(observed, np.cumsum(paid, axis=1), np.nan)
    age_to_age, to_ultimate = development_factors(cumulative, first)
    if not (np.isfinite(to_ultimate).all() and np.isfinite(age_to_age).all()):
        bad = int(np.flatnonzero(~np.isfinite(np.append(age_to_age, 1.0)))[0])
        raise _problem(
            f"{claims.path}: nothing paid by lag {bad} of the incurred months observed at lag "
            f"{bad + 1}: the chain ladder has no development factor for it"
        )
    year_rows = (np.arange(12) + (year_last - 11) - first)
    year_rows = year_rows[year_rows >= 0]
    year_lags = evaluation - (first + year_rows)
    paid_to_date = cumulative[year_rows, year_lags]
    total_paid = float(paid_to_date.sum())
    if not total_paid > 0:
        raise _problem(
            f"{claims.path}: the claims of {year} paid by {format_period(evaluation)} add up "
            "to nothing: no paid amounts to complete"
        )
    ultimate = float((paid_to_date * to_ultimate[year_lags]).sum())
    factor = float(round_half_up(ultimate / total_paid, FACTOR_DECIMALS))
    return CompletionEstimate(
        year=year,
        runout_months=runout_months,
        evaluation_period=evaluation,
        factor=factor,
        paid=paid,
        observed=observed,
        first_period=first,
        age_to_age=age_to_age,
        to_ultimate=to_ultimate,
        claims_after_runout=int((in_year & after).sum()),
    )

