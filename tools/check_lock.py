"""Checks that requirements.lock installs, complete and from wheels, on every supported Python.

For each version, pip resolves the lock as that Python would (``--python-version``, wheels
only, nothing installed: ``--dry-run``) and the packages it would install are compared with the
lock's pins. It fails when a pin has no wheel for a version, or when a version needs a package
that the lock does not pin (one that a dependency asks for only on newer Pythons, say).

Several lock files are checked as one set (``requirements.lock requirements-scale.lock``: the
scale extra on top of the base). pyspark is published as a source archive only, so it is left
out of the wheels-only resolution; its one dependency (py4j) is still checked.

Usage (``make lock`` runs it):
    python tools/check_lock.py [requirements.lock ...] [3.11 3.12 3.13]
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

SUPPORTED = ("3.11", "3.12", "3.13")
# Pinned packages that PyPI has as source archives only.
SOURCE_ONLY = {"pyspark"}


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: Path) -> dict[str, str]:
    found = {}
    for line in lock.read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split(";")[0].strip().split("==")
            found[normalised(name)] = version
    return found


def resolved(lock: Path, version: str) -> dict[str, str]:
    """What pip would install from ``lock`` on Python ``version``: name → version."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        command = [
            sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed",
            "--python-version", version, "--only-binary=:all:", "--target", scratch,
            "--report", str(report), "-r", str(lock),
        ]  # fmt: skip
        completed = subprocess.run(command, check=False, capture_output=True, text=True)
        if completed.returncode != 0:
            errors = [line for line in completed.stderr.splitlines() if "ERROR" in line]
            raise SystemExit(f"Python {version}: {lock} does not install: " + " ".join(errors))
        install = json.loads(report.read_text())["install"]
    return {normalised(i["metadata"]["name"]): i["metadata"]["version"] for i in install}


def main(arguments: list[str]) -> int:
    locks = [Path(a) for a in arguments if a.endswith(".lock")] or [Path("requirements.lock")]
    versions = [a for a in arguments if not a.endswith(".lock")] or SUPPORTED
    with tempfile.TemporaryDirectory() as scratch:
        lock = Path(scratch) / "combined.lock"
        lines = [line for path in locks for line in path.read_text().splitlines()]
        lock.write_text(
            "\n".join(
                line for line in lines if normalised(line.split("==")[0].strip()) not in SOURCE_ONLY
            )
            + "\n"
        )
        pinned = pins(lock)
        failed = False
        for version in versions:
            would_install = resolved(lock, version)
            unpinned = sorted(set(would_install) - set(pinned))
            if unpinned:
                failed = True
                extra = ", ".join(f"{name} {would_install[name]}" for name in unpinned)
                print(f"Python {version}: needs packages the lock does not pin: {extra}")
            else:
                print(
                    f"Python {version}: all {len(would_install)} packages pinned, wheels for each"
                    + (
                        f" (source only, not checked: {', '.join(sorted(SOURCE_ONLY))})"
                        if len(locks) > 1
                        else ""
                    )
                )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
