"""Track embeddings with gensim's Word2Vec (prod2vec): playlists are sentences, tracks words.

Why these choices:

- Skip-gram or CBOW is always set explicitly, never left to gensim's default (CBOW,
  ``sg=0``), which is easy to get without having chosen it.
- ``ns_exponent``, ``window``, ``sample`` and ``epochs`` change hit rates by up to an order of
  magnitude for recommendation (Caselles-Dupré et al., RecSys 2018), so all are parameters.
- gensim silently truncates sentences longer than 10,000 tokens (gensim #2880); long playlists
  are cut into chunks of at most ``max_sentence_length`` here, so no track is dropped.
- Training reads the playlists from a corpus file (gensim's ``corpus_file`` mode): its workers
  run without the GIL and without a Python producer thread, and the vocabulary comes from the
  catalog's counts (``build_vocab_from_freq``) instead of a scan of the corpus.
- Epochs run one ``train`` call each, with the learning rate decaying linearly over the planned
  epochs as one call would. The budget is counted in words (``max_training_words``: the
  epochs a corpus of this size affords), so a setting trains alike on any machine; with
  ``max_training_seconds`` — a guard, not a budget — the plan shrinks to the epochs that fit
  at the pace measured so far (and the rate still reaches ``min_alpha``); the log and the
  training statistics say when that happened.
- With ``workers: 1`` and a fixed ``seed`` training is deterministic (tested). gensim 4 seeds its
  vectors from ``seed`` alone; ``hashfxn`` is set to a stable hash anyway, so that nothing can
  depend on Python's per-process salted ``hash`` of strings.
"""

from __future__ import annotations

import logging
import tempfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from gensim.models import Word2Vec

logger = logging.getLogger(__name__)


@dataclass
class WordVectors:
    """What word2vec learnt, over the catalog: a row per track, zero where it has no vector."""

    input_vectors: np.ndarray  # float32 [catalog, dim]: gensim's word vectors (wv.vectors)
    output_vectors: np.ndarray  # float32 [catalog, dim]: its output (context) vectors
    has_vector: np.ndarray  # bool [catalog]: False under min_count


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


def write_corpus(corpus: PlaylistCorpus, path: Path) -> None:
    """The corpus as gensim's LineSentence file: one sentence per line, tokens space-separated."""
    with path.open("w", encoding="utf-8") as file:
        for sentence in corpus:
            file.write(" ".join(sentence))
            file.write("\n")


def train_word2vec(
    corpus: PlaylistCorpus,
    params: dict,
    name: str = "word2vec",
    max_training_seconds: float | None = None,
) -> tuple[Word2Vec, dict]:
    """Trains Word2Vec on the corpus (see the module doc for how).

    Args:
        corpus: The training playlists.
        params: gensim arguments: ``sg``, ``vector_size``, ``window``, ``epochs``, ``negative``,
            ``ns_exponent``, ``sample``, ``min_count``, ``seed``, ``workers``, ``alpha``, ...
        name: For the log.
        max_training_seconds: Train only the epochs that fit in this time (at least one).

    Returns:
        The model and training statistics (seconds, words per second, vocabulary size, epochs
        planned and trained, and whether the time budget cut them).
    """
    from gensim.models import Word2Vec  # noqa: PLC0415 - 1 s to import; only when training

    model = Word2Vec(hashfxn=stable_hash, **params)
    started = time.perf_counter()
    counts = np.bincount(corpus.track_indices, minlength=len(corpus.tokens))
    model.build_vocab_from_freq(
        {corpus.tokens[i]: int(counts[i]) for i in np.flatnonzero(counts)},
        corpus_count=corpus.n_sentences,
    )
    vocab_seconds = time.perf_counter() - started
    epochs = Epochs()
    if len(model.wv):
        with tempfile.TemporaryDirectory(prefix="music_recsys_w2v_") as folder:
            path = Path(folder) / "corpus.txt"
            write_corpus(corpus, path)
            corpus_seconds = time.perf_counter() - started - vocab_seconds
            _train_epochs(model, corpus, path, epochs, name, max_training_seconds)
        model.epochs = epochs.done
    else:
        corpus_seconds = 0.0
        logger.warning(
            "%s: no track occurs min_count=%d times; nothing to train, every query will fall "
            "back to popularity",
            name,
            params.get("min_count", 5),
        )
    configured = int(params.get("epochs", 5))
    stats = {
        "training_seconds": epochs.seconds,
        "vocabulary_seconds": vocab_seconds,
        "corpus_file_seconds": corpus_seconds,
        "words_per_second": corpus.n_words * epochs.done / max(epochs.seconds, 1e-9),
        "trained_words_per_epoch": epochs.words / max(epochs.done, 1),
        "vocabulary_size": len(model.wv),
        "corpus_words": corpus.n_words,
        "corpus_sentences": corpus.n_sentences,
        "epochs_configured": configured,
        "epochs_trained": epochs.done,
        "epochs_cut_by_time_budget": configured - epochs.done if len(model.wv) else 0,
        "max_training_seconds": max_training_seconds or float("nan"),
    }
    logger.info(
        "%s: trained %d epochs on %d words in %.1f s (%.0f words/s), %d tracks in the vocabulary",
        name,
        epochs.done,
        corpus.n_words,
        epochs.seconds,
        stats["words_per_second"],
        len(model.wv),
    )
    return model, stats


@dataclass
class Epochs:
    """How far the training got: epochs done, seconds spent in them, words trained."""

    done: int = 0
    seconds: float = 0.0
    words: int = 0


def _train_epochs(
    model: Word2Vec,
    corpus: PlaylistCorpus,
    path: Path,
    epochs: Epochs,
    name: str,
    max_training_seconds: float | None,
) -> None:
    """One ``train`` call an epoch over the corpus file, the learning rate decaying linearly
    to ``min_alpha`` over the epochs planned — fewer when the time budget runs out (the rate
    still ends at ``min_alpha``); progress in the log."""
    planned = model.epochs
    alpha, min_alpha = model.alpha, model.min_alpha
    while epochs.done < planned:
        epoch_started = time.perf_counter()
        end_alpha = alpha - (alpha - min_alpha) / (planned - epochs.done)
        trained, _ = model.train(
            corpus_file=str(path),
            total_words=corpus.n_words,
            total_examples=corpus.n_sentences,
            epochs=1,
            start_alpha=alpha,
            end_alpha=end_alpha,
        )
        alpha, epochs.words = end_alpha, epochs.words + trained
        epochs.done += 1
        seconds = time.perf_counter() - epoch_started
        epochs.seconds += seconds
        planned = _replan(name, planned, epochs.done, epochs.seconds, max_training_seconds)
        if epochs.done in (1, planned) or epochs.done % max(1, planned // 10) == 0:
            logger.info(
                "%s: epoch %d/%d in %.1f s (%.0f words/s), %.0f s so far",
                name,
                epochs.done,
                planned,
                seconds,
                corpus.n_words / max(seconds, 1e-9),
                epochs.seconds,
            )


def _replan(name: str, planned: int, done: int, seconds: float, budget: float | None) -> int:
    """The epochs to train in all: ``planned``, or fewer when the time budget runs out first."""
    if budget is None or done >= planned:
        return planned
    per_epoch = seconds / done
    affordable = done + int(max(budget - seconds, 0.0) // per_epoch)
    if affordable >= planned:
        return planned
    logger.warning(
        "%s: %d epochs at %.1f s each would take %.0f s, over max_training_seconds %.0f: "
        "training %d epochs instead (the learning rate still decays to min_alpha)",
        name,
        planned,
        per_epoch,
        per_epoch * planned,
        budget,
        max(affordable, done),
    )
    return max(affordable, done)
