"""Clinical risk: members' MARA-style scores and practices' average risk.

A risk score says how costly a member is expected to be relative to an average of
1.0. The vendor file's layout varies by payer, so the config names the member id
and score columns. A practice's average risk is the member-month-weighted mean of
its members' scores.
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


@dataclass(frozen=True)
class RiskTotals:
    """Members' scores summed per practice and month, with the member months summed:
    every average risk of a run (a month's, a year's) is a ratio of these sums."""

    score: np.ndarray  # (practices, months): sum of the scores of the member-months
    member_months: np.ndarray  # (practices, months)

    def by_practice(self) -> RiskTotals:
        """The run's months together: one column."""
        return RiskTotals(
            self.score.sum(axis=1, keepdims=True), self.member_months.sum(axis=1, keepdims=True)
        )

    def mean_score(self, per_month: bool) -> np.ndarray:
        """The mean score of all member-months (of each month when ``per_month``); 1.0
        where there are none, so that dividing by it is always defined."""
        axis = 0 if per_month else None
        mean = self.score.sum(axis=axis) / np.maximum(self.member_months.sum(axis=axis), 1)
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
    """Sum the member-months' scores per practice and month (two counting passes)."""
    shape = (mm.n_practices, mm.n_months)
    member_months = np.zeros(shape[0] * shape[1], dtype=np.int64)
    score = np.zeros(shape[0] * shape[1])
    for start in range(0, len(mm.member), ROWS_PER_SLICE):  # slices, not members
        part = slice(start, start + ROWS_PER_SLICE)
        group = practice_month_cell(mm, part)
        member_months += np.bincount(group, minlength=len(score))
        score += np.bincount(group, weights=scores.score[mm.member[part]], minlength=len(score))
    return RiskTotals(score.reshape(shape), member_months.reshape(shape))


def segment_totals(mm: MemberMonths, scores: MemberScores) -> RiskTotals:
    """The run's scores and member months summed per practice and segment: shape
    (practices, segments). Summed per practice, segment and month first, then over the
    months, as ``risk_totals(...).by_practice()`` sums them: with one segment the two are
    the same numbers to the last bit."""
    n_seg, n_months = mm.n_segments, mm.n_months
    size = mm.n_practices * n_seg * n_months
    member_months = np.zeros(size, dtype=np.int64)
    score = np.zeros(size)
    for start in range(0, len(mm.member), ROWS_PER_SLICE):  # slices, not members
        part = slice(start, start + ROWS_PER_SLICE)
        group = mm.practice[part].astype(np.intp)
        group *= n_seg
        group += mm.segment_codes(part)
        group *= n_months
        group += mm.month[part]
        member_months += np.bincount(group, minlength=size)
        score += np.bincount(group, weights=scores.score[mm.member[part]], minlength=size)
    shape = (mm.n_practices, n_seg, n_months)
    return RiskTotals(score.reshape(shape).sum(axis=2), member_months.reshape(shape).sum(axis=2))
