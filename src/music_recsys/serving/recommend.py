"""``music-recsys recommend``: ask the packaged model what should play next.

    music-recsys recommend "Coldplay" "The Scientist" -k 10
    music-recsys recommend "Coldplay|||The Scientist" "Adele|||Hello"

Seeds are ``ARTIST TRACK`` pairs or ``<artist>|||<track>`` ids, oldest first. The answer comes
from the SageMaker package (``data/09_deployment/model.tar.gz``, made by
``kedro run --pipelines deployment``). The first call on a package extracts it into a local
cache and asks it as its endpoint would be asked — its own ``code/inference.py`` in front of a
TF Serving stand-in over its SavedModel (:mod:`music_recsys.serving.local`); later calls rank
with the package's own arrays and the evaluation's code, which the deployment's parity check
proved equal to the SavedModel, without TensorFlow (:mod:`music_recsys.serving.package_cache`);
``--serving-model`` asks the endpoint every time. A seed the catalog does not know gets a
"did you mean" from fuzzy matching against the package's catalog.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from music_recsys.core.catalog import Query
from music_recsys.serving import package_cache
from music_recsys.serving.package import read_catalog

SEPARATOR = "|||"


def parse_seeds(words: list[str]) -> list[str]:
    """``["Coldplay", "The Scientist", "A|||b"]`` → ``["Coldplay|||The Scientist", "A|||b"]``."""
    seeds, pending = [], []
    for word in words:
        if SEPARATOR in word:
            if pending:
                raise ValueError(
                    f"'{pending[0]}' has no track title: give ARTIST TRACK pairs or ARTIST|||TRACK ids"
                )
            seeds.append(word)
        else:
            pending.append(word)
            if len(pending) == 2:
                seeds.append(f"{pending[0].strip()}{SEPARATOR}{pending[1].strip()}")
                pending = []
    if pending:
        raise ValueError(
            f"'{pending[0]}' has no track title: give ARTIST TRACK pairs or ARTIST|||TRACK ids"
        )
    return seeds


def suggestions(seed: str, catalog: list[str], n: int = 3) -> list[str]:
    """Catalog ids closest to an unknown seed (case-insensitive; the same artist first).

    rapidfuzz's C++ matcher keeps this to a fraction of a second on a million tracks, where
    difflib takes minutes.
    """
    from rapidfuzz import fuzz, process, utils  # noqa: PLC0415

    prefix = seed.split(SEPARATOR, 1)[0].strip().lower() + SEPARATOR
    same_artist = [track for track in catalog if track[: len(prefix)].lower() == prefix]
    pool = same_artist or catalog
    matches = process.extract(
        seed, pool, scorer=fuzz.ratio, processor=utils.default_process, limit=n, score_cutoff=50
    )
    return [match for match, _, _ in matches]


def _table(track_ids: list[str], scores: list[float]) -> str:
    rows = [
        (str(i), *track.split(SEPARATOR, 1), f"{score:.4f}")
        for i, (track, score) in enumerate(zip(track_ids, scores, strict=True), 1)
        if track
    ]
    header = ("#", "artist", "track", "score")
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(4)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _served_model_answer(folder: Path, seeds: list[str]) -> dict:
    """The package's answer as its endpoint gives it: its own ``code/inference.py`` in front of
    a TF Serving stand-in over its SavedModel (TensorFlow); the SavedModel's variables are
    cached for the next call."""
    from music_recsys.serving.local import LocalEndpoint  # noqa: PLC0415 - TensorFlow

    with LocalEndpoint(folder) as endpoint:
        answer = endpoint.predict({"instances": [seeds]})["predictions"][0]
        if not package_cache.has_arrays(folder):
            variables = endpoint.tf_serving.saved_model.variables
            package_cache.save_arrays(folder, {v.name.split(":")[0]: v.numpy() for v in variables})
    real = [i for i, track in enumerate(answer["track_ids"]) if track]
    return {
        "track_ids": [answer["track_ids"][i] for i in real],
        "scores": [answer["scores"][i] for i in real],
    }


def catalog_positions(catalog: list[str], seeds: list[str]) -> dict[str, int]:
    """Where each seed the catalog knows stands in it: one pass over the catalog, cheaper than
    a lookup table of a million tracks built for a handful of seeds."""
    wanted = set(seeds)
    return {track: i for i, track in enumerate(catalog) if track in wanted}


def _arrays_answer(
    folder: Path, catalog: list[str], seeds: list[str], positions: dict[str, int], metadata: dict
) -> dict:
    """The same ranking from the package's arrays (see :mod:`music_recsys.serving.package_cache`)."""

    model = package_cache.recommender(folder, catalog)
    indices = np.array([positions[s] for s in seeds if s in positions], dtype=np.int64)
    query = Query.of(indices)
    top, scores, _ = model.rank([query], metadata["k"])
    real = top[0] >= 0
    return {
        "track_ids": model.index.track_ids[top[0][real]].tolist(),
        "scores": scores[0][real].astype(float).tolist(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="music-recsys recommend", description="What should play next after these tracks?"
    )
    parser.add_argument(
        "seeds", nargs="+", help="ARTIST TRACK pairs, or ARTIST|||TRACK ids, oldest first"
    )
    parser.add_argument(
        "-k", type=int, default=10, help="how many recommendations (at most the package's K)"
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=Path("data/09_deployment/model.tar.gz"),
        help="model.tar.gz or an extracted package folder",
    )
    parser.add_argument(
        "--serving-model",
        action="store_true",
        help="ask the package as its endpoint would (handler + TF Serving stand-in) instead of "
        "ranking with its cached arrays",
    )
    args = parser.parse_args(argv)
    try:
        seeds = parse_seeds(args.seeds)
    except ValueError as error:
        parser.error(str(error))
    if not args.model.exists():
        message = f"No model package at {args.model}: run `kedro run --pipelines deployment` first."
        print(message, file=sys.stderr)  # noqa: T201
        return 2
    folder = package_cache.extracted(args.model) if args.model.is_file() else args.model
    catalog = read_catalog(folder)
    positions = catalog_positions(catalog, seeds)
    for seed in seeds:
        if catalog and seed not in positions:
            close = suggestions(seed, catalog)
            hint = f" Did you mean: {', '.join(repr(c) for c in close)}?" if close else ""
            print(f"Unknown track {seed!r}: left out of the request.{hint}", file=sys.stderr)  # noqa: T201
    metadata = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    k = min(args.k, metadata["k"])
    # The arrays answer for packages that say what they hold (kind, catalog) once cached.
    answerable = (
        catalog
        and package_cache.rebuilds_from_arrays(metadata)
        and package_cache.has_arrays(folder)
    )
    if args.serving_model or not answerable:
        prediction = _served_model_answer(folder, seeds)
    else:
        prediction = _arrays_answer(folder, catalog, seeds, positions, metadata)
    track_ids, scores = prediction["track_ids"][:k], prediction["scores"][:k]
    if catalog and not positions:
        print("No seed is in the catalog: these are the most popular tracks.", file=sys.stderr)  # noqa: T201
    print(_table(track_ids, scores))  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
