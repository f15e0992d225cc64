"""Errors the engine raises. They carry JSON paths, never HTTP codes (server/errors.py maps them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ErrorItem:
    """One problem in a spec: where it is (a JSON path such as `model.layers[2].units`) and what to do."""

    path: str
    message: str
    # A one-click repair the page can apply, e.g. {"op": "insert", "index": 1, "layer": {"type": "flatten"}}.
    fix: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "message": self.message}
        if self.fix is not None:
            out["fix"] = self.fix
        return out


class LayerlabError(Exception):
    """Base of the engine's errors."""


@dataclass
class SpecError(LayerlabError):
    """A spec that does not validate: every problem found, each with its JSON path."""

    errors: list[ErrorItem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return "; ".join(f"{e.path}: {e.message}" for e in self.errors)

    def to_dict(self) -> dict[str, Any]:
        return {"errors": [e.to_dict() for e in self.errors]}


class ShapeError(SpecError):
    """A stack whose shapes do not fit together (a SpecError, so callers can treat them alike)."""


class UnknownNameError(LayerlabError, KeyError):
    """A registry lookup for a name that is not registered; the message lists the valid names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])
