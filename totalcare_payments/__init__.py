"""totalcare_payments: Care Coordination Fees and shared-savings settlements for medical homes.

The Python API, for notebooks and scripts::

    from totalcare_payments import load_config, load_inputs, compute_ccf, parse_month_range
    config = load_config("configs/bluekc_medical_home.toml")
    data = load_inputs("sample_data", config)
    batch = compute_ccf(data, config, parse_month_range("2026-03"))
    batch.lines  # one payment line per practice per month; money in integer cents
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("totalcare-payments")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

from .ccf import CcfBatch, compute_ccf
from .config import ProgramConfig, load_config, parse_config
from .inputs import ProgramData, load_inputs
from .periods import format_period, parse_month_range, parse_year_month

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
