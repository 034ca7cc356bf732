"""The package as a user installs it: the wheel carries the presets, the `totalcare` script
and `python -m totalcare_payments` run from anywhere, and the public API resolves."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
from helpers import ROOT, SAMPLE

import totalcare_payments
from totalcare_payments.config import load_config, preset, preset_names, preset_text
from totalcare_payments.errors import ConfigError


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel built from this checkout installed in it (no editable
    install, no source tree on the path). Its dependencies are taken from the test run's
    environment (a path file), so nothing is downloaded for them."""
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work), str(ROOT)],
        check=True,
        capture_output=True,
    )
    wheel = next(work.glob("totalcare_payments-*.whl"))
    env_dir = work / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # the test run's site-packages holds the dependencies; its .pth files (the editable
    # install of this checkout among them) are not read from a directory added this way
    Path(purelib, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
        check=True,
        capture_output=True,
    )
    return env_dir


def _run(env_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, env=_env(env_dir))


def _env(env_dir: Path) -> dict[str, str]:
    return {"PATH": f"{env_dir / 'bin'}:/usr/bin:/bin", "HOME": str(env_dir)}


@pytest.mark.slow
def test_the_installed_wheel_pays_and_settles_the_sample_program(
    installed: Path, tmp_path: Path
) -> None:
    where = _run(
        installed,
        "python",
        "-c",
        "import totalcare_payments.config as c; print(c.__file__)",
        cwd=tmp_path,
    )
    assert where.returncode == 0, where.stderr
    assert where.stdout.startswith(str(installed))  # the installed copy, not the checkout
    ccf = _run(
        installed,
        "totalcare",
        "ccf",
        "--month",
        "2026-03",
        "--data",
        str(SAMPLE),
        "--out",
        "ccf",
        cwd=tmp_path,
    )
    assert ccf.returncode == 0, ccf.stdout + ccf.stderr
    settle = _run(
        installed,
        "python",
        "-m",
        "totalcare_payments",
        "settle",
        "--year",
        "2026",
        "--data",
        str(SAMPLE),
        "--out",
        "settle",
        cwd=tmp_path,
    )
    assert settle.returncode == 0, settle.stdout + settle.stderr
    ccf_manifest = json.loads((tmp_path / "ccf" / "manifest.json").read_text())
    batch = next(t for t in ccf_manifest["control_totals"] if t["scope"] == "batch")
    assert batch["ccf_amount"] == "2378.10"  # March 2026 on the sample program
    assert ccf_manifest["config"]["source"] == "preset:bluekc_medical_home"
    settle_manifest = json.loads((tmp_path / "settle" / "manifest.json").read_text())
    program = next(t for t in settle_manifest["control_totals"] if t["scope"] == "program")
    assert program["final_payment"] == "36418.58"
    listing = _run(installed, "totalcare", "presets", cwd=tmp_path)
    assert listing.returncode == 0 and "cpc_plus_track1" in listing.stdout


def test_presets_are_package_data() -> None:
    names = preset_names()
    assert "bluekc_medical_home" in names and "cpc_plus_track1" in names
    shipped = sorted(p.stem for p in (ROOT / "totalcare_payments" / "presets").glob("*.toml"))
    assert names == shipped
    config = preset("bluekc_medical_home")
    assert config.source == "preset:bluekc_medical_home"
    assert load_config("bluekc_medical_home").sha256 == config.sha256
    assert preset_text("cpc_plus_track1").startswith("#")


def test_a_name_that_is_neither_file_nor_preset_names_the_presets() -> None:
    with pytest.raises(ConfigError, match="bluekc_medical_home"):
        load_config("bluekc")
    with pytest.raises(ConfigError, match="config file not found"):
        load_config("missing.toml")


def test_a_config_built_in_code_has_a_fingerprint_of_its_terms() -> None:
    base = preset("bluekc_medical_home")
    rebuilt = type(base).model_validate(base.model_dump())
    assert rebuilt.source == "<in memory>"
    assert rebuilt.sha256 == type(base).model_validate(base.model_dump()).sha256
    changed = type(base).model_validate(
        {**base.model_dump(), "program": {**base.program.model_dump(), "name": "other"}}
    )
    assert changed.sha256 != rebuilt.sha256


def test_the_public_api_resolves_to_the_defining_modules() -> None:
    from totalcare_payments.ccf import compute_ccf
    from totalcare_payments.program import load_program

    assert totalcare_payments.compute_ccf is compute_ccf
    assert totalcare_payments.load_program is load_program
    for name in totalcare_payments.__all__:
        assert getattr(totalcare_payments, name) is not None, name
    with pytest.raises(AttributeError):
        totalcare_payments.no_such_name  # noqa: B018


def test_the_command_line_names_the_default_program_as_the_config_does() -> None:
    """The command line names the default preset without loading pydantic; it is the one
    the config package names."""
    import inspect

    from totalcare_payments.cli import app as cli_app
    from totalcare_payments.cli.scenarios import scenarios
    from totalcare_payments.config import DEFAULT_PRESET

    assert cli_app.DEFAULT_PRESET == DEFAULT_PRESET
    assert inspect.signature(scenarios).parameters["config"].default == DEFAULT_PRESET
    assert DEFAULT_PRESET in preset_names()
