"""Slow motion (issue 13): a Control's pace throttles the trainer itself, between epochs, and a
paced run still answers stop, pause, a step and a faster pace at once. Real Trainers on tiny data."""

from __future__ import annotations

import threading
import time

import pytest

from engine.control import Control
from engine.events import EndEvent, EpochEvent
from engine.trainer import Trainer

from test_trainer_controls import Run, long_spec

RATE = 10.0  # epochs a second: slow enough to measure, fast enough for a short test


def epoch_times(run: Run, n: int) -> list[float]:
    """The arrival times of the next `n` epochs."""
    out = []
    for _ in range(n):
        run.next_epoch()
        out.append(time.monotonic())
    return out


def test_a_paced_run_trains_at_most_its_pace(make_spec):
    control = Control()
    control.set_pace(RATE)
    run = Run(Trainer(long_spec(make_spec)), control)
    times = epoch_times(run, 8)
    rate = (len(times) - 1) / (times[-1] - times[0])
    # At most the pace (a little margin for the clock), and not far below it: the wait is the pace's
    # alone, the epochs themselves take well under a millisecond here.
    assert RATE * 0.6 <= rate <= RATE * 1.05, rate
    control.stop()
    run.join()


def test_stop_answers_a_paced_run_at_once(make_spec):
    control = Control()
    control.set_pace(0.5)  # one epoch every 2 s: the trainer is waiting almost all the time
    run = Run(Trainer(long_spec(make_spec)), control)
    run.next_epoch()
    run.settle()
    asked = time.monotonic()
    control.stop()
    end = run.join()[-1]
    assert time.monotonic() - asked < 0.5
    assert isinstance(end, EndEvent) and end.status == "stopped" and end.epochs == 1


def test_pause_step_and_full_speed_while_paced(make_spec):
    control = Control()
    control.set_pace(0.5)
    run = Run(Trainer(long_spec(make_spec)), control)
    run.next_epoch()
    control.pause()
    run.settle()
    run.assert_quiet()
    asked = time.monotonic()
    control.step()  # one epoch now, not after the pace's 2 s
    assert run.next_epoch() == 2
    assert time.monotonic() - asked < 0.5
    control.resume()
    control.set_pace(None)  # full speed again: many epochs in a moment
    times = epoch_times(run, 20)
    assert times[-1] - asked < 1.5
    control.stop()
    run.join()


def test_a_pick_is_answered_while_a_paced_run_waits(make_spec):
    control = Control()
    control.set_pace(0.5)
    picked = threading.Event()
    assert control.wait_turn(None)  # the first turn is at once
    control.pick(3)
    threading.Timer(1.0, control.stop).start()
    asked = time.monotonic()
    assert control.wait_turn(lambda i: picked.set()) is False
    assert picked.is_set()
    assert time.monotonic() - asked < 1.5


@pytest.mark.parametrize("bad", [0, -1.0, float("nan")])
def test_a_pace_is_a_positive_rate(bad):
    with pytest.raises(ValueError):
        Control().set_pace(bad)


def test_events_of_a_paced_run_are_the_same_as_a_full_speed_run(make_spec):
    """The pace changes when epochs happen, never what they compute."""
    def losses(pace):
        control = Control()
        control.set_pace(pace)
        events = []
        Trainer(make_spec({"training": {"epochs": 4}})).run(control, events.append)
        return [e.metrics.values["train_loss"] for e in events if isinstance(e, EpochEvent)]
    assert losses(None) == losses(40.0)
