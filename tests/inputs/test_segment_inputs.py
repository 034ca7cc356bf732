"""Attribution's segment column and the baselines table as bad input: a clear message naming
the file, column, rows and reason, the documented exit code, never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from helpers import SAMPLE, make_config, run_cli, write_config

from totalcare_payments.program import program_from_frames
from totalcare_payments.savings.year import compute_settlement

SEGMENTS = ["aged_nondual", "esrd"]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """The sample program with segments (a member's segment by the parity of its id) and
    a baselines table: each practice's baseline as both segments'."""
    folder = tmp_path / "data"
    shutil.copytree(SAMPLE, folder)
    attribution = pd.read_csv(folder / "attribution.csv", dtype=str)
    odd = attribution["member_id"].str[-1].isin(list("13579"))
    attribution["segment"] = odd.map({True: "esrd", False: "aged_nondual"})
    attribution.to_csv(folder / "attribution.csv", index=False)
    practices = pd.read_csv(folder / "practices.csv", dtype=str)
    base = practices[["practice_id", "baseline_pmpm", "baseline_risk"]]
    pd.concat([base.assign(segment=s) for s in SEGMENTS]).to_csv(
        folder / "baselines.csv", index=False
    )
    return folder


run = run_cli


def settle(data: Path, *extra: str | Path) -> tuple[int, str]:
    out = data.parent / "out"
    return run("settle", "--year", "2026", "--data", data, "--out", out, "--force", *extra)


def edit(path: Path, change) -> None:
    change(pd.read_csv(path, dtype=str, keep_default_na=False)).to_csv(path, index=False)


def test_the_sample_with_segments_settles_per_segment(data: Path) -> None:
    code, out = settle(data)
    assert code == 0, out
    assert "Budget by segment" in out
    segments = pd.read_csv(data.parent / "out" / "settlement_segments.csv")
    assert set(segments["segment"]) == set(SEGMENTS)
    assert len(segments) == 12  # six practices, two segments each


def test_an_empty_segment_is_rejected_and_the_fee_is_not_touched(data: Path) -> None:
    def blank(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[4, "segment"] = "  "
        return frame

    edit(data / "attribution.csv", blank)
    code, out = settle(data)
    assert code == 0, out
    rejects = pd.read_csv(data.parent / "out" / "rejects.csv")
    assert rejects[["table", "row", "reason", "column"]].values.tolist() == [
        ["attribution", 5, "NULL_KEY", "segment"]
    ]
    code, out = settle(data, "--strict")
    assert code == 2
    assert "NULL_KEY" in out and "segment is empty" in out and "1 row: 5" in out
    # the monthly fee does not read the segment: nothing rejected, nothing stopped
    code, out = run(
        "ccf", "--month", "2026-03", "--data", data, "--out", data.parent / "ccf", "--strict"
    )
    assert code == 0, out
    assert pd.read_csv(data.parent / "ccf" / "rejects.csv").empty


def test_a_segment_the_config_does_not_list_stops_the_run(data: Path) -> None:
    def misspell(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[[2, 9], "segment"] = "ESRD "
        return frame

    edit(data / "attribution.csv", misspell)
    config = write_config(data.parent, make_config({"program": {"segments": SEGMENTS}}))
    code, out = settle(data, "--config", config)
    assert code == 2
    assert "UNKNOWN_SEGMENT" in out and "attribution" in out and "segment" in out
    assert "2 rows: 3, 10" in out
    assert "program.segments ['aged_nondual', 'esrd']" in out
    # declared as upper case, the file's values and the config's are folded alike
    frames = {
        "practices": pd.read_csv(data / "practices.csv"),
        "attribution": pd.read_csv(data / "attribution.csv", dtype=str).assign(
            segment=lambda f: f["segment"].str.strip().str.upper()
        ),
        "risk_scores": pd.read_csv(data / "risk_scores.csv"),
    }
    folded = make_config(
        {
            "program": {"segments": ["AGED_NONDUAL", "ESRD"]},
            "inputs": {"attribution": {"segment": {"ids": ["uppercase"]}}},
        }
    )
    frames["attribution"].loc[0, "segment"] = "esrd"
    program = program_from_frames(folded, **frames)
    assert program.attribution.rejects.empty
    assert program.member_months([674]).segments == ("AGED_NONDUAL", "ESRD")


def test_a_practice_segment_without_a_baseline_is_named(data: Path) -> None:
    edit(
        data / "baselines.csv",
        lambda f: f[~((f["practice_id"] == "P0004") & (f["segment"] == "esrd"))],
    )
    code, out = settle(data)
    assert code == 2
    assert "NO_BASELINE" in out and "baselines.csv" in out
    assert "P0004 esrd (" in out and "member-months in 2026" in out


@pytest.mark.parametrize(
    ("change", "reason", "words"),
    [
        (lambda f: pd.concat([f, f.iloc[[0]]]), "DUPLICATE_KEY", "practice_id,segment"),
        (
            lambda f: f.assign(practice_id=f["practice_id"].where(f.index != 3, "P9999")),
            "UNKNOWN_PRACTICE",
            "1 row: 4",
        ),
        (
            lambda f: f.assign(baseline_pmpm=f["baseline_pmpm"].where(f.index != 1, "-5")),
            "OUT_OF_RANGE",
            "baseline_pmpm",
        ),
        (
            lambda f: f.assign(segment=f["segment"].where(f.index != 0, "")),
            "NULL_KEY",
            "segment is empty",
        ),
    ],
    ids=["duplicate", "unknown practice", "negative", "empty segment"],
)
def test_any_rejected_baselines_row_stops_the_run(
    data: Path, change, reason: str, words: str
) -> None:
    edit(data / "baselines.csv", change)
    code, out = settle(data)
    assert code == 2, out
    assert reason in out and "baselines" in out and words in out


def test_baselines_given_by_path_or_missing_columns(data: Path) -> None:
    moved = data.parent / "built" / "baselines.csv"
    moved.parent.mkdir()
    (data / "baselines.csv").rename(moved)
    code, out = settle(data)  # no baselines: the practices file's, per practice
    assert code == 0, out
    assert not (data.parent / "out" / "settlement_segments.csv").exists()
    code, out = settle(data, "--baselines", moved)
    assert code == 0, out
    assert (data.parent / "out" / "settlement_segments.csv").exists()
    code, out = settle(data, "--baselines", data.parent / "nowhere.csv")
    assert code == 2 and "MISSING_FILE" in out
    edit(moved, lambda f: f.drop(columns="baseline_risk"))
    code, out = settle(data, "--baselines", moved)
    assert code == 2
    assert "MISSING_COLUMN" in out and "missing column(s) baseline_risk" in out


def test_segments_written_as_numbers_are_the_same_segments_as_text(data: Path) -> None:
    """A feed that codes segments as numbers (1, 2) and a baselines file that writes them as
    text are matched as text: "1" is segment 1."""
    config = make_config()
    attribution = pd.read_csv(data / "attribution.csv", dtype={"member_id": str})
    numbered = attribution.assign(segment=(attribution["segment"] == "esrd").astype(int) + 1)
    baselines = pd.read_csv(data / "baselines.csv", dtype=str)
    baselines["segment"] = baselines["segment"].map({"aged_nondual": "1", "esrd": "2"})
    program = program_from_frames(
        config,
        pd.read_csv(data / "practices.csv"),
        numbered,
        pd.read_csv(data / "risk_scores.csv"),
        pd.read_csv(data / "claims.csv"),
        pd.read_csv(data / "quality.csv"),
        baselines=baselines,
    )
    assert program.member_months([674]).segments == ("1", "2")
    settled = compute_settlement(program, config, 2026)
    assert settled.segments is not None and set(settled.segments["segment"]) == {"1", "2"}
