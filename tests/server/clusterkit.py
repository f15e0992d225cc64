"""Throwaway cluster parts for the tests: a real PostgreSQL (initdb + pg_ctl), a real Ray head
(`ray start --head`) and a real nginx on the shipped scripts/nginx.conf, each in its own temporary
folder on a free loopback port, and torn down after.

PostgreSQL refuses to run as root, so as root its commands run as the `postgres` user through
`runuser -u postgres --` (Debian's postgresql package makes that user); as anyone else, directly.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Optional

PG_BIN = Path(os.environ.get("LAYERLAB_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
ROOT = Path(__file__).resolve().parents[2]
RAY = ROOT / ".venv" / "bin" / "ray"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_available() -> Optional[str]:
    """None when a PostgreSQL can be started here, else why not."""
    if not (PG_BIN / "initdb").exists():
        return f"no initdb in {PG_BIN} (make setup installs Debian's postgresql)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser"
    return None


class Postgres:
    """A PostgreSQL server of its own: `url(name)` gives a fresh database on it."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="layerlab-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.user = "layerlab"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.dir, "postgres")
        self._pg("initdb", "-D", str(self.data), "-U", self.user, "--auth=trust", "--no-sync", "-E", "UTF8")
        self.start()

    def _pg(self, tool: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        cmd = [str(PG_BIN / tool), *args]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=timeout)

    def start(self) -> None:
        """pg_ctl start on loopback only; fsync off (a test database need not survive a power cut)."""
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off -c max_connections=200"
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-o", opts, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stop, stay down a while, start again (what a brief PostgreSQL restart looks like)."""
        self.stop("immediate")
        time.sleep(down_seconds)
        self.start()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class RayHead:
    """`ray start --head --block` in its own process group; closed by killing that group (never `ray stop`,
    which would stop every Ray on the machine)."""

    def __init__(self, num_cpus: int = 2, num_gpus: int = 0) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="layerlab-ray-"))
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.log = self.dir / "head.log"
        env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [str(RAY), "start", "--head", "--block", "--port", str(self.port), "--node-ip-address", "127.0.0.1",
                 "--temp-dir", str(self.dir / "t"), "--include-dashboard=false", "--num-cpus", str(num_cpus),
                 "--num-gpus", str(num_gpus), "--object-store-memory", str(200 * 1024 * 1024), "--disable-usage-stats"],
                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + 90
        while b"Ray runtime started" not in self.log.read_bytes():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                text = self.log.read_text(errors="replace")[-3000:]
                self.close()
                raise RuntimeError(f"ray head did not start:\n{text}")
            time.sleep(0.2)

    def close(self) -> None:
        # SIGKILL at once: a throwaway head has nothing to save, and `ray start --block` given SIGTERM took
        # over 5 s to stop its raylet. The GCS, the raylet and every worker are in the group.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


# -- the load balancer: Debian's nginx, on the config docker-compose.yml ships -------------------------
NGINX = Path(os.environ.get("LAYERLAB_TEST_NGINX", "/usr/sbin/nginx"))
NGINX_CONF = ROOT / "scripts" / "nginx.conf"
# What differs between the compose network and this machine, each line found once in the shipped config:
# Docker's DNS name `web` (re-resolved, so every scaled replica is found) becomes an upstream group of
# the replicas' loopback ports, and port 80 a free loopback port. Everything else is the file as shipped.
_DOCKER_ONLY = {
    "resolver 127.0.0.11 valid=10s ipv6=off;": "{upstream}",
    "set $web http://web:8000;": "set $web http://layerlab_web;",
    "listen 80;": "listen 127.0.0.1:{port};",
}


def nginx_available() -> Optional[str]:
    """None when nginx can be run here, else why not."""
    if not NGINX.exists():
        return f"no nginx at {NGINX} (make setup installs Debian's nginx)"
    return None


def nginx_conf(shipped: str, port: int, backends: list[str], dir: Path) -> str:
    """The shipped nginx config for loopback: `port`, round robin over `backends`, its files in `dir`."""
    servers = " ".join(f"server {b};" for b in backends)
    # zone: one round-robin state for all of nginx's worker processes, as Docker's DNS answers give.
    upstream = (f"upstream layerlab_web {{ zone layerlab_web 64k; {servers} }}\n"
                "    log_format upstream '$request_method $uri $status $upstream_addr';\n"
                f"    access_log {dir}/access.log upstream;\n"
                + "".join(f"    {kind}_temp_path {dir}/{kind};\n"
                          for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")))
    out = shipped
    for line, new in _DOCKER_ONLY.items():
        assert out.count(line) == 1, f"scripts/nginx.conf no longer has {line!r} once: update clusterkit"
        out = out.replace(line, new.format(upstream=upstream, port=port))
    # As root, nginx's workers would drop to `nobody`, who cannot enter the test's private temp folder.
    head = f"pid {dir}/nginx.pid;\n" + ("user root;\n" if os.geteuid() == 0 else "")
    return head + out


class Nginx:
    """nginx in the foreground, in its own process group, on the shipped config (see nginx_conf)."""

    def __init__(self, backends: list[str]) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="layerlab-nginx-"))
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.ws_base = f"ws://127.0.0.1:{self.port}"
        conf = self.dir / "nginx.conf"
        conf.write_text(nginx_conf(NGINX_CONF.read_text(), self.port, backends, self.dir))
        self.error_log = self.dir / "error.log"
        cmd = [str(NGINX), "-p", str(self.dir), "-c", str(conf), "-e", str(self.error_log), "-g", "daemon off;"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 20
        while not self._listening():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                text = self.error_log.read_text(errors="replace") if self.error_log.exists() else ""
                self.close()
                raise RuntimeError(f"nginx did not start:\n{text[-3000:]}")
            time.sleep(0.05)

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            return True
        except OSError:
            return False

    def upstreams(self) -> list[tuple[str, str, str, str]]:
        """(method, path, status, replica address) of every request logged so far (a websocket's once closed)."""
        log = self.dir / "access.log"
        lines = log.read_text().splitlines() if log.exists() else []
        return [tuple(line.split(" ", 3)) for line in lines]  # type: ignore[misc]

    def close(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(5)
                break
            except subprocess.TimeoutExpired:
                continue
        shutil.rmtree(self.dir, ignore_errors=True)
