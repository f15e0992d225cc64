"""The engine never imports the web: not the server, not FastAPI, not asyncio.

Checked in a fresh interpreter, after importing every engine module and training a few epochs
(so that imports done lazily inside functions count too).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import engine

ENGINE_DIR = Path(engine.__file__).parent
WEB = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "server", "jinja2", "httpx", "websockets")
FORBIDDEN = WEB + ("asyncio",)

# Records every import of a forbidden module made by code whose module is engine.*.
SPY = r"""
import builtins, json, sys

FORBIDDEN = set(sys.argv[1].split(","))
direct = []
real_import = builtins.__import__

def spy(name, globals=None, locals=None, fromlist=(), level=0):
    importer = (globals or {}).get("__name__", "")
    if level == 0 and name.split(".")[0] in FORBIDDEN and importer.split(".")[0] == "engine":
        direct.append([importer, name])
    return real_import(name, globals, locals, fromlist, level)

builtins.__import__ = spy
"""

PROBE = SPY + r"""
import importlib, pkgutil
import torch
torch_loads_asyncio = "asyncio" in sys.modules

import engine
for mod in pkgutil.walk_packages(engine.__path__, "engine."):
    importlib.import_module(mod.name)

from engine.spec import parse_spec
from engine.trainer import Trainer
for dataset, layers in [("circle", [{"type": "dense", "units": 4}, {"type": "dropout"}]),
                        ("digits", [{"type": "conv2d", "filters": 2}, {"type": "flatten"}]),
                        ("sine", []), ("moons", [])]:
    spec = parse_spec({"data": {"dataset": dataset, "n_samples": 40}, "model": {"layers": layers},
                       "training": {"epochs": 2, "device": "cpu"}})
    Trainer(spec).run()

print(json.dumps({"loaded": sorted({m.split(".")[0] for m in sys.modules}), "direct": direct,
                  "torch_loads_asyncio": torch_loads_asyncio,
                  "engine_modules": sorted(m for m in sys.modules if m.startswith("engine"))}))
"""


def _run(script: str) -> dict:
    out = subprocess.run([sys.executable, "-c", script, ",".join(FORBIDDEN)], capture_output=True,
                         text=True, timeout=120, cwd=ENGINE_DIR.parent)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def probe() -> dict:
    return _run(PROBE)


def test_engine_never_loads_the_web_stack(probe):
    assert len(probe["engine_modules"]) >= len(list(ENGINE_DIR.glob("*.py")))  # it did import them all
    assert {"torch", "numpy", "pydantic", "engine"} <= set(probe["loaded"])
    leaked = sorted(set(probe["loaded"]) & set(WEB))
    assert leaked == [], f"engine pulled in {leaked}"
    assert probe["direct"] == [], f"engine modules import {probe['direct']}"


def test_asyncio_is_not_loaded_by_the_engine(probe):
    """torch itself loads asyncio (torch._guards -> unittest.mock -> asyncio), so the strict check
    applies where torch leaves it out; the engine's own imports are checked either way."""
    assert not any(name.split(".")[0] == "asyncio" for _, name in probe["direct"])
    if not probe["torch_loads_asyncio"]:
        assert "asyncio" not in probe["loaded"]


def test_no_engine_source_imports_a_forbidden_module():
    """A static check, so that an import inside a function that the probe did not call still counts."""
    offenders = []
    for path in sorted(ENGINE_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.name}:{node.lineno} {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_the_spy_would_notice_a_leak():
    """The import spy attributes an import to the engine module that made it, even a cached one."""
    script = SPY + r"""
import asyncio
exec(compile("import asyncio.events", "fake", "exec"), {"__name__": "engine.fake"})
exec(compile("import json", "fake", "exec"), {"__name__": "engine.fake"})
print(json.dumps({"direct": direct}))
"""
    assert _run(script)["direct"] == [["engine.fake", "asyncio.events"]]
