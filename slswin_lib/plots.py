"""Plots shared by the notebooks (matplotlib; each function draws on a given or new Axes)."""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from .timing import PLOTS_TABLES, timed

__all__ = ["plot_spotting", "plot_t_sweep", "plot_pipeline", "plot_fold_losses", "plot_method_scores",
           "plot_ablation_bars", "plot_labellings", "plot_mosaics", "plot_table2"]


def _axes(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


@timed(PLOTS_TABLES)
def plot_spotting(result, gt: np.ndarray | None = None, *, scores: np.ndarray | None = None,
                  ax=None, title: str = "", fps: float | None = None):
    """Smoothed scores, threshold, spotted intervals (and apexes) and ground truth of one video.

    Args:
        result: a :class:`slswin_lib.spotting.SpotResult`.
        gt: ``(G, 2)`` ground-truth ``[onset, offset]`` frames, drawn as shaded spans.
        scores: the raw per-frame scores, drawn faintly when given.
        fps: when given, a secondary x axis in seconds.
    """
    ax = _axes(ax, (11, 3.2))
    k = result.k
    frames = np.arange(len(result.smoothed)) + k          # smoothed value i is centred on frame i + k
    if scores is not None:
        ax.plot(np.arange(len(scores)), scores, color="0.75", lw=0.7, label="scores")
    ax.plot(frames, result.smoothed, color="tab:blue", lw=1.2, label="smoothed scores")
    ax.axhline(result.threshold, color="tab:green", ls="--", lw=1, label=f"threshold T = {result.threshold:.3g}")
    for i, (on, off) in enumerate(np.asarray(gt if gt is not None else [], dtype=int).reshape(-1, 2)):
        ax.axvspan(on, off, color="tab:red", alpha=0.18, label="ground truth" if i == 0 else None)
    for i, (on, off) in enumerate(result.intervals):
        ax.axvspan(on, off, ymin=0.0, ymax=0.08, color="tab:orange", alpha=0.9,
                   label="spotted interval" if i == 0 else None)
        ax.axvline(result.apexes[i], color="tab:orange", lw=0.8, alpha=0.6)
    ax.set_xlabel("frame")
    ax.set_ylabel("score")
    if title:
        ax.set_title(title)
    if fps:
        sec = ax.secondary_xaxis("top", functions=(lambda f: f / fps, lambda s: s * fps))
        sec.set_xlabel("seconds")
    ax.legend(loc="upper right", fontsize=8, ncol=2)
    return ax


@timed(PLOTS_TABLES)
def plot_t_sweep(sweeps: Mapping[str, pd.DataFrame], *, marked: Mapping[str, float] | None = None,
                 ax=None, title: str = "F1 against the threshold factor t"):
    """F1 against t for several sweeps (name -> DataFrame with columns t, F1) with marked t values."""
    ax = _axes(ax, (7, 3.8))
    for name, sweep in sweeps.items():
        ax.plot(sweep["t"], sweep["F1"], label=name)
    for label, t in (marked or {}).items():
        ax.axvline(t, ls="--", color="0.3", lw=1)
        ax.annotate(label, (t, ax.get_ylim()[1]), rotation=90, va="top", ha="right", fontsize=8)
    ax.set_xlabel("t")
    ax.set_ylabel("F1")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


@timed(PLOTS_TABLES)
def plot_pipeline(video, onset: int, k: int, cfg, *, result=None, gt=None, title: str = ""):
    """The five stages on one frame pair (paper Fig. 1): frame, face crop, TV-L1 flow, strain,
    ROI mosaic; and, when a :class:`~slswin_lib.spotting.SpotResult` is given, the spotted curve.

    Args:
        video: a data-set video; frames ``onset`` and ``onset + k`` are used.
        cfg: the :class:`~slswin_lib.config.FeatureConfig` of the run.
    """
    import matplotlib.pyplot as plt

    from .features.flow import flow_to_rgb
    from .features.pairs import raw_features
    from .features.tracking import ArrayVideo, track_face
    from .features.preprocess import config_sizes, minmax_normalise, preprocess_sample

    pair = ArrayVideo(getattr(video, "key", "video"), [video.frame(onset), video.frame(onset + k)], video.fps)
    track = track_face(pair, cfg)
    raw = raw_features(track.crops[0], track.crops[1], cfg)
    sizes = config_sizes(cfg)
    mosaic = preprocess_sample(raw, track.pts68[0], sizes, abs_uv=cfg.abs_uv, layout=cfg.roi_layout)
    rows = 2 if result is not None else 1
    fig = plt.figure(figsize=(13, 2.9 * rows))
    grid = fig.add_gridspec(rows, 5, height_ratios=[1, 0.9][:rows])
    panels = [(pair.frame(0), f"1. frame {onset}"), (track.crops[0], "2. face crop"),
              (flow_to_rgb(raw[..., :2]), f"3. flow to frame {onset + k}"), (raw[..., 2], "3. strain |e|"),
              (minmax_normalise(mosaic), "4. ROI mosaic (normalised)")]
    for col, (img, label) in enumerate(panels):
        ax = fig.add_subplot(grid[0, col])
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
        ax.set_title(label, fontsize=9)
        ax.set_axis_off()
    if result is not None:
        ax = fig.add_subplot(grid[1, :])
        plot_spotting(result, gt, ax=ax, title="5. scores, threshold and spotted intervals")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


@timed(PLOTS_TABLES)
def plot_fold_losses(histories: Mapping[str, Mapping[str, Mapping]], label_variance: Mapping[str, float] | None = None,
                     *, title: str = ""):
    """Learning curves of every LOSO fold, one panel per expression type: the training loss per
    optimiser step (thin, a running mean of 10 steps) and the held-out loss (markers), with the label
    variance (the loss of always predicting the mean) as a dashed line.

    Args:
        histories: expression type -> fold name -> its training history (the second value of
            :func:`slswin_lib.experiment.read_folds`).
        label_variance: expression type -> the mean label variance of its training sets.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(histories), figsize=(5.5 * len(histories), 3.4), squeeze=False)
    for ax, (expression, per_fold) in zip(axes[0], histories.items()):
        for i, (fold, h) in enumerate(per_fold.items()):
            color = f"C{i % 10}"
            steps = np.asarray(h.get("step_loss") or [], dtype=float)
            if len(steps):
                window = min(10, len(steps))
                smooth = np.convolve(steps, np.ones(window) / window, mode="valid")
                ax.plot(np.arange(window, len(steps) + 1), smooth, color=color, lw=0.9, alpha=0.8, label=fold)
            if h.get("val_loss"):
                ax.plot(h["val_step"], h["val_loss"], color=color, ls="none", marker="o", ms=3)
        if label_variance and expression in label_variance:
            ax.axhline(label_variance[expression], color="0.3", ls="--", lw=1, label="label variance")
        ax.set(title=f"{expression.upper()}: training loss (lines), held-out loss (dots)", xlabel="optimiser step",
               ylabel="MSE")
        ax.legend(fontsize=7, ncol=2)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


@timed(PLOTS_TABLES)
def plot_method_scores(sets: Mapping[str, object], spot_cfg, video: str | None = None):
    """One video's smoothed scores, threshold, spotted intervals and ground truth, one panel per method.

    Args:
        sets: method name -> its :class:`~slswin_lib.scores.ScoreSet` of one expression type.
        spot_cfg: the profile's :class:`~slswin_lib.config.SpotConfig` (t and matching).
        video: the video shown; default the one with the most ground-truth intervals.
    """
    import matplotlib.pyplot as plt

    from .scores import spot_score_set

    first = next(iter(sets.values()))
    if video is None:
        video = first.gt["video"].value_counts().index[0] if len(first.gt) else first.keys[0]
    fig, axes = plt.subplots(len(sets), 1, figsize=(11, 2.8 * len(sets)), sharex=True, squeeze=False)
    for ax, (method, s) in zip(axes[:, 0], sets.items()):
        _, _, spotted = spot_score_set(s, spot_cfg.t, spot_cfg.mode)
        plot_spotting(spotted[video], s.gt_of(video), scores=s.scores[video], ax=ax,
                      title=f"{method}: {video} (k = {s.k_of(video)}, t = {spot_cfg.t})")
    fig.tight_layout()
    return fig


@timed(PLOTS_TABLES)
def plot_ablation_bars(table: pd.DataFrame, ours: str, low: str, high: str, published: str | None = None, *,
                       label: str = "ours", title: str = "", ylabel: str = "ME F1"):
    """Our F1 with its 95 % interval beside the published F1, for each row of an ablation table that
    was run (rows without a result are left out, not drawn as 0).

    Args:
        table: one row per variant, with the columns ``ours``, ``low``, ``high`` (and ``published``).
        label: legend text of our bars.
    """
    import matplotlib.pyplot as plt

    run = table[table[ours].notna()]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.4 * len(run) + 1.5), 3.4))
    x = np.arange(len(run))
    f1 = run[ours].astype(float).to_numpy()
    err = np.vstack([f1 - run[low].astype(float).to_numpy(), run[high].astype(float).to_numpy() - f1])
    width = 0.4 if published else 0.6
    ax.bar(x - (0.2 if published else 0), f1, width=width, yerr=err, capsize=4, label=f"{label} (95 % interval)")
    if published:
        ax.bar(x + 0.2, run[published].astype(float), width=width, label=published)
    ax.set_xticks(list(x), run.index)
    ax.set(ylabel=ylabel, title=title)
    ax.legend(fontsize=8)
    return fig


@timed(PLOTS_TABLES)
def plot_labellings(info, k: int, *, title: str = ""):
    """The original and pseudo labels (paper Section 2.4) of one video's samples, as steps.

    Args:
        info: a :class:`~slswin_lib.experiment.VideoInfo` (``n_frames``, ``intervals``).
        k: the frame distance of the samples.
    """
    import matplotlib.pyplot as plt

    from .training.labels import original_labels, pseudo_labels

    n = info.n_frames - k
    fig, ax = plt.subplots(figsize=(11, 2.2))
    ax.step(np.arange(n), original_labels(n, info.intervals) + 1.1, where="post", label="original (+1.1)")
    ax.step(np.arange(n), pseudo_labels(n, k, info.intervals), where="post", label="pseudo")
    ax.set(xlabel="sample i (frames i and i + k)", yticks=[], title=title)
    ax.legend(fontsize=8, loc="upper right")
    return fig


@timed(PLOTS_TABLES)
def plot_mosaics(sets: Mapping[int, object]):
    """The model input (normalised ROI mosaic) of one expression sample at each input size.

    Args:
        sets: input size -> :class:`~slswin_lib.experiment.ExpressionSet` of the same videos; the
            sample shown is k frames before the first event of the video with the most events.
    """
    import matplotlib.pyplot as plt

    from .features.preprocess import to_model_input

    first = next(iter(sets.values()))
    info = max(first.infos, key=lambda i: len(i.intervals))
    onset = info.intervals[0][0]
    fig, axes = plt.subplots(1, len(sets), figsize=(3 * len(sets), 3), squeeze=False)
    for ax, (size, es) in zip(axes[0], sets.items()):
        sample = to_model_input(np.asarray(es.features[info.key][max(onset - es.k, 0)])[None])[0]
        ax.imshow(sample.transpose(1, 2, 0))
        ax.set(title=f"{size} x {size} mosaic", xticks=[], yticks=[])
    return fig


@timed(PLOTS_TABLES)
def plot_table2(table: pd.DataFrame, *, matching: str = "authors", title: str = ""):
    """Table 2 as a chart: each method's F1 with its 95 % interval, per type (ME, MaE, overall), at its
    published (fixed) t and at the nested-LOSO t.

    Args:
        table: :func:`slswin_lib.report.megc2021_table`'s table (index method, threshold, matching, type;
            columns ``F1``, ``F1 low``, ``F1 high``).
        matching: the matching rule shown.
    """
    import matplotlib.pyplot as plt

    rows = table.xs(matching, level="matching")
    methods = list(dict.fromkeys(rows.index.get_level_values("method")))
    thresholds = list(dict.fromkeys(rows.index.get_level_values("threshold")))
    types = [t for t in ("me", "mae", "overall") if t in rows.index.get_level_values("type")]
    fig, axes = plt.subplots(1, len(types), figsize=(3.6 * len(types), 0.55 * len(methods) * len(thresholds) + 1.4),
                             sharey=True, squeeze=False)
    height = 0.8 / len(thresholds)
    y = np.arange(len(methods))
    for ax, e in zip(axes[0], types):
        for j, threshold in enumerate(thresholds):
            sub = rows.xs((threshold, e), level=("threshold", "type")).reindex(methods)
            f1 = sub["F1"].astype(float).to_numpy()
            err = np.vstack([f1 - sub["F1 low"].astype(float).to_numpy(), sub["F1 high"].astype(float).to_numpy() - f1])
            ax.barh(y + (j - (len(thresholds) - 1) / 2) * height, f1, height=height, xerr=err, capsize=3,
                    label=threshold)
        ax.set(title={"me": "ME", "mae": "MaE"}.get(e, e), xlabel="F1 (95 % interval)", xlim=(0, 1))
        ax.grid(axis="x", alpha=0.3)
    axes[0, 0].set_yticks(y, methods)
    axes[0, 0].invert_yaxis()
    axes[0, -1].legend(fontsize=8, loc="lower right")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig

