"""The data_science pipeline: a namespaced pipeline per candidate, then selection and test.

Candidates are declared in ``conf/base/parameters_data_science.yml``: every top-level key
holding one block named after a kind (:mod:`music_recsys.kinds`). Each candidate is the same
small template — its kind's fit, then the evaluation on validation — under its own namespace,
so kedro-viz shows one box per candidate and ``kedro run --namespaces playlist_knn`` runs one.
What a kind declares (:class:`~music_recsys.kinds.contract.Kind`) decides the template's
inputs: the validation queries for a kind that tunes on them (and answers them itself), the
fitted candidates it is built from, a first stage shared with candidates of the same kind.
"""

from __future__ import annotations

import functools

from kedro.pipeline import Node, Pipeline
from pydantic import ValidationError

from music_recsys.core.protocol import choose_protocol
from music_recsys.core.queries import build_queries
from music_recsys.core.selection import select_candidate
from music_recsys.core.training_rows import build_track_index
from music_recsys.kinds import Candidate
from music_recsys.pipelines.candidates import declared_candidates, kind_table
from music_recsys.pipelines.data_science.mlflow_model import package_for_mlflow
from music_recsys.pipelines.data_science.nodes import (
    build_results_table,
    collect_mlflow_metrics,
    evaluate_candidate,
    evaluate_on_test,
    fit_candidate,
    for_candidate,
    train_shared,
)

SHARED_INPUTS = {"playlists_train", "track_index", "validation_queries", "track_order_report"}
TRAINING_INPUTS = {
    "playlists_train": "playlists_train",
    "track_index": "track_index",
    "track_order_report": "track_order_report",
}


def partial_named(func, **fixed):
    """``func`` with some keyword arguments fixed, keeping its name, docstring and source (for
    Kedro's node names and kedro-viz's code view)."""
    return functools.update_wrapper(functools.partial(func, **fixed), func)


def _settings(candidate: Candidate):
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
    mine = _settings(candidate)
    if sharing is None or mine is None:
        return candidate.name
    for name in sorted(found):
        other = found[name]
        theirs = _settings(other) if other.kind is candidate.kind else None
        if theirs is not None and sharing.key(theirs) == sharing.key(mine):
            return name
    return candidate.name


def candidate_pipeline(candidate: Candidate, found: dict[str, Candidate]) -> Pipeline:
    """One candidate's fit and evaluation, in its namespace (see the module doc)."""
    kind, name = candidate.kind, candidate.name
    settings = _settings(candidate)
    components = kind.component_names(settings) if settings is not None else ()
    missing = [c for c in components if c not in found]
    if missing:
        raise ValueError(f"'{name}' is built from candidates that are not candidates: {missing}")
    # In fit_candidate's parameter order (Kedro pairs params: inputs with parameters by
    # position): the training inputs and settings, the validation, the shared training, then
    # the components.
    fit_inputs = TRAINING_INPUTS | {"settings": f"params:{kind.name}"}
    if kind.reads_validation:
        fit_inputs |= {
            "validation_queries": "validation_queries",
            "evaluation": "params:evaluation",
        }
    outside = {f"{c}.recommender@model": f"{c}.recommender@model" for c in components}
    nodes = []
    if kind.shared_training is not None:
        leader = shared_training_leader(candidate, found)
        if leader == name:
            nodes.append(
                Node(
                    for_candidate(train_shared, kind, name),
                    TRAINING_INPUTS | {"settings": f"params:{kind.name}"},
                    "trained",
                    name="train_node",
                    tags="training",
                )
            )
            fit_inputs["trained"] = "trained"
        else:
            fit_inputs["trained"] = f"{leader}.trained"
            outside[f"{leader}.trained"] = f"{leader}.trained"
    fit_inputs |= {c: f"{c}.recommender@model" for c in components}
    answers = ["validation_answers"] if kind.reads_validation else []
    nodes.append(
        Node(
            for_candidate(fit_candidate, kind, name),
            fit_inputs,
            ["recommender@model", "training_metrics", *answers],
            name="fit_node",
            tags="training",
        )
    )
    evaluation_inputs = {
        "recommender": "recommender@model",
        "validation_queries": "validation_queries",
        "evaluation": "params:evaluation",
    } | {answer: answer for answer in answers}
    nodes.append(
        Node(
            partial_named(evaluate_candidate, name=name),
            evaluation_inputs,
            ["validation_metrics", "validation_ranks"],
            name="evaluate_validation_node",
            tags="evaluation",
        )
    )
    template = Pipeline(nodes)
    shared = {dataset: dataset for dataset in SHARED_INPUTS & template.inputs()}
    return Pipeline(
        template, namespace=name, inputs=shared | outside, parameters={"params:evaluation"}
    )


def create_pipeline(**kwargs) -> Pipeline:
    found = declared_candidates()
    if not found:
        raise ValueError(
            "No candidate is declared: add at least one top-level block such as "
            "'cooccurrence: {cooccurrence: {window: 5}}' to conf/base/parameters_data_science.yml"
        )
    names = sorted(found)
    kinds = kind_table(found)
    baselines = tuple(n for n in names if kinds[n]["baseline"])
    shared = Pipeline(
        [
            Node(
                build_track_index, "playlists_train", "track_index", name="build_track_index_node"
            ),
            Node(
                choose_protocol,
                ["track_order_report", "params:evaluation"],
                "evaluation_protocol",
                name="choose_protocol_node",
                tags="evaluation",
            ),
            Node(
                build_queries,
                ["playlists_validation", "evaluation_protocol", "params:evaluation"],
                "validation_queries",
                name="build_validation_queries_node",
                tags="evaluation",
            ),
            Node(
                build_queries,
                ["playlists_test", "evaluation_protocol", "params:evaluation"],
                "test_queries",
                name="build_test_queries_node",
                tags="evaluation",
            ),
        ]
    )
    per_candidate = {f"{n}__validation": f"{n}.validation_metrics" for n in names} | {
        f"{n}__training": f"{n}.training_metrics" for n in names
    }
    selection = Pipeline(
        [
            Node(
                partial_named(select_candidate, kinds=kinds),
                {"evaluation": "params:evaluation", "track_order_report": "track_order_report"}
                | {f"{n}__metrics": f"{n}.validation_metrics" for n in names}
                | {f"{n}__ranks": f"{n}.validation_ranks" for n in names},
                "model_selection",
                name="select_candidate_node",
                tags="selection",
            ),
            Node(
                partial_named(evaluate_on_test, baselines=baselines),
                {
                    "selection": "model_selection",
                    "test_queries": "test_queries",
                    "evaluation": "params:evaluation",
                }
                | {n: f"{n}.recommender@loader" for n in names},
                ["selected_recommender@model", "test_metrics"],
                name="evaluate_on_test_node",
                tags=["selection", "evaluation"],
            ),
            Node(
                package_for_mlflow,
                ["selected_recommender@model", "params:evaluation"],
                "registered_recommender",
                name="register_recommender_node",
                tags="tracking",
            ),
            Node(
                partial_named(build_results_table, kinds=kinds),
                {
                    "selection": "model_selection",
                    "test_metrics": "test_metrics",
                    "protocol": "evaluation_protocol",
                }
                | per_candidate,
                "model_results",
                name="build_results_table_node",
                tags="selection",
            ),
            Node(
                collect_mlflow_metrics,
                {"selection": "model_selection", "test_metrics": "test_metrics"} | per_candidate,
                "data_science_metrics",
                name="collect_mlflow_metrics_node",
                tags="tracking",
            ),
        ]
    )
    return (
        shared + sum((candidate_pipeline(found[n], found) for n in names), Pipeline([])) + selection
    )
