"""Faults, with real processes on SQLite and PostgreSQL: two posts at once never both post
nor interleave (one waits for the other, or gives up with a clear message), and a post
killed at any moment leaves its batch wholly posted or not there at all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from totalcare_payments.ccf import compute_ccf
from totalcare_payments.config import preset
from totalcare_payments.generate import generate_program, write_program
from totalcare_payments.ledger.book import balance
from totalcare_payments.ledger.store import ledger_url as database_url
from totalcare_payments.ledger.store import open_ledger
from totalcare_payments.periods import parse_year_month
from totalcare_payments.program import load_program

pytestmark = pytest.mark.slow  # whole processes and a 200,000-member program

MEMBERS = 200_000


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A generated program of 200,000 members, and its March member-months."""
    folder = tmp_path_factory.mktemp("large")
    write_program(generate_program(MEMBERS, seed=5), folder, fmt="parquet")
    config = preset("bluekc_medical_home")
    lines = compute_ccf(load_program(folder, config), config, [parse_year_month("2026-03")]).lines
    return folder, int(lines["attributed_members"].sum())


def _command(data: Path, month: str, ledger: str, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "totalcare_payments", "ccf", "--month", month, "--data", str(data),
        "--ledger", ledger, "--post", "--out", str(out),
    ]


def _counts(ledger: str) -> list[tuple[int, str, int, int, int]]:
    """Per batch: id, status, roster lines, their fees' sum, its lines' sum."""
    engine = sa.create_engine(database_url(ledger))
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT b.batch_id, b.status, "
                "(SELECT COUNT(*) FROM roster r WHERE r.batch_id = b.batch_id), "
                "(SELECT COALESCE(SUM(fee_cents), 0) FROM roster r WHERE r.batch_id = b.batch_id), "
                "(SELECT COALESCE(SUM(amount_cents), 0) FROM lines l WHERE l.batch_id = b.batch_id) "
                "FROM batches b ORDER BY b.batch_id"
            ).fetchall()
    finally:
        engine.dispose()
    return [tuple(int(v) if i != 1 else v for i, v in enumerate(row)) for row in rows]  # type: ignore[misc]


def test_two_posts_at_once_never_both_post(large, ledger_url: str, tmp_path: Path) -> None:
    data, march_members = large
    open_ledger(ledger_url, create=True).dispose()  # made once, so both race to post only
    same = [subprocess.Popen(_command(data, "2026-03", ledger_url, tmp_path / f"same{i}"),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for i in range(2)]
    outputs = [p.communicate(timeout=300)[0] for p in same]
    assert [p.returncode for p in same] == [0, 0], outputs
    assert sum("Batch 1 posted" in o for o in outputs) == 1
    assert sum("Nothing posted: batch 1" in o for o in outputs) == 1
    counts = _counts(ledger_url)
    assert [(c[0], c[1], c[2]) for c in counts] == [(1, "posted", march_members)]

    # two different months at once: both posted, one after the other, never interleaved:
    # the later one saw the earlier one's lines (their windows overlap in March and April),
    # so every month is paid exactly once, what is due
    both = [subprocess.Popen(_command(data, month, ledger_url, tmp_path / month),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for month in ("2026-04", "2026-05")]
    outputs = [p.communicate(timeout=300)[0] for p in both]
    assert [p.returncode for p in both] == [0, 0], outputs
    counts = _counts(ledger_url)
    assert [c[1] for c in counts] == ["posted"] * 3
    assert all(c[3] == c[4] for c in counts)  # each batch's roster ties to its lines
    config = preset("bluekc_medical_home")
    months = [parse_year_month(m) for m in ("2026-03", "2026-04", "2026-05")]
    due = compute_ccf(load_program(data, config), config, months).lines
    ledger = open_ledger(ledger_url, create=False)
    try:
        paid = balance(ledger, 2026)
    finally:
        ledger.dispose()
    merged = due.merge(paid, left_on=["practice_id", "year_month"], right_on=["practice_id", "service_month"])
    assert len(merged) == len(due) == len(paid)
    assert (merged["net_cents"] == merged["ccf_amount_cents"]).all()


def test_a_post_that_cannot_get_the_lock_gives_up_clearly(
    large, ledger_url: str, tmp_path: Path
) -> None:
    data, _ = large
    ledger = open_ledger(ledger_url, create=True, timeout=1)
    try:
        with ledger.begin(write=True):  # another post holds the ledger
            result = subprocess.run(
                _command(data, "2026-03", ledger_url, tmp_path / "out"),
                capture_output=True, text=True, timeout=300,
                env={**os.environ, "TOTALCARE_LEDGER_TIMEOUT": "1"},
            )
    finally:
        ledger.dispose()
    assert result.returncode == 6, result.stdout + result.stderr
    assert "another post holds the ledger" in result.stderr
    assert "Traceback" not in result.stderr
    assert _counts(ledger_url) == []
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("delay", [0.5, 2.0, 3.0, 4.5])
def test_a_post_killed_at_any_moment_is_wholly_posted_or_not_at_all(
    large, ledger_url: str, tmp_path: Path, delay: float
) -> None:
    data, march_members = large
    open_ledger(ledger_url, create=True).dispose()
    process = subprocess.Popen(
        _command(data, "2026-03", ledger_url, tmp_path / "out"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    counts = _counts(ledger_url)
    assert counts in ([],) or [(c[1], c[2], c[3] == c[4]) for c in counts] == [
        ("posted", march_members, True)
    ], counts
    # and the next post finds the ledger whole: it posts, or says it is posted already
    rerun = subprocess.run(
        _command(data, "2026-03", ledger_url, tmp_path / "again"),
        capture_output=True, text=True, timeout=300,
    )
    assert rerun.returncode == 0, rerun.stderr
    final = _counts(ledger_url)
    assert [(c[1], c[2]) for c in final] == [("posted", march_members)]
