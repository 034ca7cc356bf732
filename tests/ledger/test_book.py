"""What is done to a ledger: drafts, voids and reposts, differences outside the window, and
settlements (interim, final, true-up, the CCF as cost read from the ledger), on SQLite
and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from helpers import SAMPLE, make_config, sample_feed
from typer.testing import CliRunner

from totalcare_payments.ccf import compute_ccf
from totalcare_payments.cli.app import app
from totalcare_payments.config import preset
from totalcare_payments.errors import LedgerError
from totalcare_payments.jobs import run_ccf_ledger, run_settlement_ledger
from totalcare_payments.ledger.book import balance, list_batches, show_batch, void_batch
from totalcare_payments.ledger.store import open_ledger
from totalcare_payments.periods import parse_year_month
from totalcare_payments.program import load_program

CONFIG = preset("bluekc_medical_home")


def _batch(url: str, month: str, out: Path, data: Path = SAMPLE, post: bool = True, config=CONFIG):
    return run_ccf_ledger(config, data, parse_year_month(month), out / month, url, post=post, force=True)


def _balance(url: str, year: int = 2026) -> pd.DataFrame:
    ledger = open_ledger(url, create=False)
    try:
        return balance(ledger, year)
    finally:
        ledger.dispose()


def test_a_draft_is_shown_and_written_but_not_paid(ledger_url: str, tmp_path: Path) -> None:
    draft = _batch(ledger_url, "2026-03", tmp_path / "draft", post=False)
    assert draft.posting.status == "draft"
    assert (tmp_path / "draft" / "2026-03" / "payments.csv").exists()
    assert "DRAFT" in (tmp_path / "draft" / "2026-03" / "remittance" / "P0001.html").read_text()
    assert _balance(ledger_url).empty  # a draft pays nothing
    again = _batch(ledger_url, "2026-03", tmp_path / "draft2", post=False)
    posted = _batch(ledger_url, "2026-03", tmp_path / "posted")
    assert posted.posting.status == "posted"
    ledger = open_ledger(ledger_url, create=False)
    try:
        batches = list_batches(ledger)
    finally:
        ledger.dispose()
    # each run replaced the draft before it: only the posted batch is left
    assert batches[["batch_id", "status"]].values.tolist() == [[posted.posting.batch_id, "posted"]]
    assert posted.posting.batch_id > again.posting.batch_id > draft.posting.batch_id
    assert int(_balance(ledger_url)["net_cents"].sum()) == 237810  # March: $2,378.10


def test_a_voided_batch_is_reversed_and_its_months_paid_again_later(
    ledger_url: str, tmp_path: Path
) -> None:
    _batch(ledger_url, "2026-02", tmp_path)
    march = _batch(ledger_url, "2026-03", tmp_path)
    ledger = open_ledger(ledger_url, create=False)
    try:
        reversal = void_batch(ledger, march.posting.batch_id)
        with pytest.raises(LedgerError, match="only a posted batch can be voided"):
            void_batch(ledger, march.posting.batch_id)
        with pytest.raises(LedgerError, match="is the reversal of batch"):
            void_batch(ledger, reversal)
        with pytest.raises(LedgerError, match="there is no batch 99"):
            void_batch(ledger, 99)
        statuses = dict(list_batches(ledger)[["batch_id", "status"]].values.tolist())
    finally:
        ledger.dispose()
    assert statuses == {1: "posted", 2: "voided", 3: "posted"}
    paid = _balance(ledger_url).groupby("service_month")["net_cents"].sum()
    assert paid.to_dict() == {"2026-02": 220125, "2026-03": 0}  # March taken back
    # April's window (January to April) pays March again: every March member ADDED
    april = _batch(ledger_url, "2026-04", tmp_path)
    lines = april.posting.lines
    march_lines = lines.loc[lines["period"] == parse_year_month("2026-03")]
    assert int(march_lines["amount_cents"].sum()) == 237810
    assert set(april.posting.roster.loc[april.posting.roster["period"] == parse_year_month("2026-03"), "reason"]) == {"ADDED"}
    # and March's own inputs can be posted again once its batch is voided
    assert _batch(ledger_url, "2026-03", tmp_path / "again").posting.status == "posted"


def test_differences_before_the_window_are_reported_not_paid(
    ledger_url: str, tmp_path: Path
) -> None:
    """With retro_months = 1, May's batch recomputes April and May only: a January member
    restated in May's feed is a difference to report, not a payment."""
    config = make_config({"ccf": {"retro_months": 1}})
    for month in ("2026-01", "2026-02", "2026-03", "2026-04"):
        _batch(ledger_url, month, tmp_path, sample_feed(tmp_path / "feed" / month, month), config=config)
    attribution = pd.read_csv(SAMPLE / "attribution.csv", dtype=str)
    gone = (attribution["member_id"] == "100000227") & (attribution["year_month"] == "2026-01")
    restated = sample_feed(tmp_path / "feed" / "2026-05", "2026-05", attribution=attribution.loc[~gone])
    may = _batch(ledger_url, "2026-05", tmp_path, restated, config=config)
    assert {int(p) for p in may.posting.lines["period"]} == {parse_year_month("2026-05")}
    outside = may.posting.outside
    # P0001 in January: 122 members, scores summing to 120.6149, average 0.9886: the $3.50
    # band, $427.00 posted; without the member (score 1.0000): 121, 119.6149, 0.9886 again,
    # $423.50 due: - $3.50, reported
    assert outside.to_dict("records") == [
        {
            "practice_id": "P0001",
            "service_month": "2026-01",
            "members_posted": 122,
            "members_due": 121,
            "amount_posted_cents": 42700,
            "amount_due_cents": 42350,
            "difference_cents": -350,
        }
    ]
    written = pd.read_csv(tmp_path / "2026-05" / "outside_window.csv")
    assert written["difference"].tolist() == [-3.5]
    # the file's money columns are dollars, named as in every other output file
    assert list(written.columns) == [
        "practice_id", "service_month", "members_posted", "members_due",
        "amount_posted", "amount_due", "difference",
    ]


def test_an_interim_then_a_final_settlement_posts_the_true_up(
    ledger_url: str, tmp_path: Path
) -> None:
    """The interim settles without the CCF as cost; the final counts the CCF the ledger has
    posted (January to June here, not the year's computed CCF) and posts the difference."""
    for month in ("2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"):
        _batch(ledger_url, month, tmp_path)
    interim, run = run_settlement_ledger(
        CONFIG, 2026, tmp_path / "interim", ledger_url, data=SAMPLE, stage="interim",
        runout_months=2, post=True,
    )
    assert interim is not None
    ledger = open_ledger(ledger_url, create=False)
    try:
        record = show_batch(ledger, run.posting.batch_id).record
    finally:
        ledger.dispose()
    assert (record["kind"], record["period"], record["stage"], record["runout_months"]) == (
        "settlement", "2026", "interim", 2
    )
    lines = run.posting.lines.set_index("practice_id")
    assert lines.loc["P0005", "amount_cents"] == 2_221_565  # $22,215.65, as settled
    assert set(lines["kind"]) == {"settlement"}
    assert (tmp_path / "interim" / "settlement_lines.csv").exists()

    with_ccf = make_config({"settlement": {"ccf_counts_as_cost": True}})
    final, run = run_settlement_ledger(
        with_ccf, 2026, tmp_path / "final", ledger_url, data=SAMPLE, stage="final", post=True
    )
    assert final is not None
    half_year = compute_ccf(
        load_program(SAMPLE, CONFIG), CONFIG, [parse_year_month(f"2026-0{m}") for m in range(1, 7)]
    ).lines.groupby("practice_id")["ccf_amount_cents"].sum()
    cost = final.practices.set_index("practice_id")["ccf_cost_cents"]
    assert (cost == half_year.reindex(cost.index)).all()  # the ledger's CCF, January-June
    changed = (
        final.practices.set_index("practice_id")["final_payment_cents"]
        - interim.practices.set_index("practice_id")["final_payment_cents"]
    )
    true_up = run.posting.lines.set_index("practice_id")
    assert set(true_up["kind"]) == {"true_up"}
    assert true_up["amount_cents"].to_dict() == changed[changed != 0].to_dict()
    assert len(true_up) >= 1

    # the same final again posts nothing; another final is refused until this one is voided
    _, again = run_settlement_ledger(
        with_ccf, 2026, tmp_path / "again", ledger_url, data=SAMPLE, stage="final", post=True
    )
    assert again.posting.status == "already" and not (tmp_path / "again").exists()
    with pytest.raises(LedgerError, match="has a final settlement posted"):
        run_settlement_ledger(
            CONFIG, 2026, tmp_path / "other", ledger_url, data=SAMPLE, stage="final", post=True
        )


def test_the_commands(ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    base = ["ccf", "--data", str(SAMPLE), "--ledger", ledger_url]
    result = runner.invoke(app, [*base, "--month", "2026-03", "--post", "--out", "m3"])
    assert result.exit_code == 0, result.output
    assert "Batch 1 posted" in result.output and "$2,378.10" in result.output
    assert "A new ledger was made" in result.output  # its first batch says so
    result = runner.invoke(app, [*base, "--month", "2026-03", "--post", "--out", "m3b"])
    assert result.exit_code == 0 and "Nothing posted: batch 1" in result.output
    assert "A new ledger" not in result.output
    result = runner.invoke(app, [*base, "--months", "2026-01..2026-03", "--out", "x"])
    assert result.exit_code == 2 and "one month" in result.output
    result = runner.invoke(app, [*base, "--month", "2026-04", "--pay-date", "2026-04-31", "--out", "y"])
    assert result.exit_code == 2 and "not a date" in result.output
    for args, shown in (
        (["batches"], "2026-03"),
        (["show", "1"], "config_sha256"),
        (["balance", "--year", "2026", "--practice", "P0002"], "$510.30"),
        (["void", "1"], "reversal batch 2"),
        (["export", "--out", "export"], "batches.csv"),
    ):
        result = runner.invoke(app, ["ledger", *args, "--ledger", ledger_url])
        assert result.exit_code == 0, result.output
        assert shown in result.output
    assert (tmp_path / "export" / "roster.csv").exists()
    result = runner.invoke(app, ["ledger", "void", "1", "--ledger", ledger_url])
    assert result.exit_code == 6 and "Ledger refused" in result.output
    monkeypatch.setenv("TOTALCARE_LEDGER", ledger_url)  # the ledger named once
    result = runner.invoke(app, ["ledger", "batches"])
    assert result.exit_code == 0 and "voided" in result.output


def test_a_ledger_path_in_a_folder_that_is_not_there_is_refused(tmp_path: Path) -> None:
    """A mistyped --ledger must not start an empty ledger that pays every month again:
    a new SQLite ledger is made only in a folder that exists (exit 6, nothing made)."""
    missing = tmp_path / "typo" / "ledger.sqlite"
    result = CliRunner().invoke(
        app,
        ["ccf", "--month", "2026-03", "--data", str(SAMPLE), "--ledger", str(missing),
         "--post", "--out", str(tmp_path / "m3")],
    )
    assert result.exit_code == 6, result.output
    assert "there is no folder" in result.output and "typo" in result.output
    assert not (tmp_path / "typo").exists() and not (tmp_path / "m3").exists()


def test_a_batch_whose_files_cannot_be_written_is_not_posted(
    ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch's files are staged inside the posting's transaction: when writing them
    fails, nothing is posted and no folder is left; the next run posts the batch and writes
    its files (a posted batch always has its payments.csv)."""
    import totalcare_payments.jobs as jobs
    from totalcare_payments.errors import OutputError

    real = jobs.write_remittances

    def broken(folder: Path, statements: dict[str, str]) -> list[Path]:
        raise OSError(28, "No space left on device", str(folder))

    monkeypatch.setattr(jobs, "write_remittances", broken)
    with pytest.raises(OutputError, match="No space left"):
        _batch(ledger_url, "2026-03", tmp_path)
    assert not (tmp_path / "2026-03").exists()
    assert not list(tmp_path.glob(".2026-03.partial-*"))
    ledger = open_ledger(ledger_url, create=True)
    try:
        assert len(list_batches(ledger)) == 0  # nothing posted, not even a draft
    finally:
        ledger.dispose()
    monkeypatch.setattr(jobs, "write_remittances", real)
    run = _batch(ledger_url, "2026-03", tmp_path)
    assert run.posting.status == "posted"  # (PostgreSQL's ids are not taken back: 1 or 2)
    ledger = open_ledger(ledger_url, create=False)
    try:
        assert len(list_batches(ledger)) == 1
    finally:
        ledger.dispose()
    paid = pd.read_csv(tmp_path / "2026-03" / "payments.csv")
    assert round(paid["net_amount"].sum(), 2) == 2378.10


def test_a_settlement_whose_files_cannot_be_written_is_not_posted(
    ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As for a CCF batch: the settlement's files are staged before its posting commits."""
    import totalcare_payments.jobs as jobs
    from totalcare_payments.errors import OutputError

    real = jobs._fill_outputs

    def broken(*args: object, **kwargs: object):
        def fill(folder: Path) -> None:
            raise OSError(28, "No space left on device", str(folder))

        return fill

    monkeypatch.setattr(jobs, "_fill_outputs", broken)
    with pytest.raises(OutputError, match="No space left"):
        run_settlement_ledger(
            CONFIG, 2026, tmp_path / "final", ledger_url, data=SAMPLE, post=True
        )
    assert not (tmp_path / "final").exists()
    ledger = open_ledger(ledger_url, create=True)
    try:
        assert len(list_batches(ledger)) == 0
    finally:
        ledger.dispose()
    monkeypatch.setattr(jobs, "_fill_outputs", real)
    settled, run = run_settlement_ledger(
        CONFIG, 2026, tmp_path / "final", ledger_url, data=SAMPLE, post=True
    )
    assert settled is not None and run.posting.status == "posted"
    lines = pd.read_csv(tmp_path / "final" / "settlement_lines.csv")
    assert round(lines["amount"].sum(), 2) == 36418.58  # the sample's settlement, posted once
