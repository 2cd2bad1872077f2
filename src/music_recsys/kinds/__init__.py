"""Candidate kinds: one package each, looked up here by name.

A kind is what ``conf/base/parameters_data_science.yml`` names under a candidate::

    cooccurrence:        # the candidate (its namespace in the pipeline, its name in reports)
      cooccurrence:      # its kind, with the kind's settings
        window: 5

Each kind's package holds its settings model, its fit, its numpy ranking (a
:class:`~music_recsys.core.ranking.Recommender`) and, in ``serving.py``, its Keras serving half,
which only the deployment pipeline imports (training never needs TensorFlow). data_science,
reporting and deployment find kinds here; adding one is adding a package with a ``KIND`` and a
block in conf. The packages import numpy, scipy and pydantic only at the top, so a pickled
recommender loads without Kedro, DuckDB or gensim.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict


class Settings(BaseModel):
    """Base of every kind's settings: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Kind:
    """One kind of candidate.

    Attributes:
        name: The key that declares it in conf, and ``Recommender.kind``.
        settings: Its settings model (validated by Kedro before any node runs).
        fit: ``fit(playlists, track_index, track_order_report, settings)`` →
            ``(recommender, training statistics)``; also the refit for deployment.
        simplicity: Lower is simpler; selection prefers the simpler of two candidates that are
            within one paired standard error of each other.
        baseline: Reported and tested as a baseline (scored on test beside the selected one).
        needs_play_order: Reads the rows' order and has no order-free form: left out of the
            selection when the order check finds the rows sorted by title.
        nodes: Builds the kind's fit nodes when they are not the one standard fit node
            (``nodes(candidate, candidates)`` → ``(nodes, inputs)``; word2vec's shared
            training, the blend); nodes that output ``validation_metrics`` and
            ``validation_ranks`` replace the standard evaluation too (the blend's).
        refit: Refit for deployment when it is not ``fit`` (the blend refits its components).
        from_arrays: Rebuilds the recommender from a package's saved variables, for
            ``music-recsys recommend``'s fast path; None: the SavedModel answers instead.
            ``from_arrays(index, arrays, name)``, or with ``describe``:
            ``from_arrays(index, arrays, name, description)``.
        describe: What the package's ``metadata.json`` records of a fitted recommender under
            ``recommender``, beside its variables (the blend: its components, weights, depth).
    """

    name: str
    settings: type[Settings]
    fit: Callable[..., tuple[Any, dict]]
    simplicity: int
    baseline: bool = False
    needs_play_order: bool = False
    nodes: Callable[..., list] | None = None
    refit: Callable[..., Any] | None = None
    from_arrays: Callable[..., Any] | None = None
    describe: Callable[[Any], dict] | None = None

    def recorded(self, recommender) -> dict:
        """``{"recommender": describe(recommender)}`` for the package's ``metadata.json``, or
        nothing for a kind without ``describe``."""
        return {} if self.describe is None else {"recommender": self.describe(recommender)}

    def rebuild(self, index, arrays: dict, name: str, description: dict | None):
        """The recommender from a package's arrays (``description``: its ``describe``)."""
        if self.describe is None:
            return self.from_arrays(index, arrays, name)
        return self.from_arrays(index, arrays, name, description)

    def rebuilds(self, description: dict | None) -> bool:
        """Whether :meth:`rebuild` can rebuild it (a described kind needs its description)."""
        return self.from_arrays is not None and (self.describe is None or bool(description))

    def serving_layer(self, recommender, k: int):
        """The Keras layer that ranks as ``recommender`` does (imports TensorFlow)."""
        module = importlib.import_module(f"{__name__}.{self.name}.serving")
        return module.layer(recommender, k)


@functools.cache
def registry() -> dict[str, Kind]:
    """Every kind in this package, by name."""
    kinds = {}
    for info in pkgutil.iter_modules(__path__):
        if info.ispkg:
            kind = importlib.import_module(f"{__name__}.{info.name}").KIND
            kinds[kind.name] = kind
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
