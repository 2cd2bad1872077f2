"""The training playlists as flat arrays, the form every fit starts from (DuckDB; imported by
the fits when they run, so that a pickled recommender loads without DuckDB)."""

from __future__ import annotations

import logging

import duckdb
import numpy as np
import pandas as pd
import scipy.sparse as sp

from music_recsys.duckdb_sql import sql, to_pandas

logger = logging.getLogger(__name__)

# Rows sorted by title carry no play order: fits that read positions read them in this seeded
# random order instead, so that "near each other" means "in the same playlist", not "close in
# the alphabet".
SHUFFLE_SEED = 20150101


def in_play_order(track_order_report: dict) -> bool:
    """Whether data_processing's order check found the rows in play order."""
    return bool(track_order_report.get("next_track_is_meaningful", True))


def rows_by_playlist(
    playlists: duckdb.DuckDBPyRelation,
    track_index: pd.DataFrame | None = None,
    shuffled: bool = False,
):
    """Playlist ids, offsets and track ids (or catalog indices) of a split, in playlist order.

    Within a playlist the rows come by position, or, with ``shuffled``, in a seeded random order
    (the same in every run).
    """
    order = f"hash(p.position, {SHUFFLE_SEED}), p.position" if shuffled else "p.position"
    if track_index is None:
        frame = to_pandas(
            sql(
                f"SELECT p.playlist_id, p.track_id FROM {{p}} p ORDER BY p.playlist_id, {order}",
                p=playlists,
            )
        )
        values = frame["track_id"].to_numpy(dtype=object)
    else:
        index = pd.DataFrame(
            {"track_id": track_index["track_id"], "idx": np.arange(len(track_index))}
        )
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
    playlists: duckdb.DuckDBPyRelation, track_index: pd.DataFrame
) -> tuple[np.ndarray, sp.csr_matrix]:
    """Playlist ids and the binary ``[playlists, catalog]`` matrix (a track listed twice in a
    playlist counts once)."""
    ids, offsets, indices = rows_by_playlist(playlists, track_index)
    playlist_of_row = np.repeat(np.arange(len(offsets) - 1, dtype=np.int32), np.diff(offsets))
    matrix = sp.csr_matrix(
        (np.ones(len(indices), dtype=np.float32), (playlist_of_row, indices.astype(np.int32))),
        shape=(len(ids), len(track_index)),
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return ids, matrix


def pair_graph(
    playlists: duckdb.DuckDBPyRelation,
    track_index: pd.DataFrame,
    window: int | None,
    directed: bool,
    shuffled: bool = False,
) -> sp.csr_matrix:
    """Counts of track pairs at most ``window`` positions apart in the same playlist.

    ``directed``: only (earlier, later) pairs; otherwise both directions. ``window=None``: any
    two tracks of a playlist (computed as XᵀX on the playlist × track matrix). ``shuffled``:
    positions in the seeded random order of :func:`rows_by_playlist`.

    Pairs are counted one distance at a time into a CSR matrix with 32-bit indices, and the
    undirected graph is that matrix plus its transpose, so memory follows the graph's non-zeros
    rather than the number of pairs (125 M pairs at full size).
    """
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
        pairs = sp.csr_matrix(
            (np.ones(len(earlier), dtype=np.float32), (earlier, later)), shape=(n, n)
        )
        del same, earlier, later, keep
        counts = counts + pairs
        del pairs
    if not directed:
        counts = (counts + counts.T).tocsr()
    counts.sort_indices()
    return counts
