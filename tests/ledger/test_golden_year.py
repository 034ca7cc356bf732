"""A year of monthly CCF batches through the ledger on the sample program, with the feeds
restated as finance sees them: a member added back to January in April, a retroactive
termination, a practice move, a score refresh and a tier change. The adjustment lines
are worked out by hand below; at the end the ledger's balance for 2026 is the year's
correct CCF (the December feed's) to the cent, on SQLite and on PostgreSQL.

The sample's rates (default config): bands by average risk 0.85 -> $3.50, 1.00 -> $5.00;
tiers Developing x 0.90, Established x 1.00, Advanced x 1.20; retro_months = 3.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from helpers import ADDED_BACK, MONTHS_2026, restated_feed

from totalcare_payments.ccf import compute_ccf
from totalcare_payments.config import preset
from totalcare_payments.jobs import run_ccf_ledger
from totalcare_payments.ledger.book import balance
from totalcare_payments.ledger.store import open_ledger
from totalcare_payments.periods import parse_year_month
from totalcare_payments.program import load_program


def _adjustments(run) -> list[tuple[str, str, int, int, str]]:
    lines = run.posting.lines
    lines = lines.loc[lines["kind"] == "adjustment"]
    return sorted(
        (
            str(r.practice_id),
            f"2026-{int(r.period) - parse_year_month('2026-01') + 1:02d}",
            int(r.members),
            int(r.amount_cents),
            str(r.reason),
        )
        for r in lines.itertuples()
    )


#: The adjustment lines each month's batch posts, worked out by hand. (n, s): members and
#: the sum of their scores in the practice-month; average = s / n, rounded to 4 places.
EXPECTED = {
    "2026-04": [
        # ADDED_BACK (score 1.0000) joins P0002 (Developing: $3.50 x 0.90 = $3.15) in Jan-Mar:
        # Jan (164, 163.2966) avg 0.9957 -> (165, 164.2966) avg 0.9957: still $3.15, + $3.15
        # Feb (163, 158.5929) 0.9730 -> (164, 159.5929) 0.9731: + $3.15
        # Mar (162, 157.8087) 0.9741 -> (163, 158.8087) 0.9743: + $3.15
        ("P0002", "2026-01", 1, 315, "ADDED 1"),
        ("P0002", "2026-02", 1, 315, "ADDED 1"),
        ("P0002", "2026-03", 1, 315, "ADDED 1"),
    ],
    "2026-05": [
        # TERMINATED (score 1.0000) leaves P0001 (Established, $5.00) from March:
        # Mar (123, 123.5540) 1.0045 -> (122, 122.5540) 1.0045: still $5.00, - $5.00
        # Apr the same; February is before the termination
        ("P0001", "2026-03", -1, -500, "TERMINATED 1"),
        ("P0001", "2026-04", -1, -500, "TERMINATED 1"),
    ],
    "2026-06": [
        # MOVER (score 1.0003) from P0003 to P0005 from April, both Developing $5.00 x 0.90:
        # P0003 Apr (130, 132.2787) 1.0175 -> (129, 131.2784) 1.0177: $4.50, - $4.50
        # P0005 Apr (89, 93.7681) 1.0536 -> (90, 94.7684) 1.0530: $4.50, + $4.50
        # May: P0003 (130, 132.2382) -> (129, 131.2379) 1.0173; P0005 (88, 93.1394) ->
        # (89, 94.1397) 1.0578: the same - $4.50 and + $4.50
        ("P0003", "2026-04", -1, -450, "MOVED_OUT 1"),
        ("P0003", "2026-05", -1, -450, "MOVED_OUT 1"),
        ("P0005", "2026-04", 1, 450, "MOVED_IN 1"),
        ("P0005", "2026-05", 1, 450, "MOVED_IN 1"),
    ],
    "2026-07": [
        # JOINS_P0006's score 1.0000 -> 5.0000 in P0006 (Established):
        # Apr (34, 30.5066) 0.8973, $3.50 -> (34, 34.5066) 1.0149, $5.00: 34 x $1.50 = $51.00
        # May (35, 31.1155) 0.8890 -> (35, 35.1155) 1.0033: 35 x $1.50 = $52.50; June the same
        # the member's own fee: SCORE_CHANGED; the other members': RATE_CHANGED
        ("P0006", "2026-04", 0, 5100, "SCORE_CHANGED 1, RATE_CHANGED 33"),
        ("P0006", "2026-05", 0, 5250, "SCORE_CHANGED 1, RATE_CHANGED 34"),
        ("P0006", "2026-06", 0, 5250, "SCORE_CHANGED 1, RATE_CHANGED 34"),
    ],
    "2026-08": [
        # P0006 is Advanced from June: $5.00 x 1.20 = $6.00 for 35 members in June and July
        # (July: (35, 35.1155) 1.0033): posted 35 x $5.00 = $175.00, due $210.00, + $35.00;
        # May stays Established
        ("P0006", "2026-06", 0, 3500, "TIER_CHANGED 35"),
        ("P0006", "2026-07", 0, 3500, "TIER_CHANGED 35"),
    ],
}


def test_a_restated_year_posts_every_adjustment_and_balances_to_the_cent(
    ledger_url: str, tmp_path: Path
) -> None:
    config = preset("bluekc_medical_home")
    assert config.ccf is not None and config.ccf.retro_months == 3
    runs = {}
    for month in MONTHS_2026:
        runs[month] = run_ccf_ledger(
            config,
            restated_feed(tmp_path / "feeds", month),
            parse_year_month(month),
            tmp_path / "out" / month,
            ledger_url,
            post=True,
        )
        assert runs[month].posting.status == "posted"
        assert _adjustments(runs[month]) == sorted(EXPECTED.get(month, [])), month
    # the batch ids are the months' order, and each month's current lines are all it pays
    # besides its adjustments
    assert [runs[m].posting.batch_id for m in MONTHS_2026] == list(range(1, 13))
    adjustments = sum(amount for lines in EXPECTED.values() for *_, amount, _ in lines)
    assert adjustments == 945 - 1000 + 0 + 15600 + 7000  # $225.45 of adjustments in all

    # December's feed holds every restatement: its CCF for the year is what is due
    final = restated_feed(tmp_path / "feeds", "2026-12")
    due = compute_ccf(
        load_program(final, config), config, [parse_year_month(m) for m in MONTHS_2026]
    ).lines
    ledger = open_ledger(ledger_url, create=False)
    try:
        paid = balance(ledger, 2026)
    finally:
        ledger.dispose()
    compare = due.merge(
        paid, left_on=["practice_id", "year_month"], right_on=["practice_id", "service_month"]
    )
    assert len(compare) == len(due) == len(paid) == 72
    assert (compare["net_cents"] == compare["ccf_amount_cents"]).all()
    assert (compare["members"] == compare["attributed_members"]).all()
    assert int(paid["net_cents"].sum()) == int(due["ccf_amount_cents"].sum())
    assert int(paid["adjustment_cents"].sum()) == adjustments

    # a month's batch rerun on the same feed and config posts nothing and names its batch
    again = run_ccf_ledger(
        config, restated_feed(tmp_path / "feeds", "2026-07"), parse_year_month("2026-07"),
        tmp_path / "out" / "again", ledger_url, post=True,
    )
    assert again.posting.status == "already" and again.posting.batch_id == 7
    assert not (tmp_path / "out" / "again").exists()


def test_the_batches_files_tie_to_the_cent(ledger_url: str, tmp_path: Path) -> None:
    """payments.csv, payment_lines.csv, roster.csv and the control totals of the April
    batch (after January-March) agree to the cent, and the roster explains each line."""
    config = preset("bluekc_medical_home")
    for month in MONTHS_2026[:4]:
        run = run_ccf_ledger(
            config, restated_feed(tmp_path / "feeds", month), parse_year_month(month),
            tmp_path / "out" / month, ledger_url, post=True,
        )
    out = tmp_path / "out" / "2026-04"
    payments = pd.read_csv(out / "payments.csv", dtype={"batch_id": int})
    lines = pd.read_csv(out / "payment_lines.csv")
    roster = pd.read_csv(out / "roster.csv", dtype={"member_id": str})
    totals = pd.read_csv(out / "control_totals.csv")
    cents = lambda s: (s * 100).round().astype(int)  # noqa: E731
    net = int(cents(payments["net_amount"]).sum())
    assert net == int(cents(lines["amount"]).sum()) == int(cents(roster["fee"]).sum())
    batch = totals.loc[totals["scope"] == "batch"].set_index("key")
    assert int(cents(batch["amount"]).nunique()) == 1 and int(cents(batch["amount"]).iloc[0]) == net
    # P0002: April's 162 members (161 + the member added back) at $3.15 = $510.30, and
    # + $3.15 for each of January, February and March: $519.75
    p2 = payments.set_index("practice_id").loc["P0002"]
    assert (cents(pd.Series([p2["current_amount"], p2["adjustment_amount"], p2["net_amount"]]))
            .tolist() == [51030, 945, 51975])
    added = roster.loc[(roster["kind"] == "adjustment")]
    assert set(added["member_id"]) == {ADDED_BACK}
    assert sorted(added["service_month"]) == ["2026-01", "2026-02", "2026-03"]
    assert (added["reason"] == "ADDED").all() and (cents(added["fee"]) == 315).all()
    statement = (out / "remittance" / "P0002.html").read_text()
    assert "$519.75" in statement and ADDED_BACK in statement and "ADDED" in statement
    assert "Red Bridge Pediatrics 2" in statement  # the practice's name
    assert run.manifest["ledger"]["batch_id"] == 4
    assert set(run.manifest["outputs"]) >= {
        "payments.csv", "payment_lines.csv", "roster.csv", "control_totals.csv",
        "outside_window.csv", "remittance/P0002.html",
    }


def test_the_first_batch_pays_only_its_month(ledger_url: str, tmp_path: Path) -> None:
    """A new ledger pays from the month of its first batch on: months before it were paid
    elsewhere and are not paid again, even within the retroactive window."""
    config = preset("bluekc_medical_home")
    run = run_ccf_ledger(
        config, restated_feed(tmp_path / "feeds", "2026-04"), parse_year_month("2026-04"),
        tmp_path / "out", ledger_url, post=True,
    )
    assert set(run.posting.lines["kind"]) == {"current"}
    assert {int(p) for p in run.posting.lines["period"]} == {parse_year_month("2026-04")}
