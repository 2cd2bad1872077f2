"""The benchmark scripts still import what they use: a refactor that moves a name out from
under one fails here, not in the middle of a two-hour benchmark run."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ENVIRONMENT, PROJECT_ROOT

# Every script but the helpers they share.
SCRIPTS = sorted(
    path.stem for path in (PROJECT_ROOT / "benchmarks").glob("*.py") if path.stem != "common"
)


def test_every_benchmark_script_imports():
    assert len(SCRIPTS) > 5
    program = (
        "import importlib, sys\n"
        "sys.path[:0] = ['src', 'benchmarks']\n"
        f"for name in {SCRIPTS!r}:\n"
        "    importlib.import_module(name)\n"
        "    assert callable(getattr(sys.modules[name], 'main', None)), name\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        cwd=PROJECT_ROOT,
        env=ENVIRONMENT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
