"""Benchmark: word2vec training speed, ours beside gensim alone, and the full-size sweep cost.

On a demo corpus shaped like the real file (``--scale`` of its 12.9 M rows), for each word2vec
training of ``conf/base/parameters_data_science.yml`` (variants that differ only in scoring
share one; ``--epochs`` epochs each, so the run stays short; words/s does not depend on the
number of epochs), it times (best of two, alternating):

- ours: ``train_word2vec`` as the pipeline runs it — a corpus file in gensim's ``corpus_file``
  mode, the vocabulary from the catalog's counts, one ``train`` call an epoch (for the log and
  the time budget);
- gensim alone: one ``Word2Vec(corpus_file=...)`` training on the same file;
- gensim's iterable mode on the same sentences as an in-memory list of lists (what the
  pipeline did before: a Python producer thread competes with the workers).

and projects how long each training would take on the full file's training split (70 % of
12.9 M rows) with its configured epochs, and how many epochs its time budget allows there.

Usage (from the project root, after `make setup`):
    .venv/bin/python benchmarks/word2vec_speed.py [--scale 0.1] [--epochs 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from gensim.models import Word2Vec

from common import FULL_SIZE, PROJECT
from music_recsys.demo_data import DemoDataParams, generate_demo_playlists
from music_recsys.kinds.word2vec.training import (
    PlaylistCorpus,
    stable_hash,
    train_word2vec,
    write_corpus,
)
from music_recsys.pipelines.candidates import declared_candidates, shared_training_leader

FULL_TRAIN_WORDS = 12_900_000 * 0.7


def corpus_at(scale: float) -> PlaylistCorpus:
    params = dict(FULL_SIZE)
    for key in ("n_playlists", "n_users", "n_artists"):
        params[key] = max(300, int(params[key] * scale))
    table = generate_demo_playlists(DemoDataParams(path="unused", **params))
    keys = table["user_id"] + "\x1f" + table["playlistname"]
    tracks, indices = np.unique(
        (table["artistname"] + "|||" + table["trackname"]).to_numpy(), return_inverse=True
    )
    starts = np.flatnonzero(np.r_[True, keys.to_numpy()[1:] != keys.to_numpy()[:-1]])
    return PlaylistCorpus(
        [str(i) for i in range(len(tracks))], indices, np.r_[starts, len(indices)]
    )


def ours(arguments: dict, corpus: PlaylistCorpus) -> float:
    _, stats = train_word2vec(corpus, arguments)
    return stats["words_per_second"]


def words_per_second(arguments: dict, corpus: PlaylistCorpus, source: dict) -> float:
    """Trains once; ``source`` is ``{"corpus_iterable": ...}`` or ``{"corpus_file": ...}``."""
    model = Word2Vec(hashfxn=stable_hash, **arguments)
    model.build_vocab(**source)
    started = time.perf_counter()
    model.train(
        **source,
        total_examples=model.corpus_count,
        total_words=model.corpus_total_words,
        epochs=model.epochs,
    )
    return corpus.n_words * model.epochs / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()

    found = declared_candidates(str(PROJECT / "conf"))
    trainings = {
        name: shared_training_leader(c, found)
        for name, c in found.items()
        if c.kind.name == "word2vec"
    }
    variants = {name: found[name].validated() for name in sorted(set(trainings.values()))}
    corpus = corpus_at(args.scale)
    sentences = list(corpus)
    with tempfile.TemporaryDirectory() as folder:
        corpus_file = Path(folder) / "corpus.txt"
        write_corpus(corpus, corpus_file)
        print(
            f"\ncorpus: {corpus.n_words:,} words in {corpus.n_sentences:,} playlists; "
            f"{args.epochs} epochs each\n"
        )
        print(
            "| training (its variants) | ours words/s | gensim alone (corpus_file) words/s "
            "| ours / gensim | iterable mode words/s | full size, configured epochs "
            "| epochs in its budget at full size |"
        )
        print("|---|---|---|---|---|---|---|")
        total = 0.0
        ratios = []
        for name, params in variants.items():
            arguments = params.gensim_arguments() | {"epochs": args.epochs}
            file_source = {"corpus_file": str(corpus_file)}
            mine, alone = [], []
            for _ in range(2):
                mine.append(ours(arguments, corpus))
                alone.append(words_per_second(arguments, corpus, file_source))
            iterable = words_per_second(arguments, corpus, {"corpus_iterable": sentences})
            ratios.append(max(mine) / max(alone))
            epoch_seconds = FULL_TRAIN_WORDS / max(mine)
            total += min(epoch_seconds * params.epochs, params.max_training_seconds or np.inf)
            budget = (
                f"{int(params.max_training_seconds // epoch_seconds)} of {params.epochs}"
                if params.max_training_seconds
                else f"{params.epochs} (no budget)"
            )
            shared = ", ".join(n for n, t in trainings.items() if t == name)
            print(
                f"| {shared} | {max(mine):,.0f} | {max(alone):,.0f} | {ratios[-1]:.2f} "
                f"| {iterable:,.0f} | {epoch_seconds * params.epochs / 60:.0f} min | {budget} |",
                flush=True,
            )
    print(f"\nours / gensim alone, geometric mean: {np.exp(np.mean(np.log(ratios))):.2f}")
    print(
        f"full-size sweep: {len(variants)} trainings for {len(trainings)} variants, "
        f"~{total / 60:.0f} min of training within their budgets"
    )


if __name__ == "__main__":
    main()
