"""Tables and figures that describe a data set (used by ``notebooks/00_data.ipynb``)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .base import EXPRESSION_TYPES, Dataset, Event, Video

__all__ = ["subjects_table", "events_table", "plot_event_montage", "plot_event_lengths", "first_event"]

TYPE_NAMES = {"me": "ME", "mae": "MaE"}


def subjects_table(ds: Dataset) -> pd.DataFrame:
    """One row per subject (plus a total): videos, frames, minutes, ME, MaE."""
    s = ds.summary()
    if s.empty:
        return pd.DataFrame(columns=["videos", "frames", "minutes", "ME", "MaE"])
    g = s.groupby("subject", sort=False).agg(videos=("video_id", "size"), frames=("n_frames", "sum"),
                                             minutes=("seconds", "sum"), ME=("n_me", "sum"),
                                             MaE=("n_mae", "sum"))
    g["minutes"] = (g["minutes"] / 60).round(2)
    g.loc["total"] = g.sum()
    g.index.name = "subject"
    return g


def events_table(ds: Dataset) -> pd.DataFrame:
    """All events with their length in frames and seconds."""
    fps = {(v.subject, v.video_id): v.fps for v in ds.videos}
    df = ds.annotations()
    df["frames"] = df["offset"] - df["onset"] + 1
    df["seconds"] = [f / fps[(s, v)] for f, s, v in zip(df["frames"], df["subject"], df["video_id"])]
    return df


def first_event(ds: Dataset, type: str) -> tuple[Video, Event]:
    """The first video of ``ds`` with an event of ``type``, and that event."""
    for v in ds.videos:
        evs = v.events_of(type)
        if evs:
            return v, evs[0]
    raise ValueError(f"data set {ds.name} has no {TYPE_NAMES.get(type, type)} event")


def plot_event_montage(video: Video, event: Event, *, context: int = 0):
    """Frames at onset, apex and offset of ``event``, and |apex - onset| (grey levels, amplified).

    ``context`` > 0 also shows the frames ``context`` frames before the onset and after the offset.
    Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    idx = [("onset", event.onset), ("apex", event.apex), ("offset", event.offset)]
    if context:
        idx = [("onset - %d" % context, max(event.onset - context, 0))] + idx + [
            ("offset + %d" % context, min(event.offset + context, video.n_frames - 1))]
    frames = {name: video.frame(i) for name, i in idx}
    diff = np.abs(frames["apex"].astype(np.float32) - frames["onset"].astype(np.float32)).mean(-1)
    fig, axes = plt.subplots(1, len(idx) + 1, figsize=(3.0 * (len(idx) + 1), 3.3))
    for ax, (name, i) in zip(axes, idx):
        ax.imshow(frames[name])
        ax.set_title(f"{name} (frame {i})", fontsize=9)
    im = axes[-1].imshow(diff, cmap="magma", vmin=0, vmax=max(float(np.percentile(diff, 99.5)), 1.0))
    axes[-1].set_title("|apex - onset|", fontsize=9)
    fig.colorbar(im, ax=axes[-1], fraction=0.046, pad=0.04, label="grey levels")
    for ax in axes:
        ax.set_axis_off()
    kind = TYPE_NAMES.get(event.type, event.type)
    fig.suptitle(f"{video.dataset} {video.key}: {kind}, {event.length} frames "
                 f"({event.length / video.fps:.2f} s)", fontsize=11)
    fig.tight_layout()
    return fig


def plot_event_lengths(ds: Dataset, *, seconds: bool = True):
    """Histogram of event lengths, ME vs MaE (seconds, or frames), with the k of each type marked."""
    import matplotlib.pyplot as plt

    df = events_table(ds)
    col = "seconds" if seconds else "frames"
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    values = df[col].to_numpy(float)
    bins = np.linspace(0, max(values.max(), 1e-3) * 1.05, 30) if len(values) else 10
    for t, colour in zip(EXPRESSION_TYPES, ("tab:orange", "tab:blue")):
        sub = df.loc[df["type"] == t, col]
        if len(sub):
            k = ds.select(t).compute_k(t)
            ax.hist(sub, bins=bins, alpha=0.6, color=colour,
                    label=f"{TYPE_NAMES[t]} (n={len(sub)}, k={k})")
    ax.set_xlabel(f"event length ({col})")
    ax.set_ylabel("events")
    ax.set_title(f"{ds.name}: expression lengths")
    ax.legend()
    fig.tight_layout()
    return fig
