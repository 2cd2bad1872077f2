"""Playlist-kNN, served: the seeds' playlists gathered, their similarity computed, the nearest
``neighbours`` chosen, and their tracks' votes summed — float64 sums rounded to float32 once,
as in numpy, so that the ranking is the evaluated one. Where the votes read each neighbour's
match (V-SKNN's match recency, STAN's position decay), the most recent query track a neighbour
shares is found from the seeds' playlists, and the neighbour's tracks are weighted by their
distance in places from it."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from music_recsys.kinds.playlist_knn import (
    KNN_SETTINGS,
    PLAYLIST_INDPTR,
    PLAYLIST_NORM,
    PLAYLIST_POSITIONS,
    PLAYLIST_TRACKS,
    PRIORITY,
    TRACK_INDPTR,
    TRACK_PLAYLISTS,
    TRACK_WEIGHT,
    VOTE_WEIGHT,
    settings_array,
)
from music_recsys.serving.ops import (
    constant,
    gather_rows,
    query_seeds,
    rank_scored,
    recency_weights,
    steps_from_end,
    sum_by_key,
    top_by_key,
)


class PlaylistKnnLayer(keras.layers.Layer):
    def __init__(self, recommender, k: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.n, self.k = len(recommender.index), k
        self.m = recommender.playlists.shape[0]
        self.neighbours = recommender.neighbours
        self.similarity = recommender.similarity
        self.sample_size = recommender.sample_size
        self.vote_exponent = float(recommender.vote_exponent)
        self.query_power = 2.0 * float(recommender.asymmetry)  # ‖q‖^(2α): 1 for the cosine
        by_track, playlists = recommender.by_track, recommender.playlists
        self.track_playlists_indptr = constant(by_track.indptr.astype(np.int64), TRACK_INDPTR)
        self.track_playlists = constant(by_track.indices.astype(np.int32), TRACK_PLAYLISTS)
        self.playlist_tracks_indptr = constant(playlists.indptr.astype(np.int64), PLAYLIST_INDPTR)
        self.playlist_tracks = constant(playlists.indices.astype(np.int32), PLAYLIST_TRACKS)
        self.track_weight = constant(recommender.track_weight.astype(np.float64), TRACK_WEIGHT)
        self.playlist_norm = constant(recommender.playlist_norm.astype(np.float64), PLAYLIST_NORM)
        if self.sample_size is not None:
            self.priority = constant(recommender.priority.astype(np.int64), PRIORITY)
        self.match_weighting = recommender.match_recency.weighting
        self.match_decay = float(recommender.match_recency.decay)
        self.reads_matches = recommender.reads_matches
        self.position_decay = float(recommender.position_decay)
        if self.position_decay != 1.0:
            self.playlist_positions = constant(
                recommender.positions.astype(np.float64), PLAYLIST_POSITIONS
            )
        self.has_vote_weight = recommender.vote_weight is not None
        if self.has_vote_weight:
            self.vote_weight = constant(recommender.vote_weight.astype(np.float64), VOTE_WEIGHT)
        # The settings too, so that a package's arrays alone rebuild the recommender.
        self.knn_settings = constant(settings_array(recommender), KNN_SETTINGS)

    def call(self, indices, known, weights, popularity):
        n, m = self.n, self.m
        batch = tf.shape(indices, out_type=tf.int64)[0]
        seed_keys, seed_weights = query_seeds(indices, known, weights, n)
        seed_weights = tf.cast(seed_weights, tf.float64)
        seed_rows = seed_keys // n
        # One gather over the seeds' playlists, summing what the similarity needs: for cosine
        # the dot products (weight · idf in the query, idf in a playlist), for Jaccard counts.
        if self.similarity == "cosine":
            seed_weights = seed_weights * tf.gather(self.track_weight, seed_keys % n)
            terms = seed_weights * tf.gather(self.track_weight, seed_keys % n)
        else:
            terms = tf.ones_like(seed_weights)
        keys, overlap = gather_rows(
            self.track_playlists_indptr, self.track_playlists, None, seed_keys, terms, n, m
        )
        playlist_keys, overlap = sum_by_key(keys, overlap)
        rows = playlist_keys // m
        if self.similarity == "cosine":
            norm = tf.sqrt(
                tf.math.unsorted_segment_sum(seed_weights * seed_weights, seed_rows, batch)
            )
            if self.query_power != 1.0:
                norm = tf.pow(norm, self.query_power)
            sims = overlap / (
                tf.gather(norm, rows) * tf.gather(self.playlist_norm, playlist_keys % m)
            )
        else:
            sizes = tf.math.unsorted_segment_sum(tf.ones_like(seed_weights), seed_rows, batch)
            length = tf.gather(self.playlist_norm, playlist_keys % m)
            sims = overlap / (tf.gather(sizes, rows) + length - overlap)
        sims = tf.cast(sims, tf.float32)
        if self.sample_size is not None:
            # The candidates with the highest seeded priority, per row.
            priority = tf.gather(self.priority, playlist_keys % m)
            ragged = tf.RaggedTensor.from_value_rowids(
                tf.stack([priority, tf.range(tf.size(priority, out_type=tf.int64))], 1),
                rows,
                nrows=batch,
            )
            padded = ragged.to_tensor(default_value=-1)
            wanted = tf.minimum(self.sample_size, tf.shape(padded)[1])
            _, chosen = tf.math.top_k(padded[..., 0], k=wanted)
            picked = tf.gather(padded[..., 1], chosen, batch_dims=1)
            picked = tf.boolean_mask(picked, picked >= 0)
            playlist_keys, sims = tf.gather(playlist_keys, picked), tf.gather(sims, picked)
        keep = sims > 0
        near_values, near_ids = top_by_key(
            tf.boolean_mask(playlist_keys, keep),
            tf.boolean_mask(sims, keep),
            batch,
            m,
            self.neighbours,
        )
        found = near_ids >= 0
        near_rows = tf.broadcast_to(tf.range(batch)[:, None], tf.shape(near_ids, out_type=tf.int64))
        near_keys = tf.boolean_mask(near_rows * m + near_ids, found)
        near_sims = tf.cast(tf.boolean_mask(near_values, found), tf.float64)
        if self.vote_exponent != 1.0:
            near_sims = tf.pow(near_sims, self.vote_exponent)
        order = tf.argsort(near_keys)  # neighbours by playlist index, as numpy sums them
        near_keys, near_sims = tf.gather(near_keys, order), tf.gather(near_sims, order)
        if self.reads_matches:
            vote_keys, votes = self._matched_votes(indices, known, weights, near_keys, near_sims)
        else:
            vote_keys, votes = gather_rows(
                self.playlist_tracks_indptr,
                self.playlist_tracks,
                None,
                near_keys,
                near_sims,
                m,
                n,
            )
        vote_keys, votes = sum_by_key(vote_keys, votes)
        if self.has_vote_weight:
            votes = votes * tf.gather(self.vote_weight, vote_keys % n)
        return rank_scored(
            vote_keys, tf.cast(votes, tf.float32), seed_keys, indices, known, popularity, n, self.k
        )

    def _matched_votes(self, indices, known, weights, near_keys, near_sims):
        """The neighbours' votes weighted by their match: the most recent query track each one
        shares (seeds weighted 0 left out), its recency weight, and each track's distance in
        places from it (numpy: ``PlaylistKnn._matched_votes``)."""
        n, m = self.n, self.m
        n64 = tf.constant(n, tf.int64)
        rows = tf.broadcast_to(
            tf.range(tf.shape(indices, out_type=tf.int64)[0])[:, None],
            tf.shape(indices, out_type=tf.int64),
        )
        held = known & (weights > 0)
        # Each seed's latest place in its query, as steps from the end · n + seed (smaller: more
        # recent); one key per distinct (row, seed).
        seed_keys, which = tf.unique(tf.boolean_mask(rows * n64 + indices, held))
        encoded = tf.math.unsorted_segment_min(
            tf.boolean_mask(steps_from_end(known) * n64 + indices, held),
            which,
            tf.size(seed_keys),
        )
        ids = seed_keys % n64
        positions = tf.ragged.range(
            tf.gather(self.track_playlists_indptr, ids),
            tf.gather(self.track_playlists_indptr, ids + 1),
        )
        owner = positions.value_rowids()
        playlist_keys = tf.gather(seed_keys // n64, owner) * m + tf.cast(
            tf.gather(self.track_playlists, positions.flat_values), tf.int64
        )
        unique_playlists, slot = tf.unique(playlist_keys)
        latest = tf.math.unsorted_segment_min(
            tf.gather(encoded, owner), slot, tf.size(unique_playlists)
        )
        sorted_order = tf.argsort(unique_playlists)
        sorted_playlists = tf.gather(unique_playlists, sorted_order)
        at = tf.searchsorted(sorted_playlists, near_keys)
        match = tf.gather(tf.gather(latest, sorted_order), at)  # every neighbour shares a seed
        steps, matched = match // n64, match % n64
        match_weight = tf.cast(
            recency_weights(steps, self.match_weighting, self.match_decay), tf.float64
        )
        neighbour_weight = near_sims * match_weight
        ids = near_keys % m
        entries = tf.ragged.range(
            tf.gather(self.playlist_tracks_indptr, ids),
            tf.gather(self.playlist_tracks_indptr, ids + 1),
        )
        owner = entries.value_rowids()
        tracks = tf.cast(tf.gather(self.playlist_tracks, entries.flat_values), tf.int64)
        values = tf.gather(neighbour_weight, owner)
        if self.position_decay != 1.0:
            places = tf.gather(self.playlist_positions, entries.flat_values)
            hit = tf.equal(tracks, tf.gather(matched, owner))
            at_match = tf.math.unsorted_segment_max(
                tf.where(hit, places, tf.zeros_like(places)), owner, tf.size(near_keys)
            )
            distance = tf.abs(places - tf.gather(at_match, owner))
            values = values * tf.pow(tf.constant(self.position_decay, tf.float64), distance)
        return tf.gather(near_keys // m, owner) * n + tracks, values


def layer(recommender, k: int) -> PlaylistKnnLayer:
    return PlaylistKnnLayer(recommender, k, name="playlist_knn")
