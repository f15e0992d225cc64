"""Settings come from LAYERLAB_* variables; `layerlab serve` flags override a few and say which."""

from __future__ import annotations

import os
import re
import subprocess
from typing import get_args

import pytest

from server.cli import build_parser
from server.settings import Settings
from serverkit import LAYERLAB, ROOT

FIELDS = list(Settings.model_fields)


def _other_value(name: str) -> tuple[str, object]:
    """A value for the field that is not its default, as text and as the expected Python value."""
    default = getattr(Settings(), name)
    if isinstance(default, bool):  # before int: a bool is an int
        return ("false" if default else "true"), not default
    choices = get_args(Settings.model_fields[name].annotation)
    if choices:  # a Literal: another of its choices
        other = next(c for c in choices if c != default)
        return other, other
    if isinstance(default, str):
        return f"x-{name}", f"x-{name}"
    if isinstance(default, int):
        return str(default + 7), default + 7
    return str(default + 0.25), default + 0.25


def test_from_env_reads_every_field() -> None:
    env = {f"LAYERLAB_{name.upper()}": _other_value(name)[0] for name in FIELDS}
    s = Settings.from_env(env)
    for name in FIELDS:
        expected = _other_value(name)[1]
        assert getattr(s, name) == expected != getattr(Settings(), name), name
        assert type(getattr(s, name)) is type(getattr(Settings(), name)), name


def test_from_env_defaults_empty_values_and_overrides() -> None:
    assert Settings.from_env({}) == Settings()
    assert Settings.from_env({"LAYERLAB_PORT": "", "PORT": "1"}) == Settings()
    s = Settings.from_env({"LAYERLAB_PORT": "9000", "LAYERLAB_HOST": "0.0.0.0"}, port=9001)
    assert (s.host, s.port) == ("0.0.0.0", 9001)  # explicit overrides (CLI flags) win
    assert Settings.from_env({"LAYERLAB_FLUSH_SECONDS": "3"}).flush_seconds == 3.0


@pytest.mark.parametrize("name,raw", [("port", "eighty"), ("max_concurrent_runs", "1.5"), ("flush_seconds", "soon"),
                                      ("executor", "threads")])
def test_a_bad_value_names_its_variable(name: str, raw: str) -> None:
    var = f"LAYERLAB_{name.upper()}"
    with pytest.raises(ValueError, match=f"{var}='{re.escape(raw)}' is not a valid"):
        Settings.from_env({var: raw})


@pytest.mark.parametrize("raw,value", [("1", True), ("TRUE", True), ("on", True), ("0", False), ("no", False)])
def test_a_boolean_setting_reads_the_usual_words(raw: str, value: bool) -> None:
    assert Settings.from_env({"LAYERLAB_API_DOCS": raw}).api_docs is value


def test_a_boolean_setting_refuses_other_words() -> None:
    with pytest.raises(ValueError, match="LAYERLAB_API_DOCS='maybe' is not a valid bool"):
        Settings.from_env({"LAYERLAB_API_DOCS": "maybe"})
def test_a_bad_choice_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"LAYERLAB_EXECUTOR='threads' is not a valid choice of local, ray$"):
        Settings.from_env({"LAYERLAB_EXECUTOR": "threads"})


def test_ray_workers_is_a_count_of_trainers() -> None:
    assert Settings.from_env({"LAYERLAB_RAY_WORKERS": "0"}).ray_workers == 0  # 0: one per CPU of the cluster
    assert Settings.from_env({"LAYERLAB_RAY_WORKERS": "3"}).ray_workers == 3
    with pytest.raises(ValueError, match=r"^LAYERLAB_RAY_WORKERS='-1' is not a valid int "
                                         r"\(input should be greater than or equal to 0\)$"):
        Settings.from_env({"LAYERLAB_RAY_WORKERS": "-1"})  # no CPU trainer: CPU runs would queue forever


def test_settings_ignore_the_environment_unless_read_from_it(monkeypatch) -> None:
    monkeypatch.setenv("LAYERLAB_PORT", "9123")
    assert Settings().port == 8000  # a test's Settings(...) never picks up the shell's variables
    assert Settings.from_env().port == 9123


def test_settings_limits_feed_the_engine() -> None:
    limits = Settings(max_params=10, max_epochs=20, max_samples=30, max_activation_mib=40).limits()
    assert (limits.max_params, limits.max_epochs, limits.max_samples, limits.max_activation_mib) == (10, 20, 30, 40)


def test_every_variable_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"`LAYERLAB_([A-Z_]+)`", readme))
    assert documented == {name.upper() for name in FIELDS}


@pytest.mark.slow  # a subprocess that imports torch
def test_serve_help_options_match_the_settings() -> None:
    """Each flag of `layerlab serve --help` names the LAYERLAB_* variable (a Settings field) it overrides."""
    out = subprocess.run([str(LAYERLAB), "serve", "--help"], capture_output=True, text=True, timeout=60, check=True,
                         env={k: v for k, v in os.environ.items() if not k.startswith("LAYERLAB_")}).stdout
    options = out[out.index("options:"):]
    # each option with its (possibly wrapped) help text, up to the next option
    flags = dict(re.findall(r"^\s+--([a-z-]+) [A-Z]+\s+(.*?)(?=^\s+--|\Z)", options, re.M | re.S))
    assert set(flags) == {"host", "port", "db"}
    field_of = {"host": "host", "port": "port", "db": "database_url"}
    for flag, text in flags.items():
        assert re.findall(r"\$LAYERLAB_([A-Z_]+)", text) == [field_of[flag].upper()], (flag, text)
        assert field_of[flag] in FIELDS
    # the parser behind the help is the one main() uses
    args = build_parser().parse_args(["serve", "--host", "0.0.0.0", "--port", "9", "--db", "x.db"])
    assert (args.host, args.port, args.db) == ("0.0.0.0", 9, "x.db")


@pytest.mark.slow  # a subprocess that imports torch
def test_serve_refuses_a_bad_variable_with_a_message() -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("LAYERLAB_")}, "LAYERLAB_PORT": "eighty"}
    p = subprocess.run([str(LAYERLAB), "serve"], capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode != 0
    assert "LAYERLAB_PORT='eighty' is not a valid int" in p.stderr
