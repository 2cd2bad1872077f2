"""Analyses behind the pictures: power-law fits, genres from playlist names, t-SNE projection."""

from __future__ import annotations

import logging
import re
import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from music_recsys.tables import Table, sql, to_pandas

from .params import GenreParams, LatentSpaceParams, PowerLawParams

if TYPE_CHECKING:
    import powerlaw

logger = logging.getLogger(__name__)


def popularity(tracks: Table) -> dict[str, np.ndarray]:
    """Rows per artist and rows per track (track = artist + title), from the track table."""
    artists = to_pandas(
        sql("SELECT artistname, sum(n_rows) AS n FROM {t} GROUP BY artistname", t=tracks)
    )
    track_rows = to_pandas(sql("SELECT n_rows AS n FROM {t}", t=tracks))
    return {
        "artist": artists["n"].to_numpy(dtype=np.int64),
        "track": track_rows["n"].to_numpy(dtype=np.int64),
    }


def fit_power_law(
    counts: np.ndarray, params: PowerLawParams, xmin: float | None = None
) -> powerlaw.Fit:
    """A discrete power-law fit; ``xmin`` found by minimising the KS distance unless given."""
    import powerlaw  # noqa: PLC0415 - 1.4 s to import; only the reporting nodes need it

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # see power_law_summary
        if xmin is None:
            xmin = find_xmin(counts, params)
        return powerlaw.Fit(counts, discrete=True, xmin=xmin, verbose=False, **_ranges(params))


def _ranges(params: PowerLawParams) -> dict:
    """powerlaw bounds the exponent to [0, 3] by default, which caps a steeper tail at 3."""
    return {"parameter_ranges": {"alpha": list(params.alpha_range)}}


def xmin_candidates(counts: np.ndarray, params: PowerLawParams) -> np.ndarray:
    """The values tried as xmin: every distinct count (but the largest, as in powerlaw), or,
    when there are more than ``params.xmin_candidates``, the smallest half of that many
    distinct counts and, above them, the distinct counts nearest above a geometric grid."""
    values = np.unique(counts)[:-1]
    if params.xmin_max is not None:
        values = values[values <= params.xmin_max]
    if len(values) > params.xmin_candidates:
        small, large = values[: params.xmin_candidates // 2], values[params.xmin_candidates // 2 :]
        grid = np.geomspace(large[0], large[-1], params.xmin_candidates - len(small))
        picked = large[np.minimum(np.searchsorted(large, grid), len(large) - 1)]
        values = np.unique(np.concatenate([small, picked]))
    return values


def find_xmin(counts: np.ndarray, params: PowerLawParams) -> float:
    """The candidate xmin whose power-law fit is closest to the data above it (KS distance D;
    Clauset, Shalizi & Newman 2009). powerlaw's own search tries every distinct count, which
    took a minute on a million tracks."""
    import powerlaw  # noqa: PLC0415

    candidates = xmin_candidates(counts, params)
    if not len(candidates):
        raise ValueError(f"no count up to xmin_max={params.xmin_max} to try as xmin")
    distances = [
        powerlaw.Fit(
            counts, discrete=True, xmin=float(value), verbose=False, **_ranges(params)
        ).power_law.D
        for value in candidates
    ]
    return float(candidates[int(np.nanargmin(distances))])


def power_law_summary(tracks: Table, power_law: PowerLawParams) -> dict:
    """Power-law fits of artist and track popularity, tested against alternatives.

    For each entity: ``alpha`` (and its standard error ``sigma``), ``xmin``, the KS distance
    ``D`` of the fit above ``xmin``, the number of values in the tail, and likelihood-ratio
    tests against a lognormal and an exponential (``R`` > 0 favours the power law; ``p`` is the
    significance of the sign of R, Clauset, Shalizi & Newman 2009).
    """
    summary = {}
    for entity, counts in popularity(tracks).items():
        try:
            with warnings.catch_warnings():
                # powerlaw fits lazily, on attribute access, and warns about log(0) and failed
                # optimiser starts; the fit and the test results are what is reported.
                warnings.simplefilter("ignore")
                summary[entity] = _fit_summary(counts, power_law)
        except (ValueError, ZeroDivisionError, IndexError) as error:  # too few distinct values
            logger.warning(
                "No power-law fit for %s popularity (%d values): %s", entity, len(counts), error
            )
            summary[entity] = {"n": len(counts), "verdict": f"not fitted: {error}"}
        logger.info("Power law, %s popularity: %s", entity, summary[entity]["verdict"])
    return summary


def _fit_summary(counts: np.ndarray, params: PowerLawParams) -> dict:
    if len(np.unique(counts)) < 3:
        raise ValueError("fewer than three distinct popularity values")
    fit = fit_power_law(counts, params)
    result = {
        "n": len(counts),
        "alpha": float(fit.power_law.alpha),
        "sigma": float(fit.power_law.standard_err),
        "xmin": float(fit.power_law.xmin),
        "ks_distance": float(fit.power_law.D),
        "n_tail": int(np.sum(counts >= fit.power_law.xmin)),
    }
    for alternative in ("lognormal", "exponential"):
        ratio, p = fit.distribution_compare("power_law", alternative, normalized_ratio=True)
        result[f"vs_{alternative}_R"] = float(ratio)
        result[f"vs_{alternative}_p"] = float(p)
    result["verdict"] = _verdict(result)
    return result


def _verdict(fit: dict) -> str:
    def versus(name: str) -> str:
        ratio, p = fit[f"vs_{name}_R"], fit[f"vs_{name}_p"]
        article = "an" if name[0] in "aeiou" else "a"
        if p >= 0.1:
            return f"indistinguishable from {article} {name} (p = {p:.2f})"
        return f"{'better' if ratio > 0 else 'worse'} than {article} {name} (R = {ratio:.1f}, p = {p:.3f})"

    return (
        f"alpha = {fit['alpha']:.2f} ± {fit['sigma']:.2f} above xmin = {fit['xmin']:.0f} "
        f"({fit['n_tail']} of {fit['n']} values, KS D = {fit['ks_distance']:.3f}); "
        f"{versus('lognormal')}; {versus('exponential')}"
    )


def power_law_metrics(power_law_fits: dict) -> dict:
    """The fits' numbers as MLflow metrics: ``<entity>.<statistic>``."""
    return {
        f"{entity}.{name}": [{"value": float(value), "step": 0}]
        for entity, fit in power_law_fits.items()
        for name, value in fit.items()
        if isinstance(value, int | float) and np.isfinite(value)
    }


def infer_track_genres(
    playlist_tracks: Table, playlists: Table, genres: GenreParams
) -> pd.DataFrame:
    """Each track's genre: the genre most of its playlists are named after.

    A playlist's genres are those of ``genres.vocabulary`` whose words or phrases occur in its
    name as whole words, case-insensitively. A track's genre is the most frequent among its
    playlists' genres (ties: alphabetical); ``unknown`` when none of its playlists is named
    after a genre.

    Returns:
        ``track_id``, ``genre``, ``playlists_with_genre``.
    """
    playlists = to_pandas(playlists)  # one row per playlist: small on either engine
    names = playlists["playlistname"].fillna("").str.lower()
    rows = []
    for genre, words in genres.vocabulary.items():
        pattern = r"(?<![\w])(?:" + "|".join(re.escape(w.lower()) for w in words) + r")(?![\w])"
        matched = playlists.loc[names.str.contains(pattern, regex=True), "playlist_id"]
        rows.append(pd.DataFrame({"playlist_id": matched.to_numpy(), "genre": genre}))
    playlist_genres = (
        pd.concat(rows, ignore_index=True)
        if rows
        else pd.DataFrame(columns=["playlist_id", "genre"])
    )
    logger.info(
        "Genres from playlist names: %d of %d playlists named after a genre",
        playlist_genres["playlist_id"].nunique(),
        len(playlists),
    )
    return to_pandas(
        sql(
            """
            WITH votes AS (
                SELECT t.track_id, g.genre, count(*) AS n
                FROM {tracks} t JOIN {genres} g USING (playlist_id) GROUP BY ALL
            ), ranked AS (
                SELECT *, row_number() OVER (PARTITION BY track_id ORDER BY n DESC, genre) AS r FROM votes
            )
            SELECT track_id, genre, n AS playlists_with_genre FROM ranked WHERE r = 1
            """,
            tracks=playlist_tracks,
            genres=playlist_genres,
        )
    )


def project_latent_space(
    vectors: np.ndarray,
    track_ids: np.ndarray,
    track_genres: pd.DataFrame,
    latent_space: LatentSpaceParams,
) -> pd.DataFrame:
    """t-SNE of the given track vectors (most frequent tracks first), with each track's genre.

    Returns:
        ``track_id``, ``x``, ``y``, ``genre``.
    """
    from sklearn.manifold import TSNE  # noqa: PLC0415 - scikit-learn is only needed here

    n = min(latent_space.n_tracks, len(vectors))
    perplexity = min(latent_space.perplexity, max(2.0, (n - 1) / 3))
    logger.info("t-SNE of %d track vectors (perplexity %.0f)", n, perplexity)
    coordinates = TSNE(
        n_components=2,
        perplexity=perplexity,
        init="pca",
        random_state=latent_space.seed,
        metric="cosine",
    ).fit_transform(vectors[:n])
    frame = pd.DataFrame(
        {"track_id": track_ids[:n], "x": coordinates[:, 0], "y": coordinates[:, 1]}
    )
    frame = frame.merge(track_genres[["track_id", "genre"]], on="track_id", how="left")
    frame["genre"] = frame["genre"].fillna("unknown")
    return frame
