"""Playlist-kNN: neighbours and votes by hand."""

import math

import numpy as np

from music_recsys.core.catalog import Query
from music_recsys.kinds.playlist_knn import PlaylistKnnSettings
from tests.shared import fit, playlists

# Catalog order (count, then id): a b c d e → indices 0..4.
TINY = playlists("a b c", "a d", "b c d", "e")


def knn(**settings):
    return fit("playlist_knn", TINY, PlaylistKnnSettings(**settings)).recommender


def query(model, *tracks):
    return Query.of(model.index.lookup([f"X|||{t}" for t in tracks]))


def test_knn_neighbours_and_votes_by_hand_cosine():
    model = knn(neighbours=2)
    assert model.index.track_ids.tolist() == [f"X|||{t}" for t in "abcde"]
    sims = model.similarities([query(model, "a", "b")]).toarray()[0]
    # overlap 2, 1, 1 with |p| 3, 2, 3 and |q| 2: cosine 2/√6, 1/2, 1/√6; the 2 nearest vote.
    np.testing.assert_allclose(sims, [2 / math.sqrt(6), 0.5, 0, 0], rtol=1e-6)
    top, scores, fell_back = model.rank([query(model, "a", "b")], 3)
    assert top.tolist() == [[2, 3, 4]]  # c (p0 votes), d (p1 votes), then e at 0
    np.testing.assert_allclose(scores[0], [2 / math.sqrt(6), 0.5, 0], rtol=1e-6)
    assert not fell_back[0]
    top, scores, _ = knn(neighbours=3).rank([query(model, "a", "b")], 2)
    np.testing.assert_allclose(scores[0], [3 / math.sqrt(6), 0.5 + 1 / math.sqrt(6)], rtol=1e-6)


def test_knn_jaccard_and_idf_by_hand():
    model = knn(neighbours=2, similarity="jaccard")
    sims = model.similarities([query(model, "a", "b")]).toarray()[0]
    np.testing.assert_allclose(sims, [2 / 3, 1 / 3, 0, 0], rtol=1e-6)
    model = knn(neighbours=1, idf=True)
    # idf: a, b, c, d in 2 of 4 playlists (log 2); e in 1 (log 4). Query [d]: p1 = {a, d} and
    # p2 = {b, c, d} share d; ‖p1‖ = √2·log2 < ‖p2‖ = √3·log2, so p1 is nearest.
    sims = model.similarities([query(model, "d")]).toarray()[0]
    np.testing.assert_allclose(sims[1], 1 / math.sqrt(2), rtol=1e-6)
    assert model.rank([query(model, "d")], 1)[0].tolist() == [[0]]  # a, from p1


def test_the_asymmetric_cosine_penalises_long_neighbours_less():
    # Query [a]: p0 = {a, b, c} and p1 = {a, d} share a. The cosine ranks them by length alone
    # (1/√3, 1/√2); α = 0.75 divides by |p|^0.5 ** 0.5 (|q| = 1); α = 1 not by |p| at all.
    for alpha, want in [(0.5, [3**-0.5, 2**-0.5]), (0.75, [3**-0.25, 2**-0.25]), (1.0, [1, 1])]:
        model = knn(neighbours=2, asymmetry=alpha)
        sims = model.similarities([query(model, "a")]).toarray()[0]
        np.testing.assert_allclose(sims[:2], want, rtol=1e-6)


def test_match_recency_and_position_decay_by_hand():
    """Query [b, d], d the last: p0 = a b c matches b (one step back: div weighs it 1/2), p1 =
    a d and p2 = b c d match d (weight 1); each neighbour's tracks vote 0.5 ** (places from its
    match). Cosine: p0 1/√6, p1 1/2, p2 2/√6."""
    model = knn(neighbours=3, match_recency="div", position_decay=0.5)
    top, scores, _ = model.rank([query(model, "b", "d")], 2)
    a = (1 / math.sqrt(6)) * 0.5 * 0.5 + 0.5 * 1 * 0.5  # p0: a one place before b; p1: a before d
    c = (1 / math.sqrt(6)) * 0.5 * 0.5 + (2 / math.sqrt(6)) * 1 * 0.5  # p0 after b; p2 before d
    assert [model.index.track_ids[i] for i in top[0]] == ["X|||c", "X|||a"]
    np.testing.assert_allclose(scores[0], [c, a], rtol=1e-6)
    # Where the order cannot be read (continuation), the same settings vote as plain kNN.
    plain = fit(
        "playlist_knn",
        TINY,
        PlaylistKnnSettings(neighbours=3, match_recency="div", position_decay=0.5),
        protocol="continuation",
    ).recommender
    assert not plain.reads_matches and plain.position_decay == 1.0


def test_knn_sample_keeps_the_highest_priority_candidates():
    model = knn(neighbours=10, sample_size=1, seed=3)
    sims = model.similarities([query(model, "a", "b")]).toarray()[0]
    sharing = np.array([0, 1, 2])  # p0, p1, p2 share a track with the query
    assert np.count_nonzero(sims) == 1
    assert np.flatnonzero(sims)[0] == sharing[np.argmax(model.priority[sharing])]
