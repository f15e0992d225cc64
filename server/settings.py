"""Settings, read from LAYERLAB_* environment variables by pydantic-settings. Every one is documented
in README.md."""

from __future__ import annotations

import os
from contextvars import ContextVar
from typing import Any, Literal, Mapping, Optional, get_args, get_origin

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from engine.spec import Limits


_ENGINE = Limits()
# The environment that `from_env` reads; unset, `Settings(...)` is its defaults and arguments only,
# so that a test's Settings never picks up a variable of the shell that started it.
_ENV: ContextVar[Optional[Mapping[str, str]]] = ContextVar("layerlab_settings_env", default=None)


def _cores() -> int:
    return os.cpu_count() or 1


class _MappingEnv(EnvSettingsSource):
    """pydantic-settings' own environment source, reading the mapping `from_env` was given."""

    def _load_env_vars(self) -> Mapping[str, Optional[str]]:
        env = _ENV.get()
        # LAYERLAB_* only, lower-cased as the source expects (case-insensitive names); empty is unset.
        return {k.lower(): v for k, v in (env or {}).items() if k.upper().startswith("LAYERLAB_") and v != ""}


class Settings(BaseSettings):
    """Server settings. `from_env` reads LAYERLAB_<NAME> for each field (upper case)."""

    model_config = SettingsConfigDict(env_prefix="LAYERLAB_", env_ignore_empty=True, frozen=True,
                                      extra="forbid", case_sensitive=False)

    host: str = "127.0.0.1"
    port: int = 8000
    # SQLAlchemy URL: SQLite by default; postgresql+psycopg://user:pass@host/db for several replicas.
    database_url: str = "sqlite:///data/layerlab.db"
    log_level: str = "info"
    # Where runs train: `local` threads in this process, or `ray` actors on a Ray cluster.
    executor: Literal["local", "ray"] = "local"
    # The Ray cluster (`host:port` of its head, or `auto`); read only with executor=ray.
    ray_address: str = "auto"
    # Warm CPU trainers in the Ray pool; 0: one per CPU the cluster has (GPU trainers: one per GPU).
    ray_workers: int = Field(default=0, ge=0)
    # Runs training at once; more wait as `queued`. With executor=ray: runs this replica hands to the
    # cluster at once (the cluster's pool queues them until a trainer is free).
    max_concurrent_runs: int = Field(default_factory=_cores)
    # Runs training an epoch at the same moment (local executor), whatever max_concurrent_runs is; the
    # others take turns, epoch by epoch. 0: one less than the cores (at least 1), so a core stays with
    # the event loop.
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
    # How long a websocket the server has closed waits for the client's close reply before the
    # connection is dropped (uvicorn's own is 10 s).
    ws_close_timeout_s: float = 2.0

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Arguments (CLI flags) win over the environment; no .env or secrets files.
        return init_settings, _MappingEnv(settings_cls)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Defaults, then LAYERLAB_* variables, then explicit overrides (e.g. CLI flags)."""
        token = _ENV.set(dict(os.environ if env is None else env))
        try:
            return cls(**overrides)
        except ValidationError as e:
            raise ValueError(_first_error(cls, e, _ENV.get() or {})) from None
        finally:
            _ENV.reset(token)

    def limits(self) -> Limits:
        """The engine's caps for a spec."""
        return Limits(max_params=self.max_params, max_epochs=self.max_epochs, max_samples=self.max_samples,
                      max_activation_mib=self.max_activation_mib)


def _first_error(cls: type[Settings], e: ValidationError, env: Mapping[str, str]) -> str:
    """`LAYERLAB_PORT='eighty' is not a valid int`: the variable, its text, and what it should be."""
    err = e.errors(include_url=False)[0]
    name = str(err["loc"][0]) if err["loc"] else "?"
    var = f"LAYERLAB_{name.upper()}"
    raw = next((v for k, v in env.items() if k.upper() == var), err.get("input"))
    annotation = cls.model_fields[name].annotation if name in cls.model_fields else None
    if get_origin(annotation) is Literal:
        kind = "choice of " + ", ".join(map(str, get_args(annotation)))
    else:
        kind = getattr(annotation, "__name__", str(annotation))
    if err["type"] in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        kind += f" ({err['msg'][0].lower()}{err['msg'][1:]})"  # an int, but out of range
    return f"{var}={raw!r} is not a valid {kind}"
