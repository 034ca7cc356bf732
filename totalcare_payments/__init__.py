"""totalcare_payments: Care Coordination Fees and shared-savings settlements for medical homes.

The Python API, for notebooks and scripts::

    from totalcare_payments import load_config, load_inputs, compute_ccf, parse_month_range
    config = load_config("configs/bluekc_medical_home.toml")
    data = load_inputs("sample_data", config)
    batch = compute_ccf(data, config, parse_month_range("2026-03"))
    batch.lines  # one payment line per practice per month; money in integer cents

The names above (and ``__version__``) are loaded on first use, so that importing a
light module of the package (``memory``, ``readahead``, ``schema``) does not load pandas.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .ccf import CcfBatch, compute_ccf
    from .config import ProgramConfig, load_config, parse_config
    from .inputs import ProgramData, load_inputs
    from .periods import format_period, parse_month_range, parse_year_month

_PUBLIC = {
    "CcfBatch": "ccf",
    "compute_ccf": "ccf",
    "ProgramConfig": "config",
    "load_config": "config",
    "parse_config": "config",
    "ProgramData": "inputs",
    "load_inputs": "inputs",
    "format_period": "periods",
    "parse_month_range": "periods",
    "parse_year_month": "periods",
}

__all__ = [
    "CcfBatch",
    "ProgramConfig",
    "ProgramData",
    "__version__",
    "compute_ccf",
    "format_period",
    "load_config",
    "load_inputs",
    "parse_config",
    "parse_month_range",
    "parse_year_month",
]


def __getattr__(name: str) -> object:
    if name == "__version__":
        globals()[name] = _version()
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


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("totalcare-payments")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0"


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC, "__version__"})
