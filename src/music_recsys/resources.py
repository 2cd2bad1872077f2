"""What a step costs: wall time and peak memory (resident set size) of this process.

Peak RSS is the kernel's high-water mark (``VmHWM`` in ``/proc/self/status``). On Linux it can
be reset (``/proc/self/clear_refs``, value 5), so each node's own peak is measured rather than
the run's peak so far. Where neither exists (macOS, Windows) the figures are ``None`` and
timing still works.
"""

from __future__ import annotations

import re
import resource
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
_FIELD = re.compile(r"^(VmHWM|VmRSS):\s+(\d+) kB", re.MULTILINE)


def _status() -> dict[str, int]:
    try:
        text = _STATUS.read_text()
    except OSError:
        return {}
    return {name: int(kb) * 1024 for name, kb in _FIELD.findall(text)}


def rss_bytes() -> int | None:
    """Resident memory of this process now."""
    return _status().get("VmRSS")


def peak_rss_bytes() -> int | None:
    """Highest resident memory of this process since start (or since the last reset)."""
    return _status().get("VmHWM")


def reset_peak_rss() -> bool:
    """Resets the high-water mark to the current RSS; False where the system cannot."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def children_peak_rss_bytes() -> int:
    """Highest resident memory of any finished child process (e.g. a serving check)."""
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


def gigabytes(n_bytes: int | None) -> float | None:
    return None if n_bytes is None else n_bytes / 2**30
