"""Tables and figures for the notebooks: comparison rows, captions, and writing them to ``figures/``.

Writing is atomic: CSV + Markdown tables (:func:`save_table`), PNG figures (:func:`save_figure`),
copies of files made elsewhere (:func:`copy_to_figures`).
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from .config import INTERVAL_RESAMPLES, Profile
from .io import atomic_path, atomic_write_text, figures_dir
from .timing import PLOTS_TABLES, SPOTTING, timed

__all__ = ["save_table", "save_figure", "copy_to_figures", "markdown_table", "budget_caption", "ablation_row",
           "megc2021_table", "rescoring_table", "rescoring_note", "f1_cells", "k_from_tables", "fidelity_ablation",
           "interval_note", "recipe_caption", "auc_table", "TYPE_LABELS", "typed_columns", "ablation_table",
           "ablation_notes", "f1_outside_intervals"]


@timed(PLOTS_TABLES)
def save_table(df: pd.DataFrame, name: str, figures: str | os.PathLike | None = None, *,
               floatfmt: str = ".4f", caption: str = "") -> Path:
    """Write ``df`` as ``<name>.csv`` and ``<name>.md`` into the figures folder; returns the .md path.

    Args:
        df: the table; its index is written when it is named.
        name: file stem, prefixed by the notebook number by convention (``"09_released_counts"``).
        figures: folder, default :func:`slswin_lib.io.figures_dir`.
        floatfmt: number format of the Markdown table.
        caption: a line written above the Markdown table (e.g. the profile and data used).
    """
    out = figures_dir(figures)
    df = _flat_columns(df)
    keep_index = df.index.name is not None or any(n is not None for n in df.index.names)
    with atomic_path(out / f"{name}.csv") as tmp:
        df.to_csv(tmp, index=keep_index)
    md = markdown_table(df, keep_index, floatfmt)
    atomic_write_text(out / f"{name}.md", (f"{caption}\n\n" if caption else "") + md + "\n")
    return out / f"{name}.md"


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
    """Save a matplotlib figure as ``<name>.png`` into the figures folder."""
    out = figures_dir(figures) / f"{name}.png"
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
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


def _interval(per_video: pd.DataFrame) -> tuple[float, float]:
    from .evaluation import bootstrap_f1

    ci = bootstrap_f1(per_video, n_resamples=INTERVAL_RESAMPLES)
    return ci.low, ci.high


@timed(SPOTTING)
def ablation_row(scores, spot_cfg) -> dict:
    """One row of an ablation table (Tables 4-6): TP/FP/FN and F1 at the profile's t, and F1 with t
    chosen by nested leave-one-subject-out selection, both with ``spot_cfg.mode`` matching, each F1
    with its 95% bootstrap interval over videos (:func:`slswin_lib.evaluation.bootstrap_f1`).

    Args:
        scores: the run's :class:`~slswin_lib.scores.ScoreSet`.
        spot_cfg: the profile's :class:`~slswin_lib.config.SpotConfig`.
    """
    from .scores import select_t_loso, spot_score_set

    fixed, per_video, _ = spot_score_set(scores, spot_cfg.t, spot_cfg.mode)
    nested, _, nested_videos = select_t_loso({"set": scores}, spot_cfg.t_grid, spot_cfg.mode, per_video=True)
    lo, hi = _interval(per_video)
    nlo, nhi = _interval(nested_videos)
    return {"TP": fixed.tp, "FP": fixed.fp, "FN": fixed.fn, f"F1 (t = {spot_cfg.t})": fixed.f1,
            "F1 low": lo, "F1 high": hi, "F1 (nested t)": float(nested.loc["set", "F1"]),
            "nested low": nlo, "nested high": nhi}


#: how an expression type is named in table columns and captions
TYPE_LABELS = {"me": "ME", "mae": "MaE"}


def typed_columns(expression: str, row: dict) -> dict:
    """The columns of an :func:`ablation_row` prefixed with the type (``"ME F1 low"``, ``"MaE TP"``).

    >>> typed_columns("mae", {"TP": 3, "F1 low": 0.1})
    {'MaE TP': 3, 'MaE F1 low': 0.1}
    """
    label = TYPE_LABELS.get(expression, expression)
    return {f"{label} {name}": value for name, value in row.items()}


def ablation_table(rows: dict, *, index_name: str) -> pd.DataFrame:
    """Tables 4-6 with one block of columns per expression type, the paper's ME block first.

    Args:
        rows: row label -> dict of columns; the per-type results given as ``typed_columns(e, ablation_row(...))``
            (a row not run has only its descriptive columns).
        index_name: the table's index name (``"Table 4"``, ``"labels"``, ``"input"``).

    Returns:
        The table, the TP/FP/FN counts as nullable integers.
    """
    table = pd.DataFrame.from_dict(rows, orient="index")
    counts = [c for c in table.columns if c.rsplit(" ", 1)[-1] in ("TP", "FP", "FN")]
    table[counts] = table[counts].astype("Int64")
    table.index.name = index_name
    return table


def ablation_notes(table: pd.DataFrame, expressions, t: float) -> list[str]:
    """One :func:`interval_note` sentence per expression type and threshold choice of an
    :func:`ablation_table` (``"ME, t = 0.6: 95% intervals resolve ..."``)."""
    out = []
    for e in expressions:
        label = TYPE_LABELS.get(e, e)
        for what, low, high in ((f"t = {t}", "F1 low", "F1 high"), ("nested t", "nested low", "nested high")):
            if f"{label} {low}" in table:
                out.append(f"{label}, {what}: " + interval_note(table, f"{label} {low}", f"{label} {high}"))
    return out


def f1_outside_intervals(table: pd.DataFrame, t: float, expressions=(None,)) -> list[str]:
    """The rows of an ablation table whose F1 at ``t`` lies outside its own 95% interval (or has none).

    Every trained row's F1 must lie in its bootstrap interval; the notebooks assert that this list is
    empty. A row without a result (NaN) is listed too, so pass only the rows that were trained.

    Args:
        table: an :func:`ablation_table` (columns ``"ME F1 (t = 0.6)"``, ``"ME F1 low"``, ...) or,
            with ``expressions=(None,)``, a one-type table (``"F1 (t = 0.6)"``, ``"F1 low"``, ...,
            as :func:`fidelity_ablation`'s).
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


def _with_intervals(table: pd.DataFrame, per_video: dict) -> pd.DataFrame:
    """``table`` (one row per type plus ``overall``) with the 95% interval of each row's F1."""
    table = table.copy()
    groups = {**per_video, "overall": pd.concat(list(per_video.values()), ignore_index=True)}
    for row, videos in groups.items():
        if row in table.index:
            table.loc[row, "F1 low"], table.loc[row, "F1 high"] = _interval(videos)
    return table


@timed(SPOTTING)
def megc2021_table(methods, spot_cfg, modes: tuple[str, ...] = ("authors", "megc"), *,
                   published_t: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Tables 2-3: per method, the metrics of each type and overall at a fixed t (each matching
    mode) and with t chosen by nested leave-one-subject-out selection (``spot_cfg.mode`` matching).

    Args:
        methods: method name -> expression type -> its :class:`~slswin_lib.scores.ScoreSet`.
        spot_cfg: the profile's :class:`~slswin_lib.config.SpotConfig`.
        modes: the matching rules of the fixed-t rows.
        published_t: method -> its published t (e.g. SL-Swin-T 0.60, SOFTNet 0.55): the fixed-t
            rows are then labelled ``"published t"`` and spot each method at its own t
            (``spot_cfg.t`` for a method not named); None: every method at ``spot_cfg.t``,
            labelled ``"t = <t>"``.

    Returns:
        TP/FP/FN/precision/recall/F1, the t used (``t``; for nested: the mean over folds) and the
        95% bootstrap interval of F1 over videos (``F1 low``, ``F1 high``; for ``overall`` the
        videos of every type), indexed by (method, threshold, matching, type).
    """
    from .evaluation import metrics_table
    from .scores import select_t_loso, spot_score_set

    rows = {}
    for method, sets in methods.items():
        t = spot_cfg.t if published_t is None else published_t.get(method, spot_cfg.t)
        label = f"t = {spot_cfg.t}" if published_t is None else "published t"
        for mode in modes:
            spotted = {e: spot_score_set(s, t, mode) for e, s in sets.items()}
            table = metrics_table({e: r[0] for e, r in spotted.items()})
            table = _with_intervals(table, {e: r[1] for e, r in spotted.items()})
            table["t"] = t
            rows[(method, label, mode)] = table
        nested, folds, videos = select_t_loso(sets, spot_cfg.t_grid, spot_cfg.mode, per_video=True)
        per_type = {e: videos[videos["set"] == e] for e in sets}
        nested = _with_intervals(nested, per_type)
        nested["t"] = folds.groupby("set")["t"].mean()
        if "overall" in nested.index:
            nested.loc["overall", "t"] = folds["t"].mean()
        rows[(method, "nested LOSO t", spot_cfg.mode)] = nested
    return pd.concat(rows, names=["method", "threshold", "matching", "type"])


#: the threshold choices of :func:`rescoring_table`, in order
THRESHOLD_CHOICES = ("published t", "best t on the test folds", "nested LOSO t")


@timed(SPOTTING)
def rescoring_table(sets, spot_cfg, *, modes: tuple[str, ...] | None = None, published_t: float | None = None
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
        grids = {e: counts_grid(s, spot_cfg.t_grid, mode) for e, s in sets.items()}
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


def f1_cells(table: pd.DataFrame, *, level: str = "type") -> pd.DataFrame:
    """``"F1 [low, high]"`` text cells: the rows of ``table`` but ``level`` as columns (in order
    mae, me, overall where present).

    >>> t = pd.DataFrame({"F1": [0.5], "F1 low": [0.25], "F1 high": [0.75]},
    ...                  index=pd.MultiIndex.from_tuples([("megc", "overall")], names=["matching", "type"]))
    >>> f1_cells(t).to_dict("records")
    [{'matching': 'megc', 'overall': '0.5000 [0.250, 0.750]'}]
    """
    text = pd.Series([f"{f:.4f} [{lo:.3f}, {hi:.3f}]" for f, lo, hi in
                      zip(table["F1"], table["F1 low"], table["F1 high"])], index=table.index)
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
def k_from_tables(sets, profile: Profile) -> tuple[pd.DataFrame, pd.DataFrame]:
    """k from all subjects (the authors' code) beside k from each fold's training subjects.

    Args:
        sets: expression type -> :class:`~slswin_lib.experiment.ExpressionSet` (from ``expression_set``).
        profile: the profile (its ``spot`` section gives t, the matching and the t grid).

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
    return pd.DataFrame(rows), megc2021_table(methods, p.spot, modes=(p.spot.mode,))


def fidelity_ablation(ds, profile: Profile, *, expression: str = "me", scheduler_address: str | None = None,
                      progress: bool = True) -> pd.DataFrame:
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
        One row per run: the setting switched, its value, the TP/FP/FN and F1 of :func:`ablation_row`.
    """
    import dataclasses

    from .config import FIDELITY, fidelity_variants
    from .experiment import ablation_loso, expression_set
    from .models import model_input_size

    p = profile
    model_name = p.model.name
    by_setting = {row.setting: row for row in FIDELITY}
    inert = {"model.vit_variant": "vit" not in model_name, "features.px_scaling": model_input_size(model_name) == 42}
    rows = {}
    for name, variant in fidelity_variants(p).items():
        row = by_setting.get(name)
        label = {"authors_code": "authors' code (the profile)", "paper_text": "paper's text (every row)"}.get(name, name)
        if row is not None and inert.get(name, False):
            rows[label] = {"value": f"{row.paper_value} (paper text)", "run": "no effect on this model"}
            continue
        # one work folder for every variant: features and runs are keyed by their settings
        variant = dataclasses.replace(variant, name=p.name)
        es = expression_set(ds, expression, variant, scheduler_address=scheduler_address, progress=progress)
        scores = ablation_loso(es, variant, scheduler_address=scheduler_address, progress=progress)
        value = "" if row is None else f"{row.paper_value} (paper text)"
        rows[label] = {"value": value, "run": "trained", "k": es.k, **ablation_row(scores, variant.spot)}
    table = pd.DataFrame.from_dict(rows, orient="index")
    counts = [c for c in ("k", "TP", "FP", "FN") if c in table]
    table[counts] = table[counts].astype("Int64")  # rows without a run have none
    table.index.name = "switched to the paper's text"
    return table


def interval_note(table: pd.DataFrame, low: str, high: str, *, what: str = "F1") -> str:
    """Which differences between the rows of ``table`` its 95% intervals resolve, in words.

    Two rows differ resolvably when their intervals do not overlap (a conservative reading of
    bootstrap intervals); every other pair is within the noise of the benchmark.

    Args:
        table: one row per compared run (rows without an interval are left out).
        low, high: the columns holding each row's interval.

    >>> t = pd.DataFrame({"lo": [0.1, 0.5, 0.15], "hi": [0.3, 0.7, 0.35]}, index=["a", "b", "c"])
    >>> interval_note(t, "lo", "hi")
    '95% intervals resolve: b above a, b above c; not resolved (intervals overlap): a vs c.'
    """
    rows = table[[low, high]].dropna()
    names = [str(i) if not isinstance(i, tuple) else " / ".join(map(str, i)) for i in rows.index]
    lo, hi = rows[low].to_numpy(float), rows[high].to_numpy(float)
    resolved, overlap = [], []
    for i in range(len(rows)):
        for j in range(i + 1, len(rows)):
            if lo[i] > hi[j]:
                resolved.append(f"{names[i]} above {names[j]}")
            elif lo[j] > hi[i]:
                resolved.append(f"{names[j]} above {names[i]}")
            else:
                overlap.append(f"{names[i]} vs {names[j]}")
    if not resolved and not overlap:
        return f"Fewer than two rows with a {what} interval: nothing to compare."
    parts = []
    if resolved:
        parts.append("95% intervals resolve: " + ", ".join(resolved))
    if overlap:
        parts.append("not resolved (intervals overlap): " + ", ".join(overlap))
    return "; ".join(parts) + "."


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
