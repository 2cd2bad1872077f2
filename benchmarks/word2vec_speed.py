"""Benchmark: word2vec training speed, ours beside gensim alone, and the full-size sweep cost.

On a demo corpus shaped like the real file (``--scale`` of its 12.9 M rows), for each word2vec
variant of ``conf/base/parameters_data_science.yml`` (with ``--epochs`` epochs, so the run stays
short; words/s does not depend on the number of epochs), it times:

(best of two runs each for the first two)

- ours: ``PlaylistCorpus`` (the pipeline's streaming corpus, built from integer arrays) into
  gensim's iterable mode, as ``fit_word2vec`` does;
- gensim alone: the same sentences as an in-memory list of lists;
- gensim's ``corpus_file`` mode (a text file), which parallelises differently.

and projects how long each variant would take on the full file's training split (70 % of
12.9 M rows) with its configured epochs.

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
from kedro.config import OmegaConfigLoader

from common import FULL_SIZE, PROJECT
from music_recsys.demo_data import DemoDataParams, generate_demo_playlists
from music_recsys.pipelines.data_science.params import Word2VecParams
from music_recsys.pipelines.data_science.word2vec import PlaylistCorpus, stable_hash

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

    parameters = OmegaConfigLoader(str(PROJECT / "conf"), base_env="base", default_run_env="local")[
        "parameters"
    ]
    variants = {
        name: Word2VecParams(**value["word2vec"])
        for name, value in parameters.items()
        if isinstance(value, dict) and "word2vec" in value
    }
    corpus = corpus_at(args.scale)
    sentences = list(corpus)
    with tempfile.TemporaryDirectory() as folder:
        corpus_file = Path(folder) / "corpus.txt"
        corpus_file.write_text("\n".join(" ".join(s) for s in sentences) + "\n", encoding="utf-8")
        print(
            f"\ncorpus: {corpus.n_words:,} words in {corpus.n_sentences:,} playlists; {args.epochs} epochs each\n"
        )
        print(
            "| variant | ours words/s | gensim alone words/s | ours / gensim | corpus_file words/s | full-size time (configured epochs) |"
        )
        print("|---|---|---|---|---|---|")
        total = 0.0
        ratios = []
        for name, params in sorted(variants.items()):
            arguments = params.gensim_arguments() | {"epochs": args.epochs}
            # Best of two, alternating, for ours and gensim alone: single runs of a few seconds
            # vary by ±10 % on a shared machine.
            ours, alone = [], []
            for _ in range(2):
                ours.append(words_per_second(arguments, corpus, {"corpus_iterable": corpus}))
                alone.append(words_per_second(arguments, corpus, {"corpus_iterable": sentences}))
            speeds = {
                "ours": max(ours),
                "alone": max(alone),
                "file": words_per_second(arguments, corpus, {"corpus_file": str(corpus_file)}),
            }
            ratios.append(speeds["ours"] / speeds["alone"])
            full_seconds = FULL_TRAIN_WORDS * params.epochs / speeds["ours"]
            total += full_seconds
            print(
                f"| {name} | {speeds['ours']:,.0f} | {speeds['alone']:,.0f} | {speeds['ours'] / speeds['alone']:.2f} "
                f"| {speeds['file']:,.0f} | {full_seconds / 60:.0f} min |",
                flush=True,
            )
    print(
        f"\nours / gensim alone, geometric mean over the variants: {np.exp(np.mean(np.log(ratios))):.2f}"
    )
    print(
        f"\nfull-size sweep of {len(variants)} variants: ~{total / 60:.0f} min of training; the same sweep on a "
        f"10 % sample ~{total / 600:.0f} min, then the winner on all data."
    )


if __name__ == "__main__":
    main()
