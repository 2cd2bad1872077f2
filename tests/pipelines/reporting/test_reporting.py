import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from music_recsys.core.catalog import TrackIndex
from music_recsys.core.protocol import EvaluationParams
from music_recsys.datasets import FigureDataset
from music_recsys.duckdb_sql import relation
from music_recsys.kinds.embedding import Embedding
from music_recsys.pipelines.data_science.tuning_nodes import build_tuning_table
from music_recsys.pipelines.reporting.analysis import (
    infer_track_genres,
    power_law_metrics,
    power_law_summary,
)
from music_recsys.pipelines.reporting.nodes import latent_space
from music_recsys.pipelines.reporting.params import GenreParams, LatentSpaceParams, PowerLawParams
from music_recsys.pipelines.reporting.plots import (
    plot_coverage_vs_hit_rate,
    plot_hit_rate_by_popularity,
    plot_latent_space,
    plot_metric_curves,
    plot_popularity_distributions,
    plot_power_law,
    plot_row_accounting,
)
from music_recsys.pipelines.reporting.report import build_report

RNG = np.random.default_rng(0)


@pytest.fixture(scope="module")
def tracks():
    """A track table with Zipf-distributed popularity (exponent 2.2)."""
    rows = np.minimum(RNG.zipf(2.2, size=3000), 5000)
    artists = [f"artist {i % 400}" for i in range(3000)]
    return pd.DataFrame(
        {
            "track_id": [f"{a}|||t{i}" for i, a in enumerate(artists)],
            "artistname": artists,
            "n_rows": rows,
        }
    )


@pytest.fixture(scope="module")
def fits(tracks):
    return power_law_summary(relation(tracks), PowerLawParams())


def _results() -> pd.DataFrame:
    rows = []
    for split in ("validation", "test"):
        for i, (name, kind) in enumerate(
            [
                ("cooccurrence", "cooccurrence"),
                ("most_popular", "most_popular"),
                ("w2v_a", "word2vec"),
            ]
        ):
            row = {
                "candidate": name,
                "kind": kind,
                "baseline": kind != "word2vec",
                "selected": name == "cooccurrence",
                "protocol": "continuation",
                "split": split,
            }
            for k in (10, 20, 100):
                row |= {
                    f"hit_rate_at_{k}": 0.1 * (3 - i) * k / 100,
                    f"mrr_at_{k}": 0.05 / (i + 1),
                    f"ndcg_at_{k}": 0.07 / (i + 1),
                }
                row[f"coverage_at_{k}"] = 0.1 * (i + 1)
            for bucket in ("head", "torso", "tail", "unseen"):
                row[f"hit_rate_at_10_{bucket}"] = 0.0 if bucket == "unseen" else 0.3 / (i + 1)
                row[f"queries_{bucket}"] = 10
            row |= {"mean_popularity_at_10": 50.0, "fallback_rate": 0.0, "queries": 40}
            rows.append(row)
    return pd.DataFrame(rows)


SELECTION = {
    "selected": "cooccurrence",
    "metric": "hit_rate_at_10",
    "value": 0.3,
    "explanation": "The baseline wins.",
}
ACCOUNTING = pd.DataFrame(
    [("parse", "read", "lines after the header", 100), ("parse", "rejected", "invalid_utf8", 2),
     ("filter", "filtered", "rare_track", 0), ("filter", "kept", "in playlist_tracks", 98)],
    columns=["stage", "outcome", "reason", "rows"],
)  # fmt: skip
PROJECTION = pd.DataFrame(
    {
        "track_id": list("abcd"),
        "x": [0.0, 1, 2, 3],
        "y": [1.0, 0, 2, 1],
        "genre": ["rock", "rock", "pop", "unknown"],
    }
)
INFO = {"model": "w2v_a", "note": "The selected model's own vectors."}


def _png(figure, tmp_path) -> tuple[bytes, tuple[int, int]]:
    dataset = FigureDataset(str(tmp_path / "figure.png"), dpi=50)
    dataset.save(figure)
    png = dataset.load()
    return png, Image.open(io.BytesIO(png)).size


@pytest.mark.parametrize(
    ("make", "size"),
    [
        (lambda t, f: plot_popularity_distributions(relation(t)), (600, 300)),
        (lambda t, f: plot_power_law(relation(t), f, PowerLawParams()), (600, 300)),
        (lambda t, f: plot_metric_curves(_results(), SELECTION), (750, 275)),
        (lambda t, f: plot_hit_rate_by_popularity(_results(), SELECTION), (650, 325)),
        (lambda t, f: plot_coverage_vs_hit_rate(_results(), SELECTION), (500, 325)),
        (lambda t, f: plot_row_accounting(ACCOUNTING), (600, 300)),
        (lambda t, f: plot_latent_space(PROJECTION, INFO), (550, 425)),
    ],
)
def test_every_plot_is_a_non_empty_image_of_the_expected_size(make, size, tracks, fits, tmp_path):
    png, actual = _png(make(tracks, fits), tmp_path)
    assert actual == size
    image = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    assert image.std() > 10  # not a blank page
    assert FigureDataset(str(tmp_path / "figure.png")).preview().startswith("iVBOR")  # base64 PNG


def test_power_law_fit_recovers_the_exponent_and_compares_alternatives(fits):
    artist, track = fits["artist"], fits["track"]
    assert track["alpha"] == pytest.approx(2.2, abs=0.15)
    for fit in (artist, track):
        assert fit["xmin"] >= 1 and 0 <= fit["ks_distance"] <= 1 and fit["n_tail"] <= fit["n"]
        assert {"vs_lognormal_R", "vs_lognormal_p", "vs_exponential_R", "vs_exponential_p"} <= set(
            fit
        )
        assert "alpha" in fit["verdict"]
    assert track["vs_exponential_R"] > 0  # a Zipf sample is far from exponential
    metrics = power_law_metrics(fits)
    assert metrics["track.alpha"] == [{"value": track["alpha"], "step": 0}]
    assert "track.verdict" not in metrics


def test_genres_are_whole_word_case_insensitive_matches_of_the_vocabulary():
    playlists = pd.DataFrame(
        {
            "playlist_id": [0, 1, 2, 3, 4, 5],
            "playlistname": [
                "HARD ROCK 2010",
                "rockabilly",
                "trap bangers",
                "Hip-Hop classics",
                "chill",
                "rock & pop",
            ],
        }
    )
    tracks = pd.DataFrame(
        {
            "playlist_id": [0, 1, 2, 3, 3, 4, 5, 0],
            "track_id": ["a", "b", "c", "d", "a", "e", "f", "f"],
        }
    )
    vocabulary = GenreParams(
        vocabulary={"rock": ["rock", "hard rock"], "hip hop": ["hip-hop", "rap"], "pop": ["pop"]}
    )
    genres = (
        infer_track_genres(relation(tracks), playlists, vocabulary)
        .set_index("track_id")["genre"]
        .to_dict()
    )
    assert genres["f"] == "rock"  # rock twice (HARD ROCK, rock & pop), pop once
    assert "b" not in genres  # "rockabilly" is not rock
    assert "c" not in genres  # "trap" is not rap unless the vocabulary says so
    assert genres["d"] == "hip hop"
    assert (
        genres["a"] == "hip hop"
    )  # one rock and one hip hop playlist: the tie goes alphabetically
    assert "e" not in genres
    with_trap = GenreParams(vocabulary={"hip hop": ["rap", "trap"]})
    assert infer_track_genres(relation(tracks), playlists, with_trap)["track_id"].tolist() == ["c"]


def _embedding(n: int = 40) -> Embedding:
    index = TrackIndex(np.array([f"t{i}" for i in range(n)], dtype=object), np.arange(n, 0, -1))
    vectors = RNG.normal(size=(n, 8)).astype(np.float32)
    has = np.ones(n, dtype=bool)
    has[-1] = False
    return Embedding(index, query_vectors=vectors, item_vectors=vectors, has_vector=has)


def test_latent_space_maps_the_selected_embedding_or_the_best_candidate_with_vectors():
    genres = pd.DataFrame({"track_id": ["t0", "t1"], "genre": ["rock", "pop"]})
    params = LatentSpaceParams(n_tracks=20, perplexity=5)
    w2v = _embedding()
    loaded = []

    def loader(name):
        def load():
            loaded.append(name)
            return w2v

        return load

    projection, info = latent_space(
        {"selected": "w2v_a", "metric": "hit_rate_at_10"},
        _results(),
        genres,
        params,
        w2v_a=loader("w2v_a"),
        w2v_b=loader("w2v_b"),
    )
    assert info["model"] == "w2v_a" and "own vectors" in info["note"]
    assert (
        len(projection) == 20
        and projection.loc[0, "genre"] == "rock"
        and projection.loc[5, "genre"] == "unknown"
    )
    projection, info = latent_space(
        SELECTION, _results(), genres, params, w2v_a=loader("w2v_a"), w2v_b=loader("w2v_b")
    )
    assert info["model"] == "w2v_a"
    assert "cooccurrence (cooccurrence), has no track vectors" in info["note"]
    assert {"x", "y"} <= set(projection.columns)
    assert loaded == ["w2v_a", "w2v_a"]  # only the mapped model is ever loaded


def test_report_reads_top_to_bottom_with_every_figure_embedded(fits):
    png = b"\x89PNG fake"
    html = build_report(
        ACCOUNTING,
        {"explanation": "100% of playlists are sorted by title."},
        {"seed": 42, **{s: {"playlists": 1, "rows": 2} for s in ("train", "validation", "test")}},
        fits,
        {"protocol": "continuation", "reason": "auto: rows are sorted by title"},
        SELECTION,
        _results(),
        INFO,
        *([png] * 7),
    )
    sections = [
        "1. The data",
        "2. Popularity and the power law",
        "3. Model comparison",
        "4. The latent space",
    ]
    assert [html.index(s) for s in sections] == sorted(html.index(s) for s in sections)
    assert html.count("data:image/png;base64,") == 7
    assert "The baseline wins." in html and "sorted by title" in html and 'class="selected"' in html
    assert "100 lines read after the header = 98 kept + 2 rejected + 0 filtered" in html


def test_xmin_is_searched_over_every_small_count_and_fewer_large_ones():
    from music_recsys.pipelines.reporting.analysis import find_xmin, xmin_candidates  # noqa: PLC0415

    counts = np.random.default_rng(0).zipf(2.1, size=200_000)
    params = PowerLawParams(xmin_candidates=40)
    candidates = xmin_candidates(counts, params)
    assert len(candidates) <= 40 and set(range(1, 21)) <= set(candidates)
    assert candidates.max() < counts.max()
    assert xmin_candidates(counts, PowerLawParams(xmin_candidates=40, xmin_max=5)).tolist() == [
        1,
        2,
        3,
        4,
        5,
    ]
    assert find_xmin(counts, params) <= 10  # a pure Zipf sample: the law holds from the start


@pytest.mark.parametrize("alpha", [2.1, 3.6])
def test_a_steep_tail_is_fitted_beyond_powerlaws_default_bound_of_3(alpha):
    from music_recsys.pipelines.reporting.analysis import fit_power_law  # noqa: PLC0415

    counts = np.random.default_rng(1).zipf(alpha, size=20_000)
    fit = fit_power_law(counts, PowerLawParams(), xmin=1.0)
    assert fit.power_law.alpha == pytest.approx(alpha, abs=0.1)
    with pytest.raises(ValueError, match="alpha_range"):
        PowerLawParams(alpha_range=(3.0, 2.0))


def test_the_report_and_plots_read_the_selection_metrics_k_not_a_fixed_10(fits, tmp_path):
    """With evaluation.k = [5, 50] and the selection on hit_rate_at_5 there is no @10 column:
    the report's table and the plots read @5."""
    at_5 = _results().rename(columns=lambda c: c.replace("_at_10", "_at_5"))
    selection = SELECTION | {"metric": "hit_rate_at_5"}
    html = build_report(
        ACCOUNTING,
        {"explanation": "sorted"},
        {"seed": 1, **{s: {"playlists": 1, "rows": 2} for s in ("train", "validation", "test")}},
        fits,
        {"protocol": "continuation", "reason": "auto"},
        selection,
        at_5,
        INFO,
        *([b"png"] * 7),
    )
    assert "<th>hit_rate_at_5</th>" in html and "<th>hit_rate_at_50</th>" in html
    assert "_at_10" not in html
    for plot in (plot_hit_rate_by_popularity, plot_coverage_vs_hit_rate):
        figure = plot(at_5, selection)
        assert "@5" in " ".join(
            text.get_text()
            for text in figure.axes[0].texts + [figure.axes[0].title, figure.axes[0].yaxis.label]
        )


def test_the_report_shows_what_tuning_searched_spent_and_moved(fits):
    tuning = build_tuning_table(
        EvaluationParams(),
        cooccurrence__tuning={
            "searched": ["normalisation", "window"],
            "trials": 12,
            "complete": 9,
            "pruned": 3,
            "seconds": 8.1,
            "trials_planned": 11,
            "screen_value": 0.2716,
            "screen_paired_se": 0.0,
            "plan": "the best screened: 11 trials",
            "fit_playlists": 3325,
            "queries": 832,
            "default_value": 0.2716,
            "default_se": 0.0154,
            "best_value": 0.2909,
            "best_se": 0.0158,
            "paired_se": 0.0094,
            "tuned": True,
            "changed": {"window": [5, None]},
            "decision": "tuned (window 5 → None): 0.2909 against the conf's 0.2716",
        },
        cooccurrence__declared={"compared": True, "value": 0.3072, "standard_error": 0.0134},
        cooccurrence__validation={"hit_rate_at_10": 0.3005, "hit_rate_at_10_se": 0.0133},
    )
    selection = SELECTION | {"validation_queries": 1188, "min_lead_se": 1.0, "clearness": 0.83}

    def report(*tuned):
        splits = {s: {"playlists": 1, "rows": 2} for s in ("train", "validation", "test")}
        protocol = {"protocol": "continuation", "reason": "auto"}
        return build_report(
            ACCOUNTING, {"explanation": "sorted"}, {"seed": 1, **splits}, fits, protocol,
            selection, _results(), INFO, *([b"png"] * 7), *tuned,
        )  # fmt: skip

    html = report(tuning)
    section = html[html.index("Tuning (each candidate") : html.index("4. The latent space")]
    assert "12 (9 / 3)" in section and "0.2716 ± 0.0154" in section and "0.2909 ± 0.0158" in section
    assert "window 5 → None" in section and "0.3072 ± 0.0134" in section
    assert "validation, which selects, and test were never read" in section
    assert "on 1,188 validation queries" in section and "by 0.8 paired SE" in section
    assert "Tuning (each candidate" not in report()
