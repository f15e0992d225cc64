"""The task registry under its old name: a task is a family (engine/family.py)."""

from .family import FAMILIES as TASKS  # noqa: F401
