"""The SQL of the data_processing pipeline, written once for both engines.

Every query is DuckDB SQL that :func:`music_recsys.tables.sql` runs on DuckDB or, translated by
sqlglot, on Spark. So each one sticks to what the two engines do alike: 1-based
``substring`` instead of DuckDB's slices, ``regexp_matches`` with an anchored pattern,
``array_length``, explicit casts before ``||``, and a seeded order (:func:`seeded_order`) by
``md5``, which both compute identically. ``tests/test_engines.py`` runs them on
both and compares every row.
"""

from __future__ import annotations

from music_recsys.tables import seeded_order

TRACK_ID_SEPARATOR = "|||"
FIELDS = ("user_id", "artistname", "trackname", "playlistname")

# One field of an RFC 4180 line: quoted (inner quotes doubled) or bare.
_RFC_FIELD = r'("(?:[^"]|"")*"|[^",]*)'
RFC_LINE = "^" + ",".join([_RFC_FIELD] * 4) + "$"

# Four searches, not one over the fields joined: joining costs a string per line (1 s at 12 M).
_ANY_FIELD_HAS_A_QUOTE = " OR ".join(f"contains({name}, '\"')" for name in FIELDS)

WHITESPACE = "' ' || chr(9) || chr(160)"
_WHITESPACE_CHARS = ("' '", "chr(9)", "chr(160)")


def _unquoted(value: str) -> str:
    """``value`` without its first and last character."""
    return f"substring({value}, 2, length({value}) - 2)"


def _rfc_field(group: int) -> str:
    field = f"regexp_extract(line, '{RFC_LINE}', {group})"
    return f"""CASE WHEN starts_with({field}, '"') THEN replace({_unquoted(field)}, '""', '"') ELSE {field} END"""


# Two readings of a line. The file's own: strip the outer quotes and split on '","' (the real
# file does not escape inner quotes, so `"Matthew "Mdot" Finley"` is one value). And RFC 4180
# CSV: doubled quotes inside quoted fields, unquoted fields allowed. They can only disagree on a
# line that holds a doubled quote ("") or does not split into four; such a line is read as RFC
# 4180 when it is valid RFC 4180 and by the file's rule otherwise. What neither reading can
# parse is rejected with its line number and the reason.
_PARSED_VALUES = ", ".join(
    f"CASE method WHEN 'split' THEN parts[{i}] WHEN 'rfc4180' THEN {_rfc_field(i)} END AS {name}"
    for i, name in enumerate(FIELDS, start=1)
)
PARSE = f"""
WITH split AS (
    SELECT line_number, line, read_error,
           coalesce(length(line) >= 2 AND starts_with(line, '"') AND ends_with(line, '"'), false)
               AS quoted,
           CASE WHEN quoted THEN string_split({_unquoted("line")}, '","') END AS parts
    FROM {{raw_lines}}
), classified AS (
    SELECT *,
           CASE WHEN read_error IS NOT NULL THEN 'rejected'
                WHEN line IS NULL OR trim(line) = '' THEN 'blank_line'
                WHEN array_length(parts) = 4 AND NOT contains(line, '""') THEN 'split'
                WHEN regexp_matches(line, '{RFC_LINE}') THEN 'rfc4180'
                WHEN array_length(parts) = 4 THEN 'split'
                ELSE 'rejected' END AS method
    FROM split
), parsed AS (
    SELECT *, {_PARSED_VALUES}
    FROM classified
)
SELECT line_number,
       CASE WHEN method IN ('split', 'rfc4180') THEN 'parsed' ELSE method END AS outcome,
       CASE WHEN method NOT IN ('split', 'rfc4180') THEN NULL
            WHEN quoted AND NOT ({_ANY_FIELD_HAS_A_QUOTE}) THEN 'quoted'
            WHEN method = 'split' THEN 'inner_quotes'
            ELSE 'rfc4180' END AS quoting,
       {", ".join(FIELDS)},
       CASE WHEN method <> 'rejected' THEN NULL
            WHEN read_error IS NOT NULL THEN read_error
            WHEN quoted THEN 'wrong_field_count'
            ELSE 'malformed_quoting' END AS reason,
       CASE WHEN method = 'rejected' AND read_error IS NULL AND quoted
            THEN 'found ' || CAST(array_length(parts) AS VARCHAR)
                 || ' fields separated by "," instead of 4' END AS detail,
       CASE WHEN method = 'rejected' THEN line END AS line
FROM parsed
"""


def trimmed(column: str) -> str:
    """``trim(column, whitespace)``, skipped where neither end is whitespace: trimming with a
    character set is three times slower than testing the ends (9 s against 2.5 s for three
    values of 12 M rows), and ``starts_with`` tests without making a substring."""
    padded = " OR ".join(
        f"{test}({column}, {char})"
        for test in ("starts_with", "ends_with")
        for char in _WHITESPACE_CHARS
    )
    return f"CASE WHEN {padded} THEN trim({column}, {WHITESPACE}) ELSE {column} END"


def clean(drop_empty_track: bool, drop_empty_artist: bool) -> str:
    """Trims values, applies the empty-name rules and gives every line its outcome
    (input ``{parsed}``)."""
    return f"""
        WITH trimmed AS (
            SELECT line_number, outcome AS parse_outcome, reason AS parse_reason,
                   detail AS parse_detail, line AS parse_line, quoting,
                   {trimmed("user_id")} AS user_id,
                   playlistname AS playlist_key,
                   {trimmed("artistname")} AS artistname,
                   {trimmed("trackname")} AS trackname
            FROM {{parsed}}
        ), judged AS (
            SELECT *,
                   CASE WHEN parse_outcome <> 'parsed' THEN NULL
                        WHEN contains(artistname, '{TRACK_ID_SEPARATOR}')
                             OR contains(trackname, '{TRACK_ID_SEPARATOR}')
                            THEN 'separator_in_name'
                        WHEN trackname = '' AND {drop_empty_track} THEN 'empty_track'
                        WHEN artistname = '' AND {drop_empty_artist} THEN 'empty_artist'
                   END AS clean_reason
            FROM trimmed
        )
        SELECT line_number,
               CASE WHEN parse_outcome = 'parsed' THEN 'clean' ELSE 'parse' END AS stage,
               CASE WHEN parse_outcome = 'blank_line' THEN 'filtered'
                    WHEN parse_outcome = 'rejected' THEN 'rejected'
                    WHEN clean_reason IS NULL THEN 'kept'
                    WHEN clean_reason = 'separator_in_name' THEN 'rejected'
                    ELSE 'filtered' END AS outcome,
               CASE WHEN parse_outcome = 'parsed' THEN clean_reason
                    ELSE coalesce(parse_reason, parse_outcome) END AS reason,
               CASE WHEN clean_reason = 'separator_in_name'
                        THEN 'a name contains the track id separator {TRACK_ID_SEPARATOR}'
                    ELSE parse_detail END AS detail,
               CASE WHEN clean_reason = 'separator_in_name'
                        THEN concat_ws(' | ', user_id, artistname, trackname, playlist_key)
                    ELSE parse_line END AS line,
               quoting, user_id, playlist_key, artistname, trackname
        FROM judged
        """


KEPT = f"""
    SELECT line_number, user_id, playlist_key, trackname,
           artistname || '{TRACK_ID_SEPARATOR}' || trackname AS track_id
    FROM {{clean}} WHERE outcome = 'kept'
"""


def frequent_tracks(min_track_frequency: int) -> str:
    """The kept rows of tracks with at least ``min_track_frequency`` rows (input ``{kept}``)."""
    return f"""
        SELECT * FROM {{kept}} SEMI JOIN (
            SELECT track_id FROM {{kept}} GROUP BY track_id
            HAVING count(*) >= {int(min_track_frequency)}
        ) USING (track_id)
    """


PLAYLIST_SIZES = f"""
    SELECT user_id, playlist_key, trim(playlist_key, {WHITESPACE}) AS playlistname,
           count(*) AS n_tracks, min(line_number) AS first_line_number
    FROM {{frequent}} GROUP BY user_id, playlist_key
"""


def filter_counts(min_playlist_length: int) -> str:
    """Rows in, rows of frequent tracks, rows and playlists out (inputs ``{kept}``,
    ``{sizes}``)."""
    long_enough = f"n_tracks >= {int(min_playlist_length)}"
    return f"""
        SELECT (SELECT count(*) FROM {{kept}}) AS rows_in,
               coalesce(sum(n_tracks), 0) AS rows_frequent,
               coalesce(sum(CASE WHEN {long_enough} THEN n_tracks END), 0) AS rows_out,
               count(CASE WHEN {long_enough} THEN 1 END) AS playlists
        FROM {{sizes}}
    """


def numbered_playlists(min_playlist_length: int) -> str:
    """Playlists long enough, numbered by first appearance in the file (input ``{sizes}``)."""
    return f"""
        SELECT CAST(row_number() OVER (ORDER BY first_line_number) - 1 AS BIGINT) AS playlist_id,
               user_id, playlist_key, playlistname, n_tracks, first_line_number
        FROM {{sizes}} WHERE n_tracks >= {int(min_playlist_length)}
    """


PLAYLIST_TRACKS = """
    SELECT p.playlist_id,
           CAST(row_number() OVER (PARTITION BY p.playlist_id ORDER BY f.line_number) - 1
                AS BIGINT) AS position,
           f.track_id, f.trackname, f.line_number
    FROM {frequent} f JOIN {playlists} p USING (user_id, playlist_key)
    ORDER BY p.playlist_id, position
"""

# track_id is <artist>|||<track>, so the artist is what precedes the title and separator.
TRACKS = f"""
    WITH counted AS (
        SELECT track_id, any_value(trackname) AS trackname,
               count(*) AS n_rows, count(DISTINCT playlist_id) AS n_playlists
        FROM {{playlist_tracks}} GROUP BY track_id
    )
    SELECT track_id,
           substring(track_id, 1, length(track_id) - length(trackname) - {len(TRACK_ID_SEPARATOR)})
               AS artistname,
           trackname, n_rows, n_playlists
    FROM counted ORDER BY n_rows DESC, track_id
"""

# Per playlist length: how many playlists, and how many list their titles in code-point order.
ORDER_BY_LENGTH = """
    WITH ordered AS (
        SELECT playlist_id, trackname,
               lag(trackname) OVER (PARTITION BY playlist_id ORDER BY position) AS previous
        FROM {playlist_tracks}
    ), per_playlist AS (
        SELECT count(*) AS n, bool_and(previous IS NULL OR previous <= trackname) AS is_sorted
        FROM ordered GROUP BY playlist_id
    )
    SELECT n, count(*) AS playlists, count(CASE WHEN is_sorted THEN 1 END) AS sorted
    FROM per_playlist WHERE n >= 2 GROUP BY n ORDER BY n
"""


def split_assignment(seed: int, n_train: int, n_validation: int) -> str:
    """Each playlist's split: playlists ordered by a seeded hash of their owner and name (ties
    by id), the first ``n_train`` to train, the next ``n_validation`` to validation, the rest
    to test (input ``{playlists}``)."""
    draw = seeded_order(seed, "user_id", "playlistname")
    return f"""
        WITH ranked AS (
            SELECT playlist_id, n_tracks,
                   row_number() OVER (ORDER BY {draw}, playlist_id) - 1 AS draw_rank
            FROM {{playlists}}
        )
        SELECT playlist_id, n_tracks,
               CASE WHEN draw_rank < {int(n_train)} THEN 'train'
                    WHEN draw_rank < {int(n_train) + int(n_validation)} THEN 'validation'
                    ELSE 'test' END AS split
        FROM ranked
    """


def split_rows(name: str) -> str:
    """The rows of the playlists assigned to split ``name`` (inputs ``{tracks}``,
    ``{assigned}``)."""
    return f"""
        SELECT t.playlist_id, t.position, t.track_id
        FROM {{tracks}} t SEMI JOIN (SELECT playlist_id FROM {{assigned}} WHERE split = '{name}')
            USING (playlist_id)
        ORDER BY t.playlist_id, t.position
    """


SPLIT_SIZES = """
    SELECT split, count(*) AS playlists, sum(n_tracks) AS n_rows FROM {assigned} GROUP BY split
"""

OUTCOME_COUNTS = """
    SELECT stage, outcome, reason, count(*) AS n_rows
    FROM {clean} WHERE outcome <> 'kept' GROUP BY stage, outcome, reason
"""

LINES_READ = "SELECT count(*) FROM {clean}"

REJECTED = """
    SELECT line_number, reason, detail, line FROM {clean} WHERE outcome = 'rejected'
    ORDER BY line_number
"""
