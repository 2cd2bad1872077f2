"""The candidates declared in conf, as every pipeline reads them when it is built.

Pipelines are built before a run's ``--env`` and ``--params`` are known, so candidates come
from ``conf/base`` and ``conf/local``, read by the project's own configuration loader (Kedro's
``settings.CONFIG_LOADER_CLASS`` with ``settings.CONFIG_LOADER_ARGS``: the same merge strategy
as the run, so a partial ``conf/local`` override builds the pipeline the run then uses). A run
can change a candidate's values with ``--params``, not add one.
"""

from __future__ import annotations

from pathlib import Path

from kedro.framework.project import settings

from music_recsys.kinds import Candidate, candidates
from music_recsys.project import project_root


def parameters(conf_source: str | None = None) -> dict:
    """The parameters of ``conf/base`` and ``conf/local``, merged as a run merges them."""
    source = Path(conf_source or settings.CONF_SOURCE)
    if not source.is_absolute():
        source = project_root() / source
    loader = settings.CONFIG_LOADER_CLASS(conf_source=str(source), **settings.CONFIG_LOADER_ARGS)
    return loader["parameters"]


def declared_candidates(conf_source: str | None = None) -> dict[str, Candidate]:
    """The candidates in the parameters, by name."""
    return candidates(parameters(conf_source))


def kind_table(found: dict[str, Candidate]) -> dict[str, dict]:
    """Per candidate, what selection and reports need to know of its kind."""
    return {
        name: {
            "kind": c.kind.name,
            "simplicity": c.kind.simplicity,
            "baseline": c.kind.baseline,
            "needs_play_order": c.kind.needs_play_order,
            "has_track_vectors": c.kind.has_track_vectors,
        }
        for name, c in found.items()
    }
