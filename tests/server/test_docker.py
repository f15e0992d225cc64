"""docker-compose.yml and the Dockerfile, checked without a Docker engine: the YAML parses, and
everything in it that the server reads is real (CLI options, LAYERLAB_* settings, paths, the health URL)."""

from __future__ import annotations

import re
import shlex
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from sqlalchemy.engine import make_url

from server.cli import build_parser
from server.settings import Settings
from serverkit import ROOT

FIELDS = set(Settings.model_fields)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def service(compose: dict[str, Any]) -> dict[str, Any]:
    assert list(compose["services"]) == ["layerlab"]
    return compose["services"]["layerlab"]


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service["environment"]
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def _cmd(dockerfile: str) -> list[str]:
    return yaml.safe_load(re.search(r"^CMD (\[.*\])$", dockerfile, re.M).group(1))


def test_the_command_is_a_real_serve_command(service: dict[str, Any], dockerfile: str) -> None:
    command = service["command"]
    command = shlex.split(command) if isinstance(command, str) else command
    assert command == _cmd(dockerfile) == ["layerlab", "serve", "--host", "0.0.0.0", "--port", "8000"]
    args = build_parser().parse_args(command[1:])  # argparse exits on an unknown option
    assert args.command == "serve" and args.host == "0.0.0.0" and args.port == 8000
    published = [str(p) for p in service["ports"]]
    assert [p.rsplit(":", 1)[1] for p in published] == [str(args.port)]


def test_every_variable_is_a_setting_with_a_valid_value(service: dict[str, Any]) -> None:
    env = _env(service)
    assert env, "no settings"
    for var in env:
        assert var.startswith("LAYERLAB_"), var
        assert var[len("LAYERLAB_"):].lower() in FIELDS, f"{var} is not a Settings field"
    settings = Settings.from_env(env)  # raises on a value of the wrong type
    assert settings.max_concurrent_runs >= 1 and settings.flush_seconds > 0


def test_the_database_lives_on_the_named_volume(compose: dict[str, Any], service: dict[str, Any],
                                                dockerfile: str) -> None:
    url = make_url(_env(service)["LAYERLAB_DATABASE_URL"])
    assert url.get_backend_name() == "sqlite" and url.database == "/data/layerlab.db"
    mounts = {}
    for v in service["volumes"]:
        source, target = v.split(":")[:2]
        mounts[target] = source
    assert mounts == {"/data": "layerlab-data"}
    assert "layerlab-data" in compose["volumes"]  # named, so it outlives the container
    # the image agrees: same URL by default, and /data exists for the unprivileged user
    assert "LAYERLAB_DATABASE_URL=sqlite:////data/layerlab.db" in dockerfile
    assert re.search(r"mkdir -p /data && chown layerlab /data", dockerfile)


def test_the_healthcheck_hits_api_health_on_the_served_port(service: dict[str, Any]) -> None:
    check = service["healthcheck"]
    test = " ".join(check["test"]) if isinstance(check["test"], list) else check["test"]
    urls = re.findall(r"https?://[^\s'\"]+", test)
    assert len(urls) == 1
    u = urlparse(urls[0])
    assert u.path == "/api/health" and u.port == 8000 and u.hostname in ("127.0.0.1", "localhost")
    assert check["test"][0] in ("CMD", "CMD-SHELL") and "curl" not in test  # python:3.11-slim has no curl


def test_the_dockerfile_builds_from_the_pinned_pieces(dockerfile: str) -> None:
    froms = re.findall(r"^FROM (\S+)", dockerfile, re.M)
    assert froms[-1] == "python:3.11-slim"
    pin = re.search(r'"torch==([\d.]+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    assert f'pip install "torch=={pin}"' in dockerfile
    assert "npm ci" in dockerfile and "pip install -e ." in dockerfile
    for src in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, re.M):
        for path in src.split():
            assert (ROOT / path).exists(), f"COPY {path}: not in the repository"
    for needed in ("engine", "server", "templates", "static", "node_modules"):
        assert re.search(rf"^COPY .*\b{needed}\b", dockerfile, re.M), needed
