"""The data_science pipeline: a namespaced pipeline per candidate, then selection and test.

Candidates are the three baselines and every word2vec variant declared in
``conf/base/parameters_data_science.yml`` (a top-level key holding a ``word2vec:`` block). Each
candidate is the same small template — fit, evaluate on validation — under its own namespace,
so kedro-viz shows one box per candidate and ``kedro run --namespaces w2v_music_sg`` runs one.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from kedro.config import OmegaConfigLoader
from kedro.framework.project import settings
from kedro.pipeline import Node, Pipeline
from pydantic import ValidationError

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
    select_candidate,
    train_word_vectors,
    word2vec_recommender,
)
from .params import Word2VecParams

SHARED_INPUTS = {"playlists_train", "track_index", "validation_queries"}


def _parameters(conf_source: str | None = None) -> dict:
    source = Path(conf_source or settings.CONF_SOURCE)
    if not source.is_absolute():
        source = project_root() / source
    loader = OmegaConfigLoader(conf_source=str(source), base_env="base", default_run_env="local")
    return loader["parameters"]


def word2vec_variants(conf_source: str | None = None) -> list[str]:
    """Names of the word2vec variants in the parameters (base and local environments).

    Pipelines are built before a run's ``--env`` and ``--params`` are known, so variants are
    declared in conf/base (or conf/local); a run can change a variant's values, not add one.
    """
    return sorted(word2vec_trainings(conf_source))


def word2vec_trainings(conf_source: str | None = None) -> dict[str, str]:
    """Each word2vec variant and the variant whose training it uses (itself, or the first
    variant by name with the same settings but for ``scoring``)."""
    parameters = _parameters(conf_source)
    trained_by: dict[str, str] = {}
    leaders: dict[str, str] = {}
    for name in sorted(parameters):
        value = parameters[name]
        if not (isinstance(value, dict) and "word2vec" in value):
            continue
        try:
            key = json.dumps(
                Word2VecParams(**value["word2vec"]).training_settings(), sort_keys=True
            )
        except (ValidationError, TypeError):
            key = name  # invalid: trains alone, and Kedro's validation names the problem
        trained_by[name] = leaders.setdefault(key, name)
    return trained_by


def partial_named(func, **fixed):
    """``func`` with some keyword arguments fixed, keeping its name, docstring and source (for
    Kedro's node names and kedro-viz's code view)."""
    return functools.update_wrapper(functools.partial(func, **fixed), func)


def _candidate(name: str, fits: list[Node], inputs: dict[str, str] | None = None) -> Pipeline:
    template = Pipeline(
        [
            *fits,
            Node(
                evaluate,
                inputs=["recommender@model", "validation_queries", "params:evaluation"],
                outputs="validation_metrics",
                name="evaluate_validation_node",
                tags="evaluation",
            ),
        ]
    )
    shared = {dataset: dataset for dataset in SHARED_INPUTS & template.inputs()}
    return Pipeline(
        template,
        namespace=name,
        inputs=shared | (inputs or {}),
        parameters={"params:evaluation"},
    )


def _baseline(name: str) -> Pipeline:
    fits = {
        "most_popular": Node(
            fit_most_popular,
            "track_index",
            ["recommender@model", "training_metrics"],
            name="fit_node",
            tags="training",
        ),
        "cooccurrence": Node(
            fit_cooccurrence,
            ["playlists_train", "track_index", "params:graph"],
            ["recommender@model", "training_metrics"],
            name="fit_node",
            tags="training",
        ),
        "transitions": Node(
            fit_transitions,
            ["playlists_train", "track_index", "params:graph"],
            ["recommender@model", "training_metrics"],
            name="fit_node",
            tags="training",
        ),
    }
    return _candidate(name, [fits[name]])


def _word2vec(name: str, trained_by: str) -> Pipeline:
    """A variant: its training (unless it shares another's), then its scoring."""
    score = Node(
        partial_named(
            word2vec_recommender, name=name, trained_by="" if trained_by == name else trained_by
        ),
        ["word_vectors", "word2vec_training", "playlists_train", "track_index", "params:word2vec"],
        ["recommender@model", "training_metrics"],
        name="fit_node",
        tags="training",
    )
    if trained_by != name:
        shared = {
            "word_vectors": f"{trained_by}.word_vectors",
            "word2vec_training": f"{trained_by}.word2vec_training",
        }
        return _candidate(name, [score], shared)
    train = Node(
        partial_named(train_word_vectors, name=name),
        ["playlists_train", "track_index", "params:word2vec"],
        ["word_vectors", "word2vec_training"],
        name="train_node",
        tags="training",
    )
    return _candidate(name, [train, score])


def create_pipeline(**kwargs) -> Pipeline:
    trainings = word2vec_trainings()
    variants = sorted(trainings)
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
                | {name: f"{name}.recommender@loader" for name in candidates},
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
                build_results_table,
                {
                    "selection": "model_selection",
                    "test_metrics": "test_metrics",
                    "protocol": "evaluation_protocol",
                }
                | {f"{name}__validation": f"{name}.validation_metrics" for name in candidates}
                | {f"{name}__training": f"{name}.training_metrics" for name in candidates},
                "model_results",
                name="build_results_table_node",
                tags="selection",
            ),
            Node(
                collect_mlflow_metrics,
                {"selection": "model_selection", "test_metrics": "test_metrics"}
                | {f"{name}__validation": f"{name}.validation_metrics" for name in candidates}
                | {f"{name}__training": f"{name}.training_metrics" for name in candidates},
                "data_science_metrics",
                name="collect_mlflow_metrics_node",
                tags="tracking",
            ),
        ]
    )
    return (
        shared
        + sum((_baseline(name) for name in BASELINES), Pipeline([]))
        + sum((_word2vec(name, trainings[name]) for name in variants), Pipeline([]))
        + selection
    )
