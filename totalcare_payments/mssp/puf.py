"""Medicare Shared Savings Program (MSSP): settle CMS's published ACO results with the engine.

CMS publishes every ACO's year-end settlement in the MSSP Public Use File (PUF): its
benchmark, expenditures, minimum savings rate, quality score and the shared savings paid
or losses billed (``EarnSaveLoss``). This module proves the savings engine on them:

* ``read_puf`` maps one year's file (as published, or the derived all-years file) onto
  the engine's practice-level summary (ACO = practice, N_AB = population, ABtotBnchmk =
  budget, ABtotExp = actual_cost, ...), keeping CMS's own results beside it;
* ``settle_puf`` settles each track's rows with its preset (``presets/mssp_*.toml``)
  through ``settlement.settle_summary``, the code path that settles any other program,
  and compares the result with CMS's row by row;
* ``check_puf`` does both and counts the matches (``totalcare mssp-check``).

All that is Medicare here is the column mapping below and the presets: the engine has no
Medicare special case. The two rules the config language holds as one number per program
where Medicare varies it by ACO (Track 2's loss limit by agreement year, BASIC levels C/D's
lower loss limits) are applied as a ``loss_limit`` column that overrides the preset's for
those rows.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import ProgramConfig, preset
from ..errors import InputError, Problem
from ..reasons import Reason

#: The preset config of each track label (``tier`` in the summary).
PRESETS: dict[str, str] = {
    "Track 1": "mssp_track1",
    "Track 1+": "mssp_track1_plus",
    "Track 2": "mssp_track2",
    "Track 3": "mssp_track3",
    "BASIC A": "mssp_basic_a_b",
    "BASIC B": "mssp_basic_a_b",
    "BASIC C": "mssp_basic_c_e",
    "BASIC D": "mssp_basic_c_e",
    "BASIC E": "mssp_basic_c_e",
    "ENHANCED": "mssp_enhanced",
}

#: Years whose file is read as CMS published it.
PUBLISHED_YEARS = (2013, 2014, 2018)
#: Years read from the derived all-years file (mssp_all_years_2013_2021_derived.csv): those
#: with track flags and Met_QPS there. Its PY2013-PY2015 rows lack them or EarnSaveLoss.
DERIVED_YEARS = (2016, 2017, 2018, 2019, 2020, 2021)
#: Years in which CMS paid the track's maximum rate to every ACO that met the quality
#: standard (PY2021, CY2021 PFS final rule): quality counts as 1.0 for those ACOs.
PASS_FAIL_QUALITY_YEARS = (2021,)

#: Loss limits (share of the benchmark) finer than one number per preset. Track 2:
#: 42 CFR 425.606(g), by performance year of the agreement (1, 2, 3 and later). BASIC
#: levels C and D: the benchmark caps of 425.605(d) (revenue-based limits are not testable:
#: the PUF has no participant revenue).
TRACK2_LOSS_LIMIT_BY_AGREEMENT_YEAR = {1: 0.05, 2: 0.075, 3: 0.10}
LOSS_LIMIT_BY_TRACK = {"BASIC C": 0.01, "BASIC D": 0.02}

#: Most |benchmark - expenditures - published gross savings| a well-read row shows ($).
LAYOUT_TOLERANCE = 2.0

#: The MSR table must reproduce CMS's MinSavPerc to this (where published to more decimals).
MSR_TOLERANCE = 1e-6

#: Engine results within this many dollars of CMS's count as a match (CMS pays whole dollars).
DOLLAR_TOLERANCE = 1.0

#: The summary columns ``read_puf`` returns (the engine's) and the published ones kept.
SUMMARY_COLUMNS = [
    "practice_id",
    "practice_name",
    "tier",
    "population",
    "budget",
    "actual_cost",
    "quality_score",
    "met_quality_gate",
    "msr",
    "loss_adjustment",
    "loss_limit",
    "agreement_year",
]
PUBLISHED_COLUMNS = [
    "published_result",
    "published_savings",
    "GenSaveLoss",
    "MinSavPerc",
    "QualPerfShare",
    "FinalShareRate",
    "quality_rounding",
    "msr_rounding",
]
#: Half a unit of the last published decimal (the most the published value can be off).
FOUR_DECIMALS = 0.5e-4


@cache
def preset_config(track: str) -> ProgramConfig:
    """The shipped preset (``presets/mssp_*.toml``) that settles a track's ACOs."""
    if track not in PRESETS:
        raise InputError(f"no MSSP preset for track '{track}' (known: {', '.join(PRESETS)})")
    return preset(PRESETS[track])


# ---------------------------------------------------------------------------------------
# Loading: one mapping per year's file, as published
# ---------------------------------------------------------------------------------------


def _number(values: pd.Series) -> pd.Series:
    """Numbers as published: '$1,234.50', '0.0234%', '' -> float (NaN when blank)."""
    text = values.astype("string").str.replace(r"[\s$,%]", "", regex=True)
    return pd.to_numeric(text.mask(text == ""), errors="coerce").astype("float64")


def _require(raw: pd.DataFrame, columns: list[str], path: Path, year: int) -> None:
    missing = [c for c in columns if c not in raw.columns]
    if missing:
        looks_like = [y for y, key in _SIGNATURES.items() if key in raw.columns]
        hint = f" (it looks like the PY{looks_like[0]} file)" if looks_like else ""
        raise InputError(
            Problem(
                table="mssp_puf",
                reason=Reason.MISSING_COLUMN,
                column=missing[0],
                message=f"{path} does not look like the PY{year} Public Use File{hint}: "
                f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing[:6])}"
                + (f" and {len(missing) - 6} more" if len(missing) > 6 else ""),
            ),
            path=str(path),
        )


#: A column only each published year's file has (to name the year of a wrong file).
_SIGNATURES = {2013: "ACO Identifier", 2014: "ACO_Num", 2018: "Current_Track_1_Plus"}


def _agreement_year(start_dates: pd.Series, year: int, fmt: str) -> np.ndarray:
    """Performance year within the current agreement (1, 2, 3, ...), from its start date."""
    start = pd.to_datetime(start_dates, format=fmt, errors="coerce").dt.year
    return (year - start.fillna(year) + 1).clip(lower=1).to_numpy(dtype=np.int64)


def _read_2013(raw: pd.DataFrame, path: Path) -> pd.DataFrame:
    # The PY2013 header lost its "Total expenditures ($)" label: from the 14th column on,
    # each label names the column to its right. True meaning of each physical column:
    benchmark = "Total benchmark expenditures ($)"
    expenditures = "Total savings/losses ($)"  # -> total expenditures
    savings = "Shared Savings ($)"  # -> total savings/losses
    earned = "Shared Losses ($)"  # -> shared savings paid
    losses = "Total number of assigned beneficiaries"  # -> shared losses (negative)
    person_years = "Total assigned beneficiary person years"  # -> assigned beneficiaries
    _require(
        raw,
        [
            "ACO Identifier",
            "ACO Name",
            "Track 2 ACO",
            "Quality Score",
            "Quality Performance Sharing Rate",
            "Final sharing rate",
            "Minimum Savings Rate (%)",
            benchmark,
            expenditures,
            savings,
            earned,
            losses,
            person_years,
        ],
        path,
        2013,
    )
    track2 = _number(raw["Track 2 ACO"]) == 1
    met = _number(raw["Quality Score"]) == 1
    msr = _number(raw["Minimum Savings Rate (%)"])  # a fraction despite its '%'
    tier = np.where(track2, "Track 2", "Track 1")
    return pd.DataFrame(
        {
            "practice_id": raw["ACO Identifier"].astype(str),
            "practice_name": raw["ACO Name"].astype(str),
            "tier": tier,
            "population": _number(raw[person_years]),
            "budget": _number(raw[benchmark]),
            "actual_cost": _number(raw[expenditures]),
            # PY2013 was pay-for-reporting for every ACO: full score when it reported.
            "quality_score": 1.0,
            "met_quality_gate": met.to_numpy(),
            "msr": np.where(_uses_table(tier), np.nan, msr),
            "loss_adjustment": 0.0,
            "agreement_year": 1,  # PY2013 was every ACO's first performance year
            "published_result": _number(raw[earned]).fillna(0.0) + _number(raw[losses]).fillna(0.0),
            "published_savings": _number(raw[savings]),
            "GenSaveLoss": np.nan,  # not published for PY2013
            "MinSavPerc": msr,
            "QualPerfShare": _number(raw["Quality Performance Sharing Rate"]),
            "FinalShareRate": _number(raw["Final sharing rate"]),
            "quality_rounding": 0.0,
            "msr_rounding": 0.0,
        }
    )


def _read_2014(raw: pd.DataFrame, path: Path) -> pd.DataFrame:
    _require(
        raw,
        [
            "ACO_Num",
            "ACO_NAME",
            "Start_Date",
            "Track2",
            "N_AB",
            "MinSavPerc",
            "BnchmkMinExp",
            "GenSaveLoss",
            "EarnSaveLoss",
            "QualScore",
            "ABtotBnchmk",
            "ABtotExp",
            "QualPerfShare",
            "FinalShareRate",
        ],
        path,
        2014,
    )
    track2 = _number(raw["Track2"]) == 1
    quality = raw["QualScore"].astype("string").str.strip()
    p4r = quality.str.upper().eq("P4R").fillna(False).to_numpy(bool)
    final_rate = _number(raw["FinalShareRate"])
    msr = _number(raw["MinSavPerc"]) / 100.0  # percent units in PY2014
    tier = np.where(track2, "Track 2", "Track 1")
    return pd.DataFrame(
        {
            "practice_id": raw["ACO_Num"].astype(str),
            "practice_name": raw["ACO_NAME"].astype(str),
            "tier": tier,
            "population": _number(raw["N_AB"]),
            "budget": _number(raw["ABtotBnchmk"]),
            "actual_cost": _number(raw["ABtotExp"]),
            # "P4R": pay-for-reporting (first agreement year), a full score when reported.
            "quality_score": np.where(p4r, 1.0, _number(quality)),
            # No Met_QPS column in PY2014: a missed standard shows as a final rate of 0.
            "met_quality_gate": (final_rate > 0).to_numpy(),
            "msr": np.where(_uses_table(tier), np.nan, msr),
            "loss_adjustment": 0.0,
            # 2012-2013 starters were in their second performance year, 2014 starters their first.
            "agreement_year": _agreement_year(raw["Start_Date"], 2014, "%m/%d/%Y").clip(max=2),
            "published_result": _number(raw["EarnSaveLoss"]),
            "published_savings": _number(raw["BnchmkMinExp"]),
            "GenSaveLoss": _number(raw["GenSaveLoss"]),
            "MinSavPerc": msr,
            "QualPerfShare": _number(raw["QualPerfShare"]),
            "FinalShareRate": final_rate,
            "quality_rounding": 0.0,  # QualScore has 9 decimals
            "msr_rounding": 0.0,
        }
    )


_TRACK_FLAGS_2018 = {
    "Current_Track_1": "Track 1",
    "Current_Track_1_Plus": "Track 1+",
    "Current_Track_2": "Track 2",
    "Current_Track_3": "Track 3",
}


def _track_from_flags(raw: pd.DataFrame, flags: dict[str, str], path: Path) -> np.ndarray:
    on = [(_number(raw[c]) == 1).to_numpy() for c in flags]
    tier = np.select(on, list(flags.values()), default="")
    bad = np.sum(on, axis=0) != 1
    if bad.any():
        raise InputError(
            Problem(
                table="mssp_puf",
                reason=Reason.TRACK_FLAGS,
                message=f"{path}: each ACO needs exactly one of {', '.join(flags)} set to 1",
                rows=tuple(int(i) + 2 for i in raw.index[bad][:5]),  # file line numbers
                row_count=int(bad.sum()),
            ),
            path=str(path),
        )
    return tier


def _read_2018(raw: pd.DataFrame, path: Path) -> pd.DataFrame:
    _require(
        raw,
        [
            "ACO_ID",
            "ACO_Name",
            "Current_Start_Date",
            *_TRACK_FLAGS_2018,
            "N_AB",
            "MinSavPerc",
            "BnchmkMinExp",
            "GenSaveLoss",
            "DisAdj",
            "EarnSaveLoss",
            "Met_QPS",
            "QualScore",
            "ABtotBnchmk",
            "ABtotExp",
            "QualPerfShare",
            "FinalShareRate",
        ],
        path,
        2018,
    )
    tier = _track_from_flags(raw, _TRACK_FLAGS_2018, path)
    msr = _number(raw["MinSavPerc"])  # fractions in PY2018
    return pd.DataFrame(
        {
            "practice_id": raw["ACO_ID"].astype(str),
            "practice_name": raw["ACO_Name"].astype(str),
            "tier": tier,
            "population": _number(raw["N_AB"]),
            "budget": _number(raw["ABtotBnchmk"]),
            "actual_cost": _number(raw["ABtotExp"]),
            # QualScore (4 decimals) with the track's maximum rate, not the rounded FinalShareRate.
            "quality_score": _number(raw["QualScore"]),
            "met_quality_gate": (_number(raw["Met_QPS"]) == 1).to_numpy(),
            "msr": np.where(_uses_table(tier), np.nan, msr),
            "loss_adjustment": _number(raw["DisAdj"]).fillna(0.0),  # negative: relief on losses
            "agreement_year": _agreement_year(
                raw["Current_Start_Date"].astype("string").str.slice(0, 10), 2018, "%m/%d/%Y"
            ),
            "published_result": _number(raw["EarnSaveLoss"]),
            "published_savings": _number(raw["BnchmkMinExp"]),
            "GenSaveLoss": _number(raw["GenSaveLoss"]),
            "MinSavPerc": msr,
            "QualPerfShare": _number(raw["QualPerfShare"]),
            "FinalShareRate": _number(raw["FinalShareRate"]),
            "quality_rounding": FOUR_DECIMALS,  # QualScore has 4 decimals
            "msr_rounding": 0.0,
        }
    )


_DERIVED_FLAGS = {
    "current_track_1": "Track 1",
    "current_track_1_plus": "Track 1+",
    "current_track_2": "Track 2",
    "current_track_3": "Track 3",
    "current_basic_a": "BASIC A",
    "current_basic_b": "BASIC B",
    "current_basic_c": "BASIC C",
    "current_basic_d": "BASIC D",
    "current_basic_e": "BASIC E",
    "current_enhanced": "ENHANCED",
}


def _read_derived(raw: pd.DataFrame, path: Path, year: int) -> pd.DataFrame:
    """One year of the third-party all-years merge (lower-cased PUF column names).

    Its percent columns were rescaled differently by year, so only the dollar columns,
    n_ab, qualscore, met_qps, the track flags and minsavperc where it is a fraction
    (PY2016 on) are used.
    """
    _require(
        raw,
        [
            "performance_year",
            "aco_id",
            "aco_name",
            "current_start_date",
            *_DERIVED_FLAGS,
            "n_ab",
            "minsavperc",
            "bnchmkminexp",
            "gensaveloss",
            "disadj",
            "earnsaveloss",
            "met_qps",
            "qualscore",
            "abtotbnchmk",
            "abtotexp",
            "maxsharerate",
            "finalsharerate",
        ],
        path,
        year,
    )
    rows = raw[(_number(raw["performance_year"]) == year).to_numpy()]
    if rows.empty:
        raise InputError(f"no rows for PY{year}", path=str(path))
    tier = _track_from_flags(rows, _DERIVED_FLAGS, path)
    rows = rows.reset_index(drop=True)
    met = (_number(rows["met_qps"]) == 1).to_numpy()
    quality = _number(rows["qualscore"])
    if year in PASS_FAIL_QUALITY_YEARS:
        quality = pd.Series(np.where(met, 1.0, quality.fillna(0.0)))
    msr = _number(rows["minsavperc"])
    # PY2016-PY2017 rows have no ACO id in the merge: their (unique) name stands in.
    ids = rows["aco_id"].astype("string").fillna(rows["aco_name"].astype("string"))
    start = rows["current_start_date"].astype("string").str.split().str[0]
    return pd.DataFrame(
        {
            "practice_id": ids.astype(str).to_numpy(),
            "practice_name": rows["aco_name"].astype(str).to_numpy(),
            "tier": tier,
            "population": _number(rows["n_ab"]),
            "budget": _number(rows["abtotbnchmk"]),
            "actual_cost": _number(rows["abtotexp"]),
            "quality_score": quality,
            "met_quality_gate": met,
            "msr": np.where(_uses_table(tier), np.nan, msr),
            "loss_adjustment": _number(rows["disadj"]).fillna(0.0),
            "agreement_year": _agreement_year(start, year, "%m/%d/%Y"),
            "published_result": _number(rows["earnsaveloss"]),
            "published_savings": _number(rows["bnchmkminexp"]),
            "GenSaveLoss": _number(rows["gensaveloss"]),
            "MinSavPerc": msr,
            "QualPerfShare": _number(rows["maxsharerate"]),
            "FinalShareRate": _number(rows["finalsharerate"]),
            "quality_rounding": 0.0 if year in PASS_FAIL_QUALITY_YEARS else FOUR_DECIMALS,
            "msr_rounding": FOUR_DECIMALS if year >= 2019 else 0.0,  # 4 decimals from PY2019
        }
    )


def _uses_table(tier: np.ndarray) -> np.ndarray:
    """Rows whose preset computes the MSR from its table (no assigned rate needed)."""
    kinds = {t: preset_config(t).require_settlement().msr.kind for t in pd.unique(tier)}
    return pd.Series(tier).map(kinds).eq("table").to_numpy()


_READERS = {2013: _read_2013, 2014: _read_2014, 2018: _read_2018}


def _loss_limits(tier: np.ndarray, agreement_year: np.ndarray) -> np.ndarray:
    """Per-row loss limit where the track's rule is finer than its preset; NaN elsewhere."""
    years = sorted(TRACK2_LOSS_LIMIT_BY_AGREEMENT_YEAR)
    ay = np.clip(agreement_year, years[0], years[-1])
    track2 = pd.Series(ay).map(TRACK2_LOSS_LIMIT_BY_AGREEMENT_YEAR).to_numpy(float)
    other = pd.Series(tier).map(LOSS_LIMIT_BY_TRACK).to_numpy(float)
    return np.where(tier == "Track 2", track2, other)


def read_puf(path: str | Path, year: int) -> pd.DataFrame:
    """Read one performance year's MSSP Public Use File as the engine's practice summary.

    Returns one row per ACO with the summary columns ``settle_summary`` reads
    (practice_id = ACO id, practice_name, tier = track, population = N_AB, budget =
    ABtotBnchmk, actual_cost = ABtotExp, quality_score, met_quality_gate, msr where the
    ACO chose its own rate, loss_adjustment = DisAdj), ``agreement_year``,
    ``loss_limit`` (NaN: the preset's) and CMS's published columns for comparison
    (published_result = EarnSaveLoss, published_savings = BnchmkMinExp, GenSaveLoss,
    MinSavPerc as a fraction, QualPerfShare, FinalShareRate) with the rounding of the
    published quality score and MSR (half a unit of their last decimal; 0 if exact).

    Files: the PY2013, PY2014 and PY2018 PUFs as CMS published them (docs/mssp.md lists
    each year's quirks), or the derived all-years file for PY2016-PY2021. Raises
    ``InputError`` for a missing or unreadable file, a file that is not the year's PUF, or
    a year this loader cannot read.
    """
    path = Path(path)
    try:
        raw = pd.read_csv(
            path, encoding="utf-8-sig", dtype=str, keep_default_na=False, na_values=[""]
        )
    except FileNotFoundError:
        raise InputError("file not found", path=str(path)) from None
    except IsADirectoryError:
        raise InputError("a folder, not a PUF .csv file", path=str(path)) from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"cannot read as CSV ({exc})", path=str(path)) from None
    raw.columns = [str(c).strip() for c in raw.columns]
    if "performance_year" in raw.columns:
        if year not in DERIVED_YEARS:
            _unsupported(
                path,
                year,
                "the derived all-years file has track flags, Met_QPS "
                "and EarnSaveLoss only for PY" + _years(DERIVED_YEARS),
            )
        frame = _read_derived(raw, path, year)
    elif year in _READERS:
        frame = _READERS[year](raw, path)
    else:
        _unsupported(
            path,
            year,
            "PUFs are read as published for PY"
            + _years(PUBLISHED_YEARS)
            + "; for PY"
            + _years(DERIVED_YEARS)
            + " pass the derived all-years "
            "file (mssp_all_years_2013_2021_derived.csv)",
        )
    frame["loss_limit"] = _loss_limits(
        frame["tier"].to_numpy(str), frame["agreement_year"].to_numpy(np.int64)
    )
    _check_values(frame, path)
    return frame[SUMMARY_COLUMNS + PUBLISHED_COLUMNS].reset_index(drop=True)


def _years(years: tuple[int, ...]) -> str:
    return ", PY".join(str(y) for y in years)


def _unsupported(path: Path, year: int, why: str) -> None:
    raise InputError(
        Problem(
            table="mssp_puf",
            reason=Reason.UNSUPPORTED_YEAR,
            message=f"{path}: cannot check PY{year}: {why}",
        ),
        path=str(path),
    )


def _check_values(frame: pd.DataFrame, path: Path) -> None:
    if frame.empty:
        raise InputError("no ACO rows in the file", path=str(path))
    problems = []
    needed = ["population", "budget", "actual_cost", "quality_score", "published_result"]
    for column in needed:
        bad = frame[column].isna().to_numpy()
        if bad.any():
            problems.append(
                Problem(
                    table="mssp_puf",
                    reason=Reason.NOT_A_NUMBER,
                    column=column,
                    message=f"{path}: blank or non-numeric values",
                    rows=tuple(int(i) + 2 for i in np.flatnonzero(bad)[:5]),
                    row_count=int(bad.sum()),
                    examples=tuple(frame["practice_id"].to_numpy()[bad][:5]),
                )
            )
    bad = (frame["budget"] <= 0).to_numpy()
    if bad.any():
        problems.append(
            Problem(
                table="mssp_puf",
                reason=Reason.NON_POSITIVE_BENCHMARK,
                column="budget",
                message=f"{path}: the benchmark must be positive",
                rows=tuple(int(i) + 2 for i in np.flatnonzero(bad)[:5]),
                row_count=int(bad.sum()),
            )
        )
    # Layout check: the published gross savings is benchmark - expenditures (within $1 in
    # every year checked). When most rows disagree, the columns are not what we think
    # (e.g. a PY2013 file whose header was repaired): refuse rather than mis-settle.
    gap = (frame["budget"] - frame["actual_cost"] - frame["published_savings"]).abs()
    off = (gap > LAYOUT_TOLERANCE).to_numpy()
    if off.sum() > 0.1 * len(frame):
        problems.append(
            Problem(
                table="mssp_puf",
                reason=Reason.UNEXPECTED_LAYOUT,
                column="budget",
                message=f"{path}: benchmark - expenditures differs from the published gross "
                "savings (BnchmkMinExp) by more than $2: the columns are not in this year's "
                "published layout",
                rows=tuple(int(i) + 2 for i in np.flatnonzero(off)[:5]),
                row_count=int(off.sum()),
            )
        )
    dupes = frame["practice_id"].duplicated(keep=False).to_numpy()
    if dupes.any():
        problems.append(
            Problem(
                table="mssp_puf",
                reason=Reason.DUPLICATE_ID,
                column="practice_id",
                message=f"{path}: an ACO appears more than once",
                row_count=int(dupes.sum()),
                examples=tuple(pd.unique(frame["practice_id"].to_numpy()[dupes])[:5]),
            )
        )
    if problems:
        raise InputError(problems, path=str(path))


# ---------------------------------------------------------------------------------------
# Settling and comparing
# ---------------------------------------------------------------------------------------


