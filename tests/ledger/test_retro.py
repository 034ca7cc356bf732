"""The retroactive window's arithmetic on frames: each member's reason, the practice-month
lines, and the invariant that after every batch the sum of everything posted for a
practice-month is what the latest inputs say is due."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from totalcare_payments.ledger import retro
from totalcare_payments.reasons import Reason, roster_reasons

MAR, APR = 674, 675


def _due(rows: list[tuple[str, str, int, str, float, int]]) -> pd.DataFrame:
    """Due roster rows: member, practice, period, tier, score, fee (= rate)."""
    frame = pd.DataFrame(
        rows, columns=["member_id", "practice_id", "period", "tier", "risk_score", "fee_cents"]
    )
    return frame.assign(rate_cents=frame["fee_cents"])


def _posted(changes: list[pd.DataFrame]) -> pd.DataFrame:
    """The posted state after these batches' roster lines (in order)."""
    if not changes:
        return retro.posted_state(pd.DataFrame(columns=[*retro.ROSTER, "batch_id"]))
    rows = pd.concat([c.assign(batch_id=i + 1) for i, c in enumerate(changes)], ignore_index=True)
    return retro.posted_state(rows)


def test_every_reason_and_the_lines_they_make() -> None:
    march = _due(
        [
            ("m1", "A", MAR, "Developing", 1.0, 450),  # stays
            ("m2", "A", MAR, "Developing", 1.0, 450),  # terminated
            ("m3", "A", MAR, "Developing", 1.0, 450),  # moves to B
            ("m4", "B", MAR, "Established", 0.9, 350),  # score refreshed
            ("m5", "B", MAR, "Established", 0.9, 350),  # the rate moves with m4's score
            ("m6", "C", MAR, "Developing", 1.0, 450),  # C's tier changes
        ]
    )
    first = retro.roster_changes(_posted([]), march, MAR)
    assert set(first["kind"]) == {"current"} and first["reason"].isna().all()
    assert int(first["fee_cents"].sum()) == 6 * 450 - 2 * 100

    # April's inputs restate March: m2 gone, m3 at B, m4's score 1.4 (B's rate $3.50 -> $5.00),
    # m7 added, C Advanced ($4.50 -> $6.00)
    restated = _due(
        [
            ("m1", "A", MAR, "Developing", 1.0, 450),
            ("m3", "B", MAR, "Established", 1.0, 500),
            ("m4", "B", MAR, "Established", 1.4, 500),
            ("m5", "B", MAR, "Established", 0.9, 500),
            ("m6", "C", MAR, "Advanced", 1.0, 600),
            ("m7", "A", MAR, "Developing", 1.0, 450),
        ]
    )
    changes = retro.roster_changes(_posted([first]), restated, APR)
    by_member = changes.set_index("member_id")
    assert by_member.loc["m2", "reason"] == Reason.TERMINATED
    assert by_member.loc["m2", ["member_months", "fee_cents"]].tolist() == [-1, -450]
    moved = changes.loc[changes["member_id"] == "m3"].set_index("practice_id")
    assert moved.loc["A", "reason"] == Reason.MOVED_OUT and moved.loc["A", "fee_cents"] == -450
    assert moved.loc["B", "reason"] == Reason.MOVED_IN and moved.loc["B", "fee_cents"] == 500
    assert by_member.loc["m4", "reason"] == Reason.SCORE_CHANGED
    assert by_member.loc["m4", ["member_months", "fee_cents"]].tolist() == [0, 150]
    assert by_member.loc["m5", "reason"] == Reason.RATE_CHANGED
    assert by_member.loc["m6", "reason"] == Reason.TIER_CHANGED
    assert by_member.loc["m6", "fee_cents"] == 150
    assert by_member.loc["m7", "reason"] == Reason.ADDED
    assert "m1" not in by_member.index  # unchanged: nothing posted
    assert set(changes["kind"]) == {"adjustment"}

    lines = retro.practice_lines(changes).set_index("practice_id")
    # A: -450 (m2) - 450 (m3 out) + 450 (m7) = -450, members -1
    assert lines.loc["A", ["members", "amount_cents"]].tolist() == [-1, -450]
    assert lines.loc["A", "reason"] == "ADDED 1, TERMINATED 1, MOVED_OUT 1"
    # B: + 500 (m3 in) + 150 (m4) + 150 (m5) = 800
    assert lines.loc["B", ["members", "amount_cents"]].tolist() == [1, 800]
    assert lines.loc["B", "reason"] == "MOVED_IN 1, SCORE_CHANGED 1, RATE_CHANGED 1"
    assert lines.loc["C", "reason"] == "TIER_CHANGED 1"

    # the same inputs again: nothing to post
    again = retro.roster_changes(_posted([first, changes]), restated, APR)
    assert again.empty


def test_a_reversal_cancels_a_batch() -> None:
    march = _due([("m1", "A", MAR, "Developing", 1.0, 450), ("m2", "B", MAR, "Advanced", 2.0, 1200)])
    first = retro.roster_changes(_posted([]), march, MAR)
    lines = retro.practice_lines(first)
    negated_roster, negated_lines = retro.reversal(first, lines)
    assert int(negated_lines["amount_cents"].sum()) == -int(lines["amount_cents"].sum()) == -1650
    assert (negated_roster["reason"] == Reason.VOIDED).all()
    assert _posted([first, negated_roster]).empty  # nothing is posted any more


def test_the_reasons_of_the_lines_are_the_enum() -> None:
    codes = [str(r) for r in roster_reasons()]
    assert codes[:7] == [
        "ADDED", "TERMINATED", "MOVED_IN", "MOVED_OUT", "SCORE_CHANGED", "RATE_CHANGED",
        "TIER_CHANGED",
    ]


MEMBERS = [f"m{i}" for i in range(6)]
PRACTICES = ["A", "B", "C"]


@st.composite
def inputs_of_a_month(draw: st.DrawFn, months: list[int]) -> pd.DataFrame:
    """A due roster of random members, practices, tiers and fees over ``months``."""
    rows = []
    for member in MEMBERS:
        for month in months:
            practice = draw(st.sampled_from([*PRACTICES, None]))
            if practice is None:
                continue
            tier = draw(st.sampled_from(["Developing", "Advanced"]))
            rows.append((member, practice, month, tier, draw(st.sampled_from([0.8, 1.0, 1.3])),
                         draw(st.integers(0, 1_000))))
    return _due(rows)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.integers(0, 3))
def test_after_every_batch_the_posted_sum_is_what_is_due(data: st.DataObject, retro_months: int) -> None:
    """Random restatements month after month: after each batch, the sum of everything
    posted per practice-month of its window is the latest inputs' due, to the cent, and
    so are the member-months."""
    posted_rows: list[pd.DataFrame] = []
    for month in range(MAR, MAR + 5):
        window = list(range(max(MAR, month - retro_months), month + 1))
        due = data.draw(inputs_of_a_month(window))
        changes = retro.roster_changes(_posted(posted_rows), due, month)
        posted_rows.append(changes)
        state = _posted(posted_rows)
        inside = state.loc[state["period"].isin(window)]
        paid = inside.groupby(["practice_id", "period"])[["fee_cents", "member_months"]].sum()
        owed = due.assign(member_months=1).groupby(["practice_id", "period"])[
            ["fee_cents", "member_months"]
        ].sum()
        both = paid.join(owed.add_suffix("_due"), how="outer").fillna(0)
        assert (both["fee_cents"] == both["fee_cents_due"]).all()
        assert (both["member_months"] == both["member_months_due"]).all()
        lines = retro.practice_lines(changes)
        assert int(lines["amount_cents"].sum()) == int(changes["fee_cents"].sum())


def test_differences_outside_the_window_are_reported() -> None:
    posted = pd.DataFrame(
        {"practice_id": ["A", "B"], "period": [MAR, MAR], "members": [10, 5], "amount_cents": [4500, 2500]}
    )
    due = pd.DataFrame(
        {"practice_id": ["A", "B"], "period": [MAR, MAR], "members": [9, 5], "amount_cents": [4050, 2500]}
    )
    report = retro.differences_outside(posted, due)
    assert report.to_dict("records") == [
        {
            "practice_id": "A",
            "service_month": "2026-03",
            "members_posted": 10,
            "members_due": 9,
            "amount_posted_cents": 4500,
            "amount_due_cents": 4050,
            "difference_cents": -450,
        }
    ]


def test_a_settlement_after_an_interim_posts_the_true_up() -> None:
    settled = pd.DataFrame(
        {"practice_id": ["A", "B"], "final_payment_cents": [100_000, 0], "reason": ["PAID", "BELOW_MSR"]}
    )
    first = retro.settlement_changes(pd.DataFrame(columns=["practice_id", "amount_cents"]), settled)
    assert first[["practice_id", "kind", "amount_cents"]].values.tolist() == [
        ["A", "settlement", 100_000],
        ["B", "settlement", 0],
    ]
    final = settled.assign(final_payment_cents=[112_500, 2_000])
    posted = first[["practice_id", "amount_cents"]]
    true_up = retro.settlement_changes(posted, final)
    assert true_up[["practice_id", "kind", "amount_cents"]].values.tolist() == [
        ["A", "true_up", 12_500],
        ["B", "true_up", 2_000],
    ]
