"""``music-recsys recommend``: ask the packaged model what should play next.

    music-recsys recommend "Coldplay" "The Scientist" -k 10
    music-recsys recommend "Coldplay|||The Scientist" "Adele|||Hello"

Seeds are ``ARTIST TRACK`` pairs or ``<artist>|||<track>`` ids, oldest first. The answer comes
from the SageMaker package (``data/09_deployment/model.tar.gz``, made by
``kedro run --pipelines deployment``), loaded as TF Serving would. A seed the catalog does not
know gets a "did you mean" from fuzzy matching against the package's catalog.
"""

from __future__ import annotations

import argparse
import difflib
import sys
import tempfile
from pathlib import Path

from music_recsys.datasets.sagemaker_archive import MODEL_VERSION, extract_archive, read_catalog

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
    """Catalog ids closest to an unknown seed (case-insensitive; the same artist first)."""
    lowered = {track.lower(): track for track in catalog}
    artist = seed.split(SEPARATOR, 1)[0].strip().lower()
    same_artist = [t for t in lowered if t.split(SEPARATOR, 1)[0] == artist]
    pool = same_artist or list(lowered)
    return [lowered[m] for m in difflib.get_close_matches(seed.lower(), pool, n=n, cutoff=0.5)]


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
    args = parser.parse_args(argv)
    try:
        seeds = parse_seeds(args.seeds)
    except ValueError as error:
        parser.error(str(error))
    if not args.model.exists():
        message = f"No model package at {args.model}: run `kedro run --pipelines deployment` first."
        print(message, file=sys.stderr)  # noqa: T201
        return 2
    from music_recsys.pipelines.deployment.local_serving import predict  # noqa: PLC0415 - TensorFlow

    with tempfile.TemporaryDirectory() as folder:
        root = args.model
        if args.model.is_file():
            root = Path(folder)
            extract_archive(args.model, root)
        catalog = read_catalog(root)
        known = set(catalog)
        for seed in seeds:
            if catalog and seed not in known:
                close = suggestions(seed, catalog)
                hint = f" Did you mean: {', '.join(repr(c) for c in close)}?" if close else ""
                print(f"Unknown track {seed!r}: left out of the request.{hint}", file=sys.stderr)  # noqa: T201
        prediction = predict(str(root / MODEL_VERSION), {"instances": [seeds]})["predictions"][0]
    track_ids, scores = prediction["track_ids"][: args.k], prediction["scores"][: args.k]
    if catalog and not (set(seeds) & known):
        print("No seed is in the catalog: these are the most popular tracks.", file=sys.stderr)  # noqa: T201
    print(_table(track_ids, scores))  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
