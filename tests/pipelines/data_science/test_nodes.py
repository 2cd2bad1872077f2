"""The data_science pipeline: candidates' nodes built from their kinds, the test split, MLflow."""

import subprocess
import sys

import pandas as pd
import pytest
import yaml

from music_recsys.core.evaluation import rank_targets
from music_recsys.core.protocol import LAST_TRACK, EvaluationParams
from music_recsys.core.training_rows import build_track_index
from music_recsys.duckdb_sql import relation
from music_recsys.kinds.cooccurrence import CooccurrenceSettings
from music_recsys.pipelines.data_science.mlflow_model import RecommenderModel
from music_recsys.pipelines.data_science.nodes import (
    build_results_table,
    collect_mlflow_metrics,
    evaluate_on_test,
)
from tests.conftest import PROJECT_ROOT
from tests.shared import fit, playlists

KINDS = {
    name: {"kind": kind, "simplicity": simplicity, "baseline": baseline, "needs_play_order": order}
    for name, kind, simplicity, baseline, order in [
        ("most_popular", "most_popular", 0, True, False),
        ("transitions", "sequential_rules", 1, True, True),
        ("w2v_x", "word2vec", 5, False, False),
    ]
}


TRAIN = playlists("a b c", "a b d", "b c", "a b", "e a b")


@pytest.fixture
def track_index() -> pd.DataFrame:
    return build_track_index(relation(TRAIN))


def test_test_split_scores_the_selected_candidate_and_every_baseline_once(track_index):
    queries = pd.DataFrame({"playlist_id": [0], "query": [["X|||a"]], "target": ["X|||b"]})
    models = {
        "most_popular": fit("most_popular", TRAIN, index=track_index).recommender,
        "transitions": fit("sequential_rules", TRAIN, index=track_index).recommender,
        "w2v_x": fit("most_popular", TRAIN, index=track_index).recommender,
        "w2v_unused": fit("most_popular", TRAIN, index=track_index).recommender,
    }
    loaded = []

    def loader(name):
        def load():
            loaded.append(name)
            return models[name]

        return load

    protocol = {"protocol": "next_track", "query": "the playlist so far"}
    selected, results, last = evaluate_on_test(
        {"selected": "w2v_x"},
        queries,
        EvaluationParams(),
        protocol,
        baselines=("most_popular", "transitions"),
        **{n: loader(n) for n in models},
    )
    assert list(results) == ["w2v_x", "most_popular", "transitions"]
    assert list(last) == list(results)  # next_track: asked with the last track alone too
    assert loaded == ["w2v_x", "most_popular", "transitions"]  # never the unused variant
    assert selected.name == "w2v_x"
    table = build_results_table(
        {"selected": "w2v_x", "metric": "hit_rate_at_10"}, results, last, protocol,
        KINDS, w2v_x__validation=results["w2v_x"], w2v_x__training={"fit_seconds": 2.5},
        most_popular__validation=results["most_popular"],
    )  # fmt: skip
    assert table["split"].drop_duplicates().tolist() == ["validation", "test", "test_last_track"]
    assert set(table.loc[table["split"] == "test", "asked_with"]) == {"the playlist so far"}
    assert set(table.loc[table["split"] == "test_last_track", "asked_with"]) == {LAST_TRACK}
    assert table.loc[table["candidate"] == "w2v_x", "selected"].all()
    assert table.loc[table["candidate"] == "w2v_x", "fit_seconds"].tolist() == [2.5, 2.5, 2.5]
    assert (table["evaluation_seconds"] >= 0).all()
    metrics = collect_mlflow_metrics(
        {"selected": "w2v_x", "metric": "hit_rate_at_10", "value": 0.5, "standard_error": 0.1},
        results,
        last,
        w2v_x__validation={"a": 1.0, "b": "x"},
    )
    assert metrics["w2v_x.validation.a"] == [{"value": 1.0, "step": 0}]
    assert "w2v_x.validation.b" not in metrics
    assert metrics["selected.test.hit_rate_at_10"] == metrics["w2v_x.test.hit_rate_at_10"]
    assert "selected.test_last_track.mrr_at_10" in metrics
    _, _, none = evaluate_on_test(
        {"selected": "w2v_x"},
        queries,
        EvaluationParams(),
        {"protocol": "continuation"},
        **{n: loader(n) for n in models},
    )
    assert none == {}  # continuation has no last track to ask with


def test_mlflow_model_ranks_exactly_as_the_evaluation(track_index):
    model = fit(
        "cooccurrence", TRAIN, CooccurrenceSettings(window=2), index=track_index
    ).recommender
    queries = pd.DataFrame(
        {
            "playlist_id": [0, 1],
            "query": [["X|||a"], ["X|||c", "X|||b"]],
            "target": ["X|||b", "X|||a"],
        }
    )
    top = rank_targets(
        model, queries, EvaluationParams(k=(3,), selection_metric="hit_rate_at_3")
    ).top
    served = RecommenderModel(model, k=3).predict(
        None, pd.DataFrame({"seed_track_ids": queries["query"]})
    )
    ids = track_index["track_id"].to_numpy()
    assert served["track_ids"].tolist() == [ids[row[row >= 0]].tolist() for row in top]
    fewer = RecommenderModel(model).predict(
        None, pd.DataFrame({"seed_track_ids": queries["query"], "k": [1, 2]})
    )
    assert [len(ids) for ids in fewer["track_ids"]] == [1, 2]


def test_the_pickled_recommender_loads_without_kedro_gensim_or_duckdb(tmp_path, track_index):
    model = fit("cooccurrence", TRAIN, index=track_index).recommender
    path = tmp_path / "model.pkl"
    path.write_bytes(__import__("pickle").dumps(RecommenderModel(model)))
    code = (
        "import sys, pickle\n"
        "for name in ('kedro', 'gensim', 'duckdb'): sys.modules[name] = None\n"
        f"model = pickle.load(open({str(path)!r}, 'rb'))\n"
        "import pandas as pd\n"
        "print(model.predict(None, pd.DataFrame({'seed_track_ids': [['X|||a']]}))['track_ids'][0][0])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "X|||b"


def test_the_registered_model_pins_match_the_lock_file():
    catalog = yaml.safe_load((PROJECT_ROOT / "conf/base/catalog_05_models.yml").read_text())
    pins = catalog["registered_recommender"]["save_args"]["pip_requirements"]
    locked = {
        line.split("==")[0].lower(): line.strip()
        for line in (PROJECT_ROOT / "requirements.lock").read_text().splitlines()
        if "==" in line
    }
    assert [pin for pin in pins if locked.get(pin.split("==")[0].lower()) != pin] == []


def test_variants_that_differ_only_in_scoring_share_one_training(tmp_path):
    from kedro.pipeline import Pipeline  # noqa: PLC0415

    from music_recsys.pipelines.candidates import (  # noqa: PLC0415
        declared_candidates,
        shared_training_leader,
    )
    from music_recsys.pipelines.data_science.pipeline import candidate_pipeline  # noqa: PLC0415

    conf = tmp_path / "conf"
    (conf / "base").mkdir(parents=True)
    (conf / "local").mkdir()
    (conf / "base" / "parameters.yml").write_text(
        yaml.safe_dump(
            {
                "sg_cos": {"word2vec": {"sg": 1, "window": 3}},
                "sg_inout": {"word2vec": {"sg": 1, "window": 3, "scoring": "in_out"}},
                "sg_wide": {"word2vec": {"sg": 1, "window": 10, "scoring": "in_out"}},
                "knn": {"playlist_knn": {"neighbours": 5}},
                "not_a_candidate": {"window": 3},
            }
        )
    )
    found = declared_candidates(str(conf))
    assert sorted(found) == ["knn", "sg_cos", "sg_inout", "sg_wide"]
    trainings = {
        n: shared_training_leader(c, found) for n, c in found.items() if c.kind.name == "word2vec"
    }
    assert trainings == {"sg_cos": "sg_cos", "sg_inout": "sg_cos", "sg_wide": "sg_wide"}
    pipeline = sum((candidate_pipeline(c, found) for c in found.values()), Pipeline([]))
    train_nodes = sorted(n.name for n in pipeline.nodes if n.name.endswith("train_node"))
    assert train_nodes == ["sg_cos.train_node", "sg_wide.train_node"]
    assert "sg_cos.trained" in pipeline.only_nodes("sg_inout.fit_node").inputs()
    assert "params:knn.playlist_knn" in pipeline.only_nodes("knn.fit_node").inputs()


def test_a_candidates_validation_log_names_the_candidate_not_its_kind(track_index, caplog):
    import logging  # noqa: PLC0415

    from music_recsys.kinds import Candidate, kind  # noqa: PLC0415
    from music_recsys.pipelines.data_science.pipeline import candidate_pipeline  # noqa: PLC0415

    sr = Candidate("rules_3", kind("sequential_rules"), {"window": 3})
    pipeline = candidate_pipeline(sr, {"rules_3": sr})
    node = pipeline.only_nodes("rules_3.evaluate_validation_node").nodes[0]
    model = fit("sequential_rules", TRAIN, sr.validated(), index=track_index).recommender
    queries = pd.DataFrame({"playlist_id": [0], "query": [["X|||a"]], "target": ["X|||b"]})
    with caplog.at_level(logging.INFO, logger="music_recsys"):
        node.func(model, queries, EvaluationParams(k=(3,), selection_metric="hit_rate_at_3"))
    assert "rules_3: hit_rate@3" in caplog.text
    assert "sequential_rules: hit_rate" not in caplog.text
