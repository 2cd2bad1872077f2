"""The run report: one self-contained HTML page, read top to bottom, figures embedded."""

from __future__ import annotations

import base64
import html
import math
from datetime import UTC, datetime

import pandas as pd

from music_recsys.core.metrics import HIT_RATE, evaluated, parse_metric

_STYLE = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; max-width: 1280px;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.5; }
h1 { border-bottom: 2px solid #4C72B0; padding-bottom: .2em; }
h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
.table { overflow-x: auto; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.8em; }
th, td { border: 1px solid #ddd; padding: 3px 6px; text-align: right; white-space: nowrap; }
th { white-space: normal; }
th { background: #f4f6fa; } td:first-child, th:first-child { text-align: left; }
tr.selected td { background: #fff3cd; font-weight: 600; }
img { max-width: 100%; border: 1px solid #eee; margin: .5em 0; }
.note { background: #f4f6fa; border-left: 4px solid #4C72B0; padding: .6em 1em; }
"""


def _metrics(model_results: pd.DataFrame, k: int) -> list[str]:
    """The table's metrics: every ranking metric evaluated at the selection metric's K, hit
    rate at 1 (what an autoplay plays first) and at the largest K evaluated, what the
    recommendations look like, and the queries counted."""
    ks = evaluated(model_results)
    largest = max(ks.get(HIT_RATE, []), default=k)
    wanted = [f"{metric}_at_{k}" for metric in ks]
    if k != 1:
        wanted.append(f"{HIT_RATE}_at_1")
    if largest != k:
        wanted.append(f"{HIT_RATE}_at_{largest}")
    wanted += [
        f"coverage_at_{k}",
        f"mean_popularity_at_{k}",
        "fallback_rate",
        "queries",
        "guaranteed_misses",
    ]
    return [m for m in wanted if m in model_results]


# What each candidate cost, beside what it scored: a candidate earns its place by both.
_COSTS = ["fit_seconds", "evaluation_seconds", "epochs_trained"]


def _image(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def _table(frame: pd.DataFrame, selected: str | None = None, digits: int = 4) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for _, row in frame.iterrows():
        cells = []
        for value in row:
            if isinstance(value, float):
                text = f"{value:,.{digits}f}" if abs(value) < 1000 else f"{value:,.0f}"
            elif isinstance(value, int):
                text = f"{value:,}"
            else:
                text = html.escape(str(value))
            cells.append(f"<td>{text}</td>")
        marker = ' class="selected"' if selected is not None and row.iloc[0] == selected else ""
        body.append(f"<tr{marker}>{''.join(cells)}</tr>")
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    return f'<div class="table">{table}</div>'


def _with_errors(frame: pd.DataFrame, figures: pd.DataFrame) -> pd.DataFrame:
    """Metrics that have a standard error shown as "value ± SE" (one column each)."""
    shown = frame.copy()
    for column in frame.columns:
        se = f"{column}_se"
        if se in figures:
            shown[column] = [
                f"{v:.4f} ± {e:.4f}" if pd.notna(e) else f"{v:.4f}"
                for v, e in zip(figures[column], figures[se], strict=True)
            ]
            shown = shown.rename(columns={column: f"{column} ± SE"})
    return shown


def _notes(validation: pd.DataFrame) -> str:
    """What the results' notes say of each candidate (order handling, weights, sat out)."""
    if "notes" not in validation:
        return ""
    items = [
        f"<li><b>{html.escape(str(r.candidate))}</b>: {html.escape(str(r.notes))}</li>"
        for r in validation.itertuples()
        if isinstance(r.notes, str) and r.notes
    ]
    return f"<ul>{''.join(items)}</ul>" if items else ""


def _cost_note(model_results: pd.DataFrame) -> str:
    """What the cost columns mean, and which trainings were shared or cut by their budget."""
    rows = model_results[model_results["split"] == "validation"]
    note = (
        "<code>fit_seconds</code>: building the candidate's model from the training playlists; "
        "<code>evaluation_seconds</code>: ranking the whole catalog for every validation query."
    )
    if "fit_shared_with" in rows:
        shared = rows[rows["fit_shared_with"].fillna("").astype(str) != ""]
        if len(shared):
            note += (
                " Trained once, scored two ways: "
                + "; ".join(
                    f"{html.escape(r.candidate)} uses {html.escape(str(r.fit_shared_with))}'s training"
                    for r in shared.itertuples()
                )
                + " (its fit_seconds are that training's)."
            )
    if {"epochs_trained", "epochs_configured"} <= set(rows):
        budget = rows.get("epochs_within_word_budget", rows["epochs_configured"])
        budget = budget.fillna(rows["epochs_configured"])
        by_words = rows[budget < rows["epochs_configured"]]
        if len(by_words):
            note += (
                " Cut by their word budget (<code>max_training_words</code>, the same on any "
                "machine): "
                + "; ".join(
                    f"{html.escape(r.candidate)} {b:.0f} of {r.epochs_configured:.0f} epochs"
                    for r, b in zip(by_words.itertuples(), budget[by_words.index], strict=True)
                )
                + "."
            )
        by_time = rows[rows["epochs_trained"] < budget]
        if len(by_time):
            note += (
                " <b>Stopped by the wall-clock guard</b> (<code>max_training_seconds</code>: "
                "these figures depend on the machine's speed): "
                + "; ".join(
                    f"{html.escape(r.candidate)} trained {r.epochs_trained:.0f} of {b:.0f} epochs"
                    for r, b in zip(by_time.itertuples(), budget[by_time.index], strict=True)
                )
                + "."
            )
    return note


def build_report(
    row_accounting: pd.DataFrame,
    track_order_report: dict,
    split_summary: dict,
    power_law_fits: dict,
    evaluation_protocol: dict,
    model_selection: dict,
    model_results: pd.DataFrame,
    latent_space_info: dict,
    row_accounting_plot: bytes,
    popularity_distributions_plot: bytes,
    power_law_plot: bytes,
    metric_curves_plot: bytes,
    hit_rate_by_popularity_plot: bytes,
    coverage_vs_hit_rate_plot: bytes,
    latent_space_plot: bytes,
    tuning_results: pd.DataFrame | None = None,
) -> str:
    """The HTML report: data, distributions and power law, model comparison (with the
    candidates' tuning, when they were tuned), latent space."""
    sections = [
        _title(model_selection, model_results, evaluation_protocol),
        _data(row_accounting, track_order_report, split_summary, row_accounting_plot),
        _power_law(power_law_fits, popularity_distributions_plot, power_law_plot),
        _comparison(
            evaluation_protocol,
            model_selection,
            model_results,
            [metric_curves_plot, hit_rate_by_popularity_plot, coverage_vs_hit_rate_plot],
        ),
        _tuning(tuning_results, model_selection),
        "<h2>4. The latent space</h2>",
        f"<p>{html.escape(latent_space_info['note'])}</p>",
        _image(latent_space_plot, "latent space"),
    ]
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>music_recsys report</title>'
        f"<style>{_STYLE}</style></head><body>{''.join(sections)}</body></html>"
    )


def _title(model_selection: dict, model_results: pd.DataFrame, protocol: dict) -> str:
    selected, metric = model_selection["selected"], model_selection["metric"]
    test = model_results[
        (model_results["split"] == "test") & (model_results["candidate"] == selected)
    ]
    asked = protocol.get("query", "")
    return (
        f"<h1>music_recsys — run report</h1><p>Generated {datetime.now(UTC):%Y-%m-%d %H:%M UTC}. "
        f"<b>Selected recommender: {html.escape(selected)}</b> — test {metric.replace('_at_', '@')} "
        f"{test[metric].iloc[0]:.4f} on {protocol['protocol'].replace('_', ' ')} queries"
        + (f" (asked with {html.escape(asked)})" if asked else "")
        + ".</p>"
    )


def _data(
    row_accounting: pd.DataFrame, track_order_report: dict, split_summary: dict, plot: bytes
) -> str:
    """1. What was read, kept, rejected and filtered; the row order; the split."""
    by_outcome = row_accounting.groupby("outcome")["rows"].sum()
    splits = " · ".join(
        f"{name}: {split_summary[name]['playlists']:,} playlists, {split_summary[name]['rows']:,} rows"
        for name in ("train", "validation", "test")
    )
    return "".join(
        [
            "<h2>1. The data</h2>",
            f"<p>{int(by_outcome.get('read', 0)):,} lines read after the header = "
            f"{int(by_outcome.get('kept', 0)):,} kept + {int(by_outcome.get('rejected', 0)):,} "
            f"rejected + {int(by_outcome.get('filtered', 0)):,} filtered. Every rejected line is "
            "listed with its line number and reason in "
            "<code>data/08_reporting/rejected_rows.csv</code>.</p>",
            _table(row_accounting),
            _image(plot, "row accounting"),
            f'<p class="note"><b>Row order.</b> {html.escape(track_order_report["explanation"])}</p>',
            f"<p>Split by playlist (seed {split_summary['seed']}): {splits}.</p>",
        ]
    )


def _power_law(power_law_fits: dict, distributions_plot: bytes, fits_plot: bytes) -> str:
    """2. Popularity distributions and the power-law fits, with their tests."""
    fits = pd.DataFrame(
        [
            {
                "popularity of": entity,
                "values": fit["n"],
                "alpha": fit["alpha"],
                "± sigma": fit["sigma"],
                "xmin": fit["xmin"],
                "values ≥ xmin": fit["n_tail"],
                "KS D": fit["ks_distance"],
                "R vs lognormal": fit["vs_lognormal_R"],
                "p": fit["vs_lognormal_p"],
                "R vs exponential": fit["vs_exponential_R"],
                "p ": fit["vs_exponential_p"],
            }
            for entity, fit in power_law_fits.items()
            if "alpha" in fit
        ]
    )
    verdicts = "".join(
        f"<p><b>{entity}</b>: {html.escape(fit['verdict'])}.</p>"
        for entity, fit in power_law_fits.items()
    )
    return "".join(
        [
            "<h2>2. Popularity and the power law</h2>",
            _image(distributions_plot, "popularity distributions"),
            _table(fits, digits=3),
            verdicts,
            _image(fits_plot, "power-law fits"),
        ]
    )


def _comparison(
    protocol: dict, model_selection: dict, model_results: pd.DataFrame, plots: list[bytes]
) -> str:
    """3. The protocol, the selection and why, validation and test tables, the figures."""
    selected, metric = model_selection["selected"], model_selection["metric"]
    columns = [
        "candidate",
        "kind",
        *_metrics(model_results, parse_metric(metric)[1]),
        *[c for c in _COSTS if c in model_results],
    ]
    validation = model_results[model_results["split"] == "validation"].sort_values(
        metric, ascending=False
    )
    test = model_results[model_results["split"] == "test"].sort_values(metric, ascending=False)
    last = model_results[model_results["split"] == "test_last_track"].sort_values(
        metric, ascending=False
    )
    curves, by_popularity, coverage = plots
    asked = protocol.get("query", "")
    return "".join(
        [
            "<h2>3. Model comparison</h2>",
            f'<p class="note"><b>Protocol: {html.escape(protocol["protocol"])}</b> — each query '
            f"is {html.escape(asked)}. {html.escape(protocol['reason'])}<br>Every candidate ranks "
            "the whole catalog for "
            "the same queries; query tracks are never recommended; a query with no track the "
            "candidate knows (for word2vec: none with a vector) falls back to popularity; that, "
            "or no track scored above zero, counts in <code>fallback_rate</code>. A query whose "
            "target is already among its own tracks can never be hit: such "
            "<code>guaranteed_misses</code> are counted and left out of every metric. "
            "<code>_se</code>: the metric's standard error over the queries.</p>",
            f'<p class="note"><b>Selection.</b> {html.escape(model_selection["explanation"])}</p>',
            "<h3>Validation (used to choose)</h3>",
            _table(_with_errors(validation[columns], validation), selected),
            _notes(validation),
            f"<p>{_cost_note(model_results)}</p>",
            "<h3>Test (scored once: the selected candidate and every baseline)</h3>",
            _table(_with_errors(test[columns], test), selected),
            *(
                [
                    "<h3>Test, asked with the last track alone</h3>",
                    "<p>The same test queries with only the track before the cut: what a client "
                    "that sends just the track playing now gets.</p>",
                    _table(_with_errors(last[columns], last), selected),
                ]
                if len(last)
                else []
            ),
            _image(curves, "metrics at K"),
            _image(by_popularity, "hit rate by popularity"),
            _image(coverage, "coverage vs hit rate"),
        ]
    )


def _tuning(tuning_results: pd.DataFrame | None, model_selection: dict) -> str:
    """3b. What tuning searched, spent and moved, per candidate, on the tuning queries and on
    validation; which queries tuned and which selected."""
    if tuning_results is None or tuning_results.empty:
        return ""
    metric = model_selection["metric"]
    t = tuning_results
    frame = pd.DataFrame(
        {
            "candidate": t["candidate"],
            "searched": t["searched"],
            "screened at the conf's (gap to the best ± paired SE)": [
                ""
                if pd.isna(v)
                else f"{v:.4f} (the best)"
                if not gap
                else f"{v:.4f} (−{gap:.4f} ± {se:.4f})"
                for v, gap, se in zip(
                    t["screen_value"], t["screen_gap"], t["screen_paired_se"], strict=True
                )
            ],
            "trials planned": t["trials_planned"],
            "trials run, screening included (complete / pruned)": [
                f"{int(a)} ({int(b)} / {int(c)})"
                for a, b, c in zip(t["trials"], t["complete"], t["pruned"], strict=True)
            ],
            "seconds": [
                f"{a:.0f}" + (" (cut by the guard)" if cut else "")
                for a, cut in zip(t["tuning_seconds"], t["cut_by_guard"], strict=True)
            ],
            "search: conf's": _pm(t["conf_tuning_value"], t["conf_tuning_se"]),
            "search: best": _pm(t["best_tuning_value"], t["best_tuning_se"]),
            "confirm: conf's → best (paired SE)": [
                "" if pd.isna(a) else f"{a:.4f} → {b:.4f} ({se:.4f})"
                for a, b, se in zip(
                    t["conf_confirm_value"],
                    t["best_confirm_value"],
                    t["confirm_paired_se"],
                    strict=True,
                )
            ],
            "tuned": t["tuned"].map({True: "yes", False: "no"}),
            "changed": [c if isinstance(c, str) else "" for c in t["changed"]],
            "validation: conf's": _pm(
                t[f"conf_validation_{metric}"], t[f"conf_validation_{metric}_se"]
            ),
            "validation: shipped": _pm(t[f"validation_{metric}"], t[f"validation_{metric}_se"]),
            "validation paired SE": [
                "" if pd.isna(v) else f"{v:.4f}" for v in t["validation_paired_se"]
            ],
        }
    )
    queries = t["tuning_queries"].dropna()
    fit = t["fit_playlists"].dropna()
    spent = "; ".join(
        f"{c} {int(n)} trial{'s' if n != 1 else ''}, {sec:.0f} s"
        for c, n, sec in zip(t["candidate"], t["trials"], t["tuning_seconds"], strict=True)
    )
    return "".join(
        [
            "<h3>Tuning (each candidate's settings searched on this data)</h3>",
            '<p class="note">Trials fit on '
            + (f"{int(fit.max()):,} " if len(fit) else "")
            + "training playlists and are scored on "
            + (f"{int(queries.max()):,} " if len(queries) else "")
            + f"queries from other training playlists ({html.escape(metric)}): validation, "
            "which selects, and test were never read by tuning. Every candidate is first "
            "screened at the conf's setting (the study's first trial); the run's trials go to "
            "the candidates screened within the configured paired SEs of the best one "
            "(<i>screened at the conf's</i>: its value ± the paired SE of its gap to the best), "
            "split evenly; the others keep the conf's setting. The budget is counted in trials, "
            "so the run tunes alike on any machine; a study cut by the wall-clock guard says so. "
            "TPE searches on half the tuning queries (<i>search</i>), and the best trial "
            "ships only when it leads the conf's on the other half (<i>confirm</i>) by more "
            "than the configured paired standard errors. "
            "<i>validation: conf's</i> is the conf's setting fitted and scored on validation "
            "beside the shipped one where tuning changed it (the shipped one itself where tuning "
            "kept it; empty for a shared word2vec training, which is not repeated). Optuna's "
            "plots: "
            "<code>data/06_viz/tuning/</code>; every trial: "
            "<code>data/07_model_output/&lt;candidate&gt;/tuning_trials.csv</code> and MLflow. "
            f"Selection: {html.escape(_rule(model_selection))}</p>",
            _table(frame, model_selection["selected"]),
            f"<p><b>Where the time went</b> (screening included): {html.escape(spent)}.</p>",
            "<p>"
            + "<br>".join(
                f"<b>{html.escape(c)}</b>: {html.escape(str(p))}. {html.escape(d)}"
                for c, p, d in zip(t["candidate"], t["plan"], t["decision"], strict=True)
            )
            + "</p>",
        ]
    )


def _pm(values: pd.Series, errors: pd.Series) -> list[str]:
    return ["" if pd.isna(v) else f"{v:.4f} ± {e:.4f}" for v, e in zip(values, errors, strict=True)]


def _rule(model_selection: dict) -> str:
    queries = model_selection.get("validation_queries")
    needed = model_selection.get("min_lead_se", 1.0)
    clear = model_selection.get("clearness")
    text = (
        f"on {queries:,} validation queries, a less simple candidate had to lead by more than "
        f"{needed:g} paired SE"
        if queries
        else f"a less simple candidate had to lead by more than {needed:g} paired SE"
    )
    if clear is not None and math.isfinite(clear):
        text += f"; the selected one leads the next best by {clear:.1f} paired SE"
    return text + "."
