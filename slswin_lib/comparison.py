"""Comparisons that hold: F1 intervals and paired F1 differences over resampling units.

A bootstrap interval is only as good as its units. Resampling whole videos (Efron & Tibshirani
1993) is right when there are many; with few held-out videos (the quick benchmark's ablations hold
out 2, its full LOSO 6) a video bootstrap has a handful of distinct resamples and its intervals mean
little. Then the units are fixed-length **time blocks** of the videos (a moving-block bootstrap
without overlap, Künsch 1989): each spotted and each ground-truth interval is counted in the block
of its onset, and blocks are resampled whole. :func:`choose_units` picks videos when there are at
least :data:`~slswin_lib.config.BOOTSTRAP_MIN_VIDEOS`, else blocks of
:data:`~slswin_lib.config.BOOTSTRAP_BLOCK_SECONDS`.

Two methods (or settings) scored on the same held-out videos are compared by a **paired**
bootstrap of their F1 difference (:func:`paired_difference`): both methods' per-unit counts are
resampled together, so what they share (the same hard videos, the same quiet stretches) cancels.
A difference is *resolved* only when its 95 % interval excludes 0; comparing two unpaired
intervals for overlap is neither necessary nor sufficient for that.

Per-unit counts (:func:`unit_counts`) follow each matching rule of :mod:`slswin_lib.evaluation`:
a true positive is counted in the block of its ground truth's onset (recall's numerator) and of
its spotted interval's onset (precision's numerator, ``TP_pred``), a false positive in the block
of the spotted interval's onset, a false negative in the block of the ground truth's onset; their
sums are exactly the rule's :class:`~slswin_lib.evaluation.Counts`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .config import BOOTSTRAP_BLOCK_SECONDS, BOOTSTRAP_MIN_VIDEOS, INTERVAL_RESAMPLES
from .evaluation import MODES, Counts, f1_of, interval_iou, match_video
from .timing import BOOTSTRAP, SPOTTING, timed

__all__ = ["Units", "choose_units", "unit_counts", "F1Difference", "paired_difference", "spotted_at",
           "spotted_nested", "set_unit_counts", "video_frames", "counts_of", "UNIT_COLUMNS"]

#: the count columns of a per-unit table (``TP_pred``: true positives over the spotted intervals)
UNIT_COLUMNS = ("TP", "FP", "FN", "TP_pred")


@dataclass(frozen=True)
class Units:
    """The resampling units of a set of videos: whole videos, or time blocks of ``block_seconds``.

    Attributes:
        kind: ``"videos"`` or ``"time blocks"``.
        frames: video -> its frame count.
        block_frames: video -> frames per block (its fps x ``block_seconds``, rounded); empty for videos.
        block_seconds: the block length (None for videos).
    """

    kind: str
    frames: Mapping[str, int]
    block_frames: Mapping[str, int]
    block_seconds: float | None = None

    def blocks_of(self, video: str) -> int:
        """How many units ``video`` holds (1 for video units)."""
        if self.kind == "videos":
            return 1
        return max(1, math.ceil(self.frames[video] / self.block_frames[video]))

    def unit_of(self, video: str, onset: int) -> int:
        """The unit (block number within ``video``) that an interval starting at ``onset`` belongs to."""
        if self.kind == "videos":
            return 0
        return min(int(onset) // self.block_frames[video], self.blocks_of(video) - 1)

    @property
    def n(self) -> int:
        """The number of units."""
        return sum(self.blocks_of(v) for v in self.frames)

    def describe(self) -> str:
        """E.g. ``"87 time blocks of 10 s (6 videos)"`` or ``"57 videos"``.

        >>> choose_units({"a": 300, "b": 295}, 30.0).describe()
        '2 time blocks of 10 s (2 videos)'
        """
        if self.kind == "videos":
            return f"{self.n} videos"
        return f"{self.n} time blocks of {self.block_seconds:g} s ({len(self.frames)} videos)"


def choose_units(frames: Mapping[str, int], fps: float | Mapping[str, float] | None, *,
                 min_videos: int = BOOTSTRAP_MIN_VIDEOS, block_seconds: float = BOOTSTRAP_BLOCK_SECONDS) -> Units:
    """Videos as units when there are at least ``min_videos``, else time blocks of ``block_seconds``.

    Args:
        frames: video -> frame count (every evaluated video).
        fps: the videos' frame rate (one value, or per video); needed only for time blocks.

    Raises:
        ValueError: time blocks are needed but ``fps`` is not given, or is not positive.

    >>> choose_units({f"v{i}": 1000 for i in range(12)}, None).describe()
    '12 videos'
    >>> u = choose_units({"a": 4350, "b": 4350}, 30.0)
    >>> u.n, u.unit_of("a", 299), u.unit_of("a", 300), u.unit_of("a", 4349)
    (30, 0, 1, 14)
    """
    frames = {str(v): int(n) for v, n in frames.items()}
    if len(frames) >= min_videos:
        return Units("videos", frames, {})
    if fps is None:
        raise ValueError(f"{len(frames)} videos are fewer than {min_videos}: the intervals resample time blocks of "
                         f"{block_seconds:g} s, which needs the videos' frame rate; pass fps (e.g. the data set's)")
    rate = {v: float(fps[v] if isinstance(fps, Mapping) else fps) for v in frames}
    bad = [v for v, r in rate.items() if not r > 0]
    if bad:
        raise ValueError(f"video {bad[0]}: fps = {rate[bad[0]]} must be > 0")
    return Units("time blocks", frames, {v: max(1, round(r * block_seconds)) for v, r in rate.items()},
                 float(block_seconds))


def _video_unit_counts(pred: np.ndarray, gt: np.ndarray, mode: str, units: Units, video: str) -> np.ndarray:
    """``(blocks_of(video), 4)`` :data:`UNIT_COLUMNS` of one video under ``mode``."""
    out = np.zeros((units.blocks_of(video), len(UNIT_COLUMNS)), dtype=np.int64)
    tp, fp, fn, tp_pred = range(4)
    counts, pairs = match_video(pred, gt, mode, video=video)
    if mode == "strs" and len(gt) == 0:   # the STRS count evaluates only videos with ground truth
        return out
    if mode in ("megc2020", "overlap"):
        hit = interval_iou(pred, gt) >= 0.5
        scoring = hit.any(axis=1) if len(gt) else np.zeros(len(pred), bool)
        found = hit.any(axis=0) if len(pred) else np.zeros(len(gt), bool)
    else:
        scoring = np.zeros(len(pred), bool)
        found = np.zeros(len(gt), bool)
        for p, g in pairs:
            scoring[p], found[g] = True, True
    for p, (onset, _) in enumerate(np.asarray(pred).reshape(-1, 2)):
        b = units.unit_of(video, onset)
        if scoring[p]:
            if mode != "strs":       # strs: precision's numerator is the taken ground truths, counted below
                out[b, tp_pred] += 1
            if mode == "overlap":    # many-to-one: the scoring predictions are the true positives
                out[b, tp] += 1
        else:
            out[b, fp] += 1
    for g, (onset, _) in enumerate(np.asarray(gt).reshape(-1, 2)):
        b = units.unit_of(video, onset)
        if found[g]:
            if mode != "overlap":
                out[b, tp] += 1
            if mode == "strs":
                out[b, tp_pred] += 1
        else:
            out[b, fn] += 1
    if mode == "authors" and len(pred) == 0:   # the authors' placeholder prediction: one false positive
        out[0, fp] += 1
    total = out.sum(axis=0)
    assert (total[tp], total[fp], total[fn], total[tp_pred]) == (counts.tp, counts.fp, counts.fn, counts.tp_p), \
        f"per-unit counts of {video} do not add up to the {mode} counts"
    return out


def unit_counts(spotted: Mapping[str, np.ndarray], gt: pd.DataFrame | Mapping[str, np.ndarray], mode: str,
                units: Units) -> pd.DataFrame:
    """Per-unit TP/FP/FN/TP_pred of one expression type's spotted intervals.

    Args:
        spotted: video -> ``(P, 2)`` spotted intervals (0-based, inclusive); every video of ``units``
            must be a key (an empty array when nothing was spotted).
        gt: DataFrame with columns ``video``, ``onset``, ``offset``, or video -> ``(G, 2)``.
        mode: a matching rule of :data:`slswin_lib.evaluation.MODES`.
        units: from :func:`choose_units`.

    Returns:
        One row per unit (``video``, ``block``, and :data:`UNIT_COLUMNS`), every unit included (a
        block with nothing in it is a row of zeros); the columns sum to the rule's counts.

    >>> u = choose_units({"a": 600}, 30.0)            # two 10 s blocks
    >>> unit_counts({"a": [[10, 19], [400, 409]]}, {"a": [[10, 19], [320, 329]]}, "megc", u)[
    ...     ["block", "TP", "FP", "FN"]].to_numpy().tolist()
    [[0, 1, 0, 0], [1, 0, 1, 1]]
    """
    if mode not in MODES:
        raise ValueError(f"unknown matching mode {mode!r}; choose one of {MODES}")
    if isinstance(gt, pd.DataFrame):
        gt = {str(v): g[["onset", "offset"]].to_numpy(np.int64) for v, g in gt.groupby("video", sort=False)}
    missing = [v for v in units.frames if v not in spotted]
    if missing:
        raise ValueError(f"no spotted intervals given for video {missing[0]} ({len(missing)} missing); pass an "
                         "empty array for a video without any")
    rows = []
    for video in units.frames:
        pred = np.asarray(spotted[video], dtype=np.int64).reshape(-1, 2)
        counts = _video_unit_counts(pred, np.asarray(gt.get(video, np.empty((0, 2))), np.int64).reshape(-1, 2),
                                    mode, units, video)
        rows += [{"video": video, "block": b, **dict(zip(UNIT_COLUMNS, map(int, c)))} for b, c in enumerate(counts)]
    return pd.DataFrame(rows, columns=["video", "block", *UNIT_COLUMNS])


@dataclass(frozen=True)
class F1Difference:
    """F1 of method A minus F1 of method B on the same units, with its paired bootstrap interval."""

    diff: float
    low: float
    high: float
    confidence: float
    n_units: int

    @property
    def resolved(self) -> bool:
        """The interval excludes 0 (the sign of the difference is what the data say)."""
        return self.low > 0 or self.high < 0

    def describe(self, a: str, b: str) -> str:
        """E.g. ``"SL-Swin-T - Swin-T = +0.0210 [-0.031, 0.074]: not resolved"``.

        >>> F1Difference(0.1, 0.02, 0.2, 0.95, 30).describe("a", "b")
        'a - b = +0.1000 [+0.020, +0.200]: resolved, a above b'
        """
        text = f"{a} - {b} = {self.diff:+.4f} [{self.low:+.3f}, {self.high:+.3f}]"
        if not self.resolved:
            return text + ": not resolved"
        return text + f": resolved, {a if self.diff > 0 else b} above {b if self.diff > 0 else a}"


def _pooled_difference(*counts: np.ndarray, axis: int = -1) -> np.ndarray:
    a, b = counts[:4], counts[4:]
    return f1_of(*(np.sum(x, axis=axis) for x in a)) - f1_of(*(np.sum(x, axis=axis) for x in b))


def _columns(table: pd.DataFrame, what: str) -> list[np.ndarray]:
    missing = [c for c in ("TP", "FP", "FN") if c not in table.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {missing}; pass a per-unit table of unit_counts()")
    tp_pred = "TP_pred" if "TP_pred" in table.columns else "TP"
    return [table[c].to_numpy(np.int64) for c in ("TP", "FP", "FN", tp_pred)]


@timed(BOOTSTRAP)
def paired_difference(a: pd.DataFrame, b: pd.DataFrame, *, n_resamples: int = INTERVAL_RESAMPLES,
                      confidence: float = 0.95, seed: int = 0) -> F1Difference:
    """Paired bootstrap of ``F1(a) - F1(b)`` over the same units.

    Both per-unit tables (:func:`unit_counts`, same units in the same order) are resampled with the
    same draws (``scipy.stats.bootstrap`` with ``paired=True``), each resample's counts summed per
    method, and the percentile interval of the differences taken.

    Raises:
        ValueError: the tables do not list the same units, or lack count columns.
    """
    from scipy.stats import bootstrap

    key = [c for c in ("video", "block") if c in a.columns and c in b.columns]
    if len(a) != len(b) or (key and not a[key].reset_index(drop=True).equals(b[key].reset_index(drop=True))):
        raise ValueError("the two methods' per-unit counts are not over the same units in the same order; "
                         "build both with unit_counts() and the same Units")
    cols = _columns(a, "the first table") + _columns(b, "the second table")
    diff = float(_pooled_difference(*cols))
    stacked = np.stack(cols)
    if len(a) < 2 or np.all(stacked == stacked[:, :1]) or all(np.array_equal(x, y) for x, y in zip(cols[:4], cols[4:])):
        return F1Difference(diff, diff, diff, confidence, len(a))   # every resample gives the same difference
    result = bootstrap(tuple(cols), _pooled_difference, n_resamples=n_resamples, paired=True, vectorized=True,
                       confidence_level=confidence, method="percentile", rng=np.random.default_rng(seed))
    ci = result.confidence_interval
    return F1Difference(diff, float(ci.low), float(ci.high), confidence, len(a))


@timed(SPOTTING)
def spotted_at(scores, t: float | Mapping[str, float]) -> dict[str, np.ndarray]:
    """The spotted intervals of every video of a score set at threshold factor ``t`` (one value, or
    per video)."""
    from .spotting import spot

    return {v: spot(scores.scores[v], scores.k_of(v), t[v] if isinstance(t, Mapping) else t, video=v).intervals
            for v in scores.keys}


def spotted_nested(scores, grid: Sequence[float], mode: str, *,
                   grid_counts: np.ndarray | None = None) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """The spotted intervals of every video at the t chosen by nested leave-one-subject-out selection
    (:func:`slswin_lib.scores.select_t_loso`: each subject's videos at the t that is best on the other
    subjects), and the t of each video."""
    from .scores import select_t_loso

    _, folds = select_t_loso({"set": scores}, grid, mode,
                             grid_counts=None if grid_counts is None else {"set": grid_counts})
    t_of_subject = dict(zip(folds["subject"].astype(str), folds["t"]))
    subject = dict(zip(scores.videos["video"], scores.videos["subject"].astype(str)))
    t_of = {v: float(t_of_subject[subject[v]]) for v in scores.keys}
    return spotted_at(scores, t_of), t_of


def set_unit_counts(sets: Mapping[str, object], spotted: Mapping[str, Mapping[str, np.ndarray]], mode: str,
                    units: Units) -> dict[str, pd.DataFrame]:
    """Per-unit counts of each expression type's score set and ``"overall"`` (the types' counts added
    unit by unit), over ``units`` (built from the union of the sets' videos).

    Args:
        sets: type -> :class:`~slswin_lib.scores.ScoreSet` (its ground truth).
        spotted: type -> video -> spotted intervals (:func:`spotted_at`, :func:`spotted_nested`).
    """
    out = {}
    for e, s in sets.items():
        sub = Units(units.kind, {v: units.frames[v] for v in s.keys}, {v: units.block_frames[v] for v in s.keys
                                                                       if v in units.block_frames}, units.block_seconds)
        per_type = unit_counts(spotted[e], s.gt, mode, sub)
        # every type's table over every unit of ``units``: units of videos without this type count nothing
        full = _unit_index(units).merge(per_type, on=["video", "block"], how="left")
        out[e] = full.fillna(0).astype({c: np.int64 for c in UNIT_COLUMNS})
    if len(out) > 1:
        overall = next(iter(out.values()))[["video", "block"]].copy()
        for c in UNIT_COLUMNS:
            overall[c] = sum(t[c].to_numpy() for t in out.values())
        out["overall"] = overall
    return out


def _unit_index(units: Units) -> pd.DataFrame:
    """Every unit of ``units`` as a row (``video``, ``block``)."""
    return pd.DataFrame([(v, b) for v in units.frames for b in range(units.blocks_of(v))], columns=["video", "block"])


def video_frames(sets: Mapping[str, object]) -> dict[str, int]:
    """video -> frame count over the score sets' videos (each video once, in first-seen order)."""
    frames: dict[str, int] = {}
    for s in sets.values():
        for v, n in zip(s.videos["video"], s.videos["n_frames"]):
            frames.setdefault(str(v), int(n))
    return frames


def counts_of(table: pd.DataFrame) -> Counts:
    """The pooled :class:`~slswin_lib.evaluation.Counts` of a per-unit table."""
    tp, fp, fn, tp_pred = (int(table[c].sum()) for c in UNIT_COLUMNS)
    return Counts(tp, fp, fn, None if tp_pred == tp else tp_pred)
