"""Typed parameters of the reporting pipeline (``conf/base/parameters_reporting.yml``)."""

from __future__ import annotations

from pydantic import Field, model_validator

from music_recsys.core.params import Params


class PowerLawParams(Params):
    """How the power law is fitted (the ``powerlaw`` package, discrete data)."""

    xmin_max: int | None = Field(None, ge=1, description="search xmin up to this count (None: all)")
    xmin_candidates: int = Field(
        60, ge=2, description="most values tried as xmin (every small count, then log-spaced)"
    )
    alpha_range: tuple[float, float] = Field(
        (1.0, 10.0), description="bounds of the fitted exponent (powerlaw's default stops at 3)"
    )

    @model_validator(mode="after")
    def _alpha_range_is_a_range(self) -> PowerLawParams:
        low, high = self.alpha_range
        if not 1.0 <= low < high:
            raise ValueError(
                f"alpha_range must be [low, high] with 1 <= low < high, not {self.alpha_range}"
            )
        return self


class LatentSpaceParams(Params):
    """The latent-space picture: t-SNE of the most frequent tracks' vectors."""

    n_tracks: int = Field(1000, ge=10)
    perplexity: float = Field(30.0, gt=1)
    seed: int = 0


class GenreParams(Params):
    """Genres inferred from playlist names: a case-insensitive whole-word (or phrase) match.

    ``vocabulary`` maps a genre to the words and phrases that name it; "HARD ROCK" matches
    "hard rock" under rock, and "trap" is rap only if it is listed under rap.
    """

    vocabulary: dict[str, list[str]]
