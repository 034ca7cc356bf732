"""The ledger's invariant end to end, on SQLite and PostgreSQL: over random sequences of
restated feeds, after every posted batch the sum of everything posted for each practice
and month of its window is what that feed's CCF says is due, to the cent."""

from __future__ import annotations

import pandas as pd
import pytest
from helpers import make_config, relaxed_checks
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from totalcare_payments.ccf import compute_ccf
from totalcare_payments.jobs import run_ccf_ledger
from totalcare_payments.ledger.book import balance
from totalcare_payments.ledger.store import open_ledger
from totalcare_payments.periods import format_period, parse_year_month
from totalcare_payments.program import program_from_frames

pytestmark = pytest.mark.slow  # hypothesis examples through the database

CONFIG = make_config({"ccf": {"retro_months": 2}, **relaxed_checks()})
PRACTICES = pd.DataFrame(
    {
        "practice_id": ["A", "B", "C"],
        "practice_name": ["A", "B", "C"],
        "tier": ["Developing", "Established", "Advanced"],
    }
)
MEMBERS = [f"m{i}" for i in range(8)]


@st.composite
def feeds(draw: st.DrawFn, year: int) -> list[tuple[int, pd.DataFrame, pd.DataFrame]]:
    """Five months of feeds: each one restates, at random, who is where in its months."""
    months = [parse_year_month(f"{year}-{m:02d}") for m in range(3, 8)]
    out = []
    for i, month in enumerate(months):
        rows = [
            {"member_id": member, "practice_id": practice, "year_month": format_period(m)}
            for member in MEMBERS
            for m in months[: i + 1]
            if (practice := draw(st.sampled_from(["A", "B", "C", None]))) is not None
        ]
        if not any(r["year_month"] == format_period(month) for r in rows):
            rows.append({"member_id": "m0", "practice_id": "A", "year_month": format_period(month)})
        scores = pd.DataFrame(
            {
                "member_id": MEMBERS,
                "mara_px_total": draw(
                    st.lists(st.sampled_from([0.8, 0.95, 1.1, 1.4]), min_size=8, max_size=8)
                ),
            }
        )
        out.append((month, pd.DataFrame(rows), scores))
    return out


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_posted_equals_due_after_every_batch(ledger_url: str, tmp_path_factory, data) -> None:
    year = 2030 + 2 * data.draw(st.integers(0, 40))  # examples share the ledger: years apart
    ledger = open_ledger(ledger_url, create=True)
    ledger.dispose()
    folder = tmp_path_factory.mktemp("out")
    for month, attribution, scores in data.draw(feeds(year)):
        program = program_from_frames(CONFIG, PRACTICES, attribution, scores)
        run = run_ccf_ledger(CONFIG, program, month, folder / str(month), ledger_url, post=True)
        if run.posting.status == "already":  # the same feed drawn twice for a year
            continue
        window = run.posting.window
        due = compute_ccf(program, CONFIG, window).lines
        opened = open_ledger(ledger_url, create=False)
        try:
            paid = balance(opened, year)
        finally:
            opened.dispose()
        months = {format_period(m) for m in window}
        paid = paid.loc[paid["service_month"].isin(months)]
        merged = due.merge(
            paid,
            left_on=["practice_id", "year_month"],
            right_on=["practice_id", "service_month"],
            how="outer",
        ).fillna({"ccf_amount_cents": 0, "net_cents": 0, "attributed_members": 0, "members": 0})
        assert (merged["ccf_amount_cents"] == merged["net_cents"]).all(), merged
        assert (merged["attributed_members"] == merged["members"]).all(), merged
