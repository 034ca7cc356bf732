"""A program's terms: pydantic models of the TOML sections, and reading them.

``load_config(path_or_name)`` reads a TOML file or a shipped preset; ``preset(name)``
a shipped preset; ``parse_config(dict)`` a mapping built in code.
"""

from .load import DEFAULT_PRESET, load_config, parse_config, preset, preset_names, preset_text
from .terms import (
    BudgetTerms,
    CcfTerms,
    CheckTerms,
    ColumnFormat,
    CompletionTerms,
    InputFormats,
    LedgerTerms,
    LinearRate,
    LossTerms,
    MemberTiers,
    MsrBand,
    MsrTerms,
    ProgramConfig,
    ProgramTerms,
    QualityTerms,
    RateBand,
    RiskTerms,
    SettlementTerms,
    SharingTerms,
    StopLoss,
    TerminationTerms,
)

__all__ = [
    "DEFAULT_PRESET",
    "BudgetTerms",
    "CcfTerms",
    "CheckTerms",
    "ColumnFormat",
    "CompletionTerms",
    "InputFormats",
    "LedgerTerms",
    "LinearRate",
    "LossTerms",
    "MemberTiers",
    "MsrBand",
    "MsrTerms",
    "ProgramConfig",
    "ProgramTerms",
    "QualityTerms",
    "RateBand",
    "RiskTerms",
    "SettlementTerms",
    "SharingTerms",
    "StopLoss",
    "TerminationTerms",
    "load_config",
    "parse_config",
    "preset",
    "preset_names",
    "preset_text",
]
