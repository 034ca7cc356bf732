"""Clinical risk: members' MARA-style scores and practices' average risk.

A risk score says how costly a member is expected to be relative to an average of
1.0. The vendor file's layout varies by payer, so the config names the member id
and score columns. A practice's average risk is the member-month-weighted mean of
its members' scores.

Scores are summed in fixed point: each member's score is taken as a whole number of
billionths (``SCORE_SCALE``, the score x 10**9 rounded to the nearest), and the sums are
exact integers. A sum is then the same number whatever order its member-months are
added in, so a program split into parts by member (``engine``) gives the same sums, to
the bit, as the program in one piece.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .attribution import MemberMonths
from .config import RiskTerms
from .errors import InputError, Problem
from .inputs.checks import Table, TableUse
from .inputs.columns import ROWS_PER_SLICE
from .money import round_half_up
from .reasons import Reason


@dataclass(frozen=True)
class MemberScores:
    """Each attributed member's score (by member code) and whether it was defaulted."""

    score: np.ndarray
    defaulted: np.ndarray
    use: TableUse | None = None  # what was used of the risk scores table

    @property
    def members_defaulted(self) -> int:
        return int(self.defaulted.sum())


def member_scores(
    risk_scores: Table, member_months: MemberMonths, terms: RiskTerms
) -> MemberScores:
    """Look up every attributed member's score.

    Score rows of members not attributed in the run are excluded (NOT_ATTRIBUTED).
    Attributed members with no score get ``default_score`` (counted), or, when the config
    says ``missing_score = "reject"``, fail the run listing them.
    """
    frame = risk_scores.frame
    codes = frame["member_code"].to_numpy()
    with_months = member_months.attributed()
    attributed = codes >= 0
    attributed[attributed] = with_months[codes[attributed]]
    n_used = int(attributed.sum())
    use = TableUse.of(risk_scores.name, n_used, {Reason.NOT_ATTRIBUTED: len(codes) - n_used})
    score = np.full(member_months.n_members, np.nan, dtype=np.float64)
    score[codes[attributed]] = frame[terms.score_column].to_numpy(dtype=np.float64)[attributed]
    missing = np.isnan(score) & with_months
    if missing.any() and terms.missing_score == "reject":
        ids = member_months.member_ids[np.flatnonzero(missing)]
        raise InputError(
            Problem(
                table="risk_scores",
                reason=Reason.MISSING_SCORE,
                column=terms.score_column,
                message=(
                    f"{int(missing.sum())} attributed member(s) have no score in "
                    f"{risk_scores.path} and the config rejects missing scores"
                ),
                examples=tuple(str(i) for i in ids[:5]),
            )
        )
    score = np.where(np.isnan(score), terms.default_score, score)
    return MemberScores(score=score, defaulted=missing, use=use)


#: Scores are summed as whole numbers of this fraction of a point (billionths).
SCORE_DECIMALS = 9
SCORE_SCALE = 10**SCORE_DECIMALS
# Scores in fixed point are split into a high and a low part of this many bits, each
# summed exactly by a float64 bincount over a slice of member-months.
_LOW_BITS = 24


def fixed_scores(score: np.ndarray) -> np.ndarray:
    """Scores as whole numbers of billionths (int64): score x 10**9, rounded to the nearest."""
    return np.rint(np.asarray(score, dtype=np.float64) * SCORE_SCALE).astype(np.int64)


def fixed_sums(group: np.ndarray, fixed: np.ndarray, size: int) -> np.ndarray:
    """Exact int64 sums of ``fixed`` by ``group`` (0..size-1): the high and low bits are
    summed apart, each below 2**53 in a float64 bincount (a slice of at most 2**26
    values of at most 10**11), so every sum is exact and independent of order."""
    low = np.bincount(group, weights=fixed & ((1 << _LOW_BITS) - 1), minlength=size)
    high = np.bincount(group, weights=fixed >> _LOW_BITS, minlength=size)
    return (high.astype(np.int64) << _LOW_BITS) + low.astype(np.int64)


def exact_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, elementwise, of exact integers (numerator as Python ints):
    the correctly rounded float of each ratio."""
    num = np.asarray(numerator, dtype=object).ravel()
    den = np.asarray(denominator, dtype=object).ravel()
    out = np.array([int(a) / int(b) for a, b in zip(num, den, strict=True)], dtype=np.float64)
    return out.reshape(np.shape(numerator))


@dataclass(frozen=True)
class RiskTotals:
    """Members' scores summed per practice and month, with the member months summed:
    every average risk of a run (a month's, a year's) is a ratio of these sums.

    ``fixed`` holds the exact sums in billionths (``SCORE_SCALE``) and ``score`` the same
    sums in points; totals divided by a mean (``normalized``) have ``score`` only."""

    score: np.ndarray  # (practices, months): sum of the scores of the member-months
    member_months: np.ndarray  # (practices, months)
    fixed: np.ndarray | None = None  # (practices, months) int64: the sums in billionths

    @classmethod
    def of_fixed(cls, fixed: np.ndarray, member_months: np.ndarray) -> RiskTotals:
        """Totals from exact sums in billionths."""
        return cls(fixed / SCORE_SCALE, member_months, fixed)

    def by_practice(self) -> RiskTotals:
        """The run's months together: one column."""
        member_months = self.member_months.sum(axis=1, keepdims=True)
        if self.fixed is not None:
            return RiskTotals.of_fixed(self.fixed.sum(axis=1, keepdims=True), member_months)
        return RiskTotals(self.score.sum(axis=1, keepdims=True), member_months)

    def mean_score(self, per_month: bool) -> np.ndarray:
        """The mean score of all member-months (of each month when ``per_month``); 1.0
        where there are none, so that dividing by it is always defined. From exact sums,
        the correctly rounded ratio of the exact total to the member months."""
        axis = 0 if per_month else None
        months = np.maximum(self.member_months.sum(axis=axis), 1)
        if self.fixed is not None:
            total = self.fixed.astype(object).sum(axis=axis)  # Python ints: no overflow
            mean = exact_ratio(total, np.asarray(months, dtype=object) * SCORE_SCALE)
        else:
            mean = self.score.sum(axis=axis) / months
        return np.where(mean > 0, mean, 1.0)

    def normalized(self, per_month: bool, mean: np.ndarray | None = None) -> RiskTotals:
        """Scores divided by ``mean_score`` (or by ``mean``, the population's mean worked
        out elsewhere), so that the population's average is 1.0."""
        return RiskTotals(
            self.score / (self.mean_score(per_month) if mean is None else mean),
            self.member_months,
        )

    def average(self, decimals: int) -> np.ndarray:
        """Average risk score per cell, rounded half-up (NaN where there are no member months)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            avg = np.where(
                self.member_months > 0, self.score / np.maximum(self.member_months, 1), np.nan
            )
        return round_half_up(avg, decimals)


def practice_month_cell(mm: MemberMonths, part: slice = slice(None)) -> np.ndarray:
    """Each member-month's cell ``practice x n_months + month``: the practice-major order
    of ``RiskTotals`` and of the CCF lines."""
    cell = mm.practice[part].astype(np.intp)
    cell *= mm.n_months
    cell += mm.month[part]
    return cell


def risk_totals(mm: MemberMonths, scores: MemberScores) -> RiskTotals:
    """Sum the member-months' scores per practice and month, exactly in billionths."""
    shape = (mm.n_practices, mm.n_months)
    size = shape[0] * shape[1]
    member_months = np.zeros(size, dtype=np.int64)
    score = np.zeros(size, dtype=np.int64)
    fixed = fixed_scores(scores.score)
    for start in range(0, len(mm.member), ROWS_PER_SLICE):  # slices, not members
        part = slice(start, start + ROWS_PER_SLICE)
        group = practice_month_cell(mm, part)
        member_months += np.bincount(group, minlength=size)
        score += fixed_sums(group, fixed[mm.member[part]], size)
    return RiskTotals.of_fixed(score.reshape(shape), member_months.reshape(shape))


def segment_totals(mm: MemberMonths, scores: MemberScores) -> RiskTotals:
    """The run's scores and member months summed per practice and segment: shape
    (practices, segments), exactly in billionths: with one segment the same numbers as
    ``risk_totals(...).by_practice()``."""
    n_seg, n_months = mm.n_segments, mm.n_months
    size = mm.n_practices * n_seg * n_months
    member_months = np.zeros(size, dtype=np.int64)
    score = np.zeros(size, dtype=np.int64)
    fixed = fixed_scores(scores.score)
    for start in range(0, len(mm.member), ROWS_PER_SLICE):  # slices, not members
        part = slice(start, start + ROWS_PER_SLICE)
        group = mm.practice[part].astype(np.intp)
        group *= n_seg
        group += mm.segment_codes(part)
        group *= n_months
        group += mm.month[part]
        member_months += np.bincount(group, minlength=size)
        score += fixed_sums(group, fixed[mm.member[part]], size)
    shape = (mm.n_practices, n_seg, n_months)
    return RiskTotals.of_fixed(
        score.reshape(shape).sum(axis=2), member_months.reshape(shape).sum(axis=2)
    )
