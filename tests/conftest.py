"""Fixtures shared by every test folder: the throwaway PostgreSQL and Ray head of tests/clusterkit.py.

Both are started at most once per test session, and only by a test that asks for them (all such
tests carry the `cluster` marker, which `make test-fast` skips)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clusterkit import Postgres, RayHead, pg_available  # noqa: E402


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL server of the test session's own (skips where PostgreSQL is not installed)."""
    why = pg_available()
    if why:
        pytest.skip(why)
    pg = Postgres()
    yield pg
    pg.close()


@pytest.fixture(scope="session")
def ray_head() -> Iterator[RayHead]:
    """A local Ray head with two CPUs, on loopback with its own temp dir."""
    pytest.importorskip("ray")
    head = RayHead(num_cpus=2)
    yield head
    head.close()
