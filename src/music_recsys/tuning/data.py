"""What trials fit on and what scores them: both drawn from the training playlists only.

The training playlists are put in a seeded ``md5`` order (the same on DuckDB and Spark); the
first ``holdout`` share become the tuning queries' playlists, the next ``max_fit_playlists``
the rows a trial fits on (at full size a sample: Chamberlain et al., RecSys 2020, tune on
~10 % and keep most of the gain). Validation and test are never read, so that selection, which
judges the tuned candidates on validation, does not judge on the queries that tuned them.
"""

from __future__ import annotations

import logging
import math

import pandas as pd

from music_recsys.core.protocol import EvaluationParams
from music_recsys.core.queries import build_queries
from music_recsys.tables import Table, first_row, seeded_order, sql
from music_recsys.tuning.params import TuningParams

logger = logging.getLogger(__name__)


def split_for_tuning(
    playlists_train: Table,
    evaluation_protocol: dict,
    evaluation: EvaluationParams,
    tuning: TuningParams,
) -> tuple[Table, pd.DataFrame]:
    """The rows trials fit on and the queries that score them (see the module doc).

    Returns:
        ``playlists_tuning`` (``playlist_id``, ``position``, ``track_id``: the fitting rows)
        and ``tuning_queries`` (built as validation's are, under the same protocol, at most
        ``tuning.max_queries``).
    """
    (n,) = first_row(sql("SELECT count(DISTINCT playlist_id) FROM {rows}", rows=playlists_train))
    held = max(1, math.ceil(int(n) * tuning.holdout))
    fit_limit = held + (tuning.max_fit_playlists or int(n))
    draw = seeded_order(tuning.seed, "CAST(playlist_id AS VARCHAR)")
    ordered = f"""
        WITH ids AS (SELECT DISTINCT playlist_id FROM {{rows}}),
        drawn AS (
            SELECT playlist_id, row_number() OVER (ORDER BY {draw}, playlist_id) AS draw_rank
            FROM ids
        )
        SELECT r.playlist_id, r.position, r.track_id
        FROM {{rows}} r JOIN drawn d ON r.playlist_id = d.playlist_id
        WHERE d.draw_rank {{condition}}
        ORDER BY r.playlist_id, r.position
    """
    fitting = sql(
        ordered.replace("{condition}", f"> {held} AND d.draw_rank <= {fit_limit}"),
        rows=playlists_train,
    )
    scoring = sql(ordered.replace("{condition}", f"<= {held}"), rows=playlists_train)
    settings = evaluation.model_copy(
        update={"max_queries": tuning.max_queries, "seed": tuning.seed}
    )
    queries = build_queries(scoring, evaluation_protocol, settings)
    logger.info(
        "Tuning: trials fit on %d of %d training playlists and are scored on %d queries from %d "
        "others (validation and test are not read)",
        min(int(n) - held, fit_limit - held),
        int(n),
        len(queries),
        held,
    )
    return fitting, queries
