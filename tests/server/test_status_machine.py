"""The run status machine: every pair of statuses, legal ones succeed and illegal ones raise."""

from __future__ import annotations

import itertools

import pytest

from engine.spec import parse_spec
from server.runs import TERMINAL, TRANSITIONS, IllegalTransition, Run, RunStatus

from serverkit import spec

Q, R, P = RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED
F, S, X, D, I = (RunStatus.FINISHED, RunStatus.STOPPED, RunStatus.FAILED, RunStatus.DIVERGED,
                 RunStatus.INTERRUPTED)
ENDS = {F, S, X, D, I}

# The protocol's machine, written out independently of server/runs.py:
# queued -> running <-> paused -> finished | stopped | failed | diverged, and interrupted from any live status.
# A queued run may be stopped or fail (e.g. on start) before it ever runs; it never finishes or diverges.
LEGAL = {(Q, R), (Q, S), (Q, X), (Q, I), (R, P), (P, R)} | {(a, b) for a in (R, P) for b in ENDS}
ALL_PAIRS = [(a, b) for a, b in itertools.product(RunStatus, RunStatus) if a != b]


def run_in(status: RunStatus) -> Run:
    return Run(parse_spec(spec()), {}, status=status)


def test_the_table_is_the_protocol() -> None:
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == LEGAL
    assert TERMINAL == ENDS
    assert set(TRANSITIONS) == set(RunStatus)


@pytest.mark.parametrize("old,new", ALL_PAIRS, ids=[f"{a.value}->{b.value}" for a, b in ALL_PAIRS])
def test_transition(old: RunStatus, new: RunStatus) -> None:
    run = run_in(old)
    if (old, new) in LEGAL:
        run.transition(new)
        assert run.status == new
        assert run.terminal == (new in ENDS)
    else:
        with pytest.raises(IllegalTransition, match=f"{old.value}.*{new.value}"):
            run.transition(new)
        assert run.status == old


@pytest.mark.parametrize("status", list(RunStatus), ids=[s.value for s in RunStatus])
def test_same_status_is_a_no_op(status: RunStatus) -> None:
    run = run_in(status)
    sub = run.subscribe()
    sub.drain()
    run.transition(status)
    assert run.status == status
    assert sub.drain() == []  # no duplicate status message


def test_a_transition_is_published_and_an_end_carries_the_reason() -> None:
    run = run_in(Q)
    sub = run.subscribe()
    assert sub.drain() == [{"type": "status", "status": "queued"}]
    run.transition(R)
    run.error = "boom"
    run.finish(X, {})
    out = sub.drain()
    assert [m["type"] for m in out] == ["status", "status", "end"]
    assert [m.get("status") for m in out] == ["running", "failed", "failed"]
    assert out[-1]["error"] == "boom"
    with pytest.raises(IllegalTransition):
        run.finish(F, {})
