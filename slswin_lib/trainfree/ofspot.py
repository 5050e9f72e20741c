"""The training-free optical-flow spotter (He Yuhong et al., MEGC 2024 code, :data:`slswin_lib.config.OF_SOURCE`).

No training and no GPU: a video's face track (landmarks and face crops of
:mod:`slswin_lib.features`, cached) is cut into overlapping analysis windows; in each, the motion of 16
ROI signals (brows, mouth, nose sides) relative to the window's first frame, the head's motion removed
with the nose tip's (:mod:`~slswin_lib.trainfree.of_signals`), is filtered, detrended and searched for
rises (:mod:`~slswin_lib.trainfree.of_analysis`); the intervals of all signals and windows are merged,
kept within the length limits and typed by length: ME when ``offset - onset`` is at most half a second
(15 frames at 30 fps), else MaE.

Windows (:attr:`~slswin_lib.config.OFSpotConfig.window` frames, 200 at 30 fps) start at frame 0 and
move on by half a window, or past an interval found over the window's middle (the source's rule, applied
to the intervals found at the source's thresholds: window placement does not depend on
:attr:`~slswin_lib.config.OFSpotConfig.sensitivity`, so one analysis serves every sensitivity,
:meth:`OFAnalysis.spot`). A video at more than 1.5 times the source's 30 fps is analysed at every
``s``-th frame (``s = round(fps / 30)``; SAMM-LV's 200 fps: every 7th, as the source does).

Bad input is refused with :class:`~slswin_lib.trainfree.of_signals.OFError` naming the video (and frame):
no frame rate, a clip shorter than the shortest window (:attr:`~slswin_lib.config.OFSpotConfig.min_window`,
2 s), no face in any frame, a flow that is not finite. Frames without a face are a counted skip: a
window's reference moves to the next frame with a face, and a frame without one inside a window takes
its signals from its neighbours (``OFResult.stats``).

>>> from slswin_lib.trainfree import analyse_video                  # doctest: +SKIP
>>> result = analyse_video("clip.mp4").spot()                       # doctest: +SKIP
>>> result.of_type("mae")                                           # doctest: +SKIP
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from ..config import OF_SPOT, FeatureConfig, OFSpotConfig
from .of_analysis import (analyse_signal, analysis_params, keep_lengths, lowpass, merge_twice, next_step,
                          scaled_frames, types_of)
from .of_signals import OFError, OFTooShort, face_scale, flow_computer, layout, signal_groups, window_signals

__all__ = ["OF_SCORER", "OF_DESCRIPTION", "OFError", "OFTooShort", "OFResult", "WindowAnalysis", "OFAnalysis", "analysis_stride",
           "analyse_track", "cached_track", "analyse_video"]

#: the optical-flow spotter's scorer name (``spot --scorer``, the ``scorer`` column)
OF_SCORER = "of_spotter"
#: how ``spot`` describes it
OF_DESCRIPTION = "optical-flow spotter (He et al., MEGC 2024 code; training-free)"


def analysis_stride(fps: float, cfg: OFSpotConfig = OF_SPOT) -> int:
    """Every how many frames a video at ``fps`` is analysed (module docs).

    >>> analysis_stride(30.0), analysis_stride(25.0), analysis_stride(200.0), analysis_stride(60.0)
    (1, 1, 7, 2)
    """
    return max(1, int(round(fps / cfg.source_fps)))


@dataclass
class WindowAnalysis:
    """One analysis window: its first sample (``start``, in analysed samples), its filtered signal curves
    ``(n_signals, length - 2 trim)`` and each signal's ROI group; the detrended curves are computed when
    first needed (:meth:`detrended`) and kept."""

    start: int
    length: int
    curves: np.ndarray
    groups: list[str]
    _detrended: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    def detrended(self, i: int) -> np.ndarray:
        from .of_analysis import detrend

        if i not in self._detrended:
            self._detrended[i] = detrend(self.curves[i])
        return self._detrended[i]

    def intervals(self, params: dict, rate: float, cfg: OFSpotConfig) -> np.ndarray:
        """Every signal's intervals, merged (twice), in analysed samples of the video ``(K, 2)``."""
        found = [analyse_signal(None, params[g], rate, cfg, curve=c, detrended=lambda i=i: self.detrended(i))
                 for i, (c, g) in enumerate(zip(self.curves, self.groups))]
        return merge_twice(np.concatenate(found) + self.start, cfg.merge_overlap)

    def motion(self) -> np.ndarray:
        """The largest rise of any signal above its minimum in the window, per sample ``(length - 2 trim,)``."""
        return (self.curves - self.curves.min(axis=1, keepdims=True)).max(axis=0)


@dataclass
class OFResult:
    """The optical-flow spotter's intervals in one video, at one sensitivity.

    Attributes:
        intervals: ``(K, 2)`` spotted ``[onset, offset]`` (video frames, inclusive), by onset.
        types: ``(K,)`` ``"me"`` or ``"mae"`` (by length).
        apexes, heights: ``(K,)`` the frame of each interval's largest :attr:`motion` and its value.
        motion: ``(n_frames,)`` the largest rise of any ROI signal above its window minimum (px of the
            video's face crop; NaN where no window reaches), for plots.
        windows: ``(W, 2)`` the analysed windows' first and last frames.
        stats: counted skips and sizes: ``frames_without_face``, ``references_moved``, ``windows_skipped``,
            ``windows``, ``stride``, ``face_scale``.
    """

    key: str
    fps: float
    n_frames: int
    sensitivity: float
    intervals: np.ndarray
    types: np.ndarray
    apexes: np.ndarray
    heights: np.ndarray
    motion: np.ndarray
    windows: np.ndarray
    stats: dict

    def of_type(self, expression: str) -> np.ndarray:
        """``(P, 2)`` the intervals typed ``expression`` (``"me"`` or ``"mae"``)."""
        return self.intervals[self.types == expression]


@dataclass
class OFAnalysis:
    """A video's analysis windows (:func:`analyse_track`); :meth:`spot` turns them into intervals."""

    key: str
    fps: float
    n_frames: int
    stride: int
    face_scale: float
    cfg: OFSpotConfig
    windows: list[WindowAnalysis]
    stats: dict
    _spotted: dict = field(default_factory=dict, repr=False)

    @property
    def rate(self) -> float:
        """The analysed frame rate."""
        return self.fps / self.stride

    def params(self, sensitivity: float) -> dict:
        return {g: analysis_params(self.cfg, g, self.face_scale, self.rate, sensitivity)
                for g in dict(self.cfg.rise_px)}

    def _window_intervals(self, w: int, sensitivity: float) -> np.ndarray:
        key = (w, float(sensitivity))
        if key not in self._spotted:
            self._spotted[key] = self.windows[w].intervals(self.params(sensitivity), self.rate, self.cfg)
        return self._spotted[key]

    def motion(self) -> np.ndarray:
        """:attr:`OFResult.motion` (per video frame)."""
        n_a = -(-self.n_frames // self.stride)
        per_sample = np.full(n_a, np.nan)
        trim = self.cfg.trim_samples
        for w in self.windows:
            m = w.motion()
            sl = slice(w.start + trim, w.start + trim + len(m))
            per_sample[sl] = np.fmax(per_sample[sl], m)
        return per_sample[np.arange(self.n_frames) // self.stride]

    def spot(self, sensitivity: float | None = None) -> OFResult:
        """The spotted intervals at ``sensitivity`` (default the settings'; 1: the source's thresholds)."""
        f = self.cfg.sensitivity if sensitivity is None else float(sensitivity)
        if not f > 0:
            raise ValueError(f"sensitivity = {sensitivity} must be > 0 (1: the source's thresholds)")
        found = [self._window_intervals(w, f) for w in range(len(self.windows))]
        iv = merge_twice(keep_lengths(np.concatenate(found or [np.zeros((0, 2), np.int64)]), self.rate, self.cfg),
                         self.cfg.merge_overlap)
        types = types_of(iv, self.rate, self.cfg)
        last = self.n_frames - 1
        frames = np.clip(iv * self.stride, 0, last)
        order = np.argsort(frames[:, 0], kind="stable")
        frames, types = frames[order], types[order]
        motion = self.motion()
        apexes = np.array([a + int(np.nanargmax(motion[a:b + 1])) if np.isfinite(motion[a:b + 1]).any() else (a + b) // 2
                           for a, b in frames], dtype=np.int64)
        heights = np.array([motion[x] for x in apexes], dtype=np.float64)
        windows = np.array([(w.start * self.stride, min((w.start + w.length - 1) * self.stride, last))
                            for w in self.windows], dtype=np.int64).reshape(-1, 2)
        stats = {**self.stats, "windows": len(self.windows), "stride": self.stride, "face_scale": self.face_scale}
        return OFResult(self.key, self.fps, self.n_frames, f, frames, types, apexes, heights, motion, windows, stats)


def analyse_track(track, fps: float, cfg: OFSpotConfig = OF_SPOT, *, key: str = "video",
                  progress: bool = False) -> OFAnalysis:
    """The analysis windows of a video from its face track (module docs).

    Args:
        track: a :class:`~slswin_lib.features.tracking.FaceTrack` (crops, dlib-68 points in crop px, boxes,
            frames without a face) of every frame.
        fps: the video's frame rate.

    Raises:
        OFError: no frame rate, a clip shorter than the shortest window, no face (naming ``key``).
    """
    from tqdm.auto import tqdm

    if fps is None or not np.isfinite(fps) or fps <= 0:
        raise OFError(f"{key}: the frame rate is unknown ({fps!r}); give it (fps=N, or --fps N)")
    n = len(track.crops)
    stride = analysis_stride(fps, cfg)
    rate = fps / stride
    idx = np.arange(0, n, stride)
    shortest = scaled_frames(cfg.min_window, rate, cfg)
    if len(idx) < shortest:
        raise OFTooShort(f"{key}: {n} frames ({len(idx)} analysed at {rate:g} fps) are fewer than the optical-flow "
                      f"spotter's shortest window of {shortest} frames ({shortest / rate:.1f} s); give a longer clip")
    missing = np.asarray(track.missing, dtype=bool)[idx]
    scale = face_scale(track.pts68[idx], missing, cfg, key=key)
    layout(track.pts68[idx[np.flatnonzero(~missing)[0]]], cfg, scale, track.crops.shape[1], where=key)
    flow = flow_computer(cfg, scale)
    length = scaled_frames(cfg.window, rate, cfg)
    stats = {"frames_without_face": int(missing.sum()), "references_moved": 0, "windows_skipped": 0}
    windows: list[WindowAnalysis] = []
    params = {g: analysis_params(cfg, g, scale, rate, 1.0) for g in dict(cfg.rise_px)}
    trim = cfg.trim_samples
    bar = tqdm(total=len(idx), desc=f"optical-flow spotter {key}", unit="frame", disable=not progress, leave=False)
    start = 0
    while start < len(idx):
        while start < len(idx) and missing[start]:
            start += 1
            stats["references_moved"] += 1
        stop = min(start + length, len(idx))
        if stop - start < shortest:
            stats["windows_skipped"] += int(start < len(idx))
            break
        sel = idx[start:stop]
        signals, _, _ = window_signals(track.crops[sel], missing[start:stop], track.pts68[sel[0]],
                                       cfg, scale, flow, key=key, frames=sel)
        curves = np.stack([lowpass(s[trim:len(s) - trim], rate, cfg.lowpass_hz) for s in signals])
        w = WindowAnalysis(start, stop - start, curves, signal_groups(cfg))
        windows.append(w)
        bar.update(max(stop - bar.n, 0))
        if stop == len(idx):
            break
        start += next_step(w.intervals(params, rate, cfg) - start, stop - start, rate, cfg)
    bar.close()
    if not windows:
        raise OFError(f"{key}: no window of at least {shortest} frames starts at a frame with a face")
    return OFAnalysis(key, float(fps), n, stride, scale, cfg, windows, stats)


def cached_track(video, feature_cfg: FeatureConfig, *, cache_root: str | os.PathLike | None = None,
                 progress: bool = False):
    """The face track of ``video`` from the feature cache (the one the features were extracted with), or
    tracked now and cached (:mod:`slswin_lib.features.cache`)."""
    from ..features.cache import load_track, save_track, track_file
    from ..features.tracking import track_face

    path = track_file(video, feature_cfg, cache_root)
    if path.exists():
        return load_track(path)
    track = track_face(video, feature_cfg, progress=progress)
    save_track(path, track)
    return track


def analyse_video(video_or_path, *, fps: float | None = None, feature_cfg: FeatureConfig | None = None,
                  cfg: OFSpotConfig = OF_SPOT, cache_root: str | os.PathLike | None = None,
                  progress: bool = False) -> OFAnalysis:
    """:func:`analyse_track` of a video file, frame folder or video object (its face track cached).

    Args:
        fps: the frame rate (overrides the file's; required for a frame folder).
        feature_cfg: landmark and crop settings (default :class:`~slswin_lib.config.FeatureConfig`'s).
        cache_root: the feature cache (default ``cache_dir("features")``).
    """
    from ..data import load_dataset

    if isinstance(video_or_path, (str, os.PathLike)):
        ds = load_dataset("video", video_or_path, fps=fps)
        if len(ds.videos) != 1:
            raise OFError(f"{video_or_path} holds {len(ds.videos)} videos; pass one video file or frame folder")
        video = ds.videos[0]
    else:
        video = video_or_path
    rate = fps if fps is not None else getattr(video, "fps", None)
    key = str(getattr(video, "key", "video"))
    track = cached_track(video, feature_cfg or FeatureConfig(), cache_root=cache_root, progress=progress)
    return analyse_track(track, rate, cfg, key=key, progress=progress)
