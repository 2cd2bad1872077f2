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

from music_recsys.core.protocol import choose_protocol
from music_recsys.core.queries import build_queries
from music_recsys.core.selection import select_candidate
from music_recsys.core.training_rows import build_track_index
from music_recsys.kinds import Candidate
from music_recsys.pipelines.candidates import (
    declared_with_tuning,
    kind_table,
    settings_of,
    shared_training_leader,
)
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
from music_recsys.pipelines.data_science.tuning_nodes import (
    adopt_tuned_settings,
    build_tuning_table,
    evaluate_declared,
    plan_tuning,
    plot_candidate_tuning,
    screen_candidate,
    tune_candidate,
)
from music_recsys.tuning.data import split_for_tuning

SHARED_INPUTS = {
    "playlists_train",
    "track_index",
    "validation_queries",
    "track_order_report",
    "evaluation_protocol",
}
TRAINING_INPUTS = {
    "playlists_train": "playlists_train",
    "track_index": "track_index",
    "track_order_report": "track_order_report",
    "evaluation_protocol": "evaluation_protocol",
}


def partial_named(func, **fixed):
    """``func`` with some keyword arguments fixed, keeping its name, docstring and source (for
    Kedro's node names and kedro-viz's code view)."""
    return functools.update_wrapper(functools.partial(func, **fixed), func)


TUNING_INPUTS = {
    "playlists_tuning": "playlists_tuning",
    "tuning_track_index": "tuning_track_index",
    "track_order_report": "track_order_report",
    "evaluation_protocol": "evaluation_protocol",
    "tuning_queries": "tuning_queries",
    "split_summary": "split_summary",
}


def _settings_inputs(kind_name: str, sharing: list[str], prefix: str = "") -> dict[str, str]:
    """A tuning node's parameters: the evaluation's, tuning's, the candidate's settings
    (``params:<prefix><kind>``) and those of the candidates sharing its first stage."""
    return {
        "evaluation": "params:evaluation",
        "tuning": "params:tuning",
        "settings": f"params:{prefix}{kind_name}",
    } | {member: f"params:{member}.{kind_name}" for member in sharing}


def screening_pipeline(found: dict[str, Candidate], plan: dict[str, str]) -> Pipeline:
    """Every tuned candidate screened at its conf's setting, and the run's plan of where the
    tuning trials go (:mod:`music_recsys.tuning.plan`): one namespace, ``screening``, that
    every candidate's study reads (``kedro run --namespaces screening,ease`` tunes one)."""
    studied = sorted(n for n, role in plan.items() if role == "tuned")
    nodes, parameters = [], {"params:evaluation", "params:tuning"}
    for name in studied:
        kind = found[name].kind
        sharing = sorted(n for n, role in plan.items() if role == name)
        settings = _settings_inputs(kind.name, sharing, prefix=f"{name}.")
        parameters |= {p for p in settings.values()}
        nodes.append(
            Node(
                for_candidate(screen_candidate, kind, name),
                TUNING_INPUTS | settings,
                f"{name}.tuning_screen",
                name=f"screen_{name}_node",
                tags="tuning",
            )
        )
    nodes.append(
        Node(
            plan_tuning,
            {"playlists_tuning": "playlists_tuning", "tuning": "params:tuning"}
            | {n: f"{n}.tuning_screen" for n in studied},
            "tuning_plan",
            name="plan_tuning_node",
            tags="tuning",
        )
    )
    outputs = {f"{n}.tuning_screen" for n in studied} | {"tuning_plan"}
    return Pipeline(
        nodes,
        namespace="screening",
        inputs=set(TUNING_INPUTS.values()),
        outputs=outputs,
        parameters=parameters,
    )


def tuning_nodes(
    candidate: Candidate, found: dict[str, Candidate], plan: dict[str, str]
) -> tuple[list[Node], set[str]]:
    """A tuned candidate's study, its plots and the conf's setting on validation; or, for one
    that shares a tuned candidate's first stage, adopting its tuned values. Returns the nodes
    and the datasets and parameters they read outside the namespace."""
    kind, name = candidate.kind, candidate.name
    if plan[name] != "tuned":
        leader = f"{plan[name]}.tuned_settings"
        node = Node(
            for_candidate(adopt_tuned_settings, kind, name),
            {"settings": f"params:{kind.name}", "leader_settings": leader},
            "tuned_settings",
            name="adopt_tuned_settings_node",
            tags="tuning",
        )
        return [node], {leader}
    sharing = sorted(n for n, role in plan.items() if role == name)
    study = Node(
        for_candidate(tune_candidate, kind, name),
        TUNING_INPUTS
        | {"tuning_screen": "tuning_screen", "tuning_plan": "tuning_plan"}
        | _settings_inputs(kind.name, sharing),
        ["tuned_settings", "tuning_trials", "tuning_summary"],
        name="tune_node",
        tags="tuning",
    )
    plots = Node(
        partial_named(plot_candidate_tuning, kind_name=kind.name, name=name),
        ["tuning_trials", "tuning_summary"],
        ["tuning_history_plot", "tuning_importance_plot"],
        name="plot_tuning_node",
        tags="plots",
    )
    declared = Node(
        partial_named(for_candidate(evaluate_declared, kind, name), shares_training=bool(sharing)),
        TRAINING_INPUTS
        | {
            "validation_queries": "validation_queries",
            "validation_ranks": "validation_ranks",
            "evaluation": "params:evaluation",
            "tuning": "params:tuning",
            "settings": f"params:{kind.name}",
            "tuned_settings": "tuned_settings",
        },
        "declared_validation",
        name="evaluate_declared_node",
        tags="evaluation",
    )
    outside = {
        "playlists_tuning",
        "tuning_track_index",
        "tuning_queries",
        "split_summary",
        "tuning_plan",
    }
    return [study, plots, declared], outside | {
        f"params:{member}.{kind.name}" for member in sharing
    }


def candidate_pipeline(
    candidate: Candidate, found: dict[str, Candidate], plan: dict[str, str] | None = None
) -> Pipeline:
    """One candidate's fit and evaluation, in its namespace (see the module doc); with its
    tuning first when the tuning ``plan`` names it
    (:func:`~music_recsys.pipelines.candidates.tuning_plan`)."""
    kind, name = candidate.kind, candidate.name
    plan = plan or {}
    settings = settings_of(candidate)
    components = kind.component_names(settings) if settings is not None else ()
    missing = [c for c in components if c not in found]
    if missing:
        raise ValueError(f"'{name}' is built from candidates that are not candidates: {missing}")
    # In fit_candidate's parameter order (Kedro pairs params: inputs with parameters by
    # position): the training inputs and settings, the validation, the shared training, then
    # the components.
    nodes, read_outside = tuning_nodes(candidate, found, plan) if name in plan else ([], set())
    fitted_with = "tuned_settings" if name in plan else f"params:{kind.name}"
    fit_inputs = TRAINING_INPUTS | {"settings": fitted_with}
    if kind.reads_validation:
        fit_inputs |= {
            "validation_queries": "validation_queries",
            "evaluation": "params:evaluation",
        }
    outside = {f"{c}.recommender@model": f"{c}.recommender@model" for c in components}
    outside |= {d: d for d in read_outside if not d.startswith("params:")}
    if kind.shared_training is not None:
        leader = shared_training_leader(candidate, found)
        if leader == name:
            nodes.append(
                Node(
                    for_candidate(train_shared, kind, name),
                    TRAINING_INPUTS | {"settings": fitted_with},
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
    parameters = {"params:evaluation"} | {p for p in read_outside if p.startswith("params:")}
    if plan.get(name) == "tuned":
        parameters.add("params:tuning")
    return Pipeline(template, namespace=name, inputs=shared | outside, parameters=parameters)


def create_pipeline(**kwargs) -> Pipeline:
    found, plan = declared_with_tuning()
    if not found:
        raise ValueError(
            "No candidate is declared: add at least one top-level block such as "
            "'cooccurrence: {cooccurrence: {window: 5}}' to conf/base/parameters_data_science.yml"
        )
    names = sorted(found)
    kinds = kind_table(found)
    baselines = tuple(n for n in names if kinds[n]["baseline"])
    studied = [n for n in names if plan.get(n) == "tuned"]
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
    if plan:
        shared += Pipeline(
            [
                Node(
                    split_for_tuning,
                    [
                        "playlists_train",
                        "evaluation_protocol",
                        "params:evaluation",
                        "params:tuning",
                    ],
                    ["playlists_tuning", "tuning_queries"],
                    name="split_for_tuning_node",
                    tags="tuning",
                ),
                Node(
                    build_track_index,
                    "playlists_tuning",
                    "tuning_track_index",
                    name="build_tuning_track_index_node",
                    tags="tuning",
                ),
            ]
        ) + screening_pipeline(found, plan)
    per_candidate = (
        {f"{n}__validation": f"{n}.validation_metrics" for n in names}
        | {f"{n}__training": f"{n}.training_metrics" for n in names}
        | {f"{n}__tuning": f"{n}.tuning_summary" for n in studied}
    )
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
                    "protocol": "evaluation_protocol",
                }
                | {n: f"{n}.recommender@loader" for n in names},
                ["selected_recommender@model", "test_metrics", "test_metrics_last_track"],
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
                    "test_metrics_last_track": "test_metrics_last_track",
                    "protocol": "evaluation_protocol",
                }
                | per_candidate,
                "model_results",
                name="build_results_table_node",
                tags="selection",
            ),
            Node(
                collect_mlflow_metrics,
                {
                    "selection": "model_selection",
                    "test_metrics": "test_metrics",
                    "test_metrics_last_track": "test_metrics_last_track",
                }
                | per_candidate,
                "data_science_metrics",
                name="collect_mlflow_metrics_node",
                tags="tracking",
            ),
        ]
    )
    if studied:
        selection += Pipeline(
            [
                Node(
                    build_tuning_table,
                    {"evaluation": "params:evaluation"}
                    | {f"{n}__tuning": f"{n}.tuning_summary" for n in studied}
                    | {f"{n}__declared": f"{n}.declared_validation" for n in studied}
                    | {f"{n}__validation": f"{n}.validation_metrics" for n in studied},
                    "tuning_results",
                    name="build_tuning_table_node",
                    tags="tuning",
                )
            ]
        )
    candidates = sum((candidate_pipeline(found[n], found, plan) for n in names), Pipeline([]))
    return shared + candidates + selection
