"""Helpers the tests share: the project's folders, configs built from dicts, small programs.

Fixtures are in ``conftest.py``; these are plain functions and constants, imported by name
(``from helpers import make_config``).
"""

from __future__ import annotations

import copy
import os
import re
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import strategies as st

from totalcare_payments.config import ProgramConfig, parse_config

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "totalcare_payments" / "presets"
DEFAULT_CONFIG = CONFIGS / "bluekc_medical_home.toml"
SAMPLE = ROOT / "sample_data"
METHODOLOGY = ROOT / "docs" / "methodology.md"


def config_dict(path: Path = DEFAULT_CONFIG) -> dict:
    return tomllib.loads(path.read_text())


def make_config(changes: dict | None = None, base: Path = DEFAULT_CONFIG) -> ProgramConfig:
    """The default config with nested ``changes`` merged in (a value of None deletes the key)."""
    data = copy.deepcopy(config_dict(base))

    def merge(target: dict, patch: dict) -> None:
        for key, value in patch.items():
            if value is None:
                target.pop(key, None)
            elif isinstance(value, dict) and isinstance(target.get(key), dict):
                merge(target[key], value)
            else:
                target[key] = value

    merge(data, changes or {})
    return parse_config(data)


def write_config(folder: Path, config: ProgramConfig) -> Path:
    """Write a config as TOML (via its JSON-like dump) for CLI tests."""
    path = folder / "program.toml"
    path.write_text(_to_toml(config.model_dump(exclude_none=True)))
    return path


def _to_toml(data: dict, prefix: str = "") -> str:
    scalars, tables, arrays = [], [], []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            arrays.append((key, value))
        else:
            scalars.append(f"{key} = {_toml_value(value)}")
    text = ""
    if scalars:
        text += (f"[{prefix}]\n" if prefix else "") + "\n".join(scalars) + "\n\n"
    for key, value in tables:
        text += _to_toml(value, f"{prefix}.{key}" if prefix else key)
    for key, items in arrays:
        name = f"{prefix}.{key}" if prefix else key
        for item in items:
            text += f"[[{name}]]\n" + "\n".join(f"{k} = {_toml_value(v)}" for k, v in item.items())
            text += "\n\n"
    return text


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def write_program(folder: Path, **tables: pd.DataFrame | list[dict]) -> Path:
    """Write tables (DataFrames or lists of row dicts) as CSV into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


def attribution_rows(member: str, practice: str, months: list[str]) -> list[dict]:
    return [{"member_id": member, "practice_id": practice, "year_month": m} for m in months]


MONTHS_2026 = [f"2026-{m:02d}" for m in range(1, 13)]

#: Each data-quality gate's limit ([checks]) at its loosest: the gate lets everything by.
GATES_OPEN: dict[str, float] = {
    "min_table_rows": 0,
    "max_rejected_share": 1.0,
    "max_unscored_share": 1.0,
    "min_members_in_risk_scores": 0.0,
    "min_members_in_claims": 0.0,
    "max_claims_outside_period_share": 1.0,
    "max_months_without_claims": 12,
    "max_practices_without_claims": 1_000_000,
}


def relaxed_checks(reason: str = "a test of something other than the gates", **limits: float) -> dict:
    """``make_config`` changes that loosen [checks] limits, each with its reason (required
    for a loosened limit); with no limits given, every gate is open (``GATES_OPEN``)."""
    limits = limits or GATES_OPEN
    return {"checks": {**limits, "relaxed": dict.fromkeys(limits, reason)}}


#: CMS's published Medicare settlements, read where they live (never copied into the project).
MSSP_REFERENCE = Path(
    os.environ.get("TOTALCARE_MSSP_DIR", str(ROOT.parent / "shared" / "reference" / "mssp"))
)


def mssp_reference(name: str) -> Path:
    """A Medicare reference file's path; skip when it is not there, fail in CI (CI=true)."""
    import pytest

    path = MSSP_REFERENCE / name
    if not path.is_file():
        message = f"MSSP reference file {path} not found: set TOTALCARE_MSSP_DIR"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path
def doc_example(name: str, path: Path = METHODOLOGY) -> dict[str, str]:
    """The ``quantity -> value`` table between ``<!-- example:NAME -->`` and its closing
    marker in the methodology page."""
    text = path.read_text()
    match = re.search(rf"<!-- example:{name} -->\n(.*?)<!-- /example -->", text, re.S)
    assert match, f"{path} has no example '{name}'"
    rows = [ln.strip().strip("|").split("|") for ln in match.group(1).strip().splitlines()]
    assert [c.strip() for c in rows[0][:2]] == ["quantity", "value"], rows[0]
    return {r[0].strip(): r[1].strip() for r in rows[2:]}


def cents_text(cents: int) -> str:
    """Cents as the docs write them: 123456 -> '1234.56'."""
    whole, frac = divmod(abs(int(cents)), 100)
    return f"{'-' if cents < 0 else ''}{whole}.{frac:02d}"


# ---- random member-level programs for property tests ------------------------------------------

PROPERTY_PRACTICES = ["A", "B", "C", "D"]


@st.composite
def member_level_programs(draw: st.DrawFn, max_members: int = 10) -> dict[str, pd.DataFrame]:
    """A small program of 2026 with every kind of row the rules treat apart: members who
    switch practices or are attributed nowhere in some months, members without claims,
    claims with fractions of a cent, reversals dated in another month than their payment
    (at another practice, outside the year, in an unattributed month), large claims over
    any stop-loss, and a practice missing from the quality file. No row is rejected."""
    n_practices = draw(st.integers(1, len(PROPERTY_PRACTICES)))
    practices = PROPERTY_PRACTICES[:n_practices]
    n_members = draw(st.integers(1, max_members))
    where = st.sampled_from([*practices, None])
    attribution = []
    for m in range(n_members):
        months = draw(st.lists(where, min_size=12, max_size=12))
        attribution += [
            {"member_id": f"m{m}", "practice_id": p, "year_month": MONTHS_2026[i]}
            for i, p in enumerate(months)
            if p is not None
        ]
    if not attribution:  # a year to settle needs member-months
        attribution = attribution_rows("m0", practices[0], MONTHS_2026[:1])
    lines = draw(
        st.lists(
            st.tuples(
                st.integers(0, n_members - 1),
                st.integers(0, 12),  # 0: December 2025
                st.integers(-20_000_000, 150_000_000),  # units: -2,000.00 to 15,000.00
                st.integers(0, 12),  # a reversal's month (0: none)
            ),
            max_size=30,
        )
    )
    claims = []
    for i, (member, month, units, reversal) in enumerate(lines):
        date = "2025-12-15" if month == 0 else f"2026-{month:02d}-15"
        amount = abs(units) / 10_000
        claims.append((f"c{i}", f"m{member}", date, amount))
        if reversal and amount:  # (a reversal of 0.00 would repeat the payment's sign)
            claims.append((f"c{i}", f"m{member}", f"2026-{reversal:02d}-03", -amount))
    quality_of = draw(st.lists(st.booleans(), min_size=n_practices, max_size=n_practices))
    scores = draw(st.lists(st.integers(1, 40_000), min_size=n_members, max_size=n_members))
    return {
        "practices": pd.DataFrame(
            {
                "practice_id": practices,
                "practice_name": [f"Practice {p}" for p in practices],
                "tier": [
                    ["Developing", "Established", "Advanced"][i % 3] for i in range(n_practices)
                ],
                "baseline_pmpm": draw(
                    st.lists(
                        st.integers(10_000, 150_000), min_size=n_practices, max_size=n_practices
                    )
                ),
                "baseline_risk": 1.0,
            }
        ).assign(baseline_pmpm=lambda f: f["baseline_pmpm"] / 100),
        "attribution": pd.DataFrame(attribution),
        "risk_scores": pd.DataFrame(
            {
                "member_id": [f"m{m}" for m in range(n_members)],
                "mara_px_total": np.array(scores) / 10_000,
            }
        ),
        "claims": pd.DataFrame(
            claims, columns=["claim_id", "member_id", "claim_start_date", "paid_amount"]
        ),
        "quality": pd.DataFrame(
            {
                "practice_id": [p for p, has in zip(practices, quality_of, strict=True) if has],
                "year": 2026,
                "quality_score": 0.7,
                "met_quality_gate": True,
            }
        ),
    }


stop_losses = st.one_of(
    st.just({"kind": "none"}),
    st.builds(lambda a: {"kind": "fixed", "amount": a / 100}, st.integers(1, 2_000_000)),
    st.builds(lambda p: {"kind": "percentile", "percentile": p / 1000}, st.integers(1, 999)),
)


PROPERTY_SEGMENTS = ["s1", "s2", "s3"]


@st.composite
def segmented_programs(draw: st.DrawFn, max_members: int = 10) -> dict[str, pd.DataFrame]:
    """``member_level_programs`` whose attribution rows carry a segment (drawn row by row,
    so members change segment from month to month), with a baselines table: a baseline
    PMPM and risk for every practice and segment."""
    tables = draw(member_level_programs(max_members))
    attribution = tables["attribution"]
    segments = draw(
        st.lists(
            st.sampled_from(PROPERTY_SEGMENTS), min_size=len(attribution), max_size=len(attribution)
        )
    )
    practices = tables["practices"]["practice_id"].tolist()
    cells = [(p, s) for p in practices for s in PROPERTY_SEGMENTS]
    pmpm = draw(st.lists(st.integers(10_000, 900_000), min_size=len(cells), max_size=len(cells)))
    risk = draw(st.lists(st.integers(3_000, 30_000), min_size=len(cells), max_size=len(cells)))
    baselines = pd.DataFrame(
        {
            "practice_id": [p for p, _ in cells],
            "segment": [s for _, s in cells],
            "baseline_pmpm": np.array(pmpm) / 100,
            "baseline_risk": np.array(risk) / 10_000,
        }
    )
    return {**tables, "attribution": attribution.assign(segment=segments), "baselines": baselines}


# ---- the payment ledger on both databases -------------------------------------------------------

#: The PostgreSQL server the ledger tests run on (a URL; .ci/run starts one and sets it).
POSTGRES_ENV = "TOTALCARE_TEST_POSTGRES_URL"


def postgres_base_url() -> str:
    """The test server's URL; skip when it is not set, fail in CI (CI=true)."""
    import pytest

    url = os.environ.get(POSTGRES_ENV, "")
    if not url:
        message = f"{POSTGRES_ENV} is not set: the PostgreSQL ledger tests need a server"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return url


def in_schema(url: str, schema: str) -> str:
    """A PostgreSQL URL whose connections work in ``schema`` (search_path)."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


def sample_feed(folder: Path, month: str, **tables: pd.DataFrame) -> Path:
    """The sample program as a feed known in ``month``: attribution up to that month,
    the other tables as they are, any of them replaced by ``tables``."""
    folder.mkdir(parents=True, exist_ok=True)
    attribution = pd.read_csv(SAMPLE / "attribution.csv", dtype=str)
    frames = {
        "practices": pd.read_csv(SAMPLE / "practices.csv", dtype=str),
        "attribution": attribution,
        "risk_scores": pd.read_csv(SAMPLE / "risk_scores.csv", dtype=str),
    }
    frames.update(tables)
    frames["attribution"] = frames["attribution"].loc[frames["attribution"]["year_month"] <= month]
    for name, frame in frames.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


# ---- a scripted year of restated feeds (the ledger's golden year) --------------------------------

ADDED_BACK = "900000001"  # P0002, Jan-Dec: in the feeds from April on only
JOINS_P0006 = "900000002"  # P0006 from April; score 1.0000, refreshed to 5.0000 in July
TERMINATED = "100000227"  # P0001 all year, score 1.0000; May's feed ends it in March
MOVER = "100000302"  # P0003 all year, score 1.0003; June's feed moves it to P0005 in April


def _restated_attribution(month: str) -> pd.DataFrame:
    rows = pd.read_csv(SAMPLE / "attribution.csv", dtype=str)
    later = rows["year_month"]
    if month >= "2026-05":  # the retroactive termination, effective March
        rows = rows.loc[~((rows["member_id"] == TERMINATED) & (later >= "2026-03"))]
    if month >= "2026-06":  # the move to P0005, effective April
        moved = (rows["member_id"] == MOVER) & (rows["year_month"] >= "2026-04")
        rows = rows.assign(practice_id=rows["practice_id"].where(~moved, "P0005"))
    extra = []
    if month >= "2026-04":  # added back to January, known in April
        extra += [{"member_id": ADDED_BACK, "practice_id": "P0002", "year_month": m} for m in MONTHS_2026]
    extra += [{"member_id": JOINS_P0006, "practice_id": "P0006", "year_month": m} for m in MONTHS_2026[3:]]
    return pd.concat([rows, pd.DataFrame(extra)], ignore_index=True)


def _restated_scores(month: str) -> pd.DataFrame:
    rows = pd.read_csv(SAMPLE / "risk_scores.csv", dtype=str)
    refreshed = "5.0000" if month >= "2026-07" else "1.0000"  # the score refresh, in July
    extra = pd.DataFrame(
        [
            {"member_id": ADDED_BACK, "mara_px_total": "1.0000"},
            {"member_id": JOINS_P0006, "mara_px_total": refreshed},
        ]
    )
    return pd.concat([rows, extra], ignore_index=True)


def _restated_practices(month: str) -> pd.DataFrame:
    rows = pd.read_csv(SAMPLE / "practices.csv", dtype=str)
    if month < "2026-08":
        return rows
    # known in August: P0006 is Advanced from June on
    rows = rows.assign(effective_from="", effective_to="")
    p6 = rows.loc[rows["practice_id"] == "P0006"]
    before = p6.assign(effective_to="2026-05")
    after = p6.assign(tier="Advanced", effective_from="2026-06")
    return pd.concat([rows.loc[rows["practice_id"] != "P0006"], before, after], ignore_index=True)


def restated_feed(root: Path, month: str) -> Path:
    """The sample program as known in ``month`` of a scripted year of restatements (the
    ledger's golden test, tests/ledger/test_golden_year.py): a member added back to
    January in April, a retroactive termination in May, a practice move in June, a score
    refresh in July and a tier change in August, each effective months earlier."""
    return sample_feed(
        root / month,
        month,
        attribution=_restated_attribution(month),
        risk_scores=_restated_scores(month),
        practices=_restated_practices(month),
    )


def sample_with_parquet_claims(folder: Path, *, string_ids: bool = False) -> Path:
    """The sample program in ``folder`` with its claims as one Parquet file: claim ids as
    integers (or text, ``string_ids``), amounts as doubles, dates as text."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    for path in SAMPLE.glob("*.csv"):
        if path.stem not in ("claims", "practice_summary"):
            shutil.copy(path, folder / path.name)
    claims = pd.read_csv(SAMPLE / "claims.csv", dtype=str)
    claims["claim_id"] = claims["claim_id"] if string_ids else claims["claim_id"].astype("int64")
    claims["paid_amount"] = claims["paid_amount"].astype("float64")
    claims.to_parquet(folder / "claims.parquet", index=False)
    return folder


def claims_by_month(source: Path, folder: Path, *, hive: bool = False) -> list[Path]:
    """Write a claims Parquet file's lines into ``folder`` as one file per service month
    (``2026-01.parquet``, ..., or hive-style ``month=2026-01/part-0.parquet``), each file's
    lines in the source's order; the files, in month order."""
    claims = pd.read_parquet(source)
    month = claims["claim_start_date"].astype(str).str[:7]
    files = []
    for value in sorted(month.unique()):
        path = folder / f"month={value}" / "part-0.parquet" if hive else folder / f"{value}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        claims[month == value].to_parquet(path, index=False)
        files.append(path)
    return files


def segment_year(rows: list[tuple[str, int, float, int]]) -> pd.DataFrame:
    """One baseline year of practice A for ``budget.build_budget``: (segment, member-months,
    average risk, claims paid in cents) per segment, no truncation."""
    return pd.DataFrame(
        {
            "practice_id": "A",
            "segment": [r[0] for r in rows],
            "member_months": [r[1] for r in rows],
            "avg_risk_score": [r[2] for r in rows],
            "claims_paid_cents": [r[3] for r in rows],
            "truncated_cents": 0,
            "actual_cost_cents": [r[3] for r in rows],
        }
    )


def run_cli(*args: str | Path) -> tuple[int, str]:
    """Run the command line in-process: its exit code and output (never a traceback; an
    exception other than the exit is raised as it is)."""
    from typer.testing import CliRunner

    from totalcare_payments.cli.app import app

    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output
