"""Test-session checks shared by every package.

`make test` spreads the suite over pytest-xdist workers with `--dist loadfile`: a file's tests run
on one worker, so a module's fixtures start once. (`--dist loadgroup` would be finer, but with
pytest 9 it silently ignores `xdist_group`: xdist renames `item._nodeid`, which pytest 9's
`nodeid` no longer reads. It put the Ray tests on both workers, each starting its own Ray head.)

A run that ends with fewer test reports than collected tests fails here. A worker interrupted
inside a library once ended a parallel run "735 passed" with 25 of 760 tests never run and nothing
said about them; this makes such a run red.
"""

from __future__ import annotations

import pytest

_reported: set[str] = set()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _reported.add(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):  # an xdist worker: the controller counts
        return
    if exitstatus == pytest.ExitCode.OK and len(_reported) < session.testscollected:
        missing = session.testscollected - len(_reported)
        session.config.get_terminal_writer().line(
            f"conftest: {missing} of {session.testscollected} collected tests never reported", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
