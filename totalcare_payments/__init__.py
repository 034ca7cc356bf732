"""totalcare_payments: Care Coordination Fees and shared-savings settlements for medical homes.

The Python API, for notebooks and scripts::

    from totalcare_payments import preset, load_program, compute_ccf, parse_month_range
    config = preset("bluekc_medical_home")          # or load_config("my_program.toml")
    program = load_program("sample_data", config)
    batch = compute_ccf(program, config, parse_month_range("2026-03"))
    batch.lines  # one payment line per practice per month; money in integer cents

The names below (and ``__version__``) are loaded on first use, so that importing a
light module of the package (``process``, ``inputs.readahead``, ``cli``) does not load
pandas.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .ccf import CcfBatch, compute_ccf
    from .config import ProgramConfig, load_config, parse_config, preset
    from .jobs import (
        run_ccf,
        run_ccf_ledger,
        run_scenario_study,
        run_settlement,
        run_settlement_ledger,
    )
    from .periods import format_period, parse_month_range, parse_year_month
    from .program import Program, load_program, program_from_frames
    from .reasons import Reason
    from .savings.summary import settle_summary
    from .savings.waterfall import Settlement
    from .savings.year import compute_settlement

    __version__: str

#: Each public name and the module that defines it.
_PUBLIC = {
    "CcfBatch": "ccf",
    "compute_ccf": "ccf",
    "ProgramConfig": "config",
    "load_config": "config",
    "parse_config": "config",
    "preset": "config",
    "run_ccf": "jobs",
    "run_ccf_ledger": "jobs",
    "run_settlement": "jobs",
    "run_settlement_ledger": "jobs",
    "run_scenario_study": "jobs",
    "format_period": "periods",
    "parse_month_range": "periods",
    "parse_year_month": "periods",
    "Program": "program",
    "load_program": "program",
    "program_from_frames": "program",
    "Reason": "reasons",
    "Settlement": "savings.waterfall",
    "compute_settlement": "savings.year",
    "settle_summary": "savings.summary",
}

__all__ = [
    "CcfBatch",
    "Program",
    "ProgramConfig",
    "Reason",
    "Settlement",
    "__version__",
    "compute_ccf",
    "compute_settlement",
    "format_period",
    "load_config",
    "load_program",
    "parse_config",
    "parse_month_range",
    "parse_year_month",
    "preset",
    "program_from_frames",
    "run_ccf",
    "run_ccf_ledger",
    "run_scenario_study",
    "run_settlement",
    "run_settlement_ledger",
    "settle_summary",
]


def __getattr__(name: str) -> object:
    if name == "__version__":
        from .audit import tool_version

        globals()[name] = tool_version()
        return globals()[name]
    module = _PUBLIC.get(name)
    if module is None:  # a submodule, as ``totalcare_payments.inputs``
        try:
            return import_module(f".{name}", __name__)
        except ModuleNotFoundError:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # loaded once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC, "__version__"})
