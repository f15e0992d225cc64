"""Throwaway cluster parts for the tests: a real PostgreSQL (initdb + pg_ctl) and a real Ray head
(`ray start --head`), each in its own temporary folder on a free loopback port, and torn down after.

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

    def __init__(self, num_cpus: int = 2) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="layerlab-ray-"))
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.log = self.dir / "head.log"
        env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [str(RAY), "start", "--head", "--block", "--port", str(self.port), "--node-ip-address", "127.0.0.1",
                 "--temp-dir", str(self.dir / "t"), "--include-dashboard=false", "--num-cpus", str(num_cpus),
                 "--num-gpus", "0", "--object-store-memory", str(200 * 1024 * 1024), "--disable-usage-stats"],
                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + 90
        while b"Ray runtime started" not in self.log.read_bytes():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                text = self.log.read_text(errors="replace")[-3000:]
                self.close()
                raise RuntimeError(f"ray head did not start:\n{text}")
            time.sleep(0.2)

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        # Workers are children of the raylet, in the same group; anything left gets SIGKILL.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)
