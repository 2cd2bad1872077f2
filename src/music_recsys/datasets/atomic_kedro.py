"""kedro-datasets' file datasets, saving atomically (see :class:`AtomicSaveMixin`).

Use them in the catalog as ``music_recsys.datasets.atomic_kedro.JSONDataset`` and so on: a run
killed while saving leaves the previous file, or none, never a truncated one that a later run
(``--from-nodes``, a notebook) would read as complete.
"""

from __future__ import annotations

from kedro_datasets.json import JSONDataset as _JSONDataset
from kedro_datasets.pandas import CSVDataset as _CSVDataset
from kedro_datasets.pandas import ParquetDataset as _ParquetDataset
from kedro_datasets.pickle import PickleDataset as _PickleDataset
from kedro_datasets.text import TextDataset as _TextDataset

from .atomic import AtomicSaveMixin


class CSVDataset(AtomicSaveMixin, _CSVDataset):
    """``pandas.CSVDataset``, saved atomically."""


class ParquetDataset(AtomicSaveMixin, _ParquetDataset):
    """``pandas.ParquetDataset``, saved atomically."""


class JSONDataset(AtomicSaveMixin, _JSONDataset):
    """``json.JSONDataset``, saved atomically."""


class PickleDataset(AtomicSaveMixin, _PickleDataset):
    """``pickle.PickleDataset``, saved atomically."""


class TextDataset(AtomicSaveMixin, _TextDataset):
    """``text.TextDataset``, saved atomically."""
