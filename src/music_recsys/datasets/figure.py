"""A Kedro dataset for matplotlib figures: saved as PNG, loaded back as PNG bytes.

kedro-datasets' ``MatplotlibDataset`` cannot load, so a node downstream of a plot (the HTML
report, which embeds every figure) could not read it. This one saves a figure the same way
(PNG through the Agg backend, atomically) and loads the file's bytes; kedro-viz previews it.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: files only

import matplotlib.pyplot as plt  # noqa: E402
from kedro_datasets._typing import ImagePreview  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from .atomic import atomic_write  # noqa: E402
from .file import FileDataset  # noqa: E402


class FigureDataset(FileDataset[Figure, bytes]):
    """Matplotlib figure → PNG file; PNG file → bytes.

    Example catalog entry::

        popularity_distributions_plot:
          type: music_recsys.datasets.FigureDataset
          filepath: data/06_viz/popularity_distributions.png
          dpi: 100
    """

    def __init__(
        self, filepath: str, dpi: int = 100, metadata: dict[str, Any] | None = None
    ) -> None:
        super().__init__(filepath, metadata)
        self._dpi = dpi

    def _describe_extra(self) -> dict[str, Any]:
        return {"dpi": self._dpi}

    def save(self, data: Figure) -> None:
        try:
            with atomic_write(Path(self._filepath)) as temporary:
                data.savefig(temporary, format="png", dpi=self._dpi)
        finally:
            plt.close(data)

    def load(self) -> bytes:
        return Path(self._filepath).read_bytes()

    def preview(self) -> ImagePreview:
        """The image, base64-encoded, for kedro-viz."""
        return ImagePreview(base64.b64encode(self.load()).decode("ascii"))
