"""Reading a program's terms: a TOML file, or one of the presets shipped with the package.

A config remembers where it came from (``ProgramConfig.source``) and the sha256 of
the bytes it was read from (``ProgramConfig.sha256``), so a run's manifest can name
them; a config built in code is fingerprinted by its canonical JSON instead.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from ..audit import bytes_sha256
from ..errors import ConfigError
from .terms import ProgramConfig

#: The program a command settles when no ``--config`` is given.
DEFAULT_PRESET = "bluekc_medical_home"


def _key_path(loc: tuple[object, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def parse_config(data: dict, *, source: str = "config") -> ProgramConfig:
    """Validate a config mapping; errors name every failing key path and its reason."""
    try:
        return ProgramConfig.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key (check the spelling)"
            lines.append(f"  {_key_path(err['loc'])}: {msg}")
        raise ConfigError(f"{source}: invalid config\n" + "\n".join(lines)) from None


def _from_bytes(raw: bytes, source: str) -> ProgramConfig:
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    config = parse_config(data, source=source)
    config.remember_source(source, bytes_sha256(raw))
    return config


def preset_names() -> list[str]:
    """The programs shipped with the package, by name."""
    folder = resources.files(__package__.rsplit(".", 1)[0]).joinpath("presets")
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def preset_text(name: str) -> str:
    """The TOML text of a shipped program (to copy and edit)."""
    if name not in preset_names():
        raise ConfigError(
            f"'{name}' is not a config file or a shipped program; the programs are: "
            + ", ".join(preset_names())
        )
    folder = resources.files(__package__.rsplit(".", 1)[0]).joinpath("presets")
    return folder.joinpath(f"{name}.toml").read_text(encoding="utf-8")


def preset(name: str) -> ProgramConfig:
    """A program shipped with the package, by name: ``preset("bluekc_medical_home")``."""
    return _from_bytes(preset_text(name).encode("utf-8"), f"preset:{name}")


def load_config(path_or_preset: str | Path) -> ProgramConfig:
    """Read and validate a program config: a TOML file, or the name of a shipped preset."""
    path = Path(path_or_preset)
    if not path.exists() and path.suffix != ".toml" and path.name == str(path_or_preset):
        return preset(str(path_or_preset))
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: config file not found (a shipped program is named without .toml: "
            + ", ".join(preset_names())
            + ")"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from None
    return _from_bytes(raw, str(path))
