"""Plots shared by the notebooks (matplotlib; each function draws on a given or new Axes)."""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

__all__ = ["plot_spotting", "plot_t_sweep", "plot_pipeline"]


def _axes(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


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


def plot_pipeline(video, onset: int, k: int, cfg, *, result=None, gt=None, title: str = ""):
    """The five stages on one frame pair (paper Fig. 1): frame, face crop, TV-L1 flow, strain,
    ROI mosaic; and, when a :class:`~slswin_lib.spotting.SpotResult` is given, the spotted curve.

    Args:
        video: a data-set video; frames ``onset`` and ``onset + k`` are used.
        cfg: the :class:`~slswin_lib.config.FeatureConfig` of the run.
    """
    import matplotlib.pyplot as plt

    from .features.extract import ArrayVideo, raw_features, track_face
    from .features.flow import flow_to_rgb
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
