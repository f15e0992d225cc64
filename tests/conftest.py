"""Test-session checks shared by every package.

`make test` spreads the suite over pytest-xdist workers with `--dist loadfile`: a file's tests run
on one worker, so a module's fixtures start once. (`--dist loadgroup` would be finer, but with
pytest 9 it silently ignores `xdist_group`: xdist renames `item._nodeid`, which pytest 9's
`nodeid` no longer reads. It put the Ray tests on both workers, each starting its own Ray head.)

A run that ends with fewer tests started than collected fails here. A worker interrupted inside a
library once ended a parallel run "735 passed" with 25 of 760 tests never run and nothing said about
them; this makes such a run red. It counts setup reports, not node ids: schemathesis' generated
cases (tests/server/test_fuzz.py) all report under their test function's node id.
"""

from __future__ import annotations

import pytest

_started = 0


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    global _started
    if report.when == "setup":  # every test that was run or skipped has exactly one
        _started += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):  # an xdist worker: the controller counts
        return
    if exitstatus == pytest.ExitCode.OK and _started < session.testscollected:
        missing = session.testscollected - _started
        session.config.get_terminal_writer().line(
            f"conftest: {missing} of {session.testscollected} collected tests never reported", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
