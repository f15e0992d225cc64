"""Thread-safe controls for a training run: pause, resume, step one epoch, stop, set lr/l2, a pace
(at most so many epochs a second: slow motion, issue 13), and the user's pick of a validation
example for the views that follow one (feature maps).

The trainer calls `wait_turn()` between epochs; another thread calls the rest. A paced run waits
on the same condition as a paused one, so pause, stop, a pick or a new pace answer it at once.
"""

from __future__ import annotations

import threading
import time
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
        self._pace: Optional[float] = None  # at most this many epochs a second; None: full speed
        self._turn: Optional[float] = None  # time.monotonic() of the last epoch's turn

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

    @property
    def pace(self) -> Optional[float]:
        with self._cond:
            return self._pace

    def set_pace(self, epochs_per_s: Optional[float]) -> None:
        """Train at most `epochs_per_s` epochs a second from now on (None: as fast as it can). The
        trainer itself waits between epochs, so a slow run costs no compute while it waits."""
        if epochs_per_s is not None and not epochs_per_s > 0:
            raise ValueError(f"a pace is a positive number of epochs a second, not {epochs_per_s!r}")
        with self._cond:
            self._pace = epochs_per_s
            self._cond.notify_all()  # a faster pace ends a wait at once

    def _pace_wait(self) -> float:
        """Seconds until the next epoch's turn under the pace (<= 0: now). Caller holds the lock."""
        if self._pace is None or self._turn is None:
            return 0.0
        return self._turn + 1.0 / self._pace - time.monotonic()

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
        """Block while paused with no step allowed, or until the pace allows the next epoch; False
        once stop was asked for. A pick that arrives while waiting is handed to `on_pick` (outside
        the lock) and the wait goes on. A step while paused is not paced: it is one epoch, now."""
        while True:
            with self._cond:
                while True:
                    if self._stop:
                        return False
                    if self._paused and self._steps > 0:
                        self._steps -= 1
                        self._turn = time.monotonic()
                        return True
                    wait = None if self._paused else self._pace_wait()
                    if wait is not None and wait <= 0:
                        self._turn = time.monotonic()
                        return True
                    if on_pick is not None and self._pick is not None:
                        break
                    self._cond.wait(wait)
                pick, self._pick = self._pick, None
            on_pick(pick)  # type: ignore[arg-type]  # only reached with on_pick set and a pick pending
