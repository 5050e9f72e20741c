"""Spot expressions in any video file or frame folder, with the best method a run has for each type.

:func:`spot_video` reads a video and spots ME and MaE intervals, each type with the method
:func:`slswin_lib.deploy.choice.choose` picks: among the training-free methods
(:mod:`slswin_lib.trainfree`: the optical-flow spotter, the ROI flow-magnitude baseline) and the spotters
of the last run (:func:`slswin_lib.deploy.export_spotter`, in ``runs/<profile>/spotters/<model>/``), the one
with the best nested-LOSO F1 of that type on the benchmark; ``scorer="NAME"`` forces one, and given
checkpoint files (``me=``, ``mae=``) spot only their types. A trained spotter's k is rescaled to the video's
frame rate (:func:`~slswin_lib.deploy.rescale_k`). It writes ``intervals.csv`` and a plot;
:func:`spot_report` does the same without writing (:func:`respot` spots its scores again under other
rules); :func:`apex_montage` shows the frames at the spotted apexes.

**Rules for a user's own clip** (not the MEGC evaluation, which keeps the paper's rules):

* *Edge maxima* (``edges="include"``): a smoothed-score maximum at the clip's first or last smoothed
  sample is reported when it reaches the threshold (:mod:`slswin_lib.spotting`, module docs); the
  paper's peak finding cannot report it, so on a clip of a few seconds an expression right at the
  start or end would be lost. A clip too short for the smoothing window (fewer than ``3k`` frames:
  ``n_frames - k`` scores < ``2k``) is not an error: that type spots nothing, says why
  (``TypeSpotting.note``) and its plot shows the per-frame scores. The optical-flow spotter finds
  intervals directly (no smoothing, no edge rule); a clip shorter than its shortest window (2 s) gets
  the same kind of note.
* *One label per expression* (``keep_overlaps=False``): a spotted ME interval of which at least
  :data:`OVERLAP_COVERAGE` of the frames lie inside one spotted MaE interval of the same clip
  (:func:`slswin_lib.spotting.covered_by`; this includes every pair with IoU >= that bound) is dropped
  and only the MaE is reported; the ME and MaE spotters run independently, so a broad expression
  otherwise often gets both labels. ``keep_overlaps=True`` keeps both (the raw per-type output).

``intervals.csv`` comes with ``intervals.json``: the rules applied, each type's scorer, why it was chosen
(the candidates and their F1), its k and t (or sensitivity) and where they came from, the threshold,
notes and the dropped ME intervals.

>>> from slswin_lib.deploy import spot_video                   # doctest: +SKIP
>>> spot_video("me.mp4", out_dir="out")                        # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import json
import os
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import BASELINE_FPS, BASELINE_K, BASELINE_T, OF_SPOT, FeatureConfig, Profile, resolve_profile
from ..trainfree.baseline import BASELINE_NAME, BASELINE_SCORER, BASELINE_T_SOURCE, baseline_k, flow_magnitude_scores
from .checkpoint import EXPRESSION_TYPES, SpotterError, load_spotter, rescale_k
from .choice import Choice, choose, last_run_spotters, read_ranking

__all__ = ["BASELINE_K", "BASELINE_FPS", "BASELINE_T", "BASELINE_SCORER", "BASELINE_T_SOURCE", "INTERVAL_COLUMNS",
           "OVERLAP_COVERAGE", "TypeSpotting", "VideoSpotting", "rules_text", "summary_lines", "spot_report", "respot",
           "spot_video", "plot_video_spotting", "apex_montage"]

#: the scorer kinds of :class:`TypeSpotting`: a trained model, the two training-free methods
SCORER_KINDS = ("model", BASELINE_NAME, "of_spotter")
#: one label per expression: an ME interval with at least this fraction of its frames inside one MaE
#: interval of the same clip is dropped (module docs)
OVERLAP_COVERAGE = 0.5
#: a video with at most this many chunks (FeatureConfig.chunk) of frame pairs is featurised in-process
_POOL_MIN_CHUNKS = 2
_FOOTER_INCHES = 0.9  # room under the panels of the plot for the t sources and the rules
#: columns of ``intervals.csv`` (and of the table :func:`spot_video` returns)
INTERVAL_COLUMNS = ["vid", "pred_onset", "pred_offset", "type", "apex", "score", "scorer"]


@dataclass
class TypeSpotting:
    """One expression type's spotting of one video.

    Attributes:
        expression: ``"me"`` or ``"mae"``.
        scorer: ``"model"``, ``"baseline"`` or ``"of_spotter"`` (:data:`SCORER_KINDS`); ``description`` says
            which model / checkpoint or method.
        k: the k used on this video (rescaled, see the module docs); ``k_train``, ``fps_train``: the
            checkpoint's (for the baseline: the paper's CAS(ME)^2 k at 30 fps; the optical-flow spotter has
            no k: 0).
        t: threshold factor (NaN for the optical-flow spotter); ``t_source`` where it (or the optical-flow
            spotter's sensitivity) came from.
        scores: per-sample scores (``(max(n_frames - k, 0),)``; the optical-flow spotter: its per-frame
            motion curve, px).
        result: the :class:`~slswin_lib.spotting.SpotResult`; None when the clip is too short to spot
            this type (``note`` says why).
        meta: the checkpoint's settings (empty for a training-free scorer).
        note: why nothing could be spotted ("" otherwise).
        choice: why this scorer (:meth:`slswin_lib.deploy.choice.Choice.as_dict`).
        sensitivity: the optical-flow spotter's sensitivity (None for the others).
    """

    expression: str
    scorer: str
    description: str
    k: int
    k_train: int
    fps_train: float
    t: float
    t_source: str
    scores: np.ndarray
    result: Any
    meta: dict = field(default_factory=dict)
    note: str = ""
    choice: dict = field(default_factory=dict)
    sensitivity: float | None = None

    @property
    def who(self) -> str:
        """Short scorer name (the ``scorer`` column): ``baseline``, ``of_spotter`` or the model name."""
        return self.meta["model_name"] if self.scorer == "model" else self.scorer

    @property
    def setting(self) -> str:
        """The scorer's setting in words (``"k = 18, t = 0.60"``, ``"sensitivity 1.00"``)."""
        if self.scorer == "of_spotter":
            return f"sensitivity {self.sensitivity:.2f}"
        return f"k = {self.k}, t = {self.t:.2f}"


@dataclass
class VideoSpotting:
    """Everything :func:`spot_report` found in one video.

    Attributes:
        table: the reported intervals, :data:`INTERVAL_COLUMNS`.
        edges: the edge rule used (:data:`slswin_lib.spotting.EDGE_RULES`).
        keep_overlaps: False when the one-label rule was applied.
        dropped: the ME intervals the one-label rule removed (:data:`INTERVAL_COLUMNS`).
    """

    vid: str
    path: str
    fps: float
    n_frames: int
    types: dict[str, TypeSpotting]
    table: pd.DataFrame
    edges: str = "include"
    keep_overlaps: bool = False
    dropped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=INTERVAL_COLUMNS))

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

    # a clip of at most one chunk of frame pairs is not worth a process pool
    workers = 1 if video.n_frames - k <= feature_cfg.chunk * _POOL_MIN_CHUNKS else None
    return extract_features([video], k, feature_cfg, cache_root=cache_dir("features"), workers=workers,
                            progress=progress)[video.key]


def _too_short(e: str, n_frames: int, k: int, fps: float) -> str:
    """The note of a type that a clip is too short to spot ("" when it is long enough)."""
    if n_frames - k >= 2 * k:
        return ""
    return (f"{e.upper()}: {n_frames} frames give {max(n_frames - k, 0)} scores, fewer than the smoothing window "
            f"2k = {2 * k} (k = {k}); spotting needs at least 3k = {3 * k} frames ({3 * k / fps:.2f} s), so "
            "nothing is spotted and the plot shows the per-frame scores only")


def _choices(me, mae, scorer, spotters) -> dict[str, Choice]:
    """Each type's scorer: the given checkpoints (only their types), else :func:`choose` per type."""
    given = {e: c for e, c in (("me", me), ("mae", mae)) if c is not None}
    if given:
        return {e: Choice(e, "model", Path(c), None, f"given ({'--' + e + '-checkpoint'} {c})") for e, c in given.items()}
    forced = scorer if isinstance(scorer, dict) else {e: scorer for e in EXPRESSION_TYPES}
    unknown = sorted(set(forced) - set(EXPRESSION_TYPES))
    if unknown:
        raise ValueError(f"scorer given for unknown type(s) {unknown}; use 'me' and 'mae'")
    folder = last_run_spotters() if spotters is None else Path(spotters)
    if spotters is not None and not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such spotters folder (runs/<profile>/spotters, written by notebooks 05 "
                                "and 11)")
    return {e: choose(e, folder, forced.get(e)) for e in EXPRESSION_TYPES}


def _model_type(e: str, c: Choice, video, vfps: float, n_frames: int, progress: bool) -> TypeSpotting:
    from ..features.preprocess import to_model_input
    from ..training.trainer import predict

    model, meta = load_spotter(c.checkpoint)
    if meta["expression"] != e:
        raise SpotterError(f"{c.checkpoint}: a {meta['expression'].upper()} spotter given as the "
                           f"{e.upper()} checkpoint; swap the two")
    k = rescale_k(meta["k"], vfps, meta["fps"])
    scores = np.empty(0)
    if n_frames > k:
        feats = _features(video, k, meta["feature_config"], progress)
        if feats.shape[1] != meta["input_size"]:
            raise SpotterError(f"{c.checkpoint}: the model takes {meta['input_size']} px inputs but its feature "
                               f"settings give {feats.shape[1]} px; re-export the checkpoint")
        scores = predict(model, to_model_input(feats))
    desc = f"{meta['model_name']} ({Path(c.checkpoint).name}, trained on {meta['training']['dataset']})"
    return TypeSpotting(e, "model", desc, k, int(meta["k"]), float(meta["fps"]), float(meta["t"]),
                        str(meta.get("t_source") or "the checkpoint (no source recorded)"),
                        np.asarray(scores, dtype=np.float64).reshape(-1), None, meta, choice=c.as_dict())


def _baseline_type(e: str, c: Choice, video, vfps: float, n_frames: int, feature_cfg, progress: bool) -> TypeSpotting:
    k = baseline_k(e, vfps)
    scores = flow_magnitude_scores(_features(video, k, feature_cfg, progress)) if n_frames > k else np.empty(0)
    t, source = (BASELINE_T, BASELINE_T_SOURCE) if c.deploy is None else (
        c.deploy, f"the benchmark ranking ({c.folder}): t chosen on every subject's scores")
    return TypeSpotting(e, BASELINE_NAME, BASELINE_SCORER, k, BASELINE_K[e], BASELINE_FPS, float(t), source, scores,
                        None, choice=c.as_dict())


def _of_type(e: str, c: Choice, analysis, vid: str) -> TypeSpotting:
    """The optical-flow spotter's intervals of type ``e`` (``analysis``: an OFAnalysis, or the OFError that
    refused the clip)."""
    from ..spotting import SpotResult
    from ..trainfree.ofspot import OF_DESCRIPTION, OFError

    sensitivity = OF_SPOT.sensitivity if c.deploy is None else c.deploy
    source = ("the source's thresholds" if c.deploy is None else
              f"the benchmark ranking ({c.folder}): sensitivity chosen on every subject")
    if isinstance(analysis, OFError):
        return TypeSpotting(e, "of_spotter", OF_DESCRIPTION, 0, 0, OF_SPOT.source_fps, float("nan"), source,
                            np.empty(0), None, note=f"{e.upper()}: {analysis}", choice=c.as_dict(),
                            sensitivity=sensitivity)
    r = analysis.spot(sensitivity)
    keep = r.types == e
    result = SpotResult(r.motion, float("nan"), r.apexes[keep], r.apexes[keep], r.intervals[keep], r.heights[keep], 0)
    return TypeSpotting(e, "of_spotter", OF_DESCRIPTION, 0, 0, OF_SPOT.source_fps, float("nan"), source, r.motion,
                        result, {"stats": r.stats}, choice=c.as_dict(), sensitivity=sensitivity)


def spot_report(video_or_path, *, me: str | os.PathLike | None = None, mae: str | os.PathLike | None = None,
                scorer: str | dict[str, str] | None = None, spotters: str | os.PathLike | None = None,
                fps: float | None = None, profile: str | Profile | None = None, progress: bool = True,
                edges: str = "include", keep_overlaps: bool = False) -> VideoSpotting:
    """Score and spot one video (no files written); see :func:`spot_video`.

    Args:
        edges, keep_overlaps: the rules for a user's clip (module docs); ``edges="paper",
            keep_overlaps=True`` is the paper's per-type spotting.
    """
    from ..io import cache_dir
    from ..trainfree.ofspot import OFTooShort, analyse_track, cached_track

    video, vfps, vid, path = _open_video(video_or_path, fps)
    n_frames = int(video.n_frames)
    choices = _choices(me, mae, scorer, spotters)
    if profile is None:
        ranking = read_ranking(next((c.folder for c in choices.values() if c.folder), None))
        profile = str(ranking["profile"].iloc[0]) if ranking is not None and len(ranking) else "quick"
    feature_cfg = resolve_profile(profile).features
    analysis = None
    types: dict[str, TypeSpotting] = {}
    for e, c in choices.items():
        if c.checkpoint is not None:
            types[e] = _model_type(e, c, video, vfps, n_frames, progress)
        elif c.scorer == BASELINE_NAME:
            types[e] = _baseline_type(e, c, video, vfps, n_frames, feature_cfg, progress)
        else:
            if analysis is None:
                track = cached_track(video, feature_cfg, cache_root=cache_dir("features"), progress=progress)
                try:
                    analysis = analyse_track(track, vfps, key=vid, progress=progress)
                except OFTooShort as err:             # a note, like a clip too short for a k
                    analysis = err
            types[e] = _of_type(e, c, analysis, vid)
    report = VideoSpotting(vid, path, vfps, n_frames, types, pd.DataFrame(columns=INTERVAL_COLUMNS))
    return respot(report, edges=edges, keep_overlaps=keep_overlaps)


def _interval_table(rows: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=INTERVAL_COLUMNS).astype(
        {"pred_onset": "int64", "pred_offset": "int64", "apex": "int64", "score": "float64"})
    return table.sort_values(["type", "pred_onset"], kind="stable").reset_index(drop=True)


def respot(report: VideoSpotting, *, edges: str = "include", keep_overlaps: bool = False) -> VideoSpotting:
    """Spot a report's scores again under the given rules (no new features or model runs).

    Args:
        report: a :func:`spot_report` result.
        edges: :data:`slswin_lib.spotting.EDGE_RULES` (module docs).
        keep_overlaps: keep ME intervals inside MaE intervals (True) or drop them (module docs).

    Returns:
        A new :class:`VideoSpotting`; ``report`` is left as it was.
    """
    from ..config import check_choice
    from ..spotting import EDGE_RULES, covered_by, spot

    check_choice("edges", edges, EDGE_RULES)
    types = {}
    for e, ts in report.types.items():
        if ts.scorer == "of_spotter":     # intervals found directly: no smoothing, no edge rule
            types[e] = ts
            continue
        note = _too_short(e, report.n_frames, ts.k, report.fps)
        result = None if note else spot(ts.scores, ts.k, ts.t, video=report.vid, edges=edges)
        types[e] = dataclasses.replace(ts, result=result, note=note)
    rows = {e: [{"vid": report.vid, "pred_onset": int(a), "pred_offset": int(b), "type": e, "apex": int(x),
                 "score": float(h), "scorer": ts.who}
                for (a, b), x, h in zip(ts.result.intervals, ts.result.apexes, ts.result.peak_heights)]
            if ts.result is not None else [] for e, ts in types.items()}
    dropped: list[dict] = []
    if not keep_overlaps and rows.get("me") and rows.get("mae"):
        cover = covered_by([(r["pred_onset"], r["pred_offset"]) for r in rows["me"]],
                           [(r["pred_onset"], r["pred_offset"]) for r in rows["mae"]])
        dropped = [r for r, c in zip(rows["me"], cover) if c >= OVERLAP_COVERAGE]
        rows["me"] = [r for r, c in zip(rows["me"], cover) if c < OVERLAP_COVERAGE]
    return dataclasses.replace(report, types=types, table=_interval_table([r for e in rows for r in rows[e]]),
                               edges=edges, keep_overlaps=keep_overlaps, dropped=_interval_table(dropped))


def rules_text(report: VideoSpotting) -> str:
    """One sentence per rule applied to ``report`` (for the plot, the JSON and the printed summary)."""
    edge = ("edge maxima reported: a smoothed-score maximum at the clip's first or last sample counts when it "
            "reaches T" if report.edges == "include" else
            "paper's peak rule: no peak at the first or last smoothed sample")
    label = ("both labels kept where an ME and a MaE interval overlap (--keep-overlaps)" if report.keep_overlaps
             else f"one label per expression: an ME interval with >= {OVERLAP_COVERAGE:.0%} of its frames inside "
                  f"a MaE interval is dropped, the MaE is reported ({len(report.dropped)} dropped)")
    return f"{edge}; {label}"


def _describe(report: VideoSpotting) -> dict[str, Any]:
    """The companion JSON of ``intervals.csv``."""
    return {
        "vid": report.vid, "path": report.path, "fps": report.fps, "n_frames": report.n_frames,
        "rules": {"edges": report.edges, "keep_overlaps": report.keep_overlaps,
                  "overlap_coverage": OVERLAP_COVERAGE, "text": rules_text(report)},
        "types": {e: _describe_type(report, e, ts) for e, ts in report.types.items()},
        "dropped": report.dropped.to_dict(orient="records"),
        "columns": "frames 0-based, inclusive; apex: the interval's centre (optical-flow spotter: its frame of "
                   "largest motion); score: the smoothed score there (optical-flow spotter: the motion, px)",
    }


def _describe_type(report: VideoSpotting, e: str, ts: TypeSpotting) -> dict[str, Any]:
    """One type's entry of ``intervals.json``: its scorer, why it was chosen, its settings and where they came from."""
    out = {"scorer": ts.who, "description": ts.description, "choice": ts.choice,
           "n_reported": int((report.table["type"] == e).sum()), "note": ts.note}
    if ts.scorer == "of_spotter":
        return {**out, "sensitivity": ts.sensitivity, "sensitivity_source": ts.t_source,
                "stats": ts.meta.get("stats", {})}
    return {**out, "k": ts.k, "k_train": ts.k_train, "fps_train": ts.fps_train, "t": ts.t, "t_source": ts.t_source,
            "threshold": None if ts.result is None else float(ts.result.threshold)}


def summary_lines(report: VideoSpotting) -> list[str]:
    """Per type: scorer, k (and the checkpoint's k and fps it came from), t and where t came from (the
    optical-flow spotter: its sensitivity), why the scorer was chosen; the rules."""
    lines = []
    for e, ts in report.types.items():
        if ts.scorer == "of_spotter":
            lines.append(f"{e.upper()}: {ts.description}; sensitivity {ts.sensitivity:.2f} from {ts.t_source}")
        else:
            lines.append(f"{e.upper()}: {ts.description}; k = {ts.k} ({ts.k_train} at {ts.fps_train:g} fps, rescaled "
                         f"to {report.fps:g} fps); t = {ts.t:.2f} from {ts.t_source}")
        if ts.choice.get("reason"):
            lines.append(f"  chosen: {ts.choice['reason']}")
    lines.append(f"rules: {rules_text(report)}")
    return lines


def _plot_of(ax, ts: TypeSpotting, fps: float, title: str) -> None:
    """The optical-flow spotter's panel: its motion curve, the spotted intervals and their apexes."""
    r = ts.result
    ax.plot(np.arange(len(r.smoothed)), r.smoothed, color="tab:blue", lw=1.0,
            label="largest ROI motion above its window minimum")
    for i, (on, off) in enumerate(r.intervals):
        ax.axvspan(on, off, ymin=0.0, ymax=0.08, color="tab:orange", alpha=0.9, label="spotted interval" if i == 0 else None)
        ax.axvline(r.apexes[i], color="tab:orange", lw=0.8, alpha=0.6)
    ax.set_xlim(0, max(len(r.smoothed) - 1, 1))
    ax.set_xlabel("frame")
    ax.set_ylabel("motion (px of the face crop)")
    ax.set_title(title, fontsize=10)
    sec = ax.secondary_xaxis("top", functions=(lambda f: f / fps, lambda x: x * fps))
    sec.set_xlabel("seconds")
    ax.legend(loc="upper right", fontsize=8, ncol=2)


def plot_video_spotting(report: VideoSpotting, *, title: str | None = None):
    """One panel per expression type (scores, smoothed curve, threshold, spotted intervals; the optical-flow
    spotter: its motion curve and intervals).

    Each panel's title names the scorer and its setting (k and t, or sensitivity); the footer says where
    each came from and which rules were applied. ME intervals dropped by the one-label rule are drawn hatched; a type the clip
    is too short for shows its per-frame scores and the reason.
    """
    import matplotlib.pyplot as plt

    from ..plots import plot_spotting

    fig, axes = plt.subplots(len(report.types), 1, figsize=(11, 3.2 * len(report.types) + _FOOTER_INCHES),
                             squeeze=False)
    for ax, (e, ts) in zip(axes[:, 0], report.types.items()):
        head = (f"{report.vid}: {e.upper()} by {ts.who} ({ts.setting}" +
                ("" if ts.scorer == "of_spotter" else f" at {report.fps:g} fps") + ")")
        if ts.scorer == "of_spotter" and ts.result is not None:
            _plot_of(ax, ts, report.fps, head)
        elif ts.result is None:
            ax.plot(np.arange(len(ts.scores)), ts.scores, color="0.4", lw=1.0, marker=".", label="per-frame scores")
            ax.set_xlim(0, max(report.n_frames - 1, 1))
            ax.set_xlabel("frame")
            ax.set_ylabel("score")
            ax.set_title(head, fontsize=10)
            ax.text(0.5, 0.5, textwrap.fill(ts.note, 110), transform=ax.transAxes, ha="center", va="center",
                    fontsize=8, bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "0.6"})
        else:
            plot_spotting(ts.result, scores=ts.scores, ax=ax, fps=report.fps, title=head)
        if e == "me":
            for i, (on, off) in enumerate(report.dropped[["pred_onset", "pred_offset"]].to_numpy()):
                ax.axvspan(on, off, ymin=0.0, ymax=0.08, facecolor="none", edgecolor="0.3", hatch="///",
                           label="dropped: inside a MaE interval" if i == 0 else None)
            if len(report.dropped):
                ax.legend(loc="upper right", fontsize=8, ncol=2)
    footer = [f"{e.upper()} {'sensitivity' if ts.scorer == 'of_spotter' else 't'} from {ts.t_source}"
              for e, ts in report.types.items()] + [rules_text(report)]
    fig.text(0.01, 0.005, "\n".join(textwrap.fill(line, 150) for line in footer), fontsize=7, va="bottom")
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, _FOOTER_INCHES / fig.get_figheight(), 1, 1))
    return fig


def spot_video(video_or_path, *, me: str | os.PathLike | None = None, mae: str | os.PathLike | None = None,
               scorer: str | dict[str, str] | None = None, spotters: str | os.PathLike | None = None,
               fps: float | None = None, out_dir: str | os.PathLike | None = None, profile: str | Profile | None = None,
               progress: bool = True, edges: str = "include", keep_overlaps: bool = False) -> pd.DataFrame:
    """Spot ME/MaE intervals in any video file or frame folder.

    Each type is spotted by the method :func:`slswin_lib.deploy.choice.choose` picks from the spotters
    folder (default: the last run's, :func:`~slswin_lib.deploy.choice.last_run_spotters`): the one with
    the best nested-LOSO F1 of that type on the benchmark among the training-free methods and the exported
    spotters (a line per type says which and why; without a run, the optical-flow spotter). A trained
    spotter's k is rescaled to the video's frame rate (module docs), its features extracted with its
    FeatureConfig (cached under ``cache_dir("features")``) and spotted with its t; the baseline uses the
    paper's CAS(ME)^2 k at 30 fps rescaled (:data:`BASELINE_K`) and the ranking's t (else
    :data:`~slswin_lib.config.BASELINE_T`); the optical-flow spotter the ranking's sensitivity (else its
    source's thresholds). Maxima at the clip's edges are reported and an ME inside a MaE interval is
    dropped unless told otherwise (module docs, "Rules for a user's own clip").

    Args:
        video_or_path: a video file (mp4, avi, ...), a frame folder, or a video object
            (``slswin_lib.data.Video`` / ``ArrayVideo``).
        me, mae: spotter checkpoint files (``spotter_me.pt`` / ``spotter_mae.pt``); when given, only their
            types are spotted, with them.
        scorer: force a scorer (``"of_spotter"``, ``"baseline"``, or a model name with an exported spotter),
            for both types or per type (``{"me": ..., "mae": ...}``).
        spotters: the spotters folder (``runs/<profile>/spotters``); default the last run's.
        fps: frame rate; overrides the file's; required for a frame folder.
        out_dir: where ``intervals.csv``, ``intervals.json`` and ``scores.png`` go (None: nothing written).
        profile: landmark, crop and feature settings of the training-free scorers (default: the ranking's
            profile, else quick; checkpoints bring their own).
        edges: ``"include"`` (default) or ``"paper"``: whether maxima at the clip's edges are reported.
        keep_overlaps: keep an ME interval that lies inside a MaE interval (the raw per-type output).

    Returns:
        DataFrame with :data:`INTERVAL_COLUMNS` (frames 0-based, inclusive; ``score`` is the smoothed
        score at the apex). ``attrs`` holds ``fps``, ``n_frames``, per-type ``k``/``t``/``t_source``/
        ``note``/``choice``, the scorer, ``rules`` (text), ``summary`` (the printed lines), ``dropped`` (the
        dropped ME intervals as records) and, with ``out_dir``, the paths ``intervals_csv``,
        ``intervals_json`` and ``scores_png``.
    """
    report = spot_report(video_or_path, me=me, mae=mae, scorer=scorer, spotters=spotters, fps=fps, profile=profile,
                         progress=progress, edges=edges, keep_overlaps=keep_overlaps)
    for e, ts in report.types.items():
        print(f"{e.upper()}: {ts.who} - {ts.choice.get('reason', '')}")
        if ts.note:
            print(ts.note)
    table = report.table
    table.attrs.update(vid=report.vid, fps=report.fps, n_frames=report.n_frames, scorer=report.scorer,
                       k={e: ts.k for e, ts in report.types.items()}, t={e: ts.t for e, ts in report.types.items()},
                       t_source={e: ts.t_source for e, ts in report.types.items()},
                       note={e: ts.note for e, ts in report.types.items()},
                       choice={e: ts.choice for e, ts in report.types.items()}, rules=rules_text(report),
                       summary=summary_lines(report), dropped=report.dropped.to_dict(orient="records"))
    if out_dir is not None:
        import matplotlib.pyplot as plt

        from ..io import atomic_path, atomic_write_text

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(out / "intervals.csv") as tmp:
            table.to_csv(tmp, index=False)
        atomic_write_text(out / "intervals.json", json.dumps(_describe(report), indent=1) + "\n")
        fig = plot_video_spotting(report)
        with atomic_path(out / "scores.png") as tmp:
            fig.savefig(tmp, dpi=110)
        plt.close(fig)
        table.attrs.update(intervals_csv=str(out / "intervals.csv"), intervals_json=str(out / "intervals.json"),
                           scores_png=str(out / "scores.png"))
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
        from ..features.tracking import landmark_model_path, landmarker

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
