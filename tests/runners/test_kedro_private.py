"""The private Kedro API the Dask runner relies on is still there, as it was checked."""

import inspect

import kedro
from kedro.runner import AbstractRunner
from kedro.runner.task import Task

from music_recsys.runners.kedro_private import KEDRO_CHECKED


def test_kedros_private_helpers_keep_the_signatures_the_runner_calls():
    collect = inspect.signature(Task._collect_inputs_from_hook)  # noqa: SLF001
    assert list(collect.parameters) == [
        "node",
        "catalog",
        "inputs",
        "is_async",
        "hook_manager",
        "run_id",
    ]
    resume = inspect.signature(AbstractRunner._suggest_resume_scenario)  # noqa: SLF001
    assert list(resume.parameters)[:4] == ["self", "pipeline", "done_nodes", "catalog"]


def test_the_checked_version_is_the_locked_one():
    """Upgrading Kedro means checking these helpers again, and saying so here."""
    assert kedro.__version__ == KEDRO_CHECKED
