import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from music_recsys.core.evaluation import evaluate as _evaluate
from music_recsys.core.evaluation import rank_targets
from music_recsys.core.protocol import EvaluationParams, choose_protocol
from music_recsys.core.queries import build_queries
from music_recsys.core.selection import select_candidate
from music_recsys.core.training_rows import build_track_index
from music_recsys.core.training_rows import pair_graph as _pair_graph
from music_recsys.duckdb_sql import relation
from music_recsys.kinds import cooccurrence, most_popular, transitions, word2vec
from music_recsys.kinds.cooccurrence import CooccurrenceSettings as CooccurrenceParams
from music_recsys.kinds.transitions import TransitionSettings as TransitionParams
from music_recsys.kinds.word2vec import Word2VecSettings as Word2VecParams
from music_recsys.kinds.word2vec.training import PlaylistCorpus
from music_recsys.pipelines.data_science.mlflow_model import RecommenderModel
from music_recsys.pipelines.data_science.nodes import (
    build_results_table,
    collect_mlflow_metrics,
    evaluate_on_test,
)
from tests.conftest import PROJECT_ROOT


def playlists(*tracks_per_playlist: str) -> pd.DataFrame:
    """Rows from strings like "a b c": one playlist per string, tracks by one-letter name."""
    return pd.DataFrame(
        [
            (pid, pos, f"X|||{t}")
            for pid, names in enumerate(tracks_per_playlist)
            for pos, t in enumerate(names.split())
        ],
        columns=["playlist_id", "position", "track_id"],
    )


ORDERED = {"next_track_is_meaningful": True}
KINDS = {
    name: {"kind": kind, "simplicity": simplicity, "baseline": baseline, "needs_play_order": order}
    for name, kind, simplicity, baseline, order in [
        ("most_popular", "most_popular", 0, True, False),
        ("transitions", "transitions", 1, True, True),
        ("cooccurrence", "cooccurrence", 2, True, False),
        ("w2v_x", "word2vec", 5, False, False),
        ("w2v_y", "word2vec", 5, False, False),
    ]
}


def fit_most_popular(index):
    return most_popular.fit(None, index, ORDERED, most_popular.MostPopularSettings())


def fit_cooccurrence(rows, index, settings, report=ORDERED):
    return cooccurrence.fit(rows, index, report, settings)


def fit_transitions(rows, index, settings):
    return transitions.fit(rows, index, ORDERED, settings)


def fit_word2vec(rows, index, settings, report=ORDERED):
    return word2vec.fit(rows, index, report, settings)


def evaluate(model, queries, evaluation):
    return _evaluate(model, queries, evaluation)[0]


TRAIN = playlists("a b c", "a b d", "b c", "a b", "e a b")


@pytest.fixture
def track_index() -> pd.DataFrame:
    return build_track_index(relation(TRAIN))


def test_track_index_counts(track_index):
    counts = dict(zip(track_index["track_id"], track_index["count"], strict=True))
    assert counts == {"X|||b": 5, "X|||a": 4, "X|||c": 2, "X|||d": 1, "X|||e": 1}
    assert track_index["track_id"].tolist()[0] == "X|||b"


# --- protocol and queries ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("protocol", "meaningful", "expected"),
    [
        ("auto", False, "continuation"),
        ("auto", True, "next_track"),
        ("next_track", False, "next_track"),
    ],
)
def test_protocol_follows_the_order_check_unless_set(protocol, meaningful, expected):
    report = {"next_track_is_meaningful": meaningful, "explanation": "…"}
    chosen = choose_protocol(report, EvaluationParams(protocol=protocol))
    assert chosen["protocol"] == expected
    assert ("auto" in chosen["reason"]) == (protocol == "auto")


def test_position_weights_are_refused_on_rows_sorted_by_title():
    report = {"next_track_is_meaningful": False, "explanation": "sorted"}
    with pytest.raises(ValueError, match="query_decay"):
        choose_protocol(report, EvaluationParams(query_decay=0.8))
    assert choose_protocol(report, EvaluationParams())["protocol"] == "continuation"


def test_next_track_queries_end_right_before_the_last_track():
    queries = build_queries(
        relation(playlists("a b c d", "e f", "g")),
        {"protocol": "next_track"},
        EvaluationParams(query_length=2),
    )
    assert queries["query"].map(list).tolist() == [
        ["X|||b", "X|||c"],
        ["X|||e"],
    ]  # "g" alone: skipped
    assert queries["target"].tolist() == ["X|||d", "X|||f"]


def test_continuation_queries_hold_out_one_track_and_are_reproducible():
    rows = relation(playlists("a b c d e f", "g h i"))
    params = EvaluationParams(max_query_tracks=3, seed=5)
    queries = build_queries(rows, {"protocol": "continuation"}, params)
    for query, target, names in zip(
        queries["query"], queries["target"], ["a b c d e f", "g h i"], strict=True
    ):
        tracks = [f"X|||{n}" for n in names.split()]
        assert target in tracks and target not in list(query)
        assert len(query) == min(3, len(tracks) - 1)
        assert list(query) == [t for t in tracks if t in set(query)]  # playlist order kept
    pd.testing.assert_frame_equal(
        queries, build_queries(rows, {"protocol": "continuation"}, params)
    )


def test_at_most_max_queries_playlists_are_sampled():
    rows = relation(playlists(*["a b"] * 30))
    queries = build_queries(rows, {"protocol": "next_track"}, EvaluationParams(max_queries=7))
    assert len(queries) == 7 and queries["playlist_id"].is_unique


# --- baselines ---------------------------------------------------------------------------------


def test_pair_graphs_count_what_they_should(track_index):
    def dense(window, directed):
        graph = _pair_graph(relation(TRAIN), track_index, window, directed).toarray()
        names = track_index["track_id"].str[-1].tolist()
        return pd.DataFrame(graph, index=names, columns=names)

    transitions = dense(1, True)
    assert (
        transitions.loc["a", "b"] == 4
        and transitions.loc["b", "a"] == 0
        and transitions.loc["e", "a"] == 1
    )
    window_2 = dense(2, False)
    assert window_2.loc["a", "c"] == window_2.loc["c", "a"] == 1 and window_2.loc["e", "b"] == 1
    anywhere = dense(None, False)
    assert anywhere.loc["e", "b"] == 1 and np.all(np.diag(anywhere.values) == 0)


def test_baselines_recommend_the_obvious(track_index):
    queries = pd.DataFrame({"playlist_id": [0], "query": [["X|||a"]], "target": ["X|||b"]})
    for model in (
        fit_most_popular(track_index)[0],
        fit_cooccurrence(relation(TRAIN), track_index, CooccurrenceParams(window=1))[0],
        fit_transitions(relation(TRAIN), track_index, TransitionParams())[0],
    ):
        top, _, ranks, *_ = rank_targets(model, queries, EvaluationParams())
        assert ranks.tolist() == [0.0], model.kind
        assert "X|||a" not in track_index["track_id"].to_numpy()[top[0][top[0] >= 0]]


# --- word2vec ----------------------------------------------------------------------------------


def test_long_playlists_are_chunked_not_cut():
    corpus = PlaylistCorpus(
        [str(i) for i in range(3)], np.array([0, 1, 2] * 9), np.array([0, 25, 27]), 10
    )
    sentences = list(corpus)
    assert [len(s) for s in sentences] == [10, 10, 5, 2]
    assert sum(len(s) for s in sentences) == corpus.n_words == 27
    assert corpus.n_sentences == 4


W2V = {"sg": 1, "vector_size": 8, "window": 2, "epochs": 5, "min_count": 1, "workers": 1, "seed": 3}


def test_word2vec_with_one_worker_and_a_seed_is_reproducible(track_index):
    rows = relation(playlists(*["a b c d", "b c e", "a d e", "c d"] * 20))
    index = build_track_index(rows)
    queries = pd.DataFrame(
        {
            "playlist_id": [0, 1],
            "query": [["X|||a"], ["X|||c", "X|||d"]],
            "target": ["X|||b", "X|||e"],
        }
    )
    first, stats = fit_word2vec(rows, index, Word2VecParams(**W2V))
    second, _ = fit_word2vec(rows, index, Word2VecParams(**W2V))
    np.testing.assert_array_equal(first.query_vectors, second.query_vectors)
    evaluation = EvaluationParams(k=(1, 2), selection_metric="hit_rate_at_1")
    first_metrics = pd.Series(evaluate(first, queries, evaluation)).drop("evaluation_seconds")
    second_metrics = pd.Series(evaluate(second, queries, evaluation)).drop("evaluation_seconds")
    assert first_metrics.equals(second_metrics)
    assert stats["vocabulary_size"] == 5 and stats["words_per_second"] > 0
    assert np.allclose(np.linalg.norm(first.item_vectors, axis=1), 1.0)  # cosine: normalised


def test_word2vec_in_out_uses_the_output_vectors():
    rows = relation(playlists(*["a b c d", "b c e"] * 10))
    index = build_track_index(rows)
    model, _ = fit_word2vec(rows, index, Word2VecParams(**W2V, scoring="in_out"))
    assert model.scoring == "in_out"
    assert not np.allclose(model.query_vectors, model.item_vectors)


# --- evaluation, selection, test ---------------------------------------------------------------


def test_evaluate_reports_every_metric(track_index):
    queries = pd.DataFrame(
        {
            "playlist_id": [0, 1, 2],
            "query": [["X|||a"], ["X|||zzz"], ["X|||e"]],
            "target": ["X|||b", "X|||c", "X|||new"],
        }
    )
    result = evaluate(
        fit_most_popular(track_index)[0],
        queries,
        EvaluationParams(k=(1, 10), selection_metric="hit_rate_at_10"),
    )
    assert result["hit_rate_at_1"] == pytest.approx(1 / 3)  # b is the most popular; a is excluded
    assert result["hit_rate_at_10"] == pytest.approx(2 / 3)  # "new" is not in the catalog
    assert result["unseen_target_rate"] == pytest.approx(1 / 3)
    assert result["fallback_rate"] == pytest.approx(1 / 3)  # "zzz" is unknown
    assert result["queries"] == 3
    assert {
        "coverage_at_10",
        "mrr_at_1",
        "ndcg_at_10",
        "mean_popularity_at_10",
        "hit_rate_at_10_unseen",
    } <= set(result)


def _validation(hits: dict[str, list[int]]) -> dict:
    """Validation inputs of select_candidate from per-query hits (1: target in the top 10)."""
    found = {}
    for name, row in hits.items():
        values = np.array(row, dtype=float)
        found[f"{name}__metrics"] = {
            "hit_rate_at_10": values.mean(),
            "hit_rate_at_10_se": np.std(values, ddof=1) / np.sqrt(len(values)),
        }
        found[f"{name}__ranks"] = pd.DataFrame(
            {
                "playlist_id": range(len(row)),
                "rank": np.where(values > 0, 0.0, np.inf),
                "counted": True,
            }
        )
    return found


def select(hits, order=ORDERED):
    return select_candidate(EvaluationParams(), order, KINDS, **_validation(hits))


def test_a_learned_model_ahead_by_less_than_one_paired_se_loses_to_the_simpler_one():
    # w2v_x hits 2 queries more and 1 less of 40: a lead of 0.025, paired SE about 0.044.
    base = [1, 0] * 20
    better = list(base)
    better[1] = better[3] = 1
    better[0] = 0
    selection = select({"cooccurrence": base, "w2v_x": better, "most_popular": [0] * 40})
    assert selection["selected"] == "cooccurrence" and selection["is_baseline"]
    assert selection["best_on_validation"] == "w2v_x"
    assert selection["rule"] == "simpler within one paired SE"
    assert "within one paired standard error" in selection["explanation"]


def test_a_learned_model_ahead_by_more_than_one_paired_se_is_selected():
    base = [1, 0] * 20
    better = [1] * 30 + [0] * 10
    selection = select({"cooccurrence": base, "w2v_x": better, "most_popular": [0] * 40})
    assert selection["selected"] == "w2v_x" and not selection["is_baseline"]
    assert selection["rule"] == "best on validation"
    ranking = {row["candidate"]: row for row in selection["validation_ranking"]}
    assert ranking["cooccurrence"]["paired_se_vs_selected"] > 0
    assert ranking["w2v_x"]["standard_error"] == pytest.approx(np.std(better, ddof=1) / np.sqrt(40))


def test_equal_scores_go_to_the_simpler_candidate():
    hits = [1, 0, 0, 1] * 10
    assert select({"w2v_x": hits, "cooccurrence": hits})["selected"] == "cooccurrence"
    assert select({"w2v_y": hits, "w2v_x": hits})["selected"] == "w2v_x"  # then by name


def test_order_readers_sit_out_when_rows_are_sorted_by_title():
    hits = {"transitions": [1] * 40, "cooccurrence": [1, 0] * 20}
    assert select(hits)["selected"] == "transitions"
    selection = select(hits, {"next_track_is_meaningful": False})
    assert selection["selected"] == "cooccurrence"
    assert (
        "transitions" in selection["left_out"]
        and "Sat out: transitions" in selection["explanation"]
    )


def test_test_split_scores_the_selected_candidate_and_every_baseline_once(track_index):
    queries = pd.DataFrame({"playlist_id": [0], "query": [["X|||a"]], "target": ["X|||b"]})
    models = {
        "most_popular": fit_most_popular(track_index)[0],
        "transitions": fit_transitions(relation(TRAIN), track_index, TransitionParams())[0],
        "w2v_x": fit_most_popular(track_index)[0],
        "w2v_unused": fit_most_popular(track_index)[0],
    }
    loaded = []

    def loader(name):
        def load():
            loaded.append(name)
            return models[name]

        return load

    selected, results = evaluate_on_test(
        {"selected": "w2v_x"},
        queries,
        EvaluationParams(),
        baselines=("most_popular", "transitions"),
        **{n: loader(n) for n in models},
    )
    assert list(results) == ["w2v_x", "most_popular", "transitions"]
    assert loaded == ["w2v_x", "most_popular", "transitions"]  # never the unused variant
    assert selected.name == "w2v_x"
    table = build_results_table(
        {"selected": "w2v_x", "metric": "hit_rate_at_10"}, results, {"protocol": "next_track"},
        KINDS, w2v_x__validation=results["w2v_x"], w2v_x__training={"fit_seconds": 2.5},
        most_popular__validation=results["most_popular"],
    )  # fmt: skip
    assert set(table["split"]) == {"validation", "test"}
    assert table.loc[table["candidate"] == "w2v_x", "selected"].all()
    assert table.loc[table["candidate"] == "w2v_x", "fit_seconds"].tolist() == [2.5, 2.5]
    assert (table["evaluation_seconds"] >= 0).all()
    metrics = collect_mlflow_metrics(
        {"selected": "w2v_x", "metric": "hit_rate_at_10", "value": 0.5, "standard_error": 0.1},
        results,
        w2v_x__validation={"a": 1.0, "b": "x"},
    )
    assert metrics["w2v_x.validation.a"] == [{"value": 1.0, "step": 0}]
    assert "w2v_x.validation.b" not in metrics
    assert metrics["selected.test.hit_rate_at_10"] == metrics["w2v_x.test.hit_rate_at_10"]


# --- the MLflow model --------------------------------------------------------------------------


def test_mlflow_model_ranks_exactly_as_the_evaluation(track_index):
    model, _ = fit_cooccurrence(relation(TRAIN), track_index, CooccurrenceParams(window=2))
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
    model, _ = fit_cooccurrence(relation(TRAIN), track_index, CooccurrenceParams())
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


def test_a_playlist_longer_than_gensims_limit_trains_every_track():
    """gensim drops tokens past 10,000 in a sentence; chunking keeps the tail's tracks."""
    long_playlist = [f"t{i}" for i in range(25_000)]
    rows = relation(playlists(" ".join(long_playlist)))
    index = build_track_index(rows)
    model, stats = fit_word2vec(
        rows, index, Word2VecParams(**(W2V | {"epochs": 1, "vector_size": 4}))
    )
    assert stats["corpus_sentences"] == 3
    assert model.has_vector.all()  # t20000 and the rest of the tail included


# --- at full size: memory budgets, progress, time budgets, shared trainings ----------------------


def test_pair_graph_matches_counting_every_pair_by_hand():
    rng = np.random.default_rng(3)
    rows = playlists(
        *[" ".join(rng.choice(list("abcdefgh"), size=rng.integers(2, 9))) for _ in range(30)]
    )
    index = build_track_index(relation(rows))
    position = {t: i for i, t in enumerate(index["track_id"])}
    for window, directed, inverse in (
        (1, True, False),
        (3, True, False),
        (3, False, False),
        (3, True, True),
    ):
        expected = np.zeros((len(index), len(index)))
        for _, group in rows.groupby("playlist_id"):
            ids = [position[t] for t in group.sort_values("position")["track_id"]]
            for i, a in enumerate(ids):
                for distance, b in enumerate(ids[i + 1 : i + 1 + window], start=1):
                    if a != b:
                        weight = 1 / distance if inverse else 1
                        expected[a, b] += weight
                        if not directed:
                            expected[b, a] += weight
        graph = _pair_graph(relation(rows), index, window, directed, inverse_distance=inverse)
        np.testing.assert_allclose(graph.toarray(), expected, rtol=1e-6)
        assert graph.indices.dtype == np.int32  # 32-bit indices: half the memory


def test_queries_are_ranked_in_batches_within_the_memory_budget(track_index, caplog):
    from music_recsys.core.catalog import Query  # noqa: PLC0415
    from music_recsys.core.evaluation import batches  # noqa: PLC0415

    queries = [Query.of(np.array([i % 3]), 1.0) for i in range(10)]
    parts = list(batches(queries, lambda q: 40, budget_bytes=100))
    assert [p.stop - p.start for p in parts] == [2, 2, 2, 2, 2]
    assert [p.stop - p.start for p in batches(queries, lambda q: 500, 100)] == [1] * 10
    model, _ = fit_cooccurrence(relation(TRAIN), track_index, CooccurrenceParams(window=2))
    frame = pd.DataFrame(
        {"playlist_id": range(6), "query": [["X|||a"], ["X|||b", "X|||c"]] * 3, "target": "X|||d"}
    )
    small = rank_targets(
        model, frame, EvaluationParams(batch_bytes=2**20, k=(3,), selection_metric="hit_rate_at_3")
    )
    whole = rank_targets(model, frame, EvaluationParams(k=(3,), selection_metric="hit_rate_at_3"))
    np.testing.assert_array_equal(small.top, whole.top)


def test_progress_is_logged_with_rate_and_time_left(caplog):
    import logging  # noqa: PLC0415

    from music_recsys.progress import Progress  # noqa: PLC0415

    progress = Progress(logging.getLogger("test"), "cooccurrence", 100, "queries", interval=0)
    with caplog.at_level(logging.INFO, logger="test"):
        progress.advance(40)
        progress.advance(60)  # done: no line
    assert len(caplog.records) == 1
    assert "cooccurrence: 40 of 100 queries" in caplog.text and "s left" in caplog.text


def test_a_time_budget_cuts_epochs_and_says_so(caplog):
    rows = relation(playlists(*["a b c d", "b c e", "a d e"] * 50))
    index = build_track_index(rows)
    params = Word2VecParams(**(W2V | {"epochs": 50, "max_training_seconds": 1e-6}))
    model, stats = fit_word2vec(rows, index, params)
    assert stats["epochs_configured"] == 50 and stats["epochs_trained"] == 1
    assert stats["epochs_cut_by_time_budget"] == 49
    assert "over max_training_seconds" in caplog.text
    _, unlimited = fit_word2vec(rows, index, Word2VecParams(**(W2V | {"epochs": 3})))
    assert unlimited["epochs_trained"] == 3 and unlimited["epochs_cut_by_time_budget"] == 0


def test_variants_that_differ_only_in_scoring_share_one_training(tmp_path):
    from kedro.pipeline import Pipeline  # noqa: PLC0415

    from music_recsys.kinds.word2vec import trained_by  # noqa: PLC0415
    from music_recsys.pipelines.data_science.pipeline import (  # noqa: PLC0415
        _candidate,
        declared_candidates,
    )

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
    trainings = {n: trained_by(c, found) for n, c in found.items() if c.kind.name == "word2vec"}
    assert trainings == {"sg_cos": "sg_cos", "sg_inout": "sg_cos", "sg_wide": "sg_wide"}
    pipeline = sum((_candidate(c, found) for c in found.values()), Pipeline([]))
    train_nodes = sorted(n.name for n in pipeline.nodes if n.name.endswith("train_node"))
    assert train_nodes == ["sg_cos.train_node", "sg_wide.train_node"]
    assert "sg_cos.word_vectors" in pipeline.only_nodes("sg_inout.fit_node").inputs()
    assert "params:knn.playlist_knn" in pipeline.only_nodes("knn.fit_node").inputs()


def test_a_candidates_validation_log_names_the_candidate_not_its_kind(track_index, caplog):
    import logging  # noqa: PLC0415

    from music_recsys.kinds import Candidate, kind  # noqa: PLC0415
    from music_recsys.pipelines.data_science.pipeline import _candidate  # noqa: PLC0415

    sr = Candidate("sequential_rules", kind("transitions"), {"window": 3})
    pipeline = _candidate(sr, {"sequential_rules": sr})
    node = pipeline.only_nodes("sequential_rules.evaluate_validation_node").nodes[0]
    model, _ = transitions.fit(relation(TRAIN), track_index, {}, sr.validated())
    queries = pd.DataFrame({"playlist_id": [0], "query": [["X|||a"]], "target": ["X|||b"]})
    with caplog.at_level(logging.INFO, logger="music_recsys"):
        node.func(model, queries, EvaluationParams(k=(3,), selection_metric="hit_rate_at_3"))
    assert "sequential_rules: hit_rate@3" in caplog.text
    assert "transitions: hit_rate" not in caplog.text


def test_a_shared_training_is_scored_both_ways_and_retrains_if_settings_diverge(caplog):
    from music_recsys.kinds.word2vec import (  # noqa: PLC0415
        train_word_vectors,
        word2vec_recommender,
    )

    rows = relation(playlists(*["a b c d", "b c e"] * 10))
    index = build_track_index(rows)
    vectors, training = train_word_vectors(rows, index, ORDERED, Word2VecParams(**W2V))
    cosine, _ = word2vec_recommender(vectors, training, rows, index, ORDERED, Word2VecParams(**W2V))
    in_out, stats = word2vec_recommender(
        vectors, training, rows, index, ORDERED, Word2VecParams(**W2V, scoring="in_out"), "b", "a"
    )
    np.testing.assert_array_equal(in_out.query_vectors, vectors.input_vectors)
    np.testing.assert_array_equal(in_out.item_vectors, vectors.output_vectors)
    assert np.allclose(np.linalg.norm(cosine.item_vectors, axis=1), 1.0)
    assert stats["training_shared_with"] == "a" and stats["fit_seconds"] >= training["fit_seconds"]
    changed = Word2VecParams(**(W2V | {"window": 1}), scoring="in_out")
    _, stats = word2vec_recommender(vectors, training, rows, index, ORDERED, changed, "b", "a")
    assert "training_shared_with" not in stats and "training separately" in caplog.text
