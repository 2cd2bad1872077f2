"""word2vec (prod2vec): playlists as sentences, tracks as words (gensim; see :mod:`.training`).

A variant's vectors score tracks by cosine or by input · output vector. Variants whose settings
differ only in ``scoring`` share one training (the kind declares it: ``shared_training``): the
first by name trains, the others read its vectors. When the order check finds the rows sorted by title, each playlist is read in a seeded
random order, so the context window samples companions, not alphabetical neighbours.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Literal

import numpy as np
from pydantic import Field

from music_recsys.core.catalog import TrackIndex
from music_recsys.kinds.contract import FitInputs, Fitted, Kind, RecencySettings, SharedTraining
from music_recsys.kinds.embedding import Embedding
from music_recsys.kinds.search_space import RECENCY_SPACE, FloatRange, IntRange

from .training import WordVectors

logger = logging.getLogger(__name__)

# The serving layer's variables (serving.py), read back by from_arrays.
QUERY_VECTORS, ITEM_VECTORS_T, HAS_VECTOR = "query_vectors", "item_vectors_t", "has_vector"


class Word2VecSettings(RecencySettings):
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
    # The training's budget, counted in words so that it trains alike on any machine: at most
    # this many words in all epochs together (at least one epoch); null: every epoch.
    max_training_words: int | None = Field(None, ge=1)
    # A guard, not a budget: stop after the epoch that passes this many seconds (the results
    # table and the report name the cut: such a run is not reproducible); null: none.
    max_training_seconds: float | None = Field(None, gt=0)
    # How the trained vectors score tracks (music_recsys.kinds.embedding): cosine of word
    # vectors, or word vector · output vector (what word2vec was trained for).
    scoring: Literal["cosine", "in_out"] = "cosine"

    def gensim_arguments(self) -> dict:
        return self.model_dump(
            exclude={
                "max_sentence_length",
                "scoring",
                "max_training_words",
                "max_training_seconds",
                "recency",
                "recency_decay",
            }
        )

    def training_settings(self) -> dict:
        """Everything that decides the trained vectors: variants equal here share a training."""
        return self.model_dump(exclude={"scoring", "recency", "recency_decay"})


def training_key(settings: Word2VecSettings) -> str:
    """What decides the trained vectors: variants with the same key share one training."""
    return json.dumps(settings.training_settings(), sort_keys=True)


def train(inputs: FitInputs, settings: Word2VecSettings) -> tuple[WordVectors, dict]:
    """Trains gensim Word2Vec on the training playlists (see :mod:`.training`).

    Returns:
        Input and output vectors over the catalog (zero rows for tracks under ``min_count``)
        and training statistics (time, words per second, vocabulary, epochs trained, the
        settings and which candidate trained).
    """
    from music_recsys.core.training_rows import rows_by_playlist  # noqa: PLC0415 - DuckDB: to fit only

    from .training import PlaylistCorpus, train_word2vec  # noqa: PLC0415 - gensim: to fit only

    started = time.perf_counter()
    name = inputs.name or "word2vec"
    track_index = inputs.track_index
    shuffled = not inputs.in_play_order
    if shuffled:
        logger.info(
            "%s: rows are sorted by title, so each playlist is read in a seeded random order",
            name,
        )
    _, offsets, indices = rows_by_playlist(inputs.playlists, track_index, shuffled=shuffled)
    tokens = [str(i) for i in range(len(track_index))]
    corpus = PlaylistCorpus(tokens, indices, offsets, settings.max_sentence_length)
    epochs = epochs_within(settings.epochs, settings.max_training_words, corpus.n_words, name)
    model, stats = train_word2vec(
        corpus,
        settings.gensim_arguments() | {"epochs": epochs},
        name,
        settings.max_training_seconds,
    )
    stats["epochs_configured"] = settings.epochs
    stats["epochs_within_word_budget"] = epochs
    known = np.array([int(token) for token in model.wv.index_to_key], dtype=np.int64)
    has_vector = np.zeros(len(track_index), dtype=bool)
    has_vector[known] = True
    input_vectors = np.zeros((len(track_index), settings.vector_size), dtype=np.float32)
    input_vectors[known] = model.wv.vectors
    output_vectors = np.zeros_like(input_vectors)
    output_vectors[known] = model.syn1neg if settings.negative else model.syn1
    stats["catalog_share_with_vector"] = float(has_vector.mean())
    stats["fit_seconds"] = time.perf_counter() - started
    stats["settings"] = settings.training_settings()
    stats["trained_by"] = name
    if shuffled:
        stats["order"] = "seeded random order within each playlist (rows sorted by title)"
    return WordVectors(input_vectors, output_vectors, has_vector), stats


def epochs_within(epochs: int, max_words: int | None, corpus_words: int, name: str) -> int:
    """The epochs to train: ``epochs``, or as many as ``max_words`` words allow (at least one)."""
    if max_words is None or epochs * corpus_words <= max_words:
        return epochs
    affordable = max(1, max_words // max(corpus_words, 1))
    logger.info(
        "%s: %d epochs of %d words exceed max_training_words %d: training %d epochs (the "
        "learning rate still decays to min_alpha)",
        name,
        epochs,
        corpus_words,
        max_words,
        affordable,
    )
    return affordable


def fit(inputs: FitInputs, settings: Word2VecSettings) -> Fitted:
    """A word2vec recommender: trained vectors scored by cosine or input·output similarity.

    With ``inputs.trained`` (a shared training, :data:`KIND`'s ``shared_training``) the
    vectors are read from it, and the statistics say which candidate trained them; their fit
    cost is the shared training's. If ``--params`` made the settings differ after all, the
    variant trains its own vectors (and the log says so).
    """
    name = inputs.name or "word2vec"
    trained = inputs.trained
    if trained is not None and trained[1].get("settings") != settings.training_settings():
        logger.warning(
            "%s: settings differ from %s's at run time (changed with --params?): training "
            "separately instead of sharing its vectors",
            name,
            trained[1].get("trained_by"),
        )
        trained = None
    word_vectors, training = trained if trained is not None else train(inputs, settings)
    started = time.perf_counter()
    known = word_vectors.has_vector
    if settings.scoring == "cosine":
        norms = np.linalg.norm(word_vectors.input_vectors, axis=1, keepdims=True)
        query_vectors = np.where(
            known[:, None], word_vectors.input_vectors / np.maximum(norms, 1e-12), 0
        )
        query_vectors = query_vectors.astype(np.float32)
        item_vectors = query_vectors
    else:
        query_vectors, item_vectors = word_vectors.input_vectors, word_vectors.output_vectors
    recommender = Embedding(
        TrackIndex.from_frame(inputs.track_index),
        name=name,
        query_vectors=query_vectors,
        item_vectors=item_vectors,
        has_vector=known,
        scoring=settings.scoring,
        recency=settings.recency_for(inputs),
    )
    stats = {key: value for key, value in training.items() if key != "trained_by"}
    stats["fit_seconds"] = training["fit_seconds"] + time.perf_counter() - started
    if training.get("trained_by", name) != name:
        stats["training_shared_with"] = training["trained_by"]
    return Fitted(recommender, stats)


def from_arrays(index: TrackIndex, arrays: dict, name: str, description=None) -> Embedding:
    """The recommender rebuilt from a package's variables (see ``serving.py``)."""
    return Embedding(
        index,
        name=name,
        query_vectors=arrays[QUERY_VECTORS],
        # stored [dim, catalog]: the serving model multiplies that way
        item_vectors=arrays[ITEM_VECTORS_T].T,
        has_vector=np.asarray(arrays[HAS_VECTOR]),
    )


KIND = Kind(
    name="word2vec",
    settings=Word2VecSettings,
    fit=fit,
    simplicity=5,
    has_track_vectors=True,
    shared_training=SharedTraining(key=training_key, train=train),
    # gensim's workers update the vectors without locks: only one worker trains alike twice.
    reproducible=lambda settings: settings.model_copy(update={"workers": 1}),
    serving_layer="music_recsys.kinds.word2vec.serving:layer",
    arrays=(QUERY_VECTORS, ITEM_VECTORS_T, HAS_VECTOR),
    from_arrays=from_arrays,
    search_space={
        "window": IntRange(2, 50, log=True),
        "ns_exponent": FloatRange(-1.0, 1.0),
        "sample": FloatRange(1e-5, 1e-2, log=True),
        "epochs": IntRange(5, 100, log=True),
        "min_count": IntRange(1, 5),
    }
    | RECENCY_SPACE,
)
