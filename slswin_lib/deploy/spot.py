"""Spot expressions in any video file or frame folder, with exported spotters or the baseline.

:func:`spot_video` reads a video, spots ME and/or MaE intervals with checkpoints written by
:func:`slswin_lib.deploy.export_spotter` (k rescaled to the video's frame rate,
:func:`~slswin_lib.deploy.rescale_k`) and writes ``intervals.csv`` and a plot; without any
checkpoint it falls back to the training-free baseline scorer (mean ROI optical-flow magnitude)
and says so. :func:`spot_report` does the same without writing; :func:`apex_montage` shows the
frames at the spotted apexes.

>>> from slswin_lib.deploy import spot_video                   # doctest: +SKIP
>>> spot_video("me.mp4", me="spotter_me.pt", mae="spotter_mae.pt", out_dir="out")  # doctest: +SKIP
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import FeatureConfig, Profile, resolve_profile
from .checkpoint import EXPRESSION_TYPES, SpotterError, load_spotter, rescale_k

__all__ = ["BASELINE_K", "BASELINE_FPS", "BASELINE_T", "BASELINE_SCORER", "INTERVAL_COLUMNS", "TypeSpotting",
           "VideoSpotting", "spot_report", "spot_video", "plot_video_spotting", "apex_montage"]

#: training-free baseline: the paper's CAS(ME)^2 k (Section 2.1) at 30 fps, and the paper's t
BASELINE_K: dict[str, int] = {"me": 6, "mae": 18}
BASELINE_FPS = 30.0
BASELINE_T = 0.60
BASELINE_SCORER = "baseline (mean ROI flow magnitude, training-free)"
#: columns of ``intervals.csv`` (and of the table :func:`spot_video` returns)
INTERVAL_COLUMNS = ["vid", "pred_onset", "pred_offset", "type", "apex", "score", "scorer"]


@dataclass
class TypeSpotting:
    """One expression type's spotting of one video.

    Attributes:
        expression: ``"me"`` or ``"mae"``.
        scorer: ``"model"`` or ``"baseline"``; ``description`` says which model / checkpoint.
        k: the k used on this video (rescaled, see the module docs); ``k_train``, ``fps_train``: the
            checkpoint's (for the baseline: the paper's CAS(ME)^2 k at 30 fps).
        t: threshold factor.
        scores: ``(n_frames - k,)`` per-sample scores.
        result: the :class:`~slswin_lib.spotting.SpotResult`.
        meta: the checkpoint's settings (empty for the baseline).
    """

    expression: str
    scorer: str
    description: str
    k: int
    k_train: int
    fps_train: float
    t: float
    scores: np.ndarray
    result: Any
    meta: dict = field(default_factory=dict)


@dataclass
class VideoSpotting:
    """Everything :func:`spot_report` found in one video; ``table`` has :data:`INTERVAL_COLUMNS`."""

    vid: str
    path: str
    fps: float
    n_frames: int
    types: dict[str, TypeSpotting]
    table: pd.DataFrame

    @property
    def scorer(self) -> str:
        return "; ".join(f"{e}: {ts.description}" for e, ts in self.types.items())


def _open_video(video_or_path, fps: float | None):
    """(video object, effective fps, display name, path string)."""
    from ..data import load_dataset

    if isinstance(video_or_path, (str, os.PathLike)):
        path = Path(video_or_path)
        if path.is_dir() and fps is None:
            raise ValueError(f"{path}: a frame folder has no frame rate; give it (--fps N / fps=N)")
        ds = load_dataset("video", path, fps=fps)
        if len(ds.videos) != 1:
            raise ValueError(f"{path} holds {len(ds.videos)} videos; pass one video file or one frame folder")
        v = ds.videos[0]
        return v, float(v.fps), str(v.name or path.stem), str(path)
    v = video_or_path
    use_fps = float(fps if fps is not None else getattr(v, "fps", 0) or 0)
    if use_fps <= 0:
        raise ValueError(f"video {getattr(v, 'key', '?')} has no frame rate; pass fps=")
    return v, use_fps, str(getattr(v, "name", None) or v.key), str(getattr(v, "path", "") or "")


def _features(video, k: int, feature_cfg: FeatureConfig, progress: bool) -> np.ndarray:
    from ..features import extract_features
    from ..io import cache_dir

    return extract_features([video], k, feature_cfg, cache_root=cache_dir("features"), progress=progress)[video.key]


def spot_report(video_or_path, *, me: str | os.PathLike | None = None, mae: str | os.PathLike | None = None,
                fps: float | None = None, profile: str | Profile = "quick", progress: bool = True) -> VideoSpotting:
    """Score and spot one video (no files written); see :func:`spot_video`."""
    from ..spotting import spot
    from ..training.samples import to_model_input
    from ..training.trainer import predict

    video, vfps, vid, path = _open_video(video_or_path, fps)
    checkpoints = {e: c for e, c in (("me", me), ("mae", mae)) if c is not None}
    types: dict[str, TypeSpotting] = {}
    if checkpoints:
        for e, ckpt in checkpoints.items():
            model, meta = load_spotter(ckpt)
            if meta["expression"] != e:
                raise SpotterError(f"{ckpt}: a {meta['expression'].upper()} spotter given as the "
                                   f"{e.upper()} checkpoint; swap the two")
            k = rescale_k(meta["k"], vfps, meta["fps"])
            feats = _features(video, k, meta["feature_config"], progress)
            if feats.shape[1] != meta["input_size"]:
                raise SpotterError(f"{ckpt}: the model takes {meta['input_size']} px inputs but its feature "
                                   f"settings give {feats.shape[1]} px; re-export the checkpoint")
            scores = predict(model, to_model_input(feats))
            desc = f"{meta['model_name']} ({Path(ckpt).name}, trained on {meta['training']['dataset']})"
            types[e] = TypeSpotting(e, "model", desc, k, int(meta["k"]), float(meta["fps"]), float(meta["t"]),
                                    scores, spot(scores, k, meta["t"], video=vid), meta)
    else:
        from ..features.preprocess import roi_flow_magnitude

        feature_cfg = resolve_profile(profile).features
        for e in EXPRESSION_TYPES:
            k = rescale_k(BASELINE_K[e], vfps, BASELINE_FPS)
            scores = roi_flow_magnitude(_features(video, k, feature_cfg, progress)).astype(np.float64)
            types[e] = TypeSpotting(e, "baseline", BASELINE_SCORER, k, BASELINE_K[e], BASELINE_FPS, BASELINE_T,
                                    scores, spot(scores, k, BASELINE_T, video=vid))
    rows = [{"vid": vid, "pred_onset": int(a), "pred_offset": int(b), "type": e, "apex": int(x),
             "score": float(h), "scorer": ts.scorer if ts.scorer == "baseline" else ts.meta["model_name"]}
            for e, ts in types.items()
            for (a, b), x, h in zip(ts.result.intervals, ts.result.apexes, ts.result.peak_heights)]
    table = pd.DataFrame(rows, columns=INTERVAL_COLUMNS).astype(
        {"pred_onset": "int64", "pred_offset": "int64", "apex": "int64", "score": "float64"})
    table = table.sort_values(["type", "pred_onset"], kind="stable").reset_index(drop=True)
    return VideoSpotting(vid, path, vfps, int(video.n_frames), types, table)


def plot_video_spotting(report: VideoSpotting, *, title: str | None = None):
    """One panel per expression type (scores, smoothed curve, threshold, spotted intervals)."""
    import matplotlib.pyplot as plt

    from ..plots import plot_spotting

    fig, axes = plt.subplots(len(report.types), 1, figsize=(11, 3.2 * len(report.types)), squeeze=False)
    for ax, (e, ts) in zip(axes[:, 0], report.types.items()):
        who = "baseline" if ts.scorer == "baseline" else ts.meta["model_name"]
        plot_spotting(ts.result, scores=ts.scores, ax=ax, fps=report.fps,
                      title=f"{report.vid}: {e.upper()} by {who} (k = {ts.k} at {report.fps:g} fps, t = {ts.t:.2f})")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def spot_video(video_or_path, *, me: str | os.PathLike | None = None, mae: str | os.PathLike | None = None,
               fps: float | None = None, out_dir: str | os.PathLike | None = None, profile: str | Profile = "quick",
               progress: bool = True) -> pd.DataFrame:
    """Spot ME/MaE intervals in any video file or frame folder.

    For each given checkpoint (:func:`export_spotter`): k is rescaled to the video's frame rate
    (module docs), features are extracted with the checkpoint's FeatureConfig (cached under
    ``cache_dir("features")``), every sample is scored by the model and spotted with the checkpoint's
    t and the rescaled k. Only the given types are spotted. With **no** checkpoint both types are
    spotted by the training-free baseline (mean ROI flow magnitude, :data:`BASELINE_K` at 30 fps
    rescaled, t = 0.60; features of ``profile``); a line says so and the ``scorer`` column reads
    ``baseline``.

    Args:
        video_or_path: a video file (mp4, avi, ...), a frame folder, or a video object
            (``slswin_lib.data.Video`` / ``ArrayVideo``).
        me, mae: spotter checkpoints (``spotter_me.pt`` / ``spotter_mae.pt``).
        fps: frame rate; overrides the file's; required for a frame folder.
        out_dir: where ``intervals.csv`` and ``scores.png`` go (None: nothing written).
        profile: feature settings of the baseline scorer (unused with checkpoints).

    Returns:
        DataFrame with :data:`INTERVAL_COLUMNS` (frames 0-based, inclusive; ``score`` is the smoothed
        score at the apex). ``attrs`` holds ``fps``, ``n_frames``, per-type ``k``/``t``, the scorer
        and, with ``out_dir``, the paths ``intervals_csv`` and ``scores_png``.
    """
    report = spot_report(video_or_path, me=me, mae=mae, fps=fps, profile=profile, progress=progress)
    if all(ts.scorer == "baseline" for ts in report.types.values()):
        print(f"no checkpoint given: scoring with the {BASELINE_SCORER}, "
              + ", ".join(f"{e.upper()} k = {ts.k}" for e, ts in report.types.items())
              + f" (CAS(ME)^2 k at 30 fps rescaled to {report.fps:g} fps), t = {BASELINE_T}")
    table = report.table
    table.attrs.update(vid=report.vid, fps=report.fps, n_frames=report.n_frames, scorer=report.scorer,
                       k={e: ts.k for e, ts in report.types.items()}, t={e: ts.t for e, ts in report.types.items()})
    if out_dir is not None:
        import matplotlib.pyplot as plt

        from ..io import atomic_path

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(out / "intervals.csv") as tmp:
            table.to_csv(tmp, index=False)
        fig = plot_video_spotting(report)
        with atomic_path(out / "scores.png") as tmp:
            fig.savefig(tmp, dpi=110)
        plt.close(fig)
        table.attrs.update(intervals_csv=str(out / "intervals.csv"), scores_png=str(out / "scores.png"))
    return table


def apex_montage(video_or_path, table: pd.DataFrame, *, fps: float | None = None, per_type: int = 6,
                 crop_face: bool = True):
    """Frames at the spotted apexes: one row per type, the ``per_type`` highest-scoring intervals.

    Args:
        video_or_path: the spotted video (as given to :func:`spot_video`).
        table: :func:`spot_video`'s result.
        crop_face: show the face crop (MediaPipe box of the apex frame) instead of the whole frame.

    Returns:
        A matplotlib figure (an empty one saying so when nothing was spotted).
    """
    import matplotlib.pyplot as plt

    video, vfps, vid, _ = _open_video(video_or_path, fps)
    types = [e for e in EXPRESSION_TYPES if (table["type"] == e).any()]
    if not types:
        fig, ax = plt.subplots(figsize=(6, 1.5))
        ax.axis("off")
        ax.text(0.5, 0.5, f"{vid}: no interval spotted", ha="center", va="center")
        return fig
    ncol = max(min(per_type, int((table["type"] == e).sum())) for e in types)
    fig, axes = plt.subplots(len(types), ncol, figsize=(2.2 * ncol, 2.9 * len(types)), squeeze=False)
    lm = None
    if crop_face:
        from ..features.crop import crop_face as crop, face_box
        from ..features.extract import landmark_model_path, landmarker

        lm = landmarker(landmark_model_path(), FeatureConfig())
    for row, e in enumerate(types):
        rows = table[table["type"] == e].nlargest(per_type, "score").sort_values("apex")
        for col, ax in enumerate(axes[row]):
            ax.axis("off")
            if col >= len(rows):
                continue
            r = rows.iloc[col]
            img = video.frame(int(r["apex"]))
            if lm is not None:
                mesh = lm.detect(img)
                if mesh is not None:
                    img = crop(img, face_box(mesh[:468], 1.3), 160, gray=False)
            ax.imshow(img)
            ax.set_title(f"{e.upper()} apex {int(r['apex'])} ({int(r['apex']) / vfps:.1f} s)\n"
                         f"[{int(r['pred_onset'])}, {int(r['pred_offset'])}] score {r['score']:.3g}", fontsize=8)
    fig.suptitle(f"{vid}: frames at the spotted apexes")
    fig.tight_layout()
    return fig
