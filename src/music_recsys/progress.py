"""Progress of long loops in the log: done, rate and time left, at most every ``interval`` s."""

from __future__ import annotations

import logging
import time


class Progress:
    """Logs ``<what>: 1,200 of 5,000 queries (240/s), 16 s left`` while a loop runs.

    Args:
        logger: Where to log.
        what: The task, e.g. ``"cooccurrence on validation"``.
        total: How many units the task has.
        unit: What a unit is called, plural.
        interval: Seconds between lines (the first comes after ``interval`` too, so short tasks
            stay quiet).
    """

    def __init__(
        self, logger: logging.Logger, what: str, total: int, unit: str, interval: float = 30.0
    ) -> None:
        self.logger, self.what, self.total, self.unit = logger, what, total, unit
        self.interval = interval
        self.done = 0
        self.started = self.last = time.perf_counter()

    def advance(self, n: int) -> None:
        self.done += n
        now = time.perf_counter()
        if now - self.last < self.interval or self.done >= self.total:
            return
        self.last = now
        rate = self.done / max(now - self.started, 1e-9)
        self.logger.info(
            "%s: %s of %s %s (%.0f/s), %.0f s left",
            self.what,
            f"{self.done:,}",
            f"{self.total:,}",
            self.unit,
            rate,
            (self.total - self.done) / max(rate, 1e-9),
        )

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started
