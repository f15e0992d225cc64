"""docker-compose.yml and the Dockerfile, checked without a Docker engine: the YAML parses, and
everything in it that the server reads is real (CLI options, LAYERLAB_* settings, paths, the health URL).
The `cluster` profile's services are checked the same way, with the nginx config and Ray's own CLI."""

from __future__ import annotations

import re
import shlex
import subprocess
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from sqlalchemy.engine import make_url

from clusterkit import NGINX, NGINX_CONF, nginx_available
from server.cli import build_parser
from server.settings import Settings
from serverkit import ROOT

FIELDS = set(Settings.model_fields)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def service(compose: dict[str, Any]) -> dict[str, Any]:
    default = [name for name, svc in compose["services"].items() if not svc.get("profiles")]
    assert default == ["layerlab"]  # plain `docker compose up`: one container on SQLite
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
    assert "npm ci" in dockerfile and 'pip install -e ".[cluster]"' in dockerfile
    extras = re.search(r"^cluster = \[(.*)\]$", (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    assert '"ray' in extras
    for src in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, re.M):
        for path in src.split():
            assert (ROOT / path).exists(), f"COPY {path}: not in the repository"
    for needed in ("engine", "server", "templates", "static", "node_modules"):
        assert re.search(rf"^COPY .*\b{needed}\b", dockerfile, re.M), needed


# -- the cluster profile ------------------------------------------------------------------------------
CLUSTER = ["postgres", "ray-head", "ray-worker", "web", "lb"]


@pytest.fixture(scope="module")
def cluster(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services = {n: s for n, s in compose["services"].items() if "cluster" in s.get("profiles", [])}
    assert list(services) == CLUSTER
    return services


def _argv(svc: dict[str, Any]) -> list[str]:
    cmd = svc["command"]
    return shlex.split(cmd) if isinstance(cmd, str) else list(cmd)


def test_every_cluster_service_has_a_health_check_and_the_scaled_ones_can_scale(cluster: dict[str, Any]) -> None:
    for name, svc in cluster.items():
        assert svc["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
    for name in ("web", "ray-worker"):  # --scale N: no fixed name, no host port
        assert "container_name" not in cluster[name] and "ports" not in cluster[name], name
    assert [p.split(":", 1)[0] for p in cluster["lb"]["ports"]] == ["127.0.0.1"]  # loopback only, as the default


def test_postgres_keeps_its_data_on_a_volume_and_web_reaches_it(compose: dict[str, Any],
                                                                cluster: dict[str, Any]) -> None:
    pg = cluster["postgres"]
    (volume,) = pg["volumes"]
    source, target = volume.split(":")[:2]
    assert target == "/var/lib/postgresql/data" and source in compose["volumes"]
    assert "pg_isready" in pg["healthcheck"]["test"]
    env = _env(cluster["web"])
    url = make_url(env["LAYERLAB_DATABASE_URL"])
    assert url.drivername == "postgresql+psycopg" and url.host == "postgres"
    pg_env = pg["environment"]
    assert (url.username, url.password, url.database) == (pg_env["POSTGRES_USER"], pg_env["POSTGRES_PASSWORD"],
                                                          pg_env["POSTGRES_DB"])
    assert set(cluster["web"]["depends_on"]) == {"postgres", "ray-head"}


def test_web_runs_a_real_serve_command_with_real_settings_on_ray(cluster: dict[str, Any]) -> None:
    web = cluster["web"]
    argv = _argv(web)
    assert argv[:2] == ["sh", "-c"]
    join, serve = argv[2].split(" && exec ")
    serve_args = build_parser().parse_args(shlex.split(serve)[1:])  # argparse exits on an unknown option
    assert shlex.split(serve)[0] == "layerlab" and serve_args.command == "serve" and serve_args.port == 8000
    env = _env(web)
    for var in env:
        assert var == "RAY_AUTH_MODE" or var[len("LAYERLAB_"):].lower() in FIELDS, var
    settings = Settings.from_env({k: v for k, v in env.items() if k.startswith("LAYERLAB_")})
    assert settings.executor == "ray" and settings.ray_address == "auto"
    # the replica joins the cluster as a node of its own (a driver needs a local raylet), at the head's port
    head_port = _argv(cluster["ray-head"])[_argv(cluster["ray-head"]).index("--port") + 1]
    assert shlex.split(join)[:4] == ["ray", "start", "--address", f"ray-head:{head_port}"]
    assert "--head" not in join and "--num-cpus 0" in join


@pytest.mark.slow  # `ray start --help` imports ray
def test_ray_commands_use_options_ray_has(cluster: dict[str, Any]) -> None:
    import subprocess

    ray = ROOT / ".venv" / "bin" / "ray"
    if not ray.exists():
        pytest.skip("ray is not installed (pip install -e .[cluster])")
    helps = {sub: subprocess.run([str(ray), sub, "--help"], capture_output=True, text=True, timeout=120).stdout
             for sub in ("start", "health-check")}
    web_join = shlex.split(_argv(cluster["web"])[2].split(" && ")[0])
    commands = [_argv(cluster["ray-head"]), _argv(cluster["ray-worker"]), web_join]
    commands += [svc["healthcheck"]["test"][1:] for svc in (cluster["ray-head"], cluster["ray-worker"])]
    for cmd in commands:
        assert cmd[0] == "ray" and cmd[1] in helps, cmd
        for opt in (a for a in cmd[2:] if a.startswith("--")):
            assert re.search(rf"^\s+{re.escape(opt)}\b", helps[cmd[1]], re.M), (cmd[1], opt)
    head = _argv(cluster["ray-head"])
    port = head[head.index("--port") + 1]
    assert _argv(cluster["ray-worker"])[_argv(cluster["ray-worker"]).index("--address") + 1] == f"ray-head:{port}"


def test_the_load_balancer_passes_websockets_to_every_web_replica(cluster: dict[str, Any]) -> None:
    lb = cluster["lb"]
    (mount,) = lb["volumes"]
    source, target = mount.split(":")[:2]
    assert target == "/etc/nginx/nginx.conf"
    conf = (ROOT / source).read_text()
    web_port = build_parser().parse_args(shlex.split(_argv(cluster["web"])[2].split(" && exec ")[1])[1:]).port
    assert re.search(rf"set \$web http://web:{web_port};", conf) and "proxy_pass $web;" in conf
    assert "proxy_http_version 1.1;" in conf
    assert re.search(r"proxy_set_header Upgrade \$http_upgrade;", conf)
    assert re.search(r"proxy_set_header Connection \$connection_upgrade;", conf)
    assert "resolver 127.0.0.11" in conf  # Docker's DNS, so scaled replicas are found
    assert conf.count("{") == conf.count("}")
    assert lb["ports"][0].rsplit(":", 1)[1] == "80" and re.search(r"^\s+listen 80;", conf, re.M)


def test_nginx_accepts_the_shipped_config_as_it_is(tmp_path) -> None:
    """`nginx -t` on scripts/nginx.conf itself (Docker's DNS name is resolved per request, not at start);
    test_cluster.py then runs the same file, with its Docker-only lines swapped, in front of two replicas."""
    why = nginx_available()
    if why:
        pytest.skip(why)
    out = subprocess.run([str(NGINX), "-t", "-p", str(tmp_path), "-c", str(NGINX_CONF), "-e", str(tmp_path / "err"),
                          "-g", f"pid {tmp_path / 'pid'};"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "test is successful" in out.stderr, out.stderr
