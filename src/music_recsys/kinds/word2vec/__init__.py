"""word2vec (prod2vec): playlists as sentences, tracks as words (gensim; see :mod:`.training`).

A variant's vectors score tracks by cosine or by input · output vector. Variants whose settings
differ only in ``scoring`` share one training: the first by name trains, the others read its
vectors. When the order check finds the rows sorted by title, each playlist is read in a seeded
random order, so the context window samples companions, not alphabetical neighbours.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Literal

import numpy as np
from pydantic import Field, ValidationError

from music_recsys.core.catalog import TrackIndex
from music_recsys.kinds import Candidate, Kind, Settings
from music_recsys.kinds.embedding import Embedding

from .training import WordVectors

logger = logging.getLogger(__name__)


class Word2VecSettings(Settings):
    """gensim Word2Vec arguments; ``sg`` is required so that CBOW is never chosen by default."""

    sg: Literal[0, 1]
    vector_size: int = Field(48, ge=2)
    window: int = Field(5, ge=1)
    epochs: int = Field(30, ge=1)
    negative: int = Field(5, ge=1)
    ns_exponent: float = 0.75
    sample: float = Field(1e-3, ge=0)
    min_count: int = Field(1, ge=1)
    alpha: float = Field(0.025, gt=0)
    min_alpha: float = Field(0.0001, ge=0)
    seed: int = 1
    workers: int = Field(2, ge=1)
    max_sentence_length: int = Field(10_000, ge=1)
    # Train only the epochs that fit in this many seconds (at least one); null: every epoch.
    max_training_seconds: float | None = Field(None, gt=0)
    # How the trained vectors score tracks (music_recsys.kinds.embedding): cosine of word
    # vectors, or word vector · output vector (what word2vec was trained for).
    scoring: Literal["cosine", "in_out"] = "cosine"

    def gensim_arguments(self) -> dict:
        return self.model_dump(exclude={"max_sentence_length", "scoring", "max_training_seconds"})

    def training_settings(self) -> dict:
        """Everything that decides the trained vectors: variants equal here share a training."""
        return self.model_dump(exclude={"scoring"})


def train_word_vectors(
    playlists_train,
    track_index,
    track_order_report: dict,
    word2vec: Word2VecSettings,
    name: str = "word2vec",
) -> tuple[WordVectors, dict]:
    """Trains gensim Word2Vec on the training playlists (see :mod:`.training`).

    Returns:
        Input and output vectors over the catalog (zero rows for tracks under ``min_count``)
        and training statistics (time, words per second, vocabulary, epochs trained).
    """
    from music_recsys.core.training_rows import in_play_order, rows_by_playlist  # noqa: PLC0415

    from .training import PlaylistCorpus, train_word2vec  # noqa: PLC0415

    started = time.perf_counter()
    shuffled = not in_play_order(track_order_report)
    if shuffled:
        logger.info(
            "%s: rows are sorted by title, so each playlist is read in a seeded random order",
            name,
        )
    _, offsets, indices = rows_by_playlist(playlists_train, track_index, shuffled=shuffled)
    tokens = [str(i) for i in range(len(track_index))]
    corpus = PlaylistCorpus(tokens, indices, offsets, word2vec.max_sentence_length)
    model, stats = train_word2vec(
        corpus, word2vec.gensim_arguments(), name, word2vec.max_training_seconds
    )
    known = np.array([int(token) for token in model.wv.index_to_key], dtype=np.int64)
    has_vector = np.zeros(len(track_index), dtype=bool)
    has_vector[known] = True
    input_vectors = np.zeros((len(track_index), word2vec.vector_size), dtype=np.float32)
    input_vectors[known] = model.wv.vectors
    output_vectors = np.zeros_like(input_vectors)
    output_vectors[known] = model.syn1neg if word2vec.negative else model.syn1
    stats["catalog_share_with_vector"] = float(has_vector.mean())
    stats["fit_seconds"] = time.perf_counter() - started
    stats["settings"] = word2vec.training_settings()
    if shuffled:
        stats["order"] = "seeded random order within each playlist (rows sorted by title)"
    return WordVectors(input_vectors, output_vectors, has_vector), stats


def word2vec_recommender(
    word_vectors: WordVectors,
    word2vec_training: dict,
    playlists_train,
    track_index,
    track_order_report: dict,
    word2vec: Word2VecSettings,
    name: str = "word2vec",
    trained_by: str = "",
) -> tuple[Embedding, dict]:
    """A word2vec recommender: trained vectors scored by cosine or input·output similarity.

    Variants whose settings in conf differ only in ``scoring`` share one training
    (``trained_by`` names the variant that trained it); the statistics then say so, and their
    fit cost is the shared training's. If ``--params`` made the settings differ after all, the
    variant trains its own vectors (and the log says so).
    """
    if trained_by and word2vec_training.get("settings") != word2vec.training_settings():
        logger.warning(
            "Settings differ from %s's at run time (changed with --params?): training "
            "separately instead of sharing its vectors",
            trained_by,
        )
        word_vectors, word2vec_training = train_word_vectors(
            playlists_train, track_index, track_order_report, word2vec, name
        )
        trained_by = ""
    started = time.perf_counter()
    known = word_vectors.has_vector
    if word2vec.scoring == "cosine":
        norms = np.linalg.norm(word_vectors.input_vectors, axis=1, keepdims=True)
        query_vectors = np.where(
            known[:, None], word_vectors.input_vectors / np.maximum(norms, 1e-12), 0
        )
        query_vectors = query_vectors.astype(np.float32)
        item_vectors = query_vectors
    else:
        query_vectors, item_vectors = word_vectors.input_vectors, word_vectors.output_vectors
    recommender = Embedding(
        TrackIndex.from_frame(track_index),
        name=name,
        query_vectors=query_vectors,
        item_vectors=item_vectors,
        has_vector=known,
        scoring=word2vec.scoring,
    )
    stats = dict(word2vec_training)
    stats["fit_seconds"] = word2vec_training["fit_seconds"] + time.perf_counter() - started
    if trained_by:
        stats["training_shared_with"] = trained_by
    return recommender, stats


def fit(playlists, track_index, track_order_report: dict, settings: Word2VecSettings):
    """Trains and scores one variant (:func:`train_word_vectors`, then
    :func:`word2vec_recommender`)."""
    vectors, stats = train_word_vectors(playlists, track_index, track_order_report, settings)
    return word2vec_recommender(
        vectors, stats, playlists, track_index, track_order_report, settings
    )


def trained_by(candidate: Candidate, candidates: dict[str, Candidate]) -> str:
    """The variant whose training ``candidate`` uses: itself, or the first variant by name
    with the same settings but for ``scoring``."""

    def key(c: Candidate) -> str:
        try:
            return json.dumps(c.validated().training_settings(), sort_keys=True)
        except (ValidationError, TypeError):
            return c.name  # invalid: trains alone, and Kedro's validation names the problem

    mine = key(candidate)
    for name in sorted(candidates):
        other = candidates[name]
        if other.kind.name == "word2vec" and key(other) == mine:
            return name
    return candidate.name


def nodes(candidate: Candidate, candidates: dict[str, Candidate]):
    """A variant's nodes: its training (unless it shares another's), then its scoring."""
    from kedro.pipeline import Node  # noqa: PLC0415

    from music_recsys.pipelines.data_science.pipeline import partial_named  # noqa: PLC0415

    name = candidate.name
    leader = trained_by(candidate, candidates)
    score = Node(
        partial_named(word2vec_recommender, name=name, trained_by="" if leader == name else leader),
        [
            "word_vectors",
            "word2vec_training",
            "playlists_train",
            "track_index",
            "track_order_report",
            "params:word2vec",
        ],
        ["recommender@model", "training_metrics"],
        name="fit_node",
        tags="training",
    )
    if leader != name:
        return [score], {
            "word_vectors": f"{leader}.word_vectors",
            "word2vec_training": f"{leader}.word2vec_training",
        }
    train = Node(
        partial_named(train_word_vectors, name=name),
        ["playlists_train", "track_index", "track_order_report", "params:word2vec"],
        ["word_vectors", "word2vec_training"],
        name="train_node",
        tags="training",
    )
    return [train, score], {}


def _from_arrays(index, arrays: dict, name: str) -> Embedding:
    return Embedding(
        index,
        name=name,
        query_vectors=arrays["query_vectors"],
        # [dim, catalog] since the serving model multiplies that way; [catalog, dim] before.
        item_vectors=arrays["item_vectors_t"].T
        if "item_vectors_t" in arrays
        else arrays["item_vectors"],
        has_vector=np.asarray(arrays["has_vector"]),
    )


KIND = Kind(
    name="word2vec",
    settings=Word2VecSettings,
    fit=fit,
    simplicity=5,
    nodes=nodes,
    from_arrays=_from_arrays,
)
