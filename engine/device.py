"""The one place where a device is chosen."""

from __future__ import annotations

import torch

from .errors import ErrorItem, SpecError


def available_devices() -> list[str]:
    """Devices this machine can train on, CPU first."""
    out = ["cpu"]
    if torch.cuda.is_available():
        out.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append("mps")
    return out


def device_name(name: str, have: list[str]) -> str:
    """The device that `name` ('auto' or a device) means among `have`: auto picks cuda, then mps, then cpu."""
    if name == "auto":
        return "cuda" if "cuda" in have else "mps" if "mps" in have else "cpu"
    return name


def resolve_device(name: str) -> torch.device:
    """'auto' picks cuda, then mps, then cpu; an unavailable device is a SpecError."""
    have = available_devices()
    if name == "auto":
        return torch.device(device_name(name, have))
    if name not in have:
        raise SpecError([ErrorItem("training.device",
                                   f"device {name!r} is not available here; available: {', '.join(have)}")])
    return torch.device(name)
