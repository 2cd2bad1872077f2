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
from pydantic import ValidationError

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


def settings_of(candidate: Candidate):
    """The candidate's settings from conf, or None where they do not validate (Kedro's own
    validation then names the problem before any node runs)."""
    try:
        return candidate.validated()
    except (ValidationError, TypeError):
        return None


def shared_training_leader(candidate: Candidate, found: dict[str, Candidate]) -> str:
    """The candidate whose shared training ``candidate`` reads: the first by name of its kind
    with the same training key (itself, when none comes before it)."""
    sharing = candidate.kind.shared_training
    mine = settings_of(candidate)
    if sharing is None or mine is None:
        return candidate.name
    for name in sorted(found):
        other = found[name]
        theirs = settings_of(other) if other.kind is candidate.kind else None
        if theirs is not None and sharing.key(theirs) == sharing.key(mine):
            return name
    return candidate.name


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


def declared_with_tuning(
    conf_source: str | None = None,
) -> tuple[dict[str, Candidate], dict[str, str]]:
    """The candidates and their :func:`tuning_plan`, from one reading of the parameters."""
    params = parameters(conf_source)
    found = candidates(params)
    return found, tuning_plan(found, params)


def tuning_plan(found: dict[str, Candidate], params: dict) -> dict[str, str]:
    """Per tuned candidate: ``"tuned"`` when it runs its own study, or the name of the
    candidate whose tuned first stage it shares (it adopts those values). Left out: kinds with
    no search space, kinds that tune on validation themselves (the blend's weights), and the
    ``tuning.untuned`` of ``params``. Like the candidates, fixed when the pipeline is built."""
    untuned = set((params.get("tuning") or {}).get("untuned") or ())
    plan: dict[str, str] = {}
    for name in sorted(found):
        candidate = found[name]
        if not candidate.kind.search_space or candidate.kind.reads_validation or name in untuned:
            continue
        leader = shared_training_leader(candidate, found)
        plan[name] = "tuned" if leader == name else leader
    return {n: p for n, p in plan.items() if p == "tuned" or plan.get(p) == "tuned"}
