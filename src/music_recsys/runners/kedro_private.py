"""The parts of Kedro's private API the Dask runner relies on, in one place.

Checked on kedro 1.7.0 (``KEDRO_CHECKED``); ``tests/runners`` asserts they still exist with
these signatures, so a Kedro upgrade that moves them fails there, not in a user's run.

- ``kedro.runner.task.Task._collect_inputs_from_hook``: Kedro's own collection of
  ``before_node_run`` overrides (it checks their type); the runner calls it in the driver.
- ``AbstractRunner._suggest_resume_scenario``: the "resume with --from-nodes" hint Kedro's own
  runners log after a failure.
"""

from __future__ import annotations

from typing import Any

from kedro.runner import AbstractRunner
from kedro.runner.task import Task

KEDRO_CHECKED = "1.7.0"


def collect_inputs_from_hook(
    node: Any, catalog: Any, inputs: dict[str, Any], hooks: Any, run_id: str | None
) -> dict[str, Any]:
    """The inputs ``before_node_run`` hooks override, as Kedro's ``Task`` collects them."""
    return Task._collect_inputs_from_hook(node, catalog, inputs, False, hooks, run_id)  # noqa: SLF001


def suggest_resume_scenario(runner: AbstractRunner, pipeline: Any, done: set, catalog: Any) -> None:
    """Kedro's hint on how to resume a failed run, logged as its own runners log it."""
    runner._suggest_resume_scenario(pipeline, done, catalog)  # noqa: SLF001
