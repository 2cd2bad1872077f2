"""Candidate kinds: one package each, found here by name.

A kind is what ``conf/base/parameters_data_science.yml`` names under a candidate::

    cooccurrence:        # the candidate (its namespace in the pipeline, its name in reports)
      cooccurrence:      # its kind, with the kind's settings
        window: 5

Each kind is a package of this one that declares ``KIND`` (:class:`~music_recsys.kinds.contract.
Kind`: its settings, its fit, its serving layer, its arrays); adding a kind is adding such a
package and a block in conf. The packages import numpy, scipy and pydantic at the top (their
serving halves TensorFlow), so a pickled recommender loads without Kedro, DuckDB or gensim.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from dataclasses import dataclass

from music_recsys.kinds.contract import FitInputs, Fitted, Kind, Settings, SharedTraining

__all__ = [
    "Candidate",
    "FitInputs",
    "Fitted",
    "Kind",
    "Settings",
    "SharedTraining",
    "candidates",
    "kind",
    "registry",
]


@functools.cache
def registry() -> dict[str, Kind]:
    """Every kind in this package (every sub-package that declares ``KIND``), by name."""
    kinds = {}
    for info in pkgutil.iter_modules(__path__):
        if info.ispkg:
            declared = getattr(importlib.import_module(f"{__name__}.{info.name}"), "KIND", None)
            if isinstance(declared, Kind):
                kinds[declared.name] = declared
    return kinds


def kind(name: str) -> Kind:
    kinds = registry()
    if name not in kinds:
        raise KeyError(f"Unknown candidate kind {name!r}; known kinds: {', '.join(sorted(kinds))}")
    return kinds[name]


@dataclass(frozen=True)
class Candidate:
    """A candidate declared in conf: its name, its kind and its raw settings."""

    name: str
    kind: Kind
    settings: dict

    def validated(self) -> Settings:
        return self.kind.settings(**self.settings)


def candidates(parameters: dict) -> dict[str, Candidate]:
    """The candidates in a parameters dict: every top-level key whose value holds exactly one
    block named after a kind (``{name: {kind: {settings}}}``), sorted by name."""
    kinds = registry()
    found = {}
    for name in sorted(parameters):
        value = parameters[name]
        if isinstance(value, dict) and len(value) == 1:
            ((block, settings),) = value.items()
            if block in kinds:
                found[name] = Candidate(name, kinds[block], dict(settings or {}))
    return found
