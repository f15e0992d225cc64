"""Thread-safe controls for a training run: pause, resume, step one epoch, stop, set lr/l2, and
the user's pick of a validation example for the views that follow one (feature maps).

The trainer calls `wait_turn()` between epochs; another thread calls the rest.
"""

from __future__ import annotations

import threading
from typing import Callable, Optional


class Control:
    """Shared between the thread that trains and the ones that steer it."""

    def __init__(self, paused: bool = False) -> None:
        self._cond = threading.Condition()
        self._paused = paused
        self._stop = False
        self._steps = 0  # epochs allowed while paused
        self._lr: Optional[float] = None
        self._l2: Optional[float] = None
        self._pick: Optional[int] = None  # validation row picked since the trainer last looked

    @property
    def paused(self) -> bool:
        with self._cond:
            return self._paused

    @property
    def stopping(self) -> bool:
        """Whether stop was asked for (a run waiting for its turn ends then)."""
        with self._cond:
            return self._stop

    def pause(self) -> None:
        with self._cond:
            self._paused = True
            self._steps = 0

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def step(self) -> None:
        """While paused, allow exactly one more epoch."""
        with self._cond:
            self._paused = True
            self._steps += 1
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def set(self, lr: Optional[float] = None, l2: Optional[float] = None) -> None:
        """Change lr and/or l2 from the next epoch on."""
        with self._cond:
            if lr is not None:
                self._lr = lr
            if l2 is not None:
                self._l2 = l2

    def take_changes(self) -> tuple[Optional[float], Optional[float]]:
        """The trainer's side: pending lr and l2 changes, cleared once read."""
        with self._cond:
            out = (self._lr, self._l2)
            self._lr = self._l2 = None
            return out

    def pick(self, index: int) -> None:
        """The user picked validation row `index`; a paused trainer answers it at once."""
        with self._cond:
            self._pick = index
            self._cond.notify_all()

    def take_pick(self) -> Optional[int]:
        """The trainer's side: the pending pick, cleared once read."""
        with self._cond:
            out, self._pick = self._pick, None
            return out

    def wait_turn(self, on_pick: Callable[[int], None] | None = None) -> bool:
        """Block while paused with no step allowed; False once stop was asked for. A pick that
        arrives while paused is handed to `on_pick` (outside the lock) and the wait goes on."""
        while True:
            with self._cond:
                while (self._paused and self._steps == 0 and not self._stop
                       and (on_pick is None or self._pick is None)):
                    self._cond.wait()
                if self._stop:
                    return False
                if not self._paused or self._steps > 0:
                    if self._paused:
                        self._steps -= 1
                    return True
                pick, self._pick = self._pick, None
            on_pick(pick)  # type: ignore[misc]  # only reached with on_pick set and a pick pending
