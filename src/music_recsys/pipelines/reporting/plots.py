"""The figures: each node returns a matplotlib Figure; the catalog writes it to data/06_viz."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only, no display

import textwrap  # noqa: E402
import warnings  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from music_recsys.core.metrics import HIT_RATE, METRICS, evaluated, parse_metric  # noqa: E402
from music_recsys.tables import Table  # noqa: E402

from .analysis import fit_power_law, popularity  # noqa: E402
from .params import PowerLawParams  # noqa: E402

FIGSIZE = (12, 6)  # inches; 1200 × 600 px at the catalog's 100 dpi
WIDE = (13, 6.5)
ENTITY_LABEL = {"artist": "artist", "track": "track (artist + title)"}


def _style(axis, title: str, xlabel: str, ylabel: str) -> None:
    axis.set_title(title, fontsize=12)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.grid(True, which="major", alpha=0.3)


def plot_popularity_distributions(tracks: Table) -> Figure:
    """How many artists and tracks have how many rows, on log-log axes (log-spaced bins)."""
    figure, axes = plt.subplots(1, 2, figsize=FIGSIZE, constrained_layout=True)
    for axis, (entity, counts) in zip(axes, popularity(tracks).items(), strict=True):
        bins = np.unique(np.logspace(0, np.log10(counts.max() + 1), 40).astype(int))
        axis.hist(counts, bins=bins, color="#4C72B0", edgecolor="white", linewidth=0.3)
        axis.set_xscale("log")
        axis.set_yscale("log")
        _style(
            axis,
            f"Rows per {ENTITY_LABEL[entity]}\n{len(counts):,} {entity}s; median {np.median(counts):.0f}, "
            f"max {counts.max():,}",
            f"rows in playlists per {entity} (log scale)",
            f"number of {entity}s (log scale)",
        )
    figure.suptitle(
        "Popularity is heavy-tailed: a few artists and tracks fill most playlists", fontsize=13
    )
    return figure


def plot_power_law(tracks: Table, power_law_fits: dict, power_law: PowerLawParams) -> Figure:
    """Empirical PDF and CCDF of popularity with the fitted power law, log-log."""
    figure, axes = plt.subplots(1, 2, figsize=FIGSIZE, constrained_layout=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # powerlaw fits its alternatives lazily, noisily
        _plot_power_law_panels(axes, tracks, power_law_fits, power_law)
    figure.suptitle(
        "Power-law fits (powerlaw package, discrete, xmin by minimum KS distance)", fontsize=13
    )
    return figure


def _plot_power_law_panels(axes, tracks, power_law_fits: dict, power_law: PowerLawParams) -> None:
    for axis, (entity, counts) in zip(axes, popularity(tracks).items(), strict=True):
        summary = power_law_fits[entity]
        if "alpha" not in summary:  # no fit: the empirical CCDF alone
            values = np.sort(counts)
            axis.loglog(
                values, 1.0 - np.arange(len(values)) / len(values), color="#4C72B0", linewidth=2
            )
            _style(
                axis,
                f"{entity.capitalize()}s: {summary['verdict']}",
                f"rows per {entity} (log scale)",
                "CCDF (log scale)",
            )
            continue
        fit = fit_power_law(counts, power_law, xmin=summary["xmin"])
        fit.lognormal.plot_ccdf(ax=axis, color="#55A868", linestyle=":", label="lognormal fit")
        fit.plot_ccdf(ax=axis, color="#4C72B0", linewidth=2, label="empirical CCDF (x ≥ xmin)")
        fit.power_law.plot_ccdf(
            ax=axis, color="#C44E52", linestyle="--", label=f"power law, α = {summary['alpha']:.2f}"
        )
        fit.plot_pdf(ax=axis, color="#8172B2", linewidth=1.5, label="empirical PDF (x ≥ xmin)")
        fit.power_law.plot_pdf(
            ax=axis, color="#C44E52", linestyle="-.", linewidth=1, label="power-law PDF"
        )
        verdict = (
            "power law preferred"
            if summary["vs_lognormal_R"] > 0 and summary["vs_lognormal_p"] < 0.1
            else (
                "lognormal preferred"
                if summary["vs_lognormal_p"] < 0.1
                else "power law ≈ lognormal"
            )
        )
        _style(
            axis,
            f"{entity.capitalize()}s: α = {summary['alpha']:.2f}, xmin = {summary['xmin']:.0f}, "
            f"KS D = {summary['ks_distance']:.3f}\nvs lognormal: R = {summary['vs_lognormal_R']:.1f}, "
            f"p = {summary['vs_lognormal_p']:.2f} — {verdict}",
            f"rows per {entity} (log scale)",
            "probability (log scale)",
        )
        axis.legend(fontsize=8, loc="lower left")


def plot_latent_space(latent_projection: pd.DataFrame, latent_space_info: dict) -> Figure:
    """t-SNE map of track vectors, one colour per genre inferred from playlist names."""
    figure, axis = plt.subplots(figsize=(11, 8.5), constrained_layout=True)
    genres = latent_projection["genre"].value_counts()
    palette = plt.get_cmap("tab20")
    named = [g for g in genres.index if g != "unknown"]
    for i, genre in enumerate(named):
        points = latent_projection[latent_projection["genre"] == genre]
        axis.scatter(
            points["x"],
            points["y"],
            s=10,
            alpha=0.8,
            color=palette(i % 20),
            label=f"{genre} ({len(points)})",
        )
    unknown = latent_projection[latent_projection["genre"] == "unknown"]
    if len(unknown):
        axis.scatter(
            unknown["x"],
            unknown["y"],
            s=6,
            alpha=0.35,
            color="#999999",
            label=f"no genre ({len(unknown)})",
        )
    axis.set_xticks([])
    axis.set_yticks([])
    axis.set_title(
        f"Track embeddings of {latent_space_info['model']}: t-SNE of the {len(latent_projection)} most "
        "frequent tracks,\ncoloured by the genre their playlists are named after",
        fontsize=12,
    )
    figure.supxlabel(textwrap.fill(latent_space_info["note"], 140), fontsize=9, color="#444444")
    axis.legend(
        fontsize=8, markerscale=1.5, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False
    )
    return figure


def _validation(model_results: pd.DataFrame) -> pd.DataFrame:
    return model_results[model_results["split"] == "validation"].set_index("candidate")


def candidate_colours(n: int):
    """A colour per candidate, none repeated: tab10's ten, tab20's twenty beyond that."""
    palette = plt.get_cmap("tab10" if n <= 10 else "tab20")
    return lambda i: palette(i % palette.N)


def plot_metric_curves(model_results: pd.DataFrame, model_selection: dict) -> Figure:
    """Every ranking metric evaluated (one panel each, labelled by :data:`METRICS`) at every K,
    for every candidate, on the validation split."""
    validation = _validation(model_results)
    panels = evaluated(validation.columns)
    ks = sorted({k for at in panels.values() for k in at})
    figure, axes = plt.subplots(
        1, len(panels), figsize=(5 * len(panels), 5.5), constrained_layout=True, squeeze=False
    )
    order = validation[model_selection["metric"]].sort_values(ascending=False).index
    palette = candidate_colours(len(order))
    for axis, metric in zip(axes[0], panels, strict=True):
        label = METRICS[metric].label
        for i, candidate in enumerate(order):
            values = [validation.loc[candidate, f"{metric}_at_{k}"] for k in ks]
            errors = [validation.loc[candidate].get(f"{metric}_at_{k}_se", np.nan) for k in ks]
            baseline = bool(validation.loc[candidate, "baseline"])
            width = 3 if candidate == model_selection["selected"] else 1.5
            axis.errorbar(
                ks,
                values,
                yerr=np.nan_to_num(np.asarray(errors, dtype=float)),
                capsize=3,
                marker="o",
                linewidth=width,
                linestyle="--" if baseline else "-",
                color=palette(i),
                label=candidate
                + (" (selected)" if candidate == model_selection["selected"] else ""),
            )
        axis.set_xscale("log")
        axis.set_xticks(ks, [str(k) for k in ks])
        _style(
            axis, f"{label}@K (validation)", "K, recommendations shown (log scale)", f"{label}@K"
        )
    axes[0, 0].legend(fontsize=8, loc="upper left")
    figure.suptitle(
        "Every candidate ranked over the whole catalog — dashed: baselines, thick: selected, "
        "bars: ±1 standard error",
        fontsize=13,
    )
    return figure


def plot_hit_rate_by_popularity(model_results: pd.DataFrame, model_selection: dict) -> Figure:
    """Hit rate@K by the popularity of the target track (head / torso / tail / unseen), K the
    selection metric's."""
    validation = _validation(model_results)
    k = parse_metric(model_selection["metric"])[1]
    buckets = [
        b for b in ("head", "torso", "tail", "unseen") if f"{HIT_RATE}_at_{k}_{b}" in validation
    ]
    order = validation[model_selection["metric"]].sort_values(ascending=False).index
    figure, axis = plt.subplots(figsize=WIDE, constrained_layout=True)
    width = 0.8 / max(len(order), 1)
    palette = candidate_colours(len(order))
    for i, candidate in enumerate(order):
        values = [validation.loc[candidate, f"{HIT_RATE}_at_{k}_{b}"] for b in buckets]
        axis.bar(
            np.arange(len(buckets)) + i * width,
            np.nan_to_num(values),
            width,
            color=palette(i),
            label=candidate,
        )
    counts = [int(validation.iloc[0][f"queries_{b}"]) for b in buckets]
    axis.set_xticks(
        np.arange(len(buckets)) + width * (len(order) - 1) / 2,
        [f"{b}\n({n} queries)" for b, n in zip(buckets, counts, strict=True)],
    )
    _style(
        axis,
        f"Hit rate@{k} by popularity of the target (validation)\nhead / torso / tail: the tracks making the first, second and last third of training rows; unseen: not in training",
        "popularity bucket of the track to find",
        f"hit rate@{k}",
    )
    axis.legend(fontsize=8, ncol=2)
    return figure


def plot_coverage_vs_hit_rate(model_results: pd.DataFrame, model_selection: dict) -> Figure:
    """Catalog coverage@K against hit rate@K (K the selection metric's): accuracy bought with
    popularity, or not."""
    validation = _validation(model_results)
    k = parse_metric(model_selection["metric"])[1]
    coverage, hit_rate = f"coverage_at_{k}", f"{HIT_RATE}_at_{k}"
    figure, axis = plt.subplots(figsize=(10, 6.5), constrained_layout=True)
    x_span = max(float(np.ptp(validation[coverage])), 1e-9)
    y_span = max(float(np.ptp(validation[hit_rate])), 1e-9)
    placed: list[tuple[float, float]] = []  # label anchors so far, in axis fractions
    for candidate, row in validation.sort_values(hit_rate, ascending=False).iterrows():
        marker = "s" if row["baseline"] else "o"
        size = 140 if candidate == model_selection["selected"] else 60
        colour = "#C44E52" if candidate == model_selection["selected"] else "#4C72B0"
        axis.errorbar(
            row[coverage],
            row[hit_rate],
            yerr=np.nan_to_num(row.get(f"{hit_rate}_se", np.nan)),
            color=colour,
            capsize=3,
            linewidth=1,
        )
        axis.scatter(row[coverage], row[hit_rate], s=size, marker=marker, color=colour)
        # Labels of nearby points step down instead of printing over each other.
        x, y = row[coverage] / x_span, row[hit_rate] / y_span
        clashes = sum(1 for px, py in placed if abs(px - x) < 0.25 and abs(py - y) < 0.06)
        placed.append((x, y))
        axis.annotate(
            candidate,
            (row[coverage], row[hit_rate]),
            textcoords="offset points",
            xytext=(8, 4 - 12 * clashes),
            fontsize=9,
        )
    _style(
        axis,
        "Coverage vs hit rate (validation) — squares: baselines, red: selected, bars: ±1 SE",
        f"catalog coverage@{k} (share of tracks ever recommended)",
        f"hit rate@{k}",
    )
    return figure


def plot_row_accounting(row_accounting: pd.DataFrame) -> Figure:
    """Where every line of the raw file went: kept, rejected or filtered, per reason."""
    read = int(row_accounting.loc[row_accounting["outcome"] == "read", "rows"].sum())
    rows = row_accounting[row_accounting["outcome"] != "read"].copy()
    rows["label"] = rows["outcome"] + ": " + rows["reason"] + " (" + rows["stage"] + ")"
    colors = {"kept": "#55A868", "rejected": "#C44E52", "filtered": "#DD8452"}
    figure, axis = plt.subplots(figsize=FIGSIZE, constrained_layout=True)
    positions = np.arange(len(rows))
    # Zero rows get no bar (a log axis has no zero), only their count.
    axis.barh(
        positions, rows["rows"].where(rows["rows"] > 0), color=[colors[o] for o in rows["outcome"]]
    )
    for position, value in zip(positions, rows["rows"], strict=True):
        axis.annotate(
            f"{value:,}",
            (max(value, 1), position),
            textcoords="offset points",
            xytext=(4, -3),
            fontsize=9,
        )
    axis.set_yticks(positions, rows["label"])
    axis.set_xscale("log")
    axis.set_xlim(left=0.5)
    axis.invert_yaxis()
    _style(
        axis,
        f"Row accounting: {read:,} lines read = kept + rejected + filtered",
        "rows (log scale)",
        "",
    )
    return figure
