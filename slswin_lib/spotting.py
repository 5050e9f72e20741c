"""Spotting (paper Section 2.5): per-frame scores -> smoothed curve -> threshold -> peaks -> intervals.

Frame indices (0-based) used throughout:

* score ``s_j`` (j = 0 .. n_frames - k - 1) belongs to the feature of frame ``j`` and ``j + k``
  (optical flow between the two), i.e. to the sample that covers frames ``[j, j + k]``;
* the smoothed curve is ``s^_i = mean(s_i .. s_{i + w - 1})`` with window ``w = 2k``: one value for
  each i = 0 .. n_scores - w (the "valid" part of a moving average);
* a peak of ``s^`` at ``i`` is an apex at frame ``i + k``; the spotted interval is
  ``[apex - k, apex + k] = [i, i + 2k]`` (inclusive).

The threshold is Moilanen's ``T = mean(s^) + t (max(s^) - mean(s^))``; peaks are found with
``scipy.signal.find_peaks(s^, height=T, distance=k)``.

**Edges.** ``find_peaks`` never reports the first or last sample of ``s^`` (a sample is a peak only
when it is higher than a neighbour on each side). That is the paper's rule and the MEGC evaluation
keeps it (``edges="paper"``, the default everywhere). ``edges="include"`` (used by
:func:`slswin_lib.deploy.spot_video` on a user's own, possibly short, clip) pads ``s^`` with one
``-inf`` on each side before peak finding, so a maximum at the clip's first or last smoothed sample is
reported too when it reaches T. Every interval ``[i, i + 2k]`` lies inside the video's frames either
way (``i + 2k <= n_scores <= n_frames - 1``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import find_peaks

from .config import PAPER_T, check_choice, check_threshold_factor

__all__ = ["EDGE_RULES", "SpotResult", "smooth_scores", "moilanen_threshold", "spot", "spot_smoothed",
           "covered_by"]

#: how maxima at the first / last smoothed sample are treated (module docs)
EDGE_RULES = ("paper", "include")


@dataclass(frozen=True)
class SpotResult:
    """What :func:`spot` found in one video.

    Attributes:
        smoothed: ``(n_scores - window + 1,)`` smoothed scores; value ``i`` is centred on frame ``i + k``.
        threshold: the height threshold T applied to ``smoothed``.
        peaks: ``(P,)`` indices into ``smoothed`` of the spotted peaks.
        apexes: ``(P,)`` apex frames, ``peaks + k``.
        intervals: ``(P, 2)`` int array of inclusive ``[onset, offset]`` frames, ``[apex - k, apex + k]``.
        peak_heights: ``(P,)`` smoothed score at each peak.
        k: the half-length used.
    """

    smoothed: np.ndarray
    threshold: float
    peaks: np.ndarray
    apexes: np.ndarray
    intervals: np.ndarray
    peak_heights: np.ndarray
    k: int


def _check_k(k: int, name: str = "k") -> int:
    if int(k) != k or k < 1:
        raise ValueError(f"{name} must be a positive integer, got {k!r}")
    return int(k)


def smooth_scores(scores: np.ndarray, window: int, *, video: str = "") -> np.ndarray:
    """Moving average over ``window`` consecutive scores ("valid" part only).

    Args:
        scores: ``(n,)`` finite per-frame scores (a trailing singleton axis is accepted).
        window: number of scores averaged (paper Section 2.5: ``2k``).
        video: name used in error messages.

    Returns:
        ``(n - window + 1,)`` float64 array, ``out[i] = scores[i : i + window].mean()``.
    """
    where = f" in video {video}" if video else ""
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim == 2 and s.shape[1] == 1:
        s = s[:, 0]
    if s.ndim != 1:
        raise ValueError(f"scores{where} must be one-dimensional, got shape {s.shape}")
    window = _check_k(window, "window")
    if not np.all(np.isfinite(s)):
        bad = np.flatnonzero(~np.isfinite(s))
        raise ValueError(f"{len(bad)} non-finite scores{where} (first at index {bad[0]}): "
                         "fix the model output before spotting")
    if len(s) < window:
        raise ValueError(f"video{where or ''} has {len(s)} scores, fewer than the smoothing window of "
                         f"{window}: it is too short to spot (needs at least {window} scores)")
    return np.lib.stride_tricks.sliding_window_view(s, window).mean(axis=-1)


def moilanen_threshold(smoothed: np.ndarray, t: float) -> float:
    """``T = mean + t (max - mean)`` of the smoothed scores (Moilanen et al. 2014)."""
    mean = float(np.mean(smoothed))
    return mean + t * (float(np.max(smoothed)) - mean)


def spot(scores: np.ndarray, k: int, t: float = PAPER_T, *, window: int | None = None,
         distance: int | None = None, video: str = "", edges: str = "paper") -> SpotResult:
    """Spot expression intervals in one video's per-frame scores (paper Section 2.5).

    Args:
        scores: ``(n_frames - k,)`` per-frame scores, score ``j`` for frames ``[j, j + k]``.
        k: half the mean expression length of the expression type (paper Section 2.1).
        t: threshold factor in ``(0, 1]`` (paper: :data:`~slswin_lib.config.PAPER_T`).
        window: smoothing window; default ``2k``.
        distance: minimum number of samples between peaks; default ``k``.
        video: name used in error messages.
        edges: ``"paper"`` (a maximum at the first or last smoothed sample is never a peak: the
            paper's and MEGC's rule) or ``"include"`` (such a maximum is reported when it reaches T;
            module docs).

    Raises:
        ValueError: ``t`` is outside ``(0, 1]``, ``k``/``window``/``distance`` is not a positive
            integer, ``edges`` is not one of :data:`EDGE_RULES`, or the scores are not a finite 1-D
            array at least ``window`` long.
    """
    check_threshold_factor("t", t)
    k = _check_k(k)
    window = 2 * k if window is None else _check_k(window, "window")
    return spot_smoothed(smooth_scores(scores, window, video=video), k, t, distance=distance, edges=edges)


def spot_smoothed(smoothed: np.ndarray, k: int, t: float = PAPER_T, *, distance: int | None = None,
                  edges: str = "paper") -> SpotResult:
    """The threshold, peak and interval steps of :func:`spot` on an already smoothed curve.

    Lets a sweep over t smooth each video once (:func:`slswin_lib.scores.t_sweep`, which keeps the
    default ``edges="paper"``).

    Raises:
        ValueError: ``t`` is outside ``(0, 1]``, ``k``/``distance`` is not a positive integer or
            ``edges`` is not one of :data:`EDGE_RULES`.
    """
    check_threshold_factor("t", t)
    check_choice("edges", edges, EDGE_RULES)
    k = _check_k(k)
    distance = k if distance is None else _check_k(distance, "distance")
    threshold = moilanen_threshold(smoothed, t)
    if edges == "include":
        padded = np.pad(np.asarray(smoothed, dtype=np.float64), 1, constant_values=-np.inf)
        peaks, props = find_peaks(padded, height=threshold, distance=distance)
        peaks = peaks - 1
    else:
        peaks, props = find_peaks(smoothed, height=threshold, distance=distance)
    apexes = peaks + k
    intervals = np.stack([apexes - k, apexes + k], axis=1).astype(np.int64).reshape(-1, 2)
    return SpotResult(smoothed=smoothed, threshold=threshold, peaks=peaks, apexes=apexes,
                      intervals=intervals, peak_heights=props["peak_heights"], k=k)


def covered_by(inner: np.ndarray, outer: np.ndarray) -> np.ndarray:
    """For each ``inner`` interval, the largest fraction of its frames inside one ``outer`` interval.

    Frames are counted inclusively (``[a, b]`` holds ``b - a + 1`` frames). The coverage of an interval
    is never below its IoU with the same partner, so "coverage >= c" includes every pair with
    "IoU >= c".

    Args:
        inner: ``(P, 2)`` ``[onset, offset]`` intervals (e.g. spotted ME intervals).
        outer: ``(Q, 2)`` intervals (e.g. spotted MaE intervals of the same video).

    Returns:
        ``(P,)`` float64 in ``[0, 1]`` (0 for every interval when ``Q == 0``).

    >>> covered_by(np.array([[4, 16], [40, 52]]), np.array([[0, 36]])).tolist()
    [1.0, 0.0]
    """
    a = np.asarray(inner, dtype=np.int64).reshape(-1, 2)
    b = np.asarray(outer, dtype=np.int64).reshape(-1, 2)
    if len(a) == 0 or len(b) == 0:
        return np.zeros(len(a))
    inter = np.minimum(a[:, None, 1], b[None, :, 1]) - np.maximum(a[:, None, 0], b[None, :, 0]) + 1
    return (np.clip(inter, 0, None) / (a[:, 1] - a[:, 0] + 1)[:, None]).max(axis=1)
