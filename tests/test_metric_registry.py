"""A ranking metric is named once (core.metrics.METRICS): registering one and listing it in
``evaluation.metrics`` puts it in the results table, the report and MLflow, no other module
edited; an unknown name fails the parameters' validation."""

import numpy as np
import pandas as pd
import pytest
import yaml

from music_recsys.core import metrics as m
from music_recsys.core.evaluation import evaluate
from music_recsys.core.protocol import EvaluationParams
from music_recsys.core.selection import select_candidate
from music_recsys.core.training_rows import build_track_index
from music_recsys.duckdb_sql import relation
from music_recsys.pipelines.data_science.nodes import build_results_table, collect_mlflow_metrics
from music_recsys.pipelines.reporting.plots import plot_metric_curves
from music_recsys.pipelines.reporting.report import build_report
from tests.conftest import PROJECT_ROOT
from tests.shared import fit, playlists

TRAIN = playlists("a b c", "a b d", "b c", "a b", "e a b", "c d e", "a c", "d e")
QUERIES = pd.DataFrame(
    {
        "playlist_id": [0, 1, 2, 3, 4],
        "query": [["X|||a"], ["X|||b"], ["X|||c"], ["X|||d"], ["X|||a", "X|||e"]],
        "target": ["X|||b", "X|||c", "X|||a", "X|||e", "X|||b"],
    }
)
KINDS = {
    "most_popular": {"kind": "most_popular", "simplicity": 0, "baseline": True},
    "cooccurrence": {"kind": "cooccurrence", "simplicity": 1, "baseline": False},
}
for _kind in KINDS.values():
    _kind["needs_play_order"] = False


@pytest.fixture
def precision(monkeypatch):
    """Precision at K, registered for the test only: hits in the top K / K."""
    monkeypatch.setitem(
        m.METRICS, "precision", m.Metric(lambda ranks, k: (ranks < k) / k, "precision")
    )


def _conf_evaluation(**changes) -> EvaluationParams:
    """The project's own ``evaluation`` parameters, with ``changes``."""
    conf = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_data_science.yml").read_text())
    return EvaluationParams(**(conf["evaluation"] | changes))


def test_a_registered_metric_reaches_the_results_table_the_report_and_mlflow(precision):
    evaluation = _conf_evaluation(metrics=[*m.METRICS])  # the conf's metrics + precision
    index = build_track_index(relation(TRAIN))
    recommenders = {name: fit(name, TRAIN, index=index).recommender for name in KINDS}
    validation = {name: evaluate(r, QUERIES, evaluation) for name, r in recommenders.items()}
    test = {name: evaluate(r, QUERIES, evaluation)[0] for name, r in recommenders.items()}
    assert validation["cooccurrence"][0]["precision_at_10"] == pytest.approx(
        validation["cooccurrence"][0]["hit_rate_at_10"] / 10
    )
    selection = select_candidate(
        evaluation,
        {"next_track_is_meaningful": True},
        KINDS,
        **{f"{n}__metrics": v[0] for n, v in validation.items()},
        **{f"{n}__ranks": v[1] for n, v in validation.items()},
    )
    candidate_metrics = {f"{n}__validation": v[0] for n, v in validation.items()}
    protocol = {"protocol": "next_track", "reason": "set", "query": "the playlist so far"}

    table = build_results_table(selection, test, {}, protocol, KINDS, **candidate_metrics)
    assert {"precision_at_1", "precision_at_10_se", "precision_at_100"} <= set(table.columns)

    mlflow = collect_mlflow_metrics(selection, test, {}, **candidate_metrics)
    assert "cooccurrence.validation.precision_at_10" in mlflow
    assert "selected.test.precision_at_10_se" in mlflow

    split = {s: {"playlists": 1, "rows": 2} for s in ("train", "validation", "test")}
    html = build_report(
        pd.DataFrame(columns=["stage", "outcome", "reason", "rows"]),
        {"explanation": "in play order"},
        {"seed": 0, **split},
        {},
        protocol,
        selection,
        table,
        {"note": "none"},
        *([b"png"] * 7),
    )
    assert "<th>precision_at_10 ± SE</th>" in html
    assert [a.get_title() for a in plot_metric_curves(table, selection).axes][-1] == (
        "precision@K (validation)"
    )


def test_the_default_metrics_are_the_registered_ones_and_an_unknown_one_is_refused():
    assert _conf_evaluation().metrics == EvaluationParams().metrics == tuple(m.METRICS)
    with pytest.raises(ValueError, match=r"unknown \['precison'\]; known: \['hit_rate', 'mrr'"):
        _conf_evaluation(metrics=["hit_rate", "precison"])
    with pytest.raises(ValueError, match="selection_metric 'ndcg_at_10'"):
        _conf_evaluation(metrics=["hit_rate"], selection_metric="ndcg_at_10")


def test_selection_maximises_so_its_metric_must_be_higher_is_better(monkeypatch):
    monkeypatch.setitem(
        m.METRICS, "rank", m.Metric(np.minimum, "mean rank", higher_is_better=False)
    )
    metrics = ["hit_rate", "rank"]
    assert _conf_evaluation(metrics=metrics, selection_metric="hit_rate_at_10")
    with pytest.raises(ValueError, match=r"one of \['hit_rate'\] \(evaluated, higher is better"):
        _conf_evaluation(metrics=metrics, selection_metric="rank_at_10")
