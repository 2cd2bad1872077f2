"""A deterministic generator of demo playlists in the #nowplaying Spotify file's format.

The real file cannot be redistributed, so ``kedro run`` on a fresh clone uses data made here. It
mimics what matters about the real file for this project:

- users with a heavy-tailed number of playlists, named by genre or theme ("rock classics",
  "chill", "workout 2014", "Starred"), in the mixed case people type;
- artists and tracks whose popularity follows a power law, playlist lengths that are heavy-tailed;
- tracks that co-occur for a reason a model can learn: each artist plays one *scene* of one genre,
  and a playlist draws its artists from a few scenes that fit its theme, often several tracks of
  the same artist;
- the quirks: empty artists, unescaped inner quotes (``Song - From "Movie" Soundtrack``, ``12"``),
  non-ASCII names, playlist names with trailing spaces;
- the row order: playlists of a user sorted by name, tracks within a playlist sorted by title
  (code-point order), exactly as in the real file, so "the next row" is not "the next song played".

Everything is drawn from one seeded ``numpy`` generator: the same parameters give the same file.
"""

from __future__ import annotations

import hashlib
import logging

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

logger = logging.getLogger(__name__)

# Part of the demo file's fingerprint: bump it when a change here changes the generated rows,
# so that existing demo files are regenerated.
DEMO_GENERATOR_VERSION = 1

# Each genre has a few scenes (sub-styles); artists belong to one scene.
GENRES = {
    "rock": ["classic rock", "hard rock", "alternative rock", "garage rock"],
    "pop": ["dance pop", "synth pop", "teen pop", "swedish pop"],
    "hip hop": ["east coast hip hop", "trap", "conscious hip hop"],
    "electronic": ["house", "techno", "drum and bass", "dubstep", "trance"],
    "indie": ["indie pop", "indie folk", "shoegaze"],
    "metal": ["heavy metal", "death metal", "metalcore"],
    "jazz": ["bebop", "smooth jazz", "jazz fusion"],
    "classical": ["baroque", "romantic", "film scores"],
    "soul": ["motown", "neo soul", "funk"],
    "country": ["outlaw country", "country pop"],
    "reggae": ["roots reggae", "dancehall"],
    "latin": ["reggaeton", "salsa", "bossa nova"],
    "punk": ["pop punk", "hardcore punk", "emo"],
    "folk": ["singer-songwriter", "americana"],
    "blues": ["delta blues", "chicago blues"],
}

# Themes that are not a genre, with the genres they tend to draw from.
MOODS = {
    "chill": ["electronic", "indie", "jazz", "soul"],
    "workout": ["hip hop", "electronic", "rock", "metal"],
    "party": ["pop", "hip hop", "electronic", "latin"],
    "summer": ["pop", "reggae", "latin", "indie"],
    "road trip": ["rock", "country", "folk", "indie"],
    "sleep": ["classical", "jazz", "folk"],
    "study": ["classical", "electronic", "jazz"],
    "running": ["electronic", "pop", "hip hop"],
    "love songs": ["soul", "pop", "country"],
    "throwback": ["pop", "rock", "soul", "hip hop"],
}

_GENRE_NAME_TEMPLATES = [
    "{g}",
    "{g} classics",
    "best of {g}",
    "{g} {year}",
    "{g} mix",
    "my {g}",
    "{g} favourites",
    "{s}",
    "{s} {year}",
    "{g}!!",
    "new {g}",
]
_MOOD_NAME_TEMPLATES = ["{m}", "{m} {year}", "{m} vibes", "{m} playlist", "{m} mix", "{m} :)"]
_TASTE_NAMES = ["Starred", "favorites", "Liked from Radio", "my music", "good stuff", "Everything"]
_YEARS = [str(year) for year in range(2008, 2016)]

_WORDS = (
    "love night heart fire dream light rain summer blue city girl boy world time life road star "
    "moon sun river home dance gold wild young heaven shadow angel ghost electric midnight "
    "paradise ocean storm thunder diamond velvet neon glass silver crystal broken lonely sweet "
    "crazy golden secret silent hollow burning falling rising running dancing dreaming waiting "
    "forever tonight yesterday tomorrow morning evening highway island mountain desert garden "
    "window mirror letter song kiss fever echo wave season memory promise story soul alive free "
    "down up away together again forget remember believe hold stay leave kingdom empire "
    "revolution machine rocket satellite signal radio motel cherry honey sugar whiskey"
).split()
_FIRST = (
    "John Anna Mike Lisa David Emma James Sara Tom Nina Alex Maria Chris Julia Sam Laura Max Eva "
    "Leo Ida Oscar Björn Zoë Émilie Jörg Sigrún Andrés Chloé Måns Nils"
).split()
_LAST = (
    "Smith Johnson Brown Miller Davis Wilson Moore Taylor Clark Lewis Walker Young King Wright "
    "Hill Green Baker Adams Nelson Carter Lindqvist Åberg Muñoz García Dubois Müller Novak"
).split()
_ARTIST_TEMPLATES = [
    "The {Adj} {Nouns}",
    "{First} {Last}",
    "{Noun} {Noun2}",
    "DJ {Noun}",
    "{First} & The {Nouns}",
    "{Adj} {Noun}",
    "MC {Noun}",
    "{First} {Last} Trio",
    "{Nouns} of {Noun2}",
    "{noun}{noun2}",
]
# Roughly how many names each template can make, so that small ones are not worn out.
_ARTIST_TEMPLATE_WEIGHTS = np.array([3, 1, 3, 0.2, 1, 3, 0.2, 0.4, 2, 2]) / 15.8
_TRACK_SUFFIXES = [
    " - Remastered",
    " - Radio Edit",
    " - Live",
    " (Remix)",
    " - Acoustic Version",
    " - Original Mix",
    " - Single Version",
    " - 2011 Remaster",
]


class DemoDataParams(BaseModel):
    """Size and character of the demo file (``demo_data`` in ``conf/base/parameters.yml``)."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="Where the demo file is written.")
    seed: int = 2015
    n_users: int = Field(1_000, ge=1)
    n_playlists: int = Field(6_000, ge=1)
    n_artists: int = Field(3_000, ge=1)
    tracks_per_artist_max: int = Field(40, ge=1)
    median_playlist_length: float = Field(25.0, gt=0)
    playlist_length_sigma: float = Field(1.2, ge=0, description="Log-normal spread of lengths.")
    max_playlist_length: int = Field(2_000, ge=1)
    popularity_exponent: float = Field(
        1.1, gt=0, description="Zipf exponent of artist and track popularity."
    )
    empty_artist_rate: float = Field(0.001, ge=0, le=1)
    quoted_title_rate: float = Field(0.004, ge=0, le=1)

    @model_validator(mode="after")
    def _enough_artists(self) -> DemoDataParams:
        n_scenes = sum(len(scenes) for scenes in GENRES.values())
        if self.n_artists < n_scenes:
            raise ValueError(f"n_artists must be at least {n_scenes} (one per scene)")
        return self


def _zipf_weights(n: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    return weights / weights.sum()


def _titles(rng: np.random.Generator, n: int, n_words: np.ndarray | int) -> list[str]:
    """``n`` titles of ``n_words`` random words, mostly Title Case, some not (as people type)."""
    words = np.asarray(_WORDS)[rng.integers(len(_WORDS), size=(n, 4))]
    lengths = np.broadcast_to(n_words, (n,))
    styles = rng.random(n)
    titles = []
    for row, length, style in zip(words.tolist(), lengths.tolist(), styles.tolist(), strict=True):
        chosen = row[:length]
        if style < 0.75:
            titles.append(" ".join(word.capitalize() for word in chosen))
        elif style < 0.9:
            titles.append(" ".join(chosen).capitalize())
        else:
            titles.append(
                " ".join(chosen)
            )  # all lower case: sorts after upper case, as in the real file
    return titles


def _plural(word: str) -> str:
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + ("es" if word.endswith(("s", "sh", "ch", "x")) else "s")


def _artist_names(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct artist names."""
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < n:
        batch = n - len(names)
        templates = rng.choice(len(_ARTIST_TEMPLATES), size=batch, p=_ARTIST_TEMPLATE_WEIGHTS)
        words = np.asarray(_WORDS)[rng.integers(len(_WORDS), size=(batch, 3))].tolist()
        firsts = rng.integers(len(_FIRST), size=batch).tolist()
        lasts = rng.integers(len(_LAST), size=batch).tolist()
        for template, (noun, noun2, adjective), first, last in zip(
            templates.tolist(), words, firsts, lasts, strict=True
        ):
            name = _ARTIST_TEMPLATES[template].format(
                Adj=adjective.capitalize(),
                Noun=noun.capitalize(),
                Noun2=noun2.capitalize(),
                Nouns=_plural(noun.capitalize()),
                noun=noun,
                noun2=noun2,
                First=_FIRST[first],
                Last=_LAST[last],
            )
            if name in seen:
                # The name space is finite; a full-size catalog numbers its namesakes.
                name = f"{name} {len(names) + 1}"
            seen.add(name)
            names.append(name)
    return names


def _track_titles(
    rng: np.random.Generator, n: int, params: DemoDataParams, artists: list[str]
) -> list[str]:
    """``n`` track titles, with the real file's suffixes, features and unescaped quotes."""
    titles = _titles(rng, n, rng.integers(1, 5, size=n))
    movies = _titles(rng, n, 2)
    draws = rng.random(n).tolist()
    picks = rng.integers(1 << 30, size=(n, 2)).tolist()
    for i, draw in enumerate(draws):
        if draw < params.quoted_title_rate:
            # The quirks of the real file: inner quotes that are not escaped.
            title, movie = titles[i], movies[i]
            titles[i] = [
                f'{title} - From "{movie}" Soundtrack',
                f'{title} - Original 12"',
                f'"{title}"',
                f'{title} (feat. "{movie.split()[0]}")',
            ][picks[i][0] % 4]
        elif draw < 0.12:
            titles[i] += _TRACK_SUFFIXES[picks[i][0] % len(_TRACK_SUFFIXES)]
        elif draw < 0.17:
            titles[i] += f" (feat. {artists[picks[i][1] % len(artists)]})"
    return titles


def _make_catalog(rng: np.random.Generator, params: DemoDataParams):
    """Artists (name, scene) and their tracks, most popular first within each scene."""
    scenes = [(genre, scene) for genre, names in GENRES.items() for scene in names]
    # Every scene gets at least one artist; the rest go to scenes by a skewed draw.
    scene_share = rng.dirichlet(np.full(len(scenes), 2.0))
    extra = rng.choice(len(scenes), size=params.n_artists - len(scenes), p=scene_share)
    artist_scene = np.concatenate([np.arange(len(scenes)), extra])
    names = _artist_names(rng, params.n_artists)
    # Tracks per artist: heavy-tailed, 1 to tracks_per_artist_max; a title an artist already
    # has is dropped, so a few artists end up with fewer.
    n_tracks = np.minimum(
        np.ceil(rng.pareto(1.2, size=params.n_artists) * 3 + 1).astype(int),
        params.tracks_per_artist_max,
    )
    titles = _track_titles(rng, int(n_tracks.sum()), params, names)
    bounds = np.concatenate([[0], np.cumsum(n_tracks)]).tolist()
    tracks = [
        list(dict.fromkeys(titles[start:end]))
        for start, end in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    by_scene: dict[int, np.ndarray] = {
        index: rng.permutation(np.flatnonzero(artist_scene == index))
        for index in range(len(scenes))
    }
    return scenes, names, tracks, by_scene


def _playlist_theme(rng: np.random.Generator, taste: list[str]) -> tuple[str, list[str], list[str]]:
    """A playlist's name and the genres and scenes it draws from."""
    genre_names = list(GENRES)
    draw = rng.random()
    year = _YEARS[rng.integers(len(_YEARS))]
    if draw < 0.55:
        genre = taste[0] if rng.random() < 0.6 else genre_names[rng.integers(len(genre_names))]
        scenes = list(rng.choice(GENRES[genre], size=min(2, len(GENRES[genre])), replace=False))
        template = _GENRE_NAME_TEMPLATES[rng.integers(len(_GENRE_NAME_TEMPLATES))]
        name = template.format(g=genre, s=scenes[0], year=year)
        return name, [genre], scenes
    if draw < 0.85:
        mood = list(MOODS)[rng.integers(len(MOODS))]
        genres = list(rng.choice(MOODS[mood], size=2, replace=False))
        scenes = [rng.choice(GENRES[genre]) for genre in genres]
        template = _MOOD_NAME_TEMPLATES[rng.integers(len(_MOOD_NAME_TEMPLATES))]
        return template.format(m=mood, year=year), genres, [str(scene) for scene in scenes]
    scenes = [str(rng.choice(GENRES[genre])) for genre in taste]
    return _TASTE_NAMES[rng.integers(len(_TASTE_NAMES))], taste, scenes


def _styled(rng: np.random.Generator, name: str) -> str:
    draw = rng.random()
    if draw < 0.2:
        name = name.upper()
    elif draw < 0.45:
        name = name.title()
    if rng.random() < 0.03:
        name += " "  # trailing spaces occur in the real file ("2014 beginning ")
    return name


def _segment_cdf(groups: list[np.ndarray] | list[list], exponent: float) -> np.ndarray:
    """Zipf CDFs of consecutive groups, offset by group number so that the whole is increasing.

    ``searchsorted(cdf, g + u)`` with ``u`` uniform in [0, 1) then draws an item of group ``g``
    by popularity, for many draws and groups at once.
    """
    return np.concatenate(
        [g + np.cumsum(_zipf_weights(len(items), exponent)) for g, items in enumerate(groups)]
    )


def generate_demo_playlists(params: DemoDataParams) -> pd.DataFrame:
    """Generates the demo playlists table, rows in the real file's order.

    Args:
        params: Size and character of the data.

    Returns:
        A frame with the file's four columns (``user_id``, ``artistname``, ``trackname``,
        ``playlistname``), grouped by user and playlist, sorted as in the real file.
    """
    rng = np.random.default_rng(params.seed)
    scenes, artists, tracks, by_scene = _make_catalog(rng, params)
    scene_index = {scene: index for index, (_, scene) in enumerate(scenes)}
    scene_members = np.concatenate([by_scene[index] for index in range(len(scenes))])
    scene_cdf = _segment_cdf(
        [by_scene[index] for index in range(len(scenes))], params.popularity_exponent
    )
    track_offset = np.concatenate([[0], np.cumsum([len(titles) for titles in tracks])])
    track_cdf = _segment_cdf(tracks, params.popularity_exponent)
    track_artist = np.repeat(np.arange(len(tracks)), [len(titles) for titles in tracks])
    track_title = [title for titles in tracks for title in titles]

    users = [
        hashlib.md5(f"demo-{params.seed}-{i}".encode()).hexdigest() for i in range(params.n_users)
    ]
    user_of_playlist = rng.choice(
        params.n_users, size=params.n_playlists, p=_zipf_weights(params.n_users, 0.8)
    )
    genre_names = list(GENRES)
    tastes = [
        list(rng.choice(genre_names, size=int(rng.integers(1, 4)), replace=False)) for _ in users
    ]
    lengths = np.clip(
        np.round(
            params.median_playlist_length
            * rng.lognormal(0.0, params.playlist_length_sigma, params.n_playlists)
        ),
        1,
        params.max_playlist_length,
    ).astype(int)

    playlists: list[tuple[int, str, np.ndarray]] = []
    names_taken: set[tuple[int, str]] = set()
    for playlist in range(params.n_playlists):
        user = int(user_of_playlist[playlist])
        name, _, playlist_scenes = _playlist_theme(rng, tastes[user])
        name = _styled(rng, name)
        while (user, name) in names_taken:  # one user, one playlist per name
            name = f"{name} {int(rng.integers(2, 99))}"
        names_taken.add((user, name))
        # Draw more candidates than needed; half the time a slot repeats the previous slot's
        # artist, because people add several songs of an artist they like.
        n_draws = 2 * int(lengths[playlist]) + 4
        slot_scenes = np.array([scene_index[s] for s in playlist_scenes])[
            rng.integers(len(playlist_scenes), size=n_draws)
        ]
        fresh = scene_members[
            np.searchsorted(scene_cdf, slot_scenes + rng.random(n_draws), side="right")
        ]
        repeat = rng.random(n_draws) < 0.5
        repeat[0] = False
        source = np.maximum.accumulate(np.where(repeat, 0, np.arange(n_draws)))
        slot_artists = fresh[source]
        picked = np.searchsorted(track_cdf, slot_artists + rng.random(n_draws), side="right")
        picked = np.minimum(picked, track_offset[slot_artists + 1] - 1)  # guard float round-off
        _, first = np.unique(picked, return_index=True)
        playlists.append((user, name, picked[np.sort(first)][: lengths[playlist]]))
        if (playlist + 1) % 50_000 == 0:
            logger.info("Generated %d of %d demo playlists", playlist + 1, params.n_playlists)

    # The real file's order: users as they come, a user's playlists by name, then tracks by
    # title, all in code-point order.
    rows: list[tuple[str, str, str, str]] = []
    for user, name, picked in sorted(playlists, key=lambda p: (p[0], p[1])):
        empty_artist = rng.random(len(picked)) < params.empty_artist_rate
        for track, no_artist in sorted(
            zip(picked.tolist(), empty_artist.tolist(), strict=True),
            key=lambda t: track_title[t[0]],
        ):
            artist = "" if no_artist else artists[track_artist[track]]
            rows.append((users[user], artist, track_title[track], name))
    return pd.DataFrame(rows, columns=["user_id", "artistname", "trackname", "playlistname"])
