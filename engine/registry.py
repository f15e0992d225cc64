"""A tiny name -> entry registry. Built-ins register themselves exactly as a user's extension would."""

from __future__ import annotations

from typing import Generic, Iterator, TypeVar

from .errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to entries; an unknown name's error lists the valid ones."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T | None = None):
        """Register `item` under `name`; without `item`, use as a decorator."""
        if item is not None:
            self._add(name, item)
            return item

        def deco(obj: T) -> T:
            self._add(name, obj)
            return obj

        return deco

    def _add(self, name: str, item: T) -> None:
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._items[name] = item

    def unregister(self, name: str) -> None:
        """Remove `name` (a test's own plug-in, once the test is done)."""
        self._items.pop(name, None)

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self._unknown(name)) from None

    def check(self, name: str) -> str:
        """`name` if registered, else ValueError listing the valid names (for pydantic validators)."""
        if name not in self._items:
            raise ValueError(self._unknown(name))
        return name

    def _unknown(self, name: str) -> str:
        return f"unknown {self.kind} {name!r}; valid: {', '.join(self.names())}"

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def names(self) -> list[str]:
        return list(self._items)

    def items(self) -> Iterator[tuple[str, T]]:
        return iter(self._items.items())

    def __len__(self) -> int:
        return len(self._items)

