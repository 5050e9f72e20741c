"""MEGC interval evaluation (paper Section 3.2): IoU matching, TP/FP/FN, precision, recall, F1.

Two matching modes, both with frames counted inclusively
(``IoU = |W n G| / |W u G|``, an interval ``[a, b]`` holding ``b - a + 1`` frames):

``"megc"``
    The MEGC rule: a spotted interval is a true positive when ``IoU >= 0.5`` with a ground
    truth of the same video; each ground truth is matched at most once, and the matching
    maximises the number of true positives (maximum bipartite matching). A video without a
    spotted interval contributes no false positive.
``"authors"``
    What the authors' code does (docs/method.md, Section 4, [code]), needed to reproduce the published counts:
    spotted intervals are taken in order and each is compared only with its best-IoU ground
    truth (the first one on ties); it is a true positive when that IoU is ``> 0.5`` strictly and
    that ground truth is still unmatched, else a false positive. A video without any spotted
    interval adds one false positive (a placeholder prediction in the authors' code).

Unmatched ground truths are false negatives. "Overall" figures pool the counts of several
types (and data sets). :func:`bootstrap_f1` gives a confidence interval of the pooled F1 over
videos (resampling whole videos, Efron & Tibshirani 1993, percentile interval).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

__all__ = [
    "MODES",
    "Counts",
    "interval_iou",
    "match_video",
    "evaluate",
    "metrics_table",
    "F1Interval",
    "bootstrap_f1",
]

MODES = ("megc", "authors")


@dataclass(frozen=True)
class Counts:
    """True/false positive and false negative counts, with the derived metrics."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        """``2TP / (2TP + FP + FN)`` (equal to the harmonic mean of precision and recall)."""
        denom = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denom if denom else 0.0

    def as_dict(self) -> dict[str, float]:
        return {"TP": self.tp, "FP": self.fp, "FN": self.fn, "precision": self.precision,
                "recall": self.recall, "F1": self.f1}


def _as_intervals(x, what: str, video: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.int64).reshape(-1, 2)
    bad = np.flatnonzero(arr[:, 0] > arr[:, 1])
    if len(bad):
        a, b = arr[bad[0]]
        raise ValueError(f"{what} interval [{a}, {b}] of video {video} has onset > offset")
    return arr


def interval_iou(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """IoU of every pair of inclusive frame intervals.

    Args:
        pred: ``(P, 2)`` ``[onset, offset]`` rows.
        gt: ``(G, 2)`` ``[onset, offset]`` rows.

    Returns:
        ``(P, G)`` float64 IoU matrix.

    >>> interval_iou(np.array([[0, 9]]), np.array([[5, 14], [10, 12]])).round(4).tolist()
    [[0.3333, 0.0]]
    """
    pred = np.asarray(pred, dtype=np.int64).reshape(-1, 2)
    gt = np.asarray(gt, dtype=np.int64).reshape(-1, 2)
    inter = (np.minimum(pred[:, None, 1], gt[None, :, 1])
             - np.maximum(pred[:, None, 0], gt[None, :, 0]) + 1).clip(min=0)
    union = (pred[:, None, 1] - pred[:, None, 0] + 1) + (gt[None, :, 1] - gt[None, :, 0] + 1) - inter
    return inter / union


def match_video(pred, gt, mode: str = "megc", *, video: str = "") -> tuple[Counts, list[tuple[int, int]]]:
    """Match one video's spotted intervals with its ground truths.

    Args:
        pred: ``(P, 2)`` spotted ``[onset, offset]`` intervals (inclusive frames), P may be 0.
        gt: ``(G, 2)`` ground-truth intervals, G may be 0.
        mode: ``"megc"`` or ``"authors"`` (see the module docstring).
        video: name used in error messages.

    Returns:
        The counts and the list of matched ``(pred index, gt index)`` pairs.
    """
    if mode not in MODES:
        raise ValueError(f"unknown matching mode {mode!r}; choose one of {MODES}")
    pred = _as_intervals(pred, "spotted", video)
    gt = _as_intervals(gt, "ground-truth", video)
    iou = interval_iou(pred, gt)
    pairs: list[tuple[int, int]] = []
    if mode == "authors":
        if len(pred) == 0:
            return Counts(0, 1, len(gt)), pairs
        matched = np.zeros(len(gt), dtype=bool)
        for p in range(len(pred)):
            if len(gt) == 0:
                continue
            g = int(np.argmax(iou[p]))
            if iou[p, g] > 0.5 and not matched[g]:
                matched[g] = True
                pairs.append((p, g))
    elif len(pred) and len(gt):
        graph = csr_matrix(iou >= 0.5)
        gt_of_pred = maximum_bipartite_matching(graph, perm_type="column")
        pairs = [(p, int(g)) for p, g in enumerate(gt_of_pred) if g >= 0]
    tp = len(pairs)
    return Counts(tp, len(pred) - tp, len(gt) - tp), pairs


def _group(df: pd.DataFrame | None, key: str) -> dict[str, np.ndarray]:
    if df is None or len(df) == 0:
        return {}
    return {str(v): g[["onset", "offset"]].to_numpy(np.int64) for v, g in df.groupby(key, sort=False)}


def evaluate(spotted: Mapping[str, np.ndarray], ground_truth: pd.DataFrame | Mapping[str, np.ndarray],
             mode: str = "megc", *, key: str = "video") -> tuple[Counts, pd.DataFrame]:
    """Evaluate the spotted intervals of a set of videos of one expression type.

    Args:
        spotted: video name -> ``(P, 2)`` spotted intervals; every evaluated video must be a key
            (an empty array for a video without a spotted interval).
        ground_truth: DataFrame with columns ``key``, ``onset``, ``offset`` (0-based, inclusive),
            or a mapping video -> ``(G, 2)``. Videos without ground truth are allowed.
        mode: ``"megc"`` or ``"authors"``.

    Returns:
        The pooled counts and a per-video DataFrame (video, n_spotted, n_gt, TP, FP, FN).

    Raises:
        ValueError: a ground truth names a video that is not among the spotted videos.
    """
    gt = ground_truth if isinstance(ground_truth, Mapping) else _group(ground_truth, key)
    unknown = sorted(set(gt) - set(spotted))
    if unknown:
        raise ValueError(f"{len(unknown)} video(s) have ground truth but no spotting result "
                         f"(first: {unknown[0]}); evaluate every video of the set")
    rows, total = [], Counts()
    for video, pred in spotted.items():
        counts, _ = match_video(pred, gt.get(video, np.empty((0, 2), np.int64)), mode, video=video)
        total = total + counts
        rows.append({"video": video, "n_spotted": len(np.asarray(pred).reshape(-1, 2)),
                     "n_gt": len(gt.get(video, ())), "TP": counts.tp, "FP": counts.fp, "FN": counts.fn})
    return total, pd.DataFrame(rows, columns=["video", "n_spotted", "n_gt", "TP", "FP", "FN"])


def metrics_table(counts: Mapping[str, Counts], overall: Iterable[str] | None = None) -> pd.DataFrame:
    """A DataFrame with one row per entry (TP, FP, FN, precision, recall, F1) plus ``overall``.

    Args:
        counts: name (e.g. ``"me"``, ``"mae"``) -> counts.
        overall: names pooled into an ``overall`` row; default all of them (no row for one entry).
    """
    rows = {name: c.as_dict() for name, c in counts.items()}
    names = list(counts) if overall is None else list(overall)
    if len(names) > 1:
        pooled = Counts()
        for name in names:
            pooled = pooled + counts[name]
        rows["overall"] = pooled.as_dict()
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "type"
    return table.astype({"TP": int, "FP": int, "FN": int})


#: columns of the per-video counts that :func:`bootstrap_f1` resamples
COUNT_COLUMNS = ("TP", "FP", "FN")


@dataclass(frozen=True)
class F1Interval:
    """Pooled F1 of a set of videos with its bootstrap confidence interval ``[low, high]``."""

    f1: float
    low: float
    high: float
    confidence: float
    n_videos: int


def _pooled_f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, axis: int = -1) -> np.ndarray:
    """``2TP / (2TP + FP + FN)`` of counts summed along ``axis`` (0 where nothing was counted)."""
    tp, fp, fn = (np.sum(a, axis=axis) for a in (tp, fp, fn))
    denom = 2 * tp + fp + fn
    return np.divide(2 * tp, denom, out=np.zeros(np.shape(denom), dtype=np.float64), where=denom > 0)


def bootstrap_f1(per_video_counts: pd.DataFrame, n_resamples: int = 9999, confidence: float = 0.95,
                 seed: int = 0) -> F1Interval:
    """Bootstrap confidence interval of the pooled F1 over videos.

    Videos are resampled with replacement as whole units (their TP, FP and FN stay together,
    ``scipy.stats.bootstrap`` with ``paired=True``); each resample's counts are summed and give
    ``F1 = 2TP / (2TP + FP + FN)``; the interval is the percentile interval of those F1 values.

    Args:
        per_video_counts: one row per video with integer columns ``TP``, ``FP``, ``FN`` (the
            per-video table of :func:`evaluate` or ``slswin_lib.scores.spot_score_set``).
        n_resamples: bootstrap resamples.
        confidence: confidence level of the two-sided interval.
        seed: seeds the resampling (the same seed gives the same interval).

    Returns:
        The pooled F1 of all videos and its interval. With fewer than two videos, or when every
        video has the same counts (every resample then has the same F1), the interval is the
        point ``[F1, F1]``.

    Raises:
        ValueError: a count column is missing or negative, or ``confidence`` is outside (0, 1).
    """
    from scipy.stats import bootstrap

    missing = [c for c in COUNT_COLUMNS if c not in per_video_counts.columns]
    if missing:
        raise ValueError(f"per-video counts lack column(s) {missing}; pass the per-video table of "
                         "evaluate() or spot_score_set() (columns TP, FP, FN)")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence = {confidence} must lie in (0, 1), e.g. 0.95")
    counts = per_video_counts[list(COUNT_COLUMNS)].to_numpy(np.int64)
    if np.any(counts < 0):
        raise ValueError("per-video counts must be >= 0")
    tp, fp, fn = counts.T
    f1 = float(_pooled_f1(tp, fp, fn))
    if len(counts) < 2 or np.all(counts == counts[0]):
        return F1Interval(f1, f1, f1, confidence, len(counts))
    result = bootstrap((tp, fp, fn), _pooled_f1, n_resamples=n_resamples, paired=True, vectorized=True,
                       confidence_level=confidence, method="percentile", rng=np.random.default_rng(seed))
    ci = result.confidence_interval
    return F1Interval(f1, float(ci.low), float(ci.high), confidence, len(counts))
