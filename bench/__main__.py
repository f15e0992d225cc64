"""`python -m bench [NAME ...]`: run every benchmark module (or the named ones) and print its table.

A benchmark is a module in MODULES with `main()` that prints one table; a main that returns False
(a goal missed, such as a lesson over its time budget) makes the command exit 1 after the others ran.
Adding one is one line here.
"""

from __future__ import annotations

import importlib
import sys

MODULES = {
    "engine": "bench.engine_bench",
    "server": "bench.server_bench",
    "load": "bench.load_bench",
    "soak": "bench.soak_bench",
    "cluster": "bench.cluster_bench",
    "gan": "bench.gan_bench",
    "ae": "bench.ae_bench",
    "fused": "bench.fused_bench",
    "ensemble": "bench.ensemble_bench",
    "boundary": "bench.boundary_bench",
    "lessons": "bench.lessons_bench",
    "upload": "bench.upload_bench",
}


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or list(MODULES)
    unknown = [n for n in names if n not in MODULES]
    if unknown:
        print(f"unknown benchmark {', '.join(unknown)}; valid: {', '.join(MODULES)}", file=sys.stderr)
        return 2
    ok = True
    for i, name in enumerate(names):
        if i:
            print()
        ok = importlib.import_module(MODULES[name]).main() is not False and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
