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


def _factor(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Codes and distinct values of a column (a categorical's own codes, without hashing)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(np.int64), pd.Index(values.cat.categories)
    codes, uniques = pd.factorize(values.to_numpy(), sort=False)
    return codes.astype(np.int64), pd.Index(uniques)


def _shared(a: pd.Series, b: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes of two columns in one space (the distinct values are matched, not the rows),
    and that space's values: ``b``'s, then those only ``a`` has."""
    codes_a, uniques_a = _factor(a)
    codes_b, uniques_b = _factor(b)
    if len(uniques_b) and len(uniques_a):
        position = uniques_b.astype(object).get_indexer(uniques_a.astype(object))
    else:
        position = np.full(len(uniques_a), -1, dtype=np.int64)
    new = position < 0
    position[new] = len(uniques_b) + np.arange(int(new.sum()))
    values = np.concatenate(
        [uniques_b.to_numpy(dtype=object), uniques_a.to_numpy(dtype=object)[new]]
    )
    return position[codes_a] if len(codes_a) else codes_a, codes_b, values


def posted_state(rows: pd.DataFrame) -> pd.DataFrame:
    """The net state of posted roster lines per member, practice and month: member-months
    and fees summed, tier, score and rate of the latest line (the latest batch's). Rows
    whose member-months and fees net to zero (taken back) are dropped."""
    if not len(rows):
        return _empty_state()
    rows = rows.iloc[np.argsort(rows["batch_id"].to_numpy(np.int64), kind="stable")]
    member, _ = _factor(rows["member_id"])
    practice, practices = _factor(rows["practice_id"])
    period = rows["period"].to_numpy(np.int64)
    first = int(period.min())
    span = int(period.max()) - first + 1
    key = (member * max(len(practices), 1) + practice) * span + (period - first)
    codes, uniques = pd.factorize(key, sort=False)
    n = len(uniques)
    months = np.bincount(codes, weights=rows["member_months"].to_numpy(np.float64), minlength=n)
    fees = np.zeros(n, dtype=np.int64)
    np.add.at(fees, codes, rows["fee_cents"].to_numpy(np.int64))
    last = np.zeros(n, dtype=np.int64)
    last[codes] = np.arange(len(rows))  # the last write wins: rows are in batch order
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


def roster_changes(posted: pd.DataFrame, due: pd.DataFrame, pay_period: int) -> pd.DataFrame:
    """The roster lines a batch posts (``ROSTER`` columns), from the posted state of its
    window's months (``posted_state``) and the due roster (``ccf.ccf_roster``'s rows, the
    member ids as text). Members whose fee, score and tier are unchanged post nothing."""
    old_member, new_member, members = _shared(posted["member_id"], due["member_id"])
    old_practice, new_practice, practices = _shared(posted["practice_id"], due["practice_id"])
    old_period = posted["period"].to_numpy(np.int64)
    new_period = due["period"].to_numpy(np.int64)
    periods = np.concatenate([old_period, new_period])
    first = int(periods.min()) if len(periods) else 0
    span = int(periods.max()) - first + 1 if len(periods) else 1
    old_tier, new_tier, tier_values = _shared(posted["tier"], due["tier"])
    n_practices = max(len(practices), 1)
    old_mm = old_member * span + (old_period - first)  # member-month
    new_mm = new_member * span + (new_period - first)
    old_key, new_key = old_mm * n_practices + old_practice, new_mm * n_practices + new_practice
    position = pd.Index(old_key).get_indexer(new_key)  # each due row's posted row, -1: none
    matched = position >= 0
    old_matched = np.zeros(len(posted), dtype=bool)
    old_matched[position[matched]] = True

    # member-months in both: the fee's difference, with what changed
    new_rows = np.flatnonzero(matched)
    old_rows = position[matched]
    new_fee = due["fee_cents"].to_numpy(np.int64)
    old_fee = posted["fee_cents"].to_numpy(np.int64)
    new_score = due["risk_score"].to_numpy(np.float64)
    old_score = posted["risk_score"].to_numpy(np.float64)
    new_rate = due["rate_cents"].to_numpy(np.int64)
    old_rate = posted["rate_cents"].to_numpy(np.int64)
    was_counted = posted["member_months"].to_numpy(np.int64)[old_rows]
    delta = new_fee[new_rows] - old_fee[old_rows]
    tier_changed = new_tier[new_rows] != old_tier[old_rows]
    score_changed = np.abs(new_score[new_rows] - old_score[old_rows]) > SCORE_TOLERANCE
    rate_changed = new_rate[new_rows] != old_rate[old_rows]
    changed = (delta != 0) | tier_changed | score_changed | rate_changed | (was_counted != 1)
    reason_both = np.where(
        tier_changed,
        Reason.TIER_CHANGED.value,
        np.where(score_changed, Reason.SCORE_CHANGED.value, Reason.RATE_CHANGED.value),
    )[changed]
    both_rows = new_rows[changed]
    # due only: paid now (moved in from another practice, or added)
    added_rows = np.flatnonzero(~matched)
    moved_in = np.isin(new_mm[added_rows], old_mm[~old_matched])
    # posted only: taken back (moved out to another practice, or terminated)
    gone_rows = np.flatnonzero(~old_matched)
    moved_out = np.isin(old_mm[gone_rows], new_mm[added_rows])

    due_rows = np.concatenate([both_rows, added_rows])
    take_due = {
        "member": new_member[due_rows],
        "practice": new_practice[due_rows],
        "period": new_period[due_rows],
        "tier": new_tier[due_rows],
        "member_months": np.concatenate(
            [1 - was_counted[changed], np.ones(len(added_rows), dtype=np.int64)]
        ),
        "risk_score": new_score[due_rows],
        "rate_cents": new_rate[due_rows],
        "fee_cents": np.concatenate([delta[changed], new_fee[added_rows]]),
        "reason": np.concatenate(
            [reason_both, np.where(moved_in, Reason.MOVED_IN.value, Reason.ADDED.value)]
        ),
    }
    take_gone = {
        "member": old_member[gone_rows],
        "practice": old_practice[gone_rows],
        "period": old_period[gone_rows],
        "tier": old_tier[gone_rows],
        "member_months": -posted["member_months"].to_numpy(np.int64)[gone_rows],
        "risk_score": old_score[gone_rows],
        "rate_cents": old_rate[gone_rows],
        "fee_cents": -old_fee[gone_rows],
        "reason": np.where(moved_out, Reason.MOVED_OUT.value, Reason.TERMINATED.value),
    }
    parts = {k: np.concatenate([take_due[k], take_gone[k]]) for k in take_due}

    # the month paid, at a practice never posted for it: current lines, not adjustments
    posted_cells = np.unique(old_practice * span + (old_period - first))
    cells = parts["practice"] * span + (parts["period"] - first)
    current = (parts["period"] == pay_period) & ~np.isin(cells, posted_cells)
    reason = parts["reason"].astype(object)
    reason[current] = None
    # in service month, practice id and member order (the order of the inputs' members)
    practice_rank = np.argsort(np.argsort(practices.astype(str), kind="stable"), kind="stable")
    order = np.lexsort((parts["member"], practice_rank[parts["practice"]], parts["period"]))
    kinds = np.array(["adjustment", "current"], dtype=object)

    def coded(codes: np.ndarray, values: np.ndarray) -> pd.Categorical:
        return pd.Categorical.from_codes(codes, categories=pd.Index(values, dtype=object))

    changes = pd.DataFrame(
        {  # text as categoricals of the codes: no Python object per row
            "member_id": coded(parts["member"][order], members),
            "practice_id": coded(parts["practice"][order], practices),
            "period": parts["period"][order],
            "kind": coded(current[order].astype(np.int8), kinds),
            "tier": coded(parts["tier"][order], tier_values),
            "member_months": parts["member_months"][order],
            "risk_score": parts["risk_score"][order],
            "rate_cents": parts["rate_cents"][order],
            "fee_cents": parts["fee_cents"][order],
            "reason": reason[order],
        }
    )
    return changes[ROSTER]


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
    merged = merged.rename(
        columns={"amount_cents_posted": "amount_posted_cents", "amount_cents_due": "amount_due_cents"}
    )
    return merged.drop(columns="period")[OUTSIDE]


#: The differences of months before the window (``outside_window.csv``).
OUTSIDE = [
    "practice_id",
    "service_month",
    "members_posted",
    "members_due",
    "amount_posted_cents",
    "amount_due_cents",
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
