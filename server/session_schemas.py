"""Request and response schemas of sessions, share links and uploads (they feed /docs)."""

from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

from .schemas import SessionRunOut

MAX_TITLE = 200
MAX_NOTES = 100_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SessionCreate(_Strict):
    title: str = Field("Untitled", max_length=MAX_TITLE)
    notes: str = Field("", max_length=MAX_NOTES)
    spec: Optional[dict[str, Any]] = Field(None, description="the page's current spec (validated; shape errors allowed)")
    runs: list[str] = Field(default_factory=list, max_length=64,
                            description="ids of runs outside any session to keep in this one: what the page "
                                        "trained before it was saved")


class SessionPatch(_Strict):
    """Only the fields given change; `spec: null` clears the spec."""

    title: Optional[str] = Field(None, max_length=MAX_TITLE)
    notes: Optional[str] = Field(None, max_length=MAX_NOTES)
    spec: Optional[dict[str, Any]] = None


class SessionCreated(BaseModel):
    id: str
    edit_token: str = Field(description="keep it: it is shown once, and only its hash is stored")
    share_token: str
    share_url: str


class SessionKey(_Strict):
    id: str = Field(max_length=64)
    edit_token: str = Field(max_length=128)


class SessionBrief(BaseModel):
    id: str
    title: str
    share_token: str
    share_url: str
    created_at: float
    updated_at: float
    n_runs: int


class SessionList(BaseModel):
    sessions: list[SessionBrief]


class SessionSaved(BaseModel):
    id: str
    title: str
    notes: str
    spec: Optional[dict[str, Any]]
    updated_at: float


class ColumnOut(BaseModel):
    name: str
    numeric: bool
    missing: int
    distinct: int


class UploadOut(BaseModel):
    id: str
    filename: str
    n_rows: int
    size_bytes: int
    created_at: float
    columns: list[ColumnOut]
    features: list[str]
    target: str
    task: str
    n_classes: Optional[int]
    classes: Optional[list[str]]
    data: dict[str, Any] = Field(description="a spec's `data` for this upload and choice of columns")


class SharedOut(BaseModel):
    """A session as a share link shows it: no id, no edit token."""

    read_only: bool = True
    title: str
    notes: str
    spec: Optional[dict[str, Any]]
    share_token: str
    share_url: str
    created_at: float
    updated_at: float
    runs: list[SessionRunOut]
    uploads: list[UploadOut]


class ForkSource(BaseModel):
    title: str
    share_url: str


class SessionOut(SharedOut):
    read_only: bool = False
    id: str
    forked_from: Optional[ForkSource] = Field(None, description="the session this one was forked from, while it exists")


class ForkIn(_Strict):
    title: Optional[str] = Field(None, max_length=MAX_TITLE, description="default: the original's title")
