"""Tables and figures for the notebooks: comparison rows, captions, and writing them to ``figures/``.

Writing is atomic: CSV + Markdown tables (:func:`save_table`), PNG figures (:func:`save_figure`),
copies of files made elsewhere (:func:`copy_to_figures`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
import os
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from .config import INTERVAL_RESAMPLES, Profile
from .io import atomic_path, atomic_write_text, figures_dir
from .timing import PLOTS_TABLES, SPOTTING, timed

__all__ = ["save_table", "remove_table", "save_figure", "copy_to_figures", "markdown_table", "budget_caption", "megc2021_table",
           "table2_notes", "rescoring_table", "rescoring_note", "f1_cells", "k_from_tables", "fidelity_ablation",
           "FIDELITY_REFERENCE", "recipe_caption", "auc_table", "TYPE_LABELS", "typed_columns", "ablation_table",
           "difference_notes", "Comparison", "verdict", "verdict_lines", "units_of", "f1_outside_intervals",
           "bootstrap_interval", "unit_metrics", "difference_cells",
           "f1_text", "difference_text"]


@timed(PLOTS_TABLES)
def save_table(df: pd.DataFrame, name: str, figures: str | os.PathLike | None = None, *,
               floatfmt: str = ".4f", caption: str = "", notes: "list[str] | tuple[str, ...]" = ()) -> Path:
    """Write ``df`` as ``<name>.csv`` and ``<name>.md`` into the figures folder; returns the .md path.

    Args:
        df: the table; its index is written when it is named.
        name: file stem, prefixed by the notebook number by convention (``"09_released_counts"``).
        figures: folder, default :func:`slswin_lib.io.figures_dir`.
        floatfmt: number format of the Markdown table.
        caption: a line written above the Markdown table (e.g. the profile and data used).
        notes: sentences written below the Markdown table, one bullet each (e.g. what its paired
            differences resolve).
    """
    out = figures_dir(figures)
    df = _flat_columns(df)
    keep_index = df.index.name is not None or any(n is not None for n in df.index.names)
    with atomic_path(out / f"{name}.csv") as tmp:
        df.to_csv(tmp, index=keep_index)
    md = markdown_table(df, keep_index, floatfmt)
    below = "".join(f"\n- {note}" for note in notes)
    atomic_write_text(out / f"{name}.md", (f"{caption}\n\n" if caption else "") + md + ("\n" + below if below else "")
                      + "\n")
    return out / f"{name}.md"


def remove_table(name: str, figures: str | os.PathLike | None = None) -> None:
    """Delete table ``name`` (its CSV and Markdown) from the figures folder, e.g. one an earlier run wrote
    that this run does not make, so the results page never shows it as this run's."""
    out = figures_dir(figures)
    for suffix in (".csv", ".md"):
        (out / f"{name}{suffix}").unlink(missing_ok=True)


def _flat_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Column levels joined with " · " (``("ours", "F1")`` -> ``"ours · F1"``), for CSV and Markdown alike."""
    if not isinstance(df.columns, pd.MultiIndex):
        return df
    out = df.copy()
    out.columns = [" · ".join(str(p) for p in col if str(p)) for col in df.columns]
    return out


def markdown_table(df: pd.DataFrame, index: bool = False, floatfmt: str = ".4f") -> str:
    """Markdown with flattened column levels, integers as integers and floats as ``floatfmt``."""
    out = df.copy()
    if isinstance(out.index, pd.MultiIndex):
        out, index = out.reset_index(), False
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].map(lambda x: "" if pd.isna(x) else format(x, floatfmt))
    out = out.astype(object).where(out.notna(), "")
    return out.to_markdown(index=index, disable_numparse=True, stralign="right")


@timed(PLOTS_TABLES)
def save_figure(fig, name: str, figures: str | os.PathLike | None = None, *, dpi: int = 120) -> Path:
    """Save a matplotlib figure as ``<name>.png`` into the figures folder (PNG written by Pillow with
    ``optimize``: the same pixels, a few per cent smaller, for the figures the README shows)."""
    out = figures_dir(figures) / f"{name}.png"
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight", pil_kwargs={"optimize": True})
    return out


def copy_to_figures(path: str | os.PathLike, name: str, figures: str | os.PathLike | None = None) -> Path:
    """Copy a file written elsewhere (e.g. by :func:`slswin_lib.deploy.spot_video`) into the figures
    folder as ``name`` (suffix included); returns the new path."""
    target = figures_dir(figures) / name
    with atomic_path(target) as tmp:
        tmp.write_bytes(Path(path).read_bytes())
    return target


def budget_caption(profile, n_subjects: int) -> str:
    """How much of a LOSO run an ablation trains under ``profile.ablation`` (its tables say so).

    >>> from slswin_lib.config import get_profile
    >>> budget_caption(get_profile("quick"), 6)
    'first 2 of 6 LOSO folds, <= 600 training samples per fold; recipe adamw (AdamW lr 0.0001, cosine, 60 steps, batch 48, pooled schedule)'
    >>> budget_caption(get_profile("paper"), 22)
    'full LOSO; recipe paper (SGD lr 0.0005, 25 epochs, batch 48, per_subject schedule)'
    """
    a, train = profile.ablation, profile.train
    text = "full LOSO" if a.folds is None else f"first {a.folds} of {n_subjects} LOSO folds"
    if a.max_train_samples is not None:
        text += f", <= {a.max_train_samples} training samples per fold"
    return text + "; " + recipe_caption(dataclasses.replace(train, steps=a.steps) if a.steps is not None else train)


def recipe_caption(train) -> str:
    """The training recipe in a few words, for table and figure captions.

    >>> from slswin_lib.config import get_profile
    >>> recipe_caption(get_profile("paper").train)
    'recipe paper (SGD lr 0.0005, 25 epochs, batch 48, per_subject schedule)'
    """
    if train.recipe == "paper":
        what = f"SGD lr {train.lr:g}" + (f" momentum {train.momentum:g}" if train.momentum else "")
        budget = f"{train.epochs} epochs"
    else:
        what = f"AdamW lr {train.adamw_lr:g}, {train.lr_decay}"
        budget = f"{train.steps} steps"
    return f"recipe {train.recipe} ({what}, {budget}, batch {train.batch_size}, {train.schedule} schedule)"


def bootstrap_interval(per_video: pd.DataFrame) -> tuple[float, float]:
    """The 95 % bootstrap interval ``(low, high)`` of the F1 of per-unit counts (rows: videos or time
    blocks; :func:`slswin_lib.evaluation.bootstrap_f1` with :data:`~slswin_lib.config.INTERVAL_RESAMPLES`)."""
    from .evaluation import bootstrap_f1

    ci = bootstrap_f1(per_video, n_resamples=INTERVAL_RESAMPLES)
    return ci.low, ci.high


#: how an expression type is named in table columns and captions
TYPE_LABELS = {"me": "ME", "mae": "MaE"}


def typed_columns(expression: str, row: dict) -> dict:
    """Columns prefixed with the type (``"ME F1 low"``, ``"MaE TP"``).

    >>> typed_columns("mae", {"TP": 3, "F1 low": 0.1})
    {'MaE TP': 3, 'MaE F1 low': 0.1}
    """
    label = TYPE_LABELS.get(expression, expression)
    return {f"{label} {name}": value for name, value in row.items()}


def _spotted(scores, spot_cfg, choice: str, t: float) -> dict:
    """Spotted intervals of a score set at ``t`` (``choice == "fixed"``) or at the nested-LOSO t."""
    from .comparison import spotted_at, spotted_nested

    if choice == "fixed":
        return spotted_at(scores, t)
    return spotted_nested(scores, spot_cfg.t_grid, spot_cfg.mode)[0]


def units_of(sets, fps):
    """The resampling units of the held-out videos of score sets (type -> set; or several runs'
    sets, which must hold the same videos): :func:`slswin_lib.comparison.choose_units`."""
    from .comparison import choose_units, video_frames

    return choose_units(video_frames(sets), fps)


@dataclass
class Comparison:
    """A results table with what its statements are computed from.

    Attributes:
        table: the table (one row per run or method; see the function that made it).
        units: expression type (and ``"overall"``) -> the resampling units of its intervals and
            differences (:class:`slswin_lib.comparison.Units`).
        counts: ``(row, type, threshold choice)`` -> that row's per-unit counts
            (:func:`slswin_lib.comparison.unit_counts`), for further paired differences
            (:meth:`difference`).
        reference: the row every difference in the table is taken against.
    """

    table: pd.DataFrame
    units: dict
    counts: dict
    reference: str

    def difference(self, a: str, b: str, expression: str, choice: str = "fixed"):
        """Paired bootstrap of ``F1(a) - F1(b)`` (:class:`slswin_lib.comparison.F1Difference`)."""
        from .comparison import paired_difference

        return paired_difference(self.counts[(a, expression, choice)], self.counts[(b, expression, choice)],
                                 n_resamples=INTERVAL_RESAMPLES)


#: the threshold choices of an ablation table: the profile's fixed t, and nested leave-one-subject-out
CHOICES = ("fixed", "nested")


def _choice_label(choice: str, t: float) -> str:
    return f"t = {t}" if choice == "fixed" else "nested t"


@timed(SPOTTING)
def ablation_table(runs, spot_cfg, *, reference: str, fps: float | None, index_name: str,
                   rows: dict | None = None) -> Comparison:
    """Tables 4-6 and the fidelity ablation: every run's counts and F1 per type, at the profile's t
    and at the nested-LOSO t, each F1 with its 95 % bootstrap interval and its paired difference to
    the reference row, over the same units (:mod:`slswin_lib.comparison`: time blocks when fewer than
    10 videos are held out).

    Args:
        runs: row label -> expression type -> the run's :class:`~slswin_lib.scores.ScoreSet`; every
            run scores the same held-out videos.
        spot_cfg: the profile's :class:`~slswin_lib.config.SpotConfig` (t, matching, t grid).
        reference: the row the differences are taken against (the profile's own setting).
        fps: the videos' frame rate (for time blocks).
        index_name: the table's index name (``"Table 4"``, ``"labels"``, ``"input"``).
        rows: row label -> descriptive columns (model, parameters, published F1, ...), also for rows
            not run (which then have no results).

    Returns:
        A :class:`Comparison`. Its table has, per type (prefix ``ME``/``MaE``), TP/FP/FN at t and
        ``F1 (t = <t>)``, ``F1 low``, ``F1 high``, ``diff (t = <t>)``, ``diff low``, ``diff high``, and
        the same for the nested t (``F1 (nested t)``, ``nested low``, ``nested high``,
        ``diff (nested t)``, ``diff nested low``, ``diff nested high``); the reference row's
        differences are empty.
    """
    from .comparison import counts_of, unit_counts

    if reference not in runs:
        raise ValueError(f"the reference row {reference!r} was not run; rows run: {list(runs)}")
    types = list(runs[reference])
    units = {e: units_of({row: sets[e] for row, sets in runs.items()}, fps) for e in types}
    for row, sets in runs.items():
        for e, s in sets.items():
            if sorted(s.keys) != sorted(runs[reference][e].keys):
                raise ValueError(f"run {row!r} ({e}) scored other videos than the reference {reference!r}: "
                                 "an ablation compares runs on the same held-out videos")
    counts, table_rows = {}, {}
    for row in dict.fromkeys([*(rows or {}), *runs]):
        out = dict((rows or {}).get(row, {}))
        for e in types if row in runs else ():
            s = runs[row][e]
            for choice in CHOICES:
                spotted = _spotted(s, spot_cfg, choice, spot_cfg.t)
                counts[(row, e, choice)] = unit_counts(spotted, s.gt, spot_cfg.mode, units[e])
        table_rows[row] = out
    for row in table_rows:
        if row not in runs:
            continue
        for e in types:
            cols = {}
            fixed = counts_of(counts[(row, e, "fixed")])
            cols.update({"TP": fixed.tp, "FP": fixed.fp, "FN": fixed.fn})
            for choice in CHOICES:
                c = counts[(row, e, choice)]
                f1, (lo, hi) = counts_of(c).f1, bootstrap_interval(c)
                name, low, high = ((f"F1 (t = {spot_cfg.t})", "F1 low", "F1 high") if choice == "fixed"
                                   else ("F1 (nested t)", "nested low", "nested high"))
                cols.update({name: f1, low: lo, high: hi})
                dname = "diff (t = {})".format(spot_cfg.t) if choice == "fixed" else "diff (nested t)"
                dlow, dhigh = ("diff low", "diff high") if choice == "fixed" else ("diff nested low", "diff nested high")
                other = None if row == reference else counts[(reference, e, choice)]
                cols.update(zip((dname, dlow, dhigh), difference_cells(c, other)))
            table_rows[row].update(typed_columns(e, {**cols, "units": units[e].describe()}))
    table = pd.DataFrame.from_dict(table_rows, orient="index")
    count_cols = [c for c in table.columns if c.rsplit(" ", 1)[-1] in ("TP", "FP", "FN", "k")]
    table[count_cols] = table[count_cols].astype("Int64")
    table.index.name = index_name
    return Comparison(table, units, counts, reference)


def difference_notes(result: Comparison, expressions, t: float) -> list[str]:
    """One sentence per type and threshold choice: each row's paired F1 difference to the reference
    row, with its interval, and whether it is resolved (its interval excludes 0)."""
    table, out = result.table, []
    for e in expressions:
        label = TYPE_LABELS.get(e, e)
        for choice in CHOICES:
            dname = f"{label} diff (t = {t})" if choice == "fixed" else f"{label} diff (nested t)"
            dlow, dhigh = ((f"{label} diff low", f"{label} diff high") if choice == "fixed"
                           else (f"{label} diff nested low", f"{label} diff nested high"))
            if dname not in table:
                continue
            parts = []
            for row in table.index[table[dname].notna()]:
                parts.append(difference_text(row, *table.loc[row, [dname, dlow, dhigh]].astype(float)))
            if parts:
                out.append(f"{label}, {_choice_label(choice, t)}, paired F1 difference to {result.reference} over "
                           f"{result.units[e].describe()}: " + "; ".join(parts) + ".")
    return out


def verdict(result: Comparison, claim, t: float) -> pd.DataFrame:
    """Whether this run supports the paper's claim (a :class:`slswin_lib.published.Claim`), contradicts
    it, or cannot tell, per threshold choice.

    *supports* when every pair's paired difference (better - worse) is resolved above 0, *contradicts*
    when one is resolved below 0, else *cannot tell* (also when the claim's type or rows were not run).

    Returns:
        One row per threshold choice: ``claim``, ``threshold``, ``verdict`` ("supports", "contradicts",
        "cannot tell"), ``detail`` (each pair's difference with its interval, the units, or why
        nothing could be compared); :func:`verdict_lines` puts it in words.
    """
    label = TYPE_LABELS.get(claim.expression, claim.expression)
    # the rows trained and scored on the claim's type (a not-run row may still carry its published F1)
    rows = {row for row, e, _ in result.counts if e == claim.expression}
    pairs = [(a, b) for a, b in claim.pairs if a in rows and b in rows]
    skipped = [f"{a} vs {b}" for a, b in claim.pairs if (a, b) not in pairs]
    out = []
    for choice in CHOICES:
        threshold = f"{label} F1, {_choice_label(choice, t)}"
        if claim.expression not in result.units or not pairs:
            why = f"{label} was not run" if claim.expression not in result.units else \
                "the compared rows were not run (" + ", ".join(skipped) + ")"
            out.append({"claim": claim.text, "threshold": threshold, "verdict": "cannot tell", "detail": why})
            continue
        diffs = {(a, b): result.difference(a, b, claim.expression, choice) for a, b in pairs}
        if all(d.resolved and d.diff > 0 for d in diffs.values()):
            word = "supports"
        elif any(d.resolved and d.diff < 0 for d in diffs.values()):
            word = "contradicts"
        else:
            word = "cannot tell"
        detail = "; ".join(d.describe(a, b) for (a, b), d in diffs.items())
        detail += f"; paired bootstrap over {result.units[claim.expression].describe()}"
        if skipped:
            detail += "; not run here: " + ", ".join(skipped)
        out.append({"claim": claim.text, "threshold": threshold, "verdict": word, "detail": detail})
    return pd.DataFrame(out, columns=["claim", "threshold", "verdict", "detail"])


def verdict_lines(table: pd.DataFrame) -> list[str]:
    """:func:`verdict`'s table in words: the claim, then one line per threshold choice."""
    words = {"supports": "this run supports it", "contradicts": "this run contradicts it",
             "cannot tell": "this run cannot tell"}
    lines = [f"The paper: {table['claim'].iloc[0]}."] if len(table) else []
    return lines + [f"{r.threshold}: {words[r.verdict]} ({r.detail})." for r in table.itertuples()]


def f1_outside_intervals(table: pd.DataFrame, t: float, expressions=(None,)) -> list[str]:
    """The rows of an ablation table whose F1 at ``t`` lies outside its own 95% interval (or has none).

    Every trained row's F1 must lie in its bootstrap interval; the notebooks assert that this list is
    empty. A row without a result (NaN) is listed too, so pass only the rows that were trained.

    Args:
        table: an :func:`ablation_table` table (columns ``"ME F1 (t = 0.6)"``, ``"ME F1 low"``, ...) or,
            with ``expressions=(None,)``, a one-type table (``"F1 (t = 0.6)"``, ``"F1 low"``, ...).
        t: the threshold factor of the fixed-t column.
        expressions: the types whose column blocks to check (None: the unprefixed block).

    Returns:
        ``"<type> <row>"`` for each offending row (empty when every F1 lies in its interval).

    >>> t = pd.DataFrame({"F1 (t = 0.6)": [0.2, 0.5], "F1 low": [0.1, 0.1], "F1 high": [0.3, 0.4]}, index=["a", "b"])
    >>> f1_outside_intervals(t, 0.6)
    ['b']
    """
    out = []
    for e in expressions:
        prefix = f"{TYPE_LABELS.get(e, e)} " if e else ""
        low, f1, high = (table[f"{prefix}{c}"] for c in ("F1 low", f"F1 (t = {t})", "F1 high"))
        inside = (low <= f1) & (f1 <= high)   # False where any of the three is missing
        out += [f"{prefix}{row}" for row in table.index[~inside.to_numpy(bool)]]
    return out


def unit_metrics(per_unit: Mapping[str, pd.DataFrame], types) -> pd.DataFrame:
    """One block of Table 2: :func:`~slswin_lib.evaluation.metrics_table` of the ``types`` and overall from
    their per-unit counts (:func:`slswin_lib.comparison.set_unit_counts`), each F1 with its 95 % bootstrap
    interval over the units (``F1 low``, ``F1 high``)."""
    from .comparison import counts_of
    from .evaluation import metrics_table

    table = metrics_table({e: counts_of(per_unit[e]) for e in types})
    for row, c in per_unit.items():
        table.loc[row, "F1 low"], table.loc[row, "F1 high"] = bootstrap_interval(c)
    return table


def difference_cells(counts: pd.DataFrame, reference: pd.DataFrame | None) -> list[float]:
    """``[diff, low, high]``: the paired bootstrap of F1(counts) - F1(reference) over the same units
    (:func:`slswin_lib.comparison.paired_difference`), NaN when there is no reference."""
    from .comparison import paired_difference

    if reference is None:
        return [np.nan] * 3
    d = paired_difference(counts, reference, n_resamples=INTERVAL_RESAMPLES)
    return [d.diff, d.low, d.high]


def _with_intervals(table: pd.DataFrame, per_video: dict) -> pd.DataFrame:
    """``table`` (one row per type plus ``overall``) with the 95% interval of each row's F1."""
    table = table.copy()
    groups = {**per_video, "overall": pd.concat(list(per_video.values()), ignore_index=True)}
    for row, videos in groups.items():
        if row in table.index:
            table.loc[row, "F1 low"], table.loc[row, "F1 high"] = bootstrap_interval(videos)
    return table


@timed(SPOTTING)
def megc2021_table(methods, spot_cfg, modes: tuple[str, ...] = ("authors", "megc"), *,
                   published_t: Mapping[str, float] | None = None, fps: float | None = None,
                   reference: str | None = None) -> Comparison:
    """Tables 2-3: per method, the metrics of each type and overall at a fixed t (each matching
    mode) and with t chosen by nested leave-one-subject-out selection (``spot_cfg.mode`` matching),
    each F1 with its 95 % bootstrap interval and its paired difference to the reference method over
    the same units (:mod:`slswin_lib.comparison`: time blocks when fewer than 10 videos are held out).

    Args:
        methods: method name -> expression type -> its :class:`~slswin_lib.scores.ScoreSet`; every
            method scores the same videos.
        spot_cfg: the profile's :class:`~slswin_lib.config.SpotConfig`.
        modes: the matching rules of the fixed-t rows.
        published_t: method -> its published t (e.g. SL-Swin-T 0.60, SOFTNet 0.55): the fixed-t
            rows are then labelled ``"published t"`` and spot each method at its own t
            (``spot_cfg.t`` for a method not named); None: every method at ``spot_cfg.t``,
            labelled ``"t = <t>"``.
        fps: the videos' frame rate (for time blocks).
        reference: the method the differences are taken against (default: the first).

    Returns:
        A :class:`Comparison` whose table has TP/FP/FN/precision/recall/F1, the t used (``t``; for
        nested: the mean over folds), ``F1 low``/``F1 high`` and ``diff``/``diff low``/``diff high``
        (F1 minus the reference method's under the same threshold choice, matching and type; empty
        for the reference), indexed by (method, threshold, matching, type).
    """
    from .comparison import set_unit_counts, spotted_nested

    reference = reference or next(iter(methods))
    units = units_of({f"{m} {e}": s for m, sets in methods.items() for e, s in sets.items()}, fps)
    blocks, counts = {}, {}
    for method, sets in methods.items():
        t = spot_cfg.t if published_t is None else published_t.get(method, spot_cfg.t)
        label = f"t = {spot_cfg.t}" if published_t is None else "published t"
        choices = [(label, mode, "fixed", t) for mode in modes] + [("nested LOSO t", spot_cfg.mode, "nested", None)]
        for label_, mode, choice, t_ in choices:
            t_of = {}
            spotted = {}
            for e, s in sets.items():
                if choice == "fixed":
                    spotted[e] = _spotted(s, spot_cfg, "fixed", t_)
                    t_of[e] = t_
                else:
                    spotted[e], per_video_t = spotted_nested(s, spot_cfg.t_grid, spot_cfg.mode)
                    t_of[e] = float(np.mean(list(per_video_t.values())))
            tables = set_unit_counts(sets, spotted, mode, units)
            table = unit_metrics(tables, sets)
            counts.update({(method, label_, mode, row): c for row, c in tables.items()})
            table["t"] = pd.Series(t_of)
            if "overall" in table.index:
                table.loc["overall", "t"] = float(np.mean(list(t_of.values())))
            blocks[(method, label_, mode)] = table
    for (method, label_, mode), table in blocks.items():
        for row in table.index:
            other = None if method == reference else counts.get((reference, label_, mode, row))
            table.loc[row, ["diff", "diff low", "diff high"]] = difference_cells(counts[(method, label_, mode, row)],
                                                                                 other)
    out = pd.concat(blocks, names=["method", "threshold", "matching", "type"])
    out["units"] = units.describe()
    return Comparison(out, {row: units for row in out.index.unique("type")}, counts, reference)


def table2_notes(result: Comparison) -> list[str]:
    """One sentence per threshold choice, matching and type of :func:`megc2021_table`: each method's
    paired F1 difference to the reference method, with its interval and whether it is resolved."""
    table, out = result.table, []
    for (threshold, matching, kind), rows in table.groupby(level=["threshold", "matching", "type"], sort=False):
        parts = []
        for (method, *_), r in rows.iterrows():
            if pd.notna(r["diff"]):
                parts.append(difference_text(method, r["diff"], r["diff low"], r["diff high"]))
        if parts:
            out.append(f"{TYPE_LABELS.get(kind, kind)}, {threshold}, {matching} matching, paired F1 difference to "
                       f"{result.reference} over {result.units[kind].describe()}: " + "; ".join(parts) + ".")
    return out


#: the threshold choices of :func:`rescoring_table`, in order
THRESHOLD_CHOICES = ("published t", "best t on the test folds", "nested LOSO t")


@timed(SPOTTING)
def rescoring_table(sets, spot_cfg, *, modes: tuple[str, ...] | None = None, published_t: float | None = None,
                    grid_counts: Mapping[str, Mapping[str, np.ndarray]] | None = None
                    ) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """One score set per type re-scored under every matching rule and threshold choice.

    The threshold choices (:data:`THRESHOLD_CHOICES`): the published t (fixed after looking at the
    test results); the best t of ``spot_cfg.t_grid`` on the test folds themselves (each type's own,
    as tuned on test data: an optimistic figure); t chosen by nested leave-one-subject-out
    selection (:func:`~slswin_lib.scores.select_t_loso`, no test subject seen). ``overall`` pools the
    counts of the types at their own t.

    Args:
        sets: expression type -> :class:`~slswin_lib.scores.ScoreSet` (e.g. the released scores).
        spot_cfg: a :class:`~slswin_lib.config.SpotConfig` (its ``t_grid``; its ``t`` is the
            published t unless ``published_t`` is given).
        modes: matching rules (default every rule, :data:`slswin_lib.config.SPOT_MODES`).
        grid_counts: mode -> type -> :func:`~slswin_lib.scores.counts_grid` of ``sets`` on
            ``spot_cfg.t_grid``, when already computed (shared with
            :func:`slswin_lib.peers.one_protocol`); default: computed here.

    Returns:
        ``(table, sweeps)``: TP/FP/FN/precision/recall/F1, ``t`` (for nested: the mean over folds)
        and the 95% bootstrap interval of F1 over videos, indexed by (matching, threshold, type);
        and per rule the overall F1 against t (columns ``t``, ``F1``; the types' counts added at
        each t), for :func:`slswin_lib.plots.plot_t_sweep`.
    """
    from .config import SPOT_MODES
    from .evaluation import f1_of, metrics_table
    from .scores import counts_grid, select_t_loso, spot_score_set, t_sweep

    t_pub = spot_cfg.t if published_t is None else published_t
    rows, sweeps = {}, {}
    for mode in modes or SPOT_MODES:
        grids = (grid_counts[mode] if grid_counts is not None else
                 {e: counts_grid(s, spot_cfg.t_grid, mode) for e, s in sets.items()})
        pooled = sum(g.sum(axis=0) for g in grids.values())
        sweeps[mode] = pd.DataFrame({"t": list(spot_cfg.t_grid), "F1": f1_of(*pooled.T)})
        best_t = {}
        for e, s in sets.items():
            sweep = t_sweep(s, spot_cfg.t_grid, mode, grid_counts=grids[e])
            best_t[e] = float(sweep.loc[sweep["F1"].idxmax(), "t"])
        for choice, t_of in (("published t", {e: t_pub for e in sets}), ("best t on the test folds", best_t)):
            spotted = {e: spot_score_set(s, t_of[e], mode) for e, s in sets.items()}
            table = _with_intervals(metrics_table({e: r[0] for e, r in spotted.items()}),
                                    {e: r[1] for e, r in spotted.items()})
            table["t"] = pd.Series(t_of)
            rows[(mode, choice)] = table
        nested, folds, videos = select_t_loso(sets, spot_cfg.t_grid, mode, per_video=True, grid_counts=grids)
        table = _with_intervals(nested, {e: videos[videos["set"] == e] for e in sets})
        table["t"] = folds.groupby("set")["t"].mean()
        rows[(mode, "nested LOSO t")] = table
    return pd.concat(rows, names=["matching", "threshold", "type"]), sweeps


def f1_text(f1: float, low: float, high: float) -> str:
    """An F1 with its interval as a table cell; empty when there is no F1.

    >>> f1_text(0.35944, 0.3271, 0.3954), f1_text(float("nan"), 0.0, 0.0)
    ('0.3594 [0.327, 0.395]', '')
    """
    return "" if pd.isna(f1) else f"{f1:.4f} [{low:.3f}, {high:.3f}]"


def difference_text(name: str, diff: float, low: float, high: float) -> str:
    """A paired F1 difference in words: its value, its interval and whether it is resolved (the interval
    excludes 0).

    >>> difference_text("SOFTNet", 0.1291, 0.076, 0.182)
    'SOFTNet +0.1291 [+0.076, +0.182] resolved, above'
    """
    verdict = "not resolved" if low <= 0 <= high else ("resolved, above" if diff > 0 else "resolved, below")
    return f"{name} {diff:+.4f} [{low:+.3f}, {high:+.3f}] {verdict}"


def f1_cells(table: pd.DataFrame, *, level: str = "type") -> pd.DataFrame:
    """``"F1 [low, high]"`` text cells: the rows of ``table`` but ``level`` as columns (in order
    mae, me, overall where present).

    >>> t = pd.DataFrame({"F1": [0.5], "F1 low": [0.25], "F1 high": [0.75]},
    ...                  index=pd.MultiIndex.from_tuples([("megc", "overall")], names=["matching", "type"]))
    >>> f1_cells(t).to_dict("records")
    [{'matching': 'megc', 'overall': '0.5000 [0.250, 0.750]'}]
    """
    text = pd.Series([f1_text(f, lo, hi) for f, lo, hi in zip(table["F1"], table["F1 low"], table["F1 high"])],
                     index=table.index)
    wide = text.unstack(level)
    wide = wide.loc[list(dict.fromkeys(table.index.droplevel(level)))]
    order = [c for c in ("mae", "me", "overall") if c in wide.columns]
    wide = wide[order + [c for c in wide.columns if c not in order]]
    wide.columns.name = None
    return wide.reset_index()


def rescoring_note(table: pd.DataFrame, published: Mapping[str, float], *, row: str = "overall") -> str:
    """How far the matching rule and threshold choice alone move F1, beside a published spread.

    Args:
        table: :func:`rescoring_table`'s result.
        published: method -> its published F1 (e.g. the Table 2 rows' overall F1 on one data set).
        row: the type compared (``"overall"``).
    """
    f1 = table.xs(row, level="type")["F1"]
    lo, hi = f1.idxmin(), f1.idxmax()
    pub = pd.Series(published, dtype=float)
    return (f"On the same scores, the rule and the threshold choice alone move {row} F1 from {f1.min():.4f} "
            f"({lo[0]}, {lo[1]}) to {f1.max():.4f} ({hi[0]}, {hi[1]}): a range of {f1.max() - f1.min():.4f}, "
            f"{f1.max() / f1.min():.1f}x; the published rows span {pub.min():.4f} ({pub.idxmin()}) to "
            f"{pub.max():.4f} ({pub.idxmax()}), a range of {pub.max() - pub.min():.4f}.")


@timed(SPOTTING)
def k_from_tables(sets, profile: Profile, *, fps: float | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """k from all subjects (the authors' code) beside k from each fold's training subjects.

    Args:
        sets: expression type -> :class:`~slswin_lib.experiment.ExpressionSet` (from ``expression_set``).
        profile: the profile (its ``spot`` section gives t, the matching and the t grid).
        fps: the videos' frame rate (for the intervals' time blocks).

    Returns:
        ``(k_table, f1_table)``: the k of every LOSO fold under both choices (one row per type and
        held-out subject), and the training-free baseline's F1 under both (:func:`megc2021_table`
        rows), which needs no training, so both choices cost only the features at the extra k values.
    """
    from .experiment import baseline

    p = profile
    rows = [{"type": e, "held-out subject": s, "k (all subjects)": es.fold_k(s, "all_subjects"),
             "k (training subjects)": es.fold_k(s, "training_subjects")}
            for e, es in sets.items() for s in es.subjects]
    methods = {}
    for k_from in ("all_subjects", "training_subjects"):
        variant = p.replace(spot={"k_from": k_from})
        methods[f"baseline, k from {k_from.replace('_', ' ')}"] = {e: baseline(es, variant) for e, es in sets.items()}
    return pd.DataFrame(rows), megc2021_table(methods, p.spot, modes=(p.spot.mode,), fps=fps).table


#: the reference row of :func:`fidelity_ablation`
FIDELITY_REFERENCE = "authors' code (the profile)"


def fidelity_ablation(ds, profile: Profile, *, expression: str = "me", scheduler_address: str | None = None,
                      progress: bool = True) -> Comparison:
    """What each authors'-code choice costs: one ablation run per :data:`~slswin_lib.config.FIDELITY` row.

    The runs are the profile as it is (every row as the authors' code, where the profile follows it),
    the profile with one row switched to the paper's text (:func:`~slswin_lib.config.fidelity_variants`),
    and everything as the paper's text; each is trained and spotted like Tables 4-6 under the
    profile's ablation budget. Rows that cannot change this model's run (``model.vit_variant`` for a
    Swin model, ``features.px_scaling`` at 42 x 42) are listed without a run.

    Args:
        ds: the data set (:func:`slswin_lib.experiment.open_dataset`).
        profile: the base profile (its model is the one trained).

    Returns:
        A :class:`Comparison` (:func:`ablation_table`) with one row per run: the setting switched, its
        value, k, the counts, F1 and paired differences to the profile's own run
        (:data:`FIDELITY_REFERENCE`); the data set's frame rate gives the time blocks.
    """
    import dataclasses

    from .config import FIDELITY, fidelity_variants
    from .experiment import ablation_loso, expression_set
    from .models import model_input_size

    p = profile
    model_name = p.model.name
    by_setting = {row.setting: row for row in FIDELITY}
    inert = {"model.vit_variant": "vit" not in model_name, "features.px_scaling": model_input_size(model_name) == 42}
    rows, runs = {}, {}
    for name, variant in fidelity_variants(p).items():
        row = by_setting.get(name)
        label = {"authors_code": FIDELITY_REFERENCE, "paper_text": "paper's text (every row)"}.get(name, name)
        if row is not None and inert.get(name, False):
            rows[label] = {"value": f"{row.paper_value} (paper text)", "run": "no effect on this model"}
            continue
        # one work folder for every variant: features and runs are keyed by their settings
        variant = dataclasses.replace(variant, name=p.name)
        es = expression_set(ds, expression, variant, scheduler_address=scheduler_address, progress=progress)
        runs[label] = {expression: ablation_loso(es, variant, scheduler_address=scheduler_address, progress=progress)}
        rows[label] = {"value": "" if row is None else f"{row.paper_value} (paper text)", "run": "trained", "k": es.k}
    fps = float(ds.videos[0].fps)
    return ablation_table(runs, p.spot, reference=FIDELITY_REFERENCE, fps=fps, index_name="switched to the paper's text",
                          rows=rows)


@timed(SPOTTING)
def auc_table(methods, pseudo_window: str = "k_plus_one") -> pd.DataFrame:
    """Per-frame ROC-AUC of held-out scores against the pseudo labels, per method and type.

    A threshold-free measure of what a scorer learned: each video's scores are compared with the
    pseudo labels of its samples (paper Section 2.4, with the video's k), pooled over the videos
    (scikit-learn's ``roc_auc_score``); 0.5 is chance.

    Args:
        methods: method name -> expression type -> its :class:`~slswin_lib.scores.ScoreSet`.
        pseudo_window: the pseudo-label window (``TrainConfig.pseudo_window``), as in training.

    Returns:
        One row per method, one column per type.
    """
    from sklearn.metrics import roc_auc_score

    from .training.labels import pseudo_labels

    out = {}
    for method, sets in methods.items():
        row = {}
        for e, s in sets.items():
            scores = np.concatenate([s.scores[v] for v in s.keys])
            labels = np.concatenate([pseudo_labels(len(s.scores[v]), s.k_of(v), s.gt_of(v), pseudo_window) for v in s.keys])
            row[e] = float(roc_auc_score(labels, scores)) if 0 < labels.sum() < len(labels) else float("nan")
        out[method] = row
    table = pd.DataFrame.from_dict(out, orient="index")
    table.index.name = "method"
    return table
