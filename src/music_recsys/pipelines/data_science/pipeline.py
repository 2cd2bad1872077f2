"""The data_science pipeline: a namespaced pipeline per candidate, then selection and test.

Candidates are declared in ``conf/base/parameters_data_science.yml``: every top-level key
holding one block named after a kind (:mod:`music_recsys.kinds`). Each candidate is the same
small template — its kind's fit, then the evaluation on validation — under its own namespace,
so kedro-viz shows one box per candidate and ``kedro run --namespaces playlist_knn`` runs one.
"""

from __future__ import annotations

import functools
from pathlib import Path

from kedro.config import OmegaConfigLoader
from kedro.framework.project import settings
from kedro.pipeline import Node, Pipeline

from music_recsys.core.evaluation import evaluate
from music_recsys.core.protocol import choose_protocol
from music_recsys.core.queries import build_queries
from music_recsys.core.selection import select_candidate
from music_recsys.core.training_rows import build_track_index
from music_recsys.kinds import Candidate, candidates
from music_recsys.pipelines.data_science.mlflow_model import package_for_mlflow
from music_recsys.pipelines.data_science.nodes import (
    build_results_table,
    collect_mlflow_metrics,
    evaluate_on_test,
)
from music_recsys.project import project_root

SHARED_INPUTS = {"playlists_train", "track_index", "validation_queries", "track_order_report"}


def _parameters(conf_source: str | None = None) -> dict:
    source = Path(conf_source or settings.CONF_SOURCE)
    if not source.is_absolute():
        source = project_root() / source
    loader = OmegaConfigLoader(conf_source=str(source), base_env="base", default_run_env="local")
    return loader["parameters"]


def declared_candidates(conf_source: str | None = None) -> dict[str, Candidate]:
    """The candidates in the parameters (base and local environments).

    Pipelines are built before a run's ``--env`` and ``--params`` are known, so candidates are
    declared in conf/base (or conf/local); a run can change a candidate's values, not add one.
    """
    return candidates(_parameters(conf_source))


def word2vec_variants(conf_source: str | None = None) -> list[str]:
    """Names of the word2vec candidates."""
    return [n for n, c in declared_candidates(conf_source).items() if c.kind.name == "word2vec"]


def kind_table(found: dict[str, Candidate]) -> dict[str, dict]:
    """Per candidate, what selection and reports need to know of its kind."""
    return {
        name: {
            "kind": c.kind.name,
            "simplicity": c.kind.simplicity,
            "baseline": c.kind.baseline,
            "needs_play_order": c.kind.needs_play_order,
        }
        for name, c in found.items()
    }


def partial_named(func, **fixed):
    """``func`` with some keyword arguments fixed, keeping its name, docstring and source (for
    Kedro's node names and kedro-viz's code view)."""
    return functools.update_wrapper(functools.partial(func, **fixed), func)


def _candidate(candidate: Candidate, found: dict[str, Candidate]) -> Pipeline:
    kind = candidate.kind
    if kind.nodes is not None:
        fits, inputs = kind.nodes(candidate, found)
    else:
        fits = [
            Node(
                kind.fit,
                ["playlists_train", "track_index", "track_order_report", f"params:{kind.name}"],
                ["recommender@model", "training_metrics"],
                name="fit_node",
                tags="training",
            )
        ]
        inputs = {}
    if not any("validation_metrics" in n.outputs for n in fits):  # the blend evaluates its own
        evaluation = Node(
            partial_named(evaluate, name=candidate.name),
            inputs=["recommender@model", "validation_queries", "params:evaluation"],
            outputs=["validation_metrics", "validation_ranks"],
            name="evaluate_validation_node",
            tags="evaluation",
        )
        fits = [*fits, evaluation]
    template = Pipeline(fits)
    shared = {dataset: dataset for dataset in SHARED_INPUTS & template.inputs()}
    return Pipeline(
        template,
        namespace=candidate.name,
        inputs=shared | inputs,
        parameters={"params:evaluation"},
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
    return shared + sum((_candidate(found[n], found) for n in names), Pipeline([])) + selection
