"""The retroactive window's arithmetic: what a batch posts, given what was posted before.

A batch for month M recomputes each month of its window, M - ``ccf.retro_months`` to M,
from M's inputs (the *due* roster: one row per attributed member-month, with its fee).
Against it stands the *posted* state of the same months: every roster line posted
before, netted per member, practice and month. The batch posts, per member-month,
exactly the difference, with the member's reason:

* in both, fee or score or tier changed: the fee's difference (TIER_CHANGED when the
  practice's tier in force changed, else SCORE_CHANGED when the member's score did,
  else RATE_CHANGED: the rate moved with other members' changes or the terms);
* due only: the fee (MOVED_IN when the member was paid at another practice that month,
  else ADDED); in the month paid, for a practice-month never posted, a ``current`` line;
* posted only: the fee taken back (MOVED_OUT when the member is due at another practice
  that month, else TERMINATED).

Per practice and month the lines are the sums of these rows, so after the batch the sum
of everything posted for a practice-month is what M's inputs say is due, to the cent.
Pure functions of frames: no database, no loops over members.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..periods import format_period
from ..reasons import Reason, roster_reasons

#: A roster line, as computed (``period``: the service month as a period).
ROSTER = [
    "member_id",
    "practice_id",
    "period",
    "kind",
    "tier",
    "member_months",
    "risk_score",
    "rate_cents",
    "fee_cents",
    "reason",
]
#: A practice-month line, as computed.
LINES = ["practice_id", "period", "kind", "members", "amount_cents", "reason"]

#: Scores closer than this are the same score (they are read from the same decimals).
SCORE_TOLERANCE = 1e-9


def posted_state(rows: pd.DataFrame) -> pd.DataFrame:
    """The net state of posted roster lines per member, practice and month: member-months
    and fees summed, tier, score and rate of the latest line (``roster_id`` order). Rows
    whose member-months net to zero and whose fees net to zero (taken back) are dropped."""
    if not len(rows):
        return _empty_state()
    rows = rows.sort_values("roster_id", kind="stable")
    key = _key(rows["member_id"], rows["practice_id"], rows["period"].to_numpy(np.int64))
    codes, uniques = pd.factorize(key, sort=False)
    n = len(uniques)
    months = np.bincount(codes, weights=rows["member_months"].to_numpy(np.float64), minlength=n)
    fees = np.zeros(n, dtype=np.int64)
    np.add.at(fees, codes, rows["fee_cents"].to_numpy(np.int64))
    last = np.zeros(n, dtype=np.int64)
    last[codes] = np.arange(len(rows))  # the last write wins: rows are in roster_id order
    state = rows.iloc[last][["member_id", "practice_id", "period", "tier", "risk_score", "rate_cents"]]
    state = state.reset_index(drop=True).assign(
        member_months=months.astype(np.int64), fee_cents=fees
    )
    keep = (state["member_months"] != 0) | (state["fee_cents"] != 0)
    return state.loc[keep.to_numpy()].reset_index(drop=True)


def _empty_state() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "member_id": pd.Series(dtype=object),
            "practice_id": pd.Series(dtype=object),
            "period": pd.Series(dtype=np.int64),
            "tier": pd.Series(dtype=object),
            "risk_score": pd.Series(dtype=np.float64),
            "rate_cents": pd.Series(dtype=np.int64),
            "member_months": pd.Series(dtype=np.int64),
            "fee_cents": pd.Series(dtype=np.int64),
        }
    )


def _key(member: pd.Series, practice: pd.Series, period: np.ndarray) -> np.ndarray:
    """One int64 per member, practice and month (codes of the values as they are)."""
    m, _ = pd.factorize(member)
    p, practices = pd.factorize(practice)
    span = int(period.max() - period.min() + 1) if len(period) else 1
    return (m.astype(np.int64) * max(len(practices), 1) + p) * span + (period - period.min())


def roster_changes(posted: pd.DataFrame, due: pd.DataFrame, pay_period: int) -> pd.DataFrame:
    """The roster lines a batch posts (``ROSTER`` columns), from the posted state of its
    window's months (``posted_state``) and the due roster (``ccf.ccf_roster``'s rows with
    ``member_id`` as text). Members whose fee, score and tier are unchanged post nothing."""
    n_old = len(posted)
    both = pd.concat(
        [
            posted[["member_id", "practice_id", "period"]],
            due[["member_id", "practice_id", "period"]],
        ],
        ignore_index=True,
    )
    member, _ = pd.factorize(both["member_id"])
    practice, practices = pd.factorize(both["practice_id"])
    period = both["period"].to_numpy(np.int64)
    first = int(period.min()) if len(period) else 0
    span = int(period.max()) - first + 1 if len(period) else 1
    month = period - first
    member_month = member.astype(np.int64) * span + month
    key = member_month * max(len(practices), 1) + practice
    old_key, new_key = key[:n_old], key[n_old:]
    old_mm, new_mm = member_month[:n_old], member_month[n_old:]
    pos = pd.Index(old_key).get_indexer(new_key)  # each due row's posted row, -1 for none
    matched = pos >= 0
    old_matched = np.zeros(n_old, dtype=bool)
    old_matched[pos[matched]] = True

    # member-months in both: the fee's difference, with what changed
    new_both = due.loc[matched]
    old_both = posted.iloc[pos[matched]]
    delta = new_both["fee_cents"].to_numpy(np.int64) - old_both["fee_cents"].to_numpy(np.int64)
    tier_changed = new_both["tier"].to_numpy() != old_both["tier"].to_numpy()
    score_changed = (
        np.abs(new_both["risk_score"].to_numpy(np.float64) - old_both["risk_score"].to_numpy(np.float64))
        > SCORE_TOLERANCE
    )
    rate_changed = new_both["rate_cents"].to_numpy(np.int64) != old_both["rate_cents"].to_numpy(np.int64)
    was_counted = old_both["member_months"].to_numpy(np.int64)
    changed = (delta != 0) | tier_changed | score_changed | rate_changed | (was_counted != 1)
    reason = np.where(
        tier_changed,
        Reason.TIER_CHANGED.value,
        np.where(score_changed, Reason.SCORE_CHANGED.value, Reason.RATE_CHANGED.value),
    )
    kept = new_both.loc[changed]
    changes_both = pd.DataFrame(
        {
            "member_id": kept["member_id"].to_numpy(),
            "practice_id": kept["practice_id"].to_numpy(),
            "period": kept["period"].to_numpy(np.int64),
            "tier": kept["tier"].to_numpy(),
            "member_months": 1 - was_counted[changed],
            "risk_score": kept["risk_score"].to_numpy(np.float64),
            "rate_cents": kept["rate_cents"].to_numpy(np.int64),
            "fee_cents": delta[changed],
            "reason": reason[changed],
        }
    )

    # due only: paid now (moved in from another practice, or added)
    added = due.loc[~matched]
    moved_in = np.isin(new_mm[~matched], old_mm[~old_matched])
    changes_added = pd.DataFrame(
        {
            "member_id": added["member_id"].to_numpy(),
            "practice_id": added["practice_id"].to_numpy(),
            "period": added["period"].to_numpy(np.int64),
            "tier": added["tier"].to_numpy(),
            "member_months": np.ones(len(added), dtype=np.int64),
            "risk_score": added["risk_score"].to_numpy(np.float64),
            "rate_cents": added["rate_cents"].to_numpy(np.int64),
            "fee_cents": added["fee_cents"].to_numpy(np.int64),
            "reason": np.where(moved_in, Reason.MOVED_IN.value, Reason.ADDED.value),
        }
    )

    # posted only: taken back (moved out to another practice, or terminated)
    gone = posted.loc[~old_matched]
    moved_out = np.isin(old_mm[~old_matched], new_mm[~matched])
    changes_gone = pd.DataFrame(
        {
            "member_id": gone["member_id"].to_numpy(),
            "practice_id": gone["practice_id"].to_numpy(),
            "period": gone["period"].to_numpy(np.int64),
            "tier": gone["tier"].to_numpy(),
            "member_months": -gone["member_months"].to_numpy(np.int64),
            "risk_score": gone["risk_score"].to_numpy(np.float64),
            "rate_cents": gone["rate_cents"].to_numpy(np.int64),
            "fee_cents": -gone["fee_cents"].to_numpy(np.int64),
            "reason": np.where(moved_out, Reason.MOVED_OUT.value, Reason.TERMINATED.value),
        }
    )
    changes = pd.concat([changes_both, changes_added, changes_gone], ignore_index=True)

    # the month paid, at a practice never posted for it: current lines, not adjustments
    posted_cells = pd.MultiIndex.from_arrays(
        [posted["practice_id"].to_numpy(), posted["period"].to_numpy(np.int64)]
    )
    cells = pd.MultiIndex.from_arrays(
        [changes["practice_id"].to_numpy(), changes["period"].to_numpy(np.int64)]
    )
    current = (changes["period"].to_numpy() == pay_period) & ~cells.isin(posted_cells)
    changes["kind"] = np.where(current, "current", "adjustment")
    changes["reason"] = changes["reason"].where(~current, None)
    changes = changes.sort_values(["period", "practice_id", "member_id"], kind="stable")
    return changes[ROSTER].reset_index(drop=True)


def practice_lines(roster: pd.DataFrame) -> pd.DataFrame:
    """The practice-month lines of roster lines (``LINES`` columns): members and amounts
    summed; the reason counts the members by reason ("ADDED 2, TERMINATED 1")."""
    if not len(roster):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in LINES})
    group = ["practice_id", "period", "kind"]
    sums = (
        roster.groupby(group, sort=True)
        .agg(members=("member_months", "sum"), amount_cents=("fee_cents", "sum"))
        .reset_index()
    )
    counted = roster.dropna(subset=["reason"])
    order = {str(r): i for i, r in enumerate(roster_reasons())}
    if len(counted):
        counts = counted.groupby([*group, "reason"], sort=False).size().reset_index(name="n")
        counts["rank"] = counts["reason"].map(order)
        counts = counts.sort_values([*group, "rank"], kind="stable")
        counts["text"] = counts["reason"].astype(str) + " " + counts["n"].astype(str)
        # one string per practice-month: a loop over practice-months' reasons, not members
        text = counts.groupby(group, sort=False)["text"].agg(", ".join).rename("reason")
        sums = sums.merge(text.reset_index(), on=group, how="left")
    else:
        sums["reason"] = None
    sums["members"] = sums["members"].astype(np.int64)
    sums["amount_cents"] = sums["amount_cents"].astype(np.int64)
    return sums[LINES]


def reversal(roster: pd.DataFrame, lines: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The lines that cancel a batch: every roster line and practice-month line negated,
    as ``reversal`` lines (reason VOIDED)."""
    negated_roster = roster.assign(
        kind="reversal",
        member_months=-roster["member_months"].to_numpy(np.int64),
        fee_cents=-roster["fee_cents"].to_numpy(np.int64),
        reason=Reason.VOIDED.value,
    )
    negated_lines = lines.assign(
        kind="reversal",
        members=-lines["members"].to_numpy(np.int64),
        amount_cents=-lines["amount_cents"].to_numpy(np.int64),
        reason=Reason.VOIDED.value,
    )
    return negated_roster, negated_lines


def differences_outside(posted: pd.DataFrame, due: pd.DataFrame) -> pd.DataFrame:
    """Months before the window: per practice and month, what is posted against what the
    latest inputs say is due, where they differ (reported, not paid). Both frames have
    ``practice_id``, ``period`` and ``amount_cents``; ``members`` too."""
    columns = ["practice_id", "period", "members", "amount_cents"]
    if not len(posted):  # nothing posted before the window: nothing to compare
        return pd.DataFrame({c: pd.Series(dtype=object) for c in OUTSIDE})
    due = due[columns].astype({"practice_id": object, "period": np.int64})
    merged = posted[columns].astype({"practice_id": object, "period": np.int64}).merge(
        due, on=["practice_id", "period"], how="outer", suffixes=("_posted", "_due")
    )
    merged = merged.fillna(
        {"members_posted": 0, "members_due": 0, "amount_cents_posted": 0, "amount_cents_due": 0}
    )
    for column in ("members_posted", "members_due", "amount_cents_posted", "amount_cents_due"):
        merged[column] = merged[column].astype(np.int64)
    merged["difference_cents"] = merged["amount_cents_due"] - merged["amount_cents_posted"]
    merged = merged.loc[
        (merged["difference_cents"] != 0) | (merged["members_due"] != merged["members_posted"])
    ]
    merged = merged.sort_values(["period", "practice_id"], kind="stable").reset_index(drop=True)
    merged.insert(1, "service_month", [format_period(p) for p in merged["period"]])
    return merged.drop(columns="period")[OUTSIDE]


#: The differences of months before the window (``outside_window.csv``).
OUTSIDE = [
    "practice_id",
    "service_month",
    "members_posted",
    "members_due",
    "amount_cents_posted",
    "amount_cents_due",
    "difference_cents",
]


def settlement_changes(posted: pd.DataFrame, settled: pd.DataFrame) -> pd.DataFrame:
    """A settlement's lines: per practice, the settlement's final payment less what was
    posted for the year before (``settlement`` when nothing was, else a ``true_up``).
    ``posted``: practice_id, amount_cents; ``settled``: practice_id, final_payment_cents,
    reason."""
    merged = settled[["practice_id", "final_payment_cents", "reason"]].merge(
        posted[["practice_id", "amount_cents"]].rename(columns={"amount_cents": "posted_cents"}),
        on="practice_id",
        how="outer",
    )
    had = merged["posted_cents"].notna().to_numpy()
    merged["posted_cents"] = merged["posted_cents"].fillna(0).astype(np.int64)
    merged["final_payment_cents"] = merged["final_payment_cents"].fillna(0).astype(np.int64)
    merged["amount_cents"] = merged["final_payment_cents"] - merged["posted_cents"]
    merged["kind"] = np.where(had, "true_up", "settlement")
    merged = merged.loc[~had | (merged["amount_cents"].to_numpy() != 0)]
    return merged.sort_values("practice_id", kind="stable").reset_index(drop=True)[
        ["practice_id", "kind", "final_payment_cents", "amount_cents", "reason"]
    ]
