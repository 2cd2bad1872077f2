"""word2vec: chunked playlists, reproducible fits, time budgets, shared trainings."""

import numpy as np
import pandas as pd

from music_recsys.core.evaluation import evaluate
from music_recsys.core.protocol import EvaluationParams
from music_recsys.core.training_rows import build_track_index
from music_recsys.duckdb_sql import relation
from music_recsys.kinds.word2vec import Word2VecSettings
from music_recsys.kinds.word2vec.training import PlaylistCorpus
from tests.shared import ORDERED, fit, playlists

W2V = {"sg": 1, "vector_size": 8, "window": 2, "epochs": 5, "min_count": 1, "workers": 1, "seed": 3}


def fit_word2vec(rows, index, settings, report=ORDERED, **inputs):
    fitted = fit("word2vec", rows, settings, report, index, **inputs)
    return fitted.recommender, fitted.stats


def test_long_playlists_are_chunked_not_cut():
    corpus = PlaylistCorpus(
        [str(i) for i in range(3)], np.array([0, 1, 2] * 9), np.array([0, 25, 27]), 10
    )
    sentences = list(corpus)
    assert [len(s) for s in sentences] == [10, 10, 5, 2]
    assert sum(len(s) for s in sentences) == corpus.n_words == 27
    assert corpus.n_sentences == 4


def test_word2vec_with_one_worker_and_a_seed_is_reproducible():
    rows = relation(playlists(*["a b c d", "b c e", "a d e", "c d"] * 20))
    index = build_track_index(rows)
    queries = pd.DataFrame(
        {
            "playlist_id": [0, 1],
            "query": [["X|||a"], ["X|||c", "X|||d"]],
            "target": ["X|||b", "X|||e"],
        }
    )
    first, stats = fit_word2vec(rows, index, Word2VecSettings(**W2V))
    second, _ = fit_word2vec(rows, index, Word2VecSettings(**W2V))
    np.testing.assert_array_equal(first.query_vectors, second.query_vectors)
    evaluation = EvaluationParams(k=(1, 2), selection_metric="hit_rate_at_1")
    first_metrics = pd.Series(evaluate(first, queries, evaluation)[0]).drop("evaluation_seconds")
    second_metrics = pd.Series(evaluate(second, queries, evaluation)[0]).drop("evaluation_seconds")
    assert first_metrics.equals(second_metrics)
    assert stats["vocabulary_size"] == 5 and stats["words_per_second"] > 0
    assert np.allclose(np.linalg.norm(first.item_vectors, axis=1), 1.0)  # cosine: normalised


def test_word2vec_in_out_uses_the_output_vectors():
    rows = relation(playlists(*["a b c d", "b c e"] * 10))
    index = build_track_index(rows)
    model, _ = fit_word2vec(rows, index, Word2VecSettings(**W2V, scoring="in_out"))
    assert model.scoring == "in_out"
    assert not np.allclose(model.query_vectors, model.item_vectors)


def test_a_playlist_longer_than_gensims_limit_trains_every_track():
    """gensim drops tokens past 10,000 in a sentence; chunking keeps the tail's tracks."""
    long_playlist = [f"t{i}" for i in range(25_000)]
    rows = relation(playlists(" ".join(long_playlist)))
    index = build_track_index(rows)
    model, stats = fit_word2vec(
        rows, index, Word2VecSettings(**(W2V | {"epochs": 1, "vector_size": 4}))
    )
    assert stats["corpus_sentences"] == 3
    assert model.has_vector.all()  # t20000 and the rest of the tail included


def test_a_time_budget_cuts_epochs_and_says_so(caplog):
    rows = relation(playlists(*["a b c d", "b c e", "a d e"] * 50))
    index = build_track_index(rows)
    params = Word2VecSettings(**(W2V | {"epochs": 50, "max_training_seconds": 1e-6}))
    model, stats = fit_word2vec(rows, index, params)
    assert stats["epochs_configured"] == 50 and stats["epochs_trained"] == 1
    assert stats["epochs_cut_by_time_budget"] == 49
    assert "over max_training_seconds" in caplog.text
    _, unlimited = fit_word2vec(rows, index, Word2VecSettings(**(W2V | {"epochs": 3})))
    assert unlimited["epochs_trained"] == 3 and unlimited["epochs_cut_by_time_budget"] == 0


def test_a_shared_training_is_scored_both_ways_and_retrains_if_settings_diverge(caplog):
    from music_recsys.kinds import FitInputs  # noqa: PLC0415
    from music_recsys.kinds.word2vec import train  # noqa: PLC0415

    rows = relation(playlists(*["a b c d", "b c e"] * 10))
    index = build_track_index(rows)
    trained = train(FitInputs(rows, index, ORDERED, name="a"), Word2VecSettings(**W2V))
    vectors, training = trained
    cosine, _ = fit_word2vec(rows, index, Word2VecSettings(**W2V), trained=trained, name="a")
    in_out, stats = fit_word2vec(
        rows, index, Word2VecSettings(**W2V, scoring="in_out"), trained=trained, name="b"
    )
    np.testing.assert_array_equal(in_out.query_vectors, vectors.input_vectors)
    np.testing.assert_array_equal(in_out.item_vectors, vectors.output_vectors)
    assert np.allclose(np.linalg.norm(cosine.item_vectors, axis=1), 1.0)
    assert stats["training_shared_with"] == "a" and stats["fit_seconds"] >= training["fit_seconds"]
    changed = Word2VecSettings(**(W2V | {"window": 1}), scoring="in_out")
    _, stats = fit_word2vec(rows, index, changed, trained=trained, name="b")
    assert "training_shared_with" not in stats and "training separately" in caplog.text
