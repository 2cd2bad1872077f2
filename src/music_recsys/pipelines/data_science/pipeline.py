"""The data_science pipeline: a namespaced pipeline per candidate, then selection and test.

Candidates are the three baselines and every word2vec variant declared in
``conf/base/parameters_data_science.yml`` (a top-level key holding a ``word2vec:`` block). Each
candidate is the same small template — fit, evaluate on validation — under its own namespace,
so kedro-viz shows one box per candidate and ``kedro run --namespaces w2v_music_sg`` runs one.
"""

from __future__ import annotations

from pathlib import Path

from kedro.config import OmegaConfigLoader
from kedro.framework.project import settings
from kedro.pipeline import Node, Pipeline

from music_recsys.project import project_root

from .mlflow_model import package_for_mlflow
from .nodes import (
    BASELINES,
    build_queries,
    build_results_table,
    build_track_index,
    choose_protocol,
    collect_mlflow_metrics,
    evaluate,
    evaluate_on_test,
    fit_cooccurrence,
    fit_most_popular,
    fit_transitions,
    fit_word2vec,
    select_candidate,
)

SHARED_INPUTS = {"playlists_train", "track_index", "validation_queries"}


def word2vec_variants(conf_source: str | None = None) -> list[str]:
    """Names of the word2vec variants in the parameters (base and local environments).

    Pipelines are built before a run's ``--env`` and ``--params`` are known, so variants are
    declared in conf/base (or conf/local); a run can change a variant's values, not add one.
    """
    source = Path(conf_source or settings.CONF_SOURCE)
    if not source.is_absolute():
        source = project_root() / source
    loader = OmegaConfigLoader(conf_source=str(source), base_env="base", default_run_env="local")
    parameters = loader["parameters"]
    return sorted(
        name
        for name, value in parameters.items()
        if isinstance(value, dict) and "word2vec" in value
    )


def _candidate(name: str, fit: Node) -> Pipeline:
    template = Pipeline(
        [
            fit,
            Node(
                evaluate,
                inputs=["recommender", "validation_queries", "params:evaluation"],
                outputs="validation_metrics",
                name="evaluate_validation_node",
                tags="evaluation",
            ),
        ]
    )
    return Pipeline(
        template,
        namespace=name,
        inputs=SHARED_INPUTS & template.inputs(),
        parameters={"params:evaluation"},
    )


def _baseline(name: str) -> Pipeline:
    fits = {
        "most_popular": Node(
            fit_most_popular, "track_index", "recommender", name="fit_node", tags="training"
        ),
        "cooccurrence": Node(
            fit_cooccurrence,
            ["playlists_train", "track_index", "params:graph"],
            "recommender",
            name="fit_node",
            tags="training",
        ),
        "transitions": Node(
            fit_transitions,
            ["playlists_train", "track_index", "params:graph"],
            "recommender",
            name="fit_node",
            tags="training",
        ),
    }
    return _candidate(name, fits[name])


def _word2vec(name: str) -> Pipeline:
    fit = Node(
        fit_word2vec,
        ["playlists_train", "track_index", "params:word2vec"],
        ["recommender", "training_metrics"],
        name="fit_node",
        tags="training",
    )
    return _candidate(name, fit)


def create_pipeline(**kwargs) -> Pipeline:
    variants = word2vec_variants()
    if not variants:
        raise ValueError(
            "The word2vec sweep has no variant: add at least one top-level block with a "
            "'word2vec:' key to conf/base/parameters_data_science.yml (or conf/local)."
        )
    candidates = [*BASELINES, *variants]
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
    selection = Pipeline(
        [
            Node(
                select_candidate,
                {"evaluation": "params:evaluation"}
                | {name: f"{name}.validation_metrics" for name in candidates},
                "model_selection",
                name="select_candidate_node",
                tags="selection",
            ),
            Node(
                evaluate_on_test,
                {
                    "selection": "model_selection",
                    "test_queries": "test_queries",
                    "evaluation": "params:evaluation",
                }
                | {name: f"{name}.recommender" for name in candidates},
                ["selected_recommender", "test_metrics"],
                name="evaluate_on_test_node",
                tags=["selection", "evaluation"],
            ),
            Node(
                package_for_mlflow,
                ["selected_recommender", "params:evaluation"],
                "registered_recommender",
                name="register_recommender_node",
                tags="tracking",
            ),
            Node(
                build_results_table,
                {
                    "selection": "model_selection",
                    "test_metrics": "test_metrics",
                    "protocol": "evaluation_protocol",
                }
                | {name: f"{name}.validation_metrics" for name in candidates},
                "model_results",
                name="build_results_table_node",
                tags="selection",
            ),
            Node(
                collect_mlflow_metrics,
                {"selection": "model_selection", "test_metrics": "test_metrics"}
                | {f"{name}__validation": f"{name}.validation_metrics" for name in candidates}
                | {f"{name}__training": f"{name}.training_metrics" for name in variants},
                "data_science_metrics",
                name="collect_mlflow_metrics_node",
                tags="tracking",
            ),
        ]
    )
    return (
        shared
        + sum((_baseline(name) for name in BASELINES), Pipeline([]))
        + sum((_word2vec(name) for name in variants), Pipeline([]))
        + selection
    )
