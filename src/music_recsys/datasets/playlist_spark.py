"""The raw playlists file read by Spark: every physical line with its line number.

The Spark twin of :class:`~music_recsys.datasets.PlaylistCsvDataset` (same format, same
output columns, same checks of the header), for ``kedro run --env spark``. Spark reads the file
in parallel blocks; a line's number is the number of lines in the blocks before its own plus
its place in its block, so numbering costs one extra pass that only counts lines per block.
Lines that are not valid UTF-8 come back with ``read_error = 'invalid_utf8'`` and the text
with invalid bytes replaced, as DuckDB's reader reports them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from music_recsys import spark_sql

from .playlist_csv import PlaylistCsvDataset, PlaylistFileError, check_header

logger = logging.getLogger(__name__)

_MAX_REJECTED_LINE_CHARS = 1000


class SparkPlaylistTextDataset(PlaylistCsvDataset):
    """Reads a file in the #nowplaying playlists format into a Spark DataFrame of its lines.

    Example catalog entry (``conf/spark/catalog.yml``)::

        raw_playlists:
          type: music_recsys.datasets.SparkPlaylistTextDataset
          filepath: data/01_raw/spotify_dataset.csv

    ``load()`` returns ``line_number`` (1-based; the header is line 1 and is left out),
    ``line`` and ``read_error``, like :class:`PlaylistCsvDataset`. ``save()`` writes the file
    (the demo data) exactly as that dataset does.
    """

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        """Creates the dataset.

        Args:
            filepath: Path of the file: local, or any URL the Spark cluster can read
                (``s3a://``, ``hdfs://``, ...; the header is then checked by Spark, not here).
            metadata: Free-form metadata (kedro-viz reads its layer from here).
        """
        super().__init__(filepath=filepath, metadata=metadata)

    def _describe_extra(self) -> dict[str, Any]:
        return {"engine": "spark"}

    def _exists(self) -> bool:
        return self.is_url or super()._exists()

    def load(self) -> Any:
        from pyspark.sql import Window  # noqa: PLC0415
        from pyspark.sql import functions as F  # noqa: PLC0415, N812

        if not self.is_url:
            check_header(self.filepath)
        spark = spark_sql.session()
        path = self.filepath if self.is_url else str(Path(self.filepath).resolve())
        logger.info("Reading lines of '%s' with Spark", self.filepath)
        lines = spark.read.text(path).select(
            F.col("value").alias("text"),
            F.col("_metadata.file_block_start").alias("block"),
            F.monotonically_increasing_id().alias("row_id"),
        )
        blocks = lines.groupBy("block").agg(
            F.min("row_id").alias("first_row_id"), F.count(F.lit(1)).alias("n_lines")
        )
        blocks = blocks.withColumn(
            "lines_before",
            F.sum("n_lines").over(Window.orderBy("block")) - F.col("n_lines"),
        )
        numbered = lines.join(F.broadcast(blocks), "block").select(
            (F.col("lines_before") + F.col("row_id") - F.col("first_row_id") + 1).alias(
                "line_number"
            ),
            "text",
        )
        valid = F.expr("is_valid_utf8(text)")
        result = numbered.where(F.col("line_number") >= 2).select(
            F.col("line_number").cast("bigint").alias("line_number"),
            F.when(F.col("text") == "", F.lit(None))
            .when(valid, F.col("text"))
            .otherwise(
                F.expr(
                    f"left(replace(make_valid_utf8(text), '\\uFFFD', '?'), {_MAX_REJECTED_LINE_CHARS})"
                )
            )
            .alias("line"),
            F.when(valid, F.lit(None).cast("string"))
            .otherwise(F.lit("invalid_utf8"))
            .alias("read_error"),
        )
        if result.isEmpty():
            raise PlaylistFileError(
                f"'{self.filepath}' has the playlists header but no data line: nothing to learn "
                "from. Is it the complete file?"
            )
        return result
