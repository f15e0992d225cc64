"""Settings, read from LAYERLAB_* environment variables. Every one is documented in README.md."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import Any

from engine.spec import Limits


_ENGINE = Limits()


def _cores() -> int:
    return os.cpu_count() or 1


def _boolean(raw: str) -> bool:
    """'1', 'true', 'yes', 'on' (any case) -> True; '0', 'false', 'no', 'off' -> False."""
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


@dataclass(frozen=True)
class Settings:
    """Server settings. `from_env` reads LAYERLAB_<NAME> for each field (upper case)."""

    host: str = "127.0.0.1"
    port: int = 8000
    # SQLAlchemy URL: SQLite by default; postgresql+psycopg://user:pass@host/db works too.
    database_url: str = "sqlite:///data/layerlab.db"
    log_level: str = "info"
    # Runs training at once; more wait as `queued`.
    max_concurrent_runs: int = field(default_factory=_cores)
    # Runs training an epoch at the same moment, whatever max_concurrent_runs is; the others take
    # turns, epoch by epoch. 0: one less than the cores (at least 1), so a core stays with the event loop.
    training_slots: int = 0
    # Runs waiting at once; beyond it POST /api/runs answers 429.
    max_queued_runs: int = 64
    # Per-run caps; the defaults are the engine's own (engine.spec.Limits).
    max_epochs: int = _ENGINE.max_epochs
    max_run_seconds: float = 1_800.0
    max_params: int = _ENGINE.max_params
    max_samples: int = _ENGINE.max_samples
    # Estimated activation memory of one batch (forward and backward), in MiB.
    max_activation_mib: int = _ENGINE.max_activation_mib
    # Uploaded CSV files.
    max_upload_bytes: int = 10 * 1024 * 1024
    # Any other request body (specs, sessions, controls).
    max_body_bytes: int = 256 * 1024
    # Websocket coalescing window and the largest client frame accepted.
    coalesce_ms: int = 50
    max_frame_bytes: int = 4096
    # How often a running run's history is written to the database.
    flush_seconds: float = 2.0
    # Base of share links, e.g. https://lab.example.org; empty: derived from each request's own URL.
    # Its host name is always allowed (allowed_hosts).
    public_url: str = ""
    # Host names the server answers to, comma-separated ('*': any). Empty: loopback names only
    # (127.0.0.1, localhost, ::1), which refuses DNS rebinding. A websocket's Origin must name one too.
    allowed_hosts: str = ""
    # Serve the OpenAPI pages /docs and /redoc (they load Swagger UI / ReDoc from a CDN). /openapi.json is always served.
    api_docs: bool = False
    # CSV uploads parsed at once; more answer 503 with Retry-After.
    max_concurrent_uploads: int = 2
    # Websocket clients: client frames per second (a burst of twice as many is allowed), messages
    # waiting for one client, and how long one send may wait for a client that does not read.
    ws_frames_per_second: int = 20
    ws_max_pending: int = 256
    ws_send_timeout_s: float = 10.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> "Settings":
        """Defaults, then LAYERLAB_* variables, then explicit overrides (e.g. CLI flags)."""
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"LAYERLAB_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            kind = type(getattr(cls(), f.name))
            try:
                values[f.name] = _boolean(raw) if kind is bool else kind(raw)
            except ValueError:
                raise ValueError(f"LAYERLAB_{f.name.upper()}={raw!r} is not a valid {kind.__name__}") from None
        return replace(cls(), **{**values, **overrides})

    def limits(self) -> Limits:
        """The engine's caps for a spec."""
        return Limits(max_params=self.max_params, max_epochs=self.max_epochs, max_samples=self.max_samples,
                      max_activation_mib=self.max_activation_mib)
