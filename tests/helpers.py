"""Helpers the tests share: the project's folders, configs built from dicts, small programs.

Fixtures are in ``conftest.py``; these are plain functions and constants, imported by name
(``from helpers import make_config``).
"""

from __future__ import annotations

import copy
import os
import tomllib
from pathlib import Path

import pandas as pd

from totalcare_payments.config import ProgramConfig, parse_config

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "totalcare_payments" / "presets"
DEFAULT_CONFIG = CONFIGS / "bluekc_medical_home.toml"
SAMPLE = ROOT / "sample_data"


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
