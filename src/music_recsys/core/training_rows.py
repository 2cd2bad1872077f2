"""The training playlists as flat arrays, the form every fit starts from, and the counts the
count-based fits need (imported by the fits when they run, so that a pickled recommender loads
without DuckDB).

The queries run on the engine that holds the split (:mod:`music_recsys.tables`): DuckDB by
default, Spark with ``--env spark``. On Spark the cluster counts the track pairs and the
playlist × track cells, and only the distinct pairs with their counts come to this process; on
DuckDB the rows come over once and numpy counts them (faster on one machine). Both give the
same matrices (``tests/test_engines.py``)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import scipy.sparse as sp

from music_recsys.tables import Table, on_spark, seeded_order, sql, to_pandas

logger = logging.getLogger(__name__)

# Rows sorted by title carry no play order: fits that read positions read them in this seeded
# random order instead, so that "near each other" means "in the same playlist", not "close in
# the alphabet".
SHUFFLE_SEED = 20150101


def _order(shuffled: bool) -> str:
    if not shuffled:
        return "p.position"
    return f"{seeded_order(SHUFFLE_SEED, 'CAST(p.position AS VARCHAR)')}, p.position"


def _catalog_indices(track_index: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"track_id": track_index["track_id"], "idx": np.arange(len(track_index))})


def rows_by_playlist(
    playlists: Table,
    track_index: pd.DataFrame | None = None,
    shuffled: bool = False,
):
    """Playlist ids, offsets and track ids (or catalog indices) of a split, in playlist order.

    Within a playlist the rows come by position, or, with ``shuffled``, in a seeded random order
    (the same in every run).
    """
    order = _order(shuffled)
    if track_index is None:
        frame = to_pandas(
            sql(
                f"SELECT p.playlist_id, p.track_id FROM {{p}} p ORDER BY p.playlist_id, {order}",
                p=playlists,
            )
        )
        values = frame["track_id"].to_numpy(dtype=object)
    else:
        index = _catalog_indices(track_index)
        frame = to_pandas(
            sql(
                f"""
                SELECT p.playlist_id, i.idx FROM {{p}} p JOIN {{index}} i USING (track_id)
                ORDER BY p.playlist_id, {order}
                """,
                p=playlists,
                index=index,
            )
        )
        values = frame["idx"].to_numpy(dtype=np.int64)
    ids, starts = np.unique(frame["playlist_id"].to_numpy(), return_index=True)
    offsets = np.append(starts, len(frame))
    return ids, offsets, values


def playlist_matrix(
    playlists: Table, track_index: pd.DataFrame, positions: bool = False
) -> tuple[np.ndarray, sp.csr_matrix]:
    """Playlist ids and the binary ``[playlists, catalog]`` matrix (a track listed twice in a
    playlist counts once): the distinct (playlist, track) cells, counted by the engine.

    With ``positions``, each cell holds instead where the track is in its playlist: 1 + the
    number of rows before its last listing, in the rows' order (what STAN's neighbour-side
    weight reads; the binary matrix is the same cells set to 1).
    """
    if positions:
        query = """
            WITH placed AS (
                SELECT p.playlist_id, i.idx,
                       row_number() OVER (PARTITION BY p.playlist_id ORDER BY p.position) AS place
                FROM {p} p JOIN {index} i USING (track_id)
            )
            SELECT playlist_id, idx, max(place) AS place FROM placed GROUP BY playlist_id, idx
            """
    else:
        query = "SELECT DISTINCT p.playlist_id, i.idx FROM {p} p JOIN {index} i USING (track_id)"
    cells = to_pandas(sql(query, p=playlists, index=_catalog_indices(track_index)))
    ids, rows = np.unique(cells["playlist_id"].to_numpy(), return_inverse=True)
    values = (
        cells["place"].to_numpy(dtype=np.float32)
        if positions
        else np.ones(len(cells), dtype=np.float32)
    )
    matrix = sp.csr_matrix(
        (values, (rows.astype(np.int32), cells["idx"].to_numpy(dtype=np.int32))),
        shape=(len(ids), len(track_index)),
    )
    matrix.sort_indices()
    return ids, matrix


def pair_graph(
    playlists: Table,
    track_index: pd.DataFrame,
    window: int | None,
    directed: bool,
    shuffled: bool = False,
    inverse_distance: bool = False,
) -> sp.csr_matrix:
    """Counts of track pairs at most ``window`` positions apart in the same playlist.

    ``directed``: only (earlier, later) pairs; otherwise both directions. ``window=None``: any
    two tracks of a playlist (computed as XᵀX on the playlist × track matrix). ``shuffled``:
    positions in the seeded random order of :func:`rows_by_playlist`. ``inverse_distance``: a
    pair d positions apart counts 1/d (session-rec's sequential rules), not 1.

    Pairs are counted one distance at a time into a CSR matrix with 32-bit indices, and the
    undirected graph is that matrix plus its transpose, so memory follows the graph's non-zeros
    rather than the number of pairs (125 M pairs at full size). On Spark the pairs are counted
    by the cluster (:func:`_pair_counts_on_engine`).
    """
    if inverse_distance and window is None:
        raise ValueError("inverse_distance weights pairs by their distance: it needs a window")
    counter = _pair_counts_on_engine if on_spark(playlists) else _pair_counts_in_numpy
    counts = counter(playlists, track_index, window, shuffled, inverse_distance)
    if window is not None and not directed:
        counts = (counts + counts.T).tocsr()
    counts.sort_indices()
    return counts


def _pair_counts_in_numpy(
    playlists: Table,
    track_index: pd.DataFrame,
    window: int | None,
    shuffled: bool,
    inverse_distance: bool,
) -> sp.csr_matrix:
    """The (earlier, later) pair counts of :func:`pair_graph` from the rows, brought over once;
    without a window, XᵀX (already both directions)."""
    _, offsets, indices = rows_by_playlist(playlists, track_index, shuffled=shuffled)
    n = len(track_index)
    playlist_of_row = np.repeat(np.arange(len(offsets) - 1, dtype=np.int32), np.diff(offsets))
    if window is None:
        occurrences = sp.csr_matrix(
            (np.ones(len(indices), dtype=np.float32), (playlist_of_row, indices)),
            shape=(len(offsets) - 1, n),
        )
        graph = (occurrences.T @ occurrences).tocsr()
        graph.setdiag(0)
        graph.eliminate_zeros()
        return graph
    indices = indices.astype(np.int32)
    counts = sp.csr_matrix((n, n), dtype=np.float32)
    for distance in range(1, window + 1):
        same = playlist_of_row[:-distance] == playlist_of_row[distance:]
        earlier, later = indices[:-distance][same], indices[distance:][same]
        keep = earlier != later
        earlier, later = earlier[keep], later[keep]
        weight = 1.0 / distance if inverse_distance else 1.0
        pairs = sp.csr_matrix(
            (np.full(len(earlier), weight, dtype=np.float32), (earlier, later)), shape=(n, n)
        )
        del same, earlier, later, keep
        counts = counts + pairs
        del pairs
    return counts


def _pair_counts_on_engine(
    playlists: Table,
    track_index: pd.DataFrame,
    window: int | None,
    shuffled: bool,
    inverse_distance: bool,
) -> sp.csr_matrix:
    """The (earlier, later) pair counts of :func:`pair_graph` in SQL, counted by the engine: for a
    window, pairs of rows 1..window places apart in the playlist's order; without one, every two
    distinct tracks of a playlist weighted by how often each is listed (XᵀX)."""
    index = _catalog_indices(track_index)
    if window is None:
        query = """
            WITH cells AS (
                SELECT p.playlist_id, i.idx, count(*) AS listed
                FROM {p} p JOIN {index} i USING (track_id) GROUP BY p.playlist_id, i.idx
            )
            SELECT a.idx AS earlier, b.idx AS later, sum(a.listed * b.listed) AS n
            FROM cells a JOIN cells b ON a.playlist_id = b.playlist_id AND a.idx <> b.idx
            GROUP BY a.idx, b.idx
            """
    else:
        weight = "sum(CAST(1 AS DOUBLE) / (b.place - a.place))" if inverse_distance else "count(*)"
        query = f"""
            WITH ranked AS (
                SELECT p.playlist_id, i.idx,
                       row_number() OVER (PARTITION BY p.playlist_id ORDER BY {_order(shuffled)})
                           AS place
                FROM {{p}} p JOIN {{index}} i USING (track_id)
            )
            SELECT a.idx AS earlier, b.idx AS later, {weight} AS n
            FROM ranked a JOIN ranked b
                ON a.playlist_id = b.playlist_id AND b.place > a.place
                   AND b.place <= a.place + {int(window)}
            WHERE a.idx <> b.idx
            GROUP BY a.idx, b.idx
            """
    pairs = to_pandas(sql(query, p=playlists, index=index))
    n = len(track_index)
    logger.info("Counted %d distinct track pairs on Spark", len(pairs))
    return sp.csr_matrix(
        (
            pairs["n"].to_numpy(dtype=np.float32),
            (pairs["earlier"].to_numpy(dtype=np.int32), pairs["later"].to_numpy(dtype=np.int32)),
        ),
        shape=(n, n),
    )


def build_track_index(playlists_train: Table) -> pd.DataFrame:
    """The catalog: every track of the training playlists, most popular first.

    Args:
        playlists_train: Training rows (``playlist_id``, ``position``, ``track_id``).

    Returns:
        ``track_id``, ``count`` (training rows) and ``n_playlists``; the row number is the
        track's index in every model.
    """
    return to_pandas(
        sql(
            """
            SELECT track_id, count(*) AS count, count(DISTINCT playlist_id) AS n_playlists
            FROM {train} GROUP BY track_id ORDER BY count DESC, track_id
            """,
            train=playlists_train,
        )
    )
