"""Track embeddings with gensim's Word2Vec (prod2vec): playlists are sentences, tracks words.

Why these choices (see ``shared/FACTS.md`` and the papers it cites):

- Skip-gram or CBOW is always set explicitly: gensim defaults to CBOW (``sg=0``), which the
  tutorial this project grew from used by accident.
- ``ns_exponent``, ``window``, ``sample`` and ``epochs`` change hit rates by up to an order of
  magnitude for recommendation (Caselles-Dupré et al., RecSys 2018), so all are parameters.
- gensim silently truncates sentences longer than 10,000 tokens (gensim #2880); long playlists
  are cut into chunks of at most ``max_sentence_length`` here, so no track is dropped.
- The corpus is kept as integer arrays; each pass builds one flat list of token references and
  yields playlists as slices of it, so no list of lists of the whole dataset is kept.
- With ``workers: 1`` and a fixed ``seed`` training is deterministic (tested). gensim 4 seeds its
  vectors from ``seed`` alone; ``hashfxn`` is set to a stable hash anyway, so that nothing can
  depend on Python's per-process salted ``hash`` of strings.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Iterator

import numpy as np
from gensim.models import Word2Vec
from gensim.models.callbacks import CallbackAny2Vec

logger = logging.getLogger(__name__)


def stable_hash(text: str) -> int:
    """A hash that is the same in every process (unlike ``hash`` on str)."""
    return zlib.crc32(text.encode("utf-8"))


class PlaylistCorpus:
    """Playlists as lists of track tokens, re-iterable, built from flat integer arrays.

    Args:
        tokens: Token string of each track index.
        track_indices: Track index of every row, playlists one after another.
        offsets: Start of each playlist in ``track_indices``, plus the end.
        max_sentence_length: Longer playlists are yielded in chunks of at most this length.
    """

    def __init__(
        self,
        tokens: list[str],
        track_indices: np.ndarray,
        offsets: np.ndarray,
        max_sentence_length: int = 10_000,
    ) -> None:
        self.tokens = tokens
        self.track_indices = track_indices
        self.offsets = offsets
        self.max_sentence_length = max_sentence_length

    def __iter__(self) -> Iterator[list[str]]:
        # One flat list of token references per pass (8 bytes a token, the strings are shared),
        # sliced per playlist: slicing is a C-level copy, so the producer thread stays cheap
        # next to gensim's workers, which it competes with for the GIL and the two cores.
        flat = np.asarray(self.tokens, dtype=object)[self.track_indices].tolist()
        step = self.max_sentence_length
        for start, end in zip(self.offsets[:-1].tolist(), self.offsets[1:].tolist(), strict=True):
            for chunk_start in range(start, end, step):
                yield flat[chunk_start : min(end, chunk_start + step)]

    @property
    def n_words(self) -> int:
        return len(self.track_indices)

    @property
    def n_sentences(self) -> int:
        lengths = np.diff(self.offsets)
        return int(np.ceil(lengths / self.max_sentence_length).sum())


class _EpochLogger(CallbackAny2Vec):
    """Logs each epoch's progress and duration."""

    def __init__(self, name: str, epochs: int, n_words: int) -> None:
        self.name, self.epochs, self.n_words = name, epochs, n_words
        self.epoch = 0
        self.started = self.epoch_started = time.perf_counter()

    def on_epoch_begin(self, model: Word2Vec) -> None:
        self.epoch_started = time.perf_counter()

    def on_epoch_end(self, model: Word2Vec) -> None:
        self.epoch += 1
        seconds = time.perf_counter() - self.epoch_started
        if self.epoch in (1, self.epochs) or self.epoch % max(1, self.epochs // 10) == 0:
            logger.info(
                "%s: epoch %d/%d in %.1f s (%.0f words/s), %.0f s so far",
                self.name,
                self.epoch,
                self.epochs,
                seconds,
                self.n_words / max(seconds, 1e-9),
                time.perf_counter() - self.started,
            )


def train_word2vec(
    corpus: PlaylistCorpus, params: dict, name: str = "word2vec"
) -> tuple[Word2Vec, dict]:
    """Trains Word2Vec on the corpus.

    Args:
        corpus: The training playlists.
        params: gensim arguments: ``sg``, ``vector_size``, ``window``, ``epochs``, ``negative``,
            ``ns_exponent``, ``sample``, ``min_count``, ``seed``, ``workers``, ``alpha``, ...
        name: For the log.

    Returns:
        The model and training statistics (seconds, words per second, vocabulary size).
    """
    model = Word2Vec(hashfxn=stable_hash, **params)
    started = time.perf_counter()
    model.build_vocab(corpus)
    vocab_seconds = time.perf_counter() - started
    started = time.perf_counter()
    if len(model.wv):
        model.train(
            corpus,
            total_examples=model.corpus_count,
            total_words=model.corpus_total_words,
            epochs=model.epochs,
            callbacks=[_EpochLogger(name, model.epochs, corpus.n_words)],
        )
    else:
        logger.warning(
            "%s: no track occurs min_count=%d times; nothing to train, every query will fall "
            "back to popularity",
            name,
            params.get("min_count", 5),
        )
    seconds = time.perf_counter() - started
    stats = {
        "training_seconds": seconds,
        "vocabulary_seconds": vocab_seconds,
        "words_per_second": corpus.n_words * model.epochs / max(seconds, 1e-9),
        "vocabulary_size": len(model.wv),
        "corpus_words": corpus.n_words,
        "corpus_sentences": corpus.n_sentences,
    }
    logger.info(
        "%s: trained %d epochs on %d words in %.1f s (%.0f words/s), %d tracks in the vocabulary",
        name,
        model.epochs,
        corpus.n_words,
        seconds,
        stats["words_per_second"],
        len(model.wv),
    )
    return model, stats
