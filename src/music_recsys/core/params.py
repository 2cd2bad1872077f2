"""The base of every typed settings block: parameters, a kind's settings, the tuning's."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Params(BaseModel):
    """Settings read from ``conf/``: an unknown key is an error, and values are frozen.

    Forbidding extra keys makes a typo in a YAML key fail at once, with the key named, instead
    of silently leaving the default in force; freezing keeps one validated block the same for
    every node and candidate that reads it (a change is a new block, made with
    ``model_copy(update=...)``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
