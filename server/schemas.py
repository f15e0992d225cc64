"""Response and request schemas of the REST API (they feed the OpenAPI page at /docs)."""

from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: str = "ok"
    devices: list[str]
    version: str
    runs: dict[str, int]


class LayerRowOut(BaseModel):
    index: int
    type: str
    path: str
    input_shape: list[int]
    output_shape: list[int]
    params: int
    activation: Optional[str] = None
    is_head: bool = False
    stack: str = "layers"


class SummaryOut(BaseModel):
    """Shape inference: every layer's output shape and parameters, the head included; `layers`
    lists every row in build order, `stacks` the same rows by the family's stack."""

    input_shape: list[int]
    task: str
    n_classes: Optional[int]
    layers: list[LayerRowOut]
    stacks: dict[str, list[LayerRowOut]] = {}
    total_params: int
    engine: str = Field("autograd", description="the compute path that trains it: 'fused-dense' or 'autograd'")
    engine_why: str = Field("", description="why that path (the fused path's scope, or what is outside it)")


class ErrorItemOut(BaseModel):
    path: str
    message: str
    fix: Optional[dict[str, Any]] = None


class ErrorsOut(BaseModel):
    errors: list[ErrorItemOut]


class RunCreated(BaseModel):
    id: str
    status: str
    summary: SummaryOut
    device: Optional[str] = Field(None, description="the device it trains on ('auto' resolved), e.g. 'cpu'")


class RunOut(BaseModel):
    """GET /api/runs/{id}. No session id: a run's id must not lead to its session (docs/security.md)."""

    id: str
    status: str
    label: Optional[str]
    name: Optional[str] = Field(None, description="its name on the page, e.g. 'Run 3 · more data' (null for runs named before names were kept)")
    number: Optional[int] = Field(None, description="its number on the page ('Run 3'), which picks its colour; a rename keeps it (null for runs started without one)")
    parent: Optional[str]
    in_session: bool = Field(description="whether a session owns the run (then only its edit token steers it)")
    spec: dict[str, Any]
    summary: dict[str, Any]
    history: dict[str, list[Any]] = Field(description="columnar: epoch, the family's metric columns (catalog tasks[i].columns), lr, step_time")
    diagnosis: Optional[dict[str, Any]]
    best_epoch: Optional[int]
    stopped_early: bool
    error: Optional[str]
    advice: Optional[str]
    snapshots: dict[str, Any]
    created_at: float
    has_weights: bool


class SessionRunOut(RunOut):
    """A run inside a session's own view (the caller holds the edit token); null through a share link."""

    session_id: Optional[str]


class RunPatch(BaseModel):
    """PATCH /api/runs/{id}: rename the run."""

    model_config = {"extra": "forbid"}
    name: str = Field(min_length=1, max_length=200)


class ControlOut(BaseModel):
    status: str


class PreviewIn(BaseModel):
    data: dict[str, Any]
    task: Optional[str] = None
