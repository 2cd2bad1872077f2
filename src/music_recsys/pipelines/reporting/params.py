"""Typed parameters of the reporting pipeline (``conf/base/parameters_reporting.yml``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PowerLawParams(_Params):
    """How the power law is fitted (the ``powerlaw`` package, discrete data)."""

    xmin_max: int | None = Field(None, ge=1, description="search xmin up to this count (None: all)")
    xmin_candidates: int = Field(
        60, ge=2, description="most values tried as xmin (every small count, then log-spaced)"
    )


class LatentSpaceParams(_Params):
    """The latent-space picture: t-SNE of the most frequent tracks' vectors."""

    n_tracks: int = Field(1000, ge=10)
    perplexity: float = Field(30.0, gt=1)
    seed: int = 0


class GenreParams(_Params):
    """Genres inferred from playlist names: a case-insensitive whole-word (or phrase) match.

    ``vocabulary`` maps a genre to the words and phrases that name it; "HARD ROCK" matches
    "hard rock" under rock, and "trap" is rap only if it is listed under rap.
    """

    vocabulary: dict[str, list[str]]
