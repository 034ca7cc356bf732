"""Bad input, bad config, reruns: a clear message, the documented exit code, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest
from helpers import SAMPLE, make_config, run_cli, write_config
from typer.testing import CliRunner

from totalcare_payments.cli.app import app


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    shutil.copytree(SAMPLE, folder)
    return folder


run = run_cli


def ccf(data: Path, *extra: str | Path) -> tuple[int, str]:
    return run("ccf", "--month", "2026-03", "--data", data, "--out", data.parent / "out", *extra)


def edit(path: Path, change) -> None:
    """Rewrite a CSV input through ``change(frame) -> frame``."""
    change(pd.read_csv(path, dtype=str, keep_default_na=False)).to_csv(path, index=False)


def test_missing_file(data: Path):
    (data / "attribution.csv").unlink()
    code, out = ccf(data)
    assert code == 2
    assert "MISSING_FILE" in out and "no attribution.parquet or attribution.csv" in out


@pytest.mark.parametrize("broken", ["missing", "unreadable", "unknown practices"])
def test_settle_with_broken_attribution_does_not_wait_on_claims(data: Path, broken: str):
    """Claims are read and coded on a second thread, which waits for the members that
    linking attribution gives it; when attribution cannot be linked, the load must
    still end with the problem, not wait."""
    path = data / "attribution.csv"
    if broken == "missing":
        path.unlink()
    elif broken == "unreadable":
        path.write_bytes(b"\xff\xfe not a csv \x00")
    else:
        edit(path, lambda f: f.assign(practice_id="NOT-A-PRACTICE"))
    outcome: list[tuple[int, str]] = []
    worker = threading.Thread(
        target=lambda: outcome.append(
            run("settle", "--year", "2026", "--data", data, "--out", data.parent / "out")
        )
    )
    worker.start()
    worker.join(timeout=120)
    assert not worker.is_alive(), "the load waited for members that never came"
    code, out = outcome[0]
    assert code == 2, out


def test_misspelled_column_names_what_exists(data: Path):
    edit(data / "attribution.csv", lambda f: f.rename(columns={"year_month": "yearmonth"}))
    code, out = ccf(data)
    assert code == 2
    assert "missing column(s) year_month" in out
    assert "the file has: member_id, practice_id, yearmonth" in out


def test_wrong_type_is_rejected_and_listed_then_strict_fails(data: Path):
    def bad_month(f: pd.DataFrame) -> pd.DataFrame:
        f.loc[[0, 5], "year_month"] = ["2026-13", "March"]
        return f

    edit(data / "attribution.csv", bad_month)
    code, out = ccf(data)
    assert code == 0, out
    rejects = pd.read_csv(data.parent / "out" / "rejects.csv")
    assert rejects[["table", "row", "reason", "column"]].values.tolist() == [
        ["attribution", 1, "WRONG_DATATYPE", "year_month"],
        ["attribution", 6, "WRONG_DATATYPE", "year_month"],
    ]
    code, out = ccf(data, "--strict", "--force")
    assert code == 2
    assert "WRONG_DATATYPE" in out and "2 rows: 1, 6" in out


def test_member_attributed_to_two_practices_in_a_month(data: Path):
    frame = pd.read_csv(data / "attribution.csv", dtype=str)
    first = frame.iloc[[0]].copy()
    first["practice_id"] = "P0006" if first.iloc[0]["practice_id"] != "P0006" else "P0001"
    pd.concat([frame, first]).to_csv(data / "attribution.csv", index=False)
    first_month = frame.iloc[0]["year_month"]
    code, out = run("ccf", "--month", first_month, "--data", data, "--out", data.parent / "o")
    assert code == 2
    assert "CONFLICTING_ATTRIBUTION" in out
    assert f"member_id={frame.iloc[0]['member_id']}" in out


def test_unknown_practice(data: Path):
    frame = pd.read_csv(data / "attribution.csv", dtype=str)
    frame.loc[frame.index[frame["year_month"] == "2026-03"][:3], "practice_id"] = "P9999"
    frame.to_csv(data / "attribution.csv", index=False)
    code, out = ccf(data)
    assert code == 2
    assert "UNKNOWN_PRACTICE" in out and "3 rows" in out and "practice_id=P9999" in out


def test_month_outside_the_data(data: Path):
    code, out = run("ccf", "--month", "2027-01", "--data", data, "--out", data.parent / "o")
    assert code == 2
    assert "no attribution for 2027-01; it covers 2026-01..2026-12" in out


def test_malformed_month_argument(data: Path):
    code, out = run("ccf", "--month", "2026-3", "--data", data)
    assert code == 2 and "not a month in the form YYYY-MM" in out


def test_missing_scores_rejected_by_config(data: Path, tmp_path: Path):
    config = write_config(tmp_path, make_config({"risk": {"missing_score": "reject"}}))
    code, out = ccf(data, "--config", config)
    assert code == 2
    assert "MISSING_SCORE" in out and "have no score" in out


def test_bad_config_exit_code(data: Path, tmp_path: Path):
    config = tmp_path / "bad.toml"
    config.write_text('[program]\nname = "x"\nmax_share_rate = 1.5\n')
    code, out = ccf(data, "--config", config)
    assert code == 3
    assert "program.max_share_rate" in out


def test_refuses_to_overwrite_then_force_keeps_a_backup(data: Path):
    assert ccf(data)[0] == 0
    code, out = ccf(data)
    assert code == 4 and "--force" in out
    assert ccf(data, "--force")[0] == 0
    backups = list(data.parent.glob("out.backup-*"))
    assert len(backups) == 1 and (backups[0] / "manifest.json").exists()


@pytest.mark.slow
def test_rerun_is_byte_identical(data: Path, tmp_path: Path):
    """Two runs in separate processes, with different string hashing (set and dict orders
    of strings differ between them) and the claims' rows in another order, write the same
    bytes in every file but run.json."""
    claims = pd.read_csv(data / "claims.csv", dtype=str, keep_default_na=False)
    shuffled = tmp_path / "shuffled"
    shutil.copytree(data, shuffled)
    claims.sample(frac=1.0, random_state=3).to_csv(shuffled / "claims.csv", index=False)
    first, second = tmp_path / "first", tmp_path / "second"
    SETTLE = [sys.executable, "-m", "totalcare_payments", "settle", "--year", "2026"]  # noqa: N806
    for folder, out, seed in ((data, first, "1"), (shuffled, second, "2")):
        result = subprocess.run(
            [*SETTLE, "--data", str(folder), "--out", str(out)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert result.returncode == 0, result.stdout + result.stderr
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    for name in names:
        if name == "manifest.json":  # the inputs' paths and claims sha256 differ, nothing else
            a = json.loads((first / name).read_text())
            b = json.loads((second / name).read_text())
            for manifest in (a, b):
                for table in manifest["inputs"].values():
                    table.pop("path"), table.pop("sha256")
            assert a == b
        elif name != "run.json":  # the run's time and host: the one record that may differ
            assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_every_input_row_is_accounted_for(data: Path, tmp_path: Path):
    claims = pd.read_csv(data / "claims.csv", dtype=str)
    claims.loc[0, "paid_amount"] = "inf"
    claims.loc[1, "paid_amount"] = "NaN"
    claims.loc[2, "claim_start_date"] = "1899-12-31"
    claims.loc[3, "member_id"] = ""
    dup = claims.iloc[[10]]
    pd.concat([claims, dup]).to_csv(data / "claims.csv", index=False)
    code, out = run("settle", "--year", "2026", "--data", data, "--out", tmp_path / "s")
    assert code == 0, out
    manifest = __import__("json").loads((tmp_path / "s" / "manifest.json").read_text())
    for name, entry in manifest["inputs"].items():
        accounted = (
            entry["used"] + sum(entry["excluded"].values()) + sum(entry["rejected"].values())
        )
        assert entry["read"] == accounted, name
    assert manifest["inputs"]["claims"]["rejected"] == {
        "DUPLICATE_CLAIM_ID": 1,
        "NON_FINITE": 2,
        "NULL_KEY": 1,
        "OUT_OF_RANGE": 1,
    }
    rejects = pd.read_csv(tmp_path / "s" / "rejects.csv")
    assert len(rejects) == 5 and set(rejects["table"]) == {"claims"}


def test_claim_amounts_are_read_to_a_hundredth_of_a_cent():
    from totalcare_payments.inputs import schema
    from totalcare_payments.inputs.checks import check_table

    amounts = [
        12.3456,  # four decimals: taken as written
        0.1 + 0.2,  # 0.30000000000000004: binary noise, read as 0.3000
        999_999_999.9999,  # the largest amount, to a hundredth of a cent
        -0.0001,
        12.34567,  # a fifth decimal: x 10,000 = 123,456.7, 0.3 from a whole unit
        0.000001,  # a sixth decimal: 0.01 of a unit
        0.12345,
    ]
    frame = pd.DataFrame(
        {
            "claim_id": range(len(amounts)),
            "member_id": "m1",
            "claim_start_date": "2026-01-05",
            "paid_amount": amounts,
        }
    )
    table = check_table(frame, schema.CLAIMS)
    assert table.frame["paid_amount"].tolist() == amounts[:4]
    assert table.rejects["reason"].tolist() == ["TOO_MANY_DECIMALS"] * 3
    assert table.rejects["row"].tolist() == [5, 6, 7]


def test_a_rejected_rows_examples_are_the_row_as_written(tmp_path: Path) -> None:
    """The examples of a message are the file's own columns, never the columns worked out
    from them (months as period codes, member and practice codes)."""
    feed = tmp_path / "feed"
    feed.mkdir()
    for name in ("attribution", "risk_scores"):
        (feed / f"{name}.csv").write_bytes((SAMPLE / f"{name}.csv").read_bytes())
    practices = pd.read_csv(SAMPLE / "practices.csv", dtype=str)
    first, second = practices.iloc[[0]].copy(), practices.iloc[[0]].copy()
    first["effective_to"], second["effective_from"] = "2026-05", "2026-05"  # May twice
    pd.concat([first, second, practices.iloc[1:]]).to_csv(feed / "practices.csv", index=False)
    result = CliRunner().invoke(
        app, ["ccf", "--month", "2026-03", "--data", str(feed), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "OVERLAPPING_DATES" in text and "effective_to=2026-05" in text
    assert "_period=" not in text and "period=" not in text and "_code=" not in text
