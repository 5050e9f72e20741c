"""MEGC interval evaluation (paper Section 3.2): IoU matching, TP/FP/FN, precision, recall, F1.

Five matching modes (:data:`MODES`, ``config.SPOT_MODES``), all with frames counted inclusively
(``IoU = |W n G| / |W u G|``, an interval ``[a, b]`` holding ``b - a + 1`` frames). The two
one-to-one rules (each ground truth matched at most once):

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
    interval adds one false positive (a placeholder prediction in the authors' code). SOFTNet's
    code, which SL-Swin's ports, counts the same way (genbing99/SoftNet-SpotME, training.py:
    ``spotting()`` adds a ``[0, 0]`` placeholder when no peak is found and scores with
    ``MeanAveragePrecision2d`` at IoU 0.5, FN = ground truths - TP).

and the two rules without one-to-one matching, under which several predictions can score on one
expression (the peers' rules of the published Table 2 rows; issue 22):

``"megc2020"``
    The MEGC 2020 baseline's rule: a ground truth is *found* when any spotted interval has
    ``IoU >= 0.5`` with it; recall is over ground truths (found / all), precision over spotted
    intervals (those with ``IoU >= 0.5`` to some ground truth / all). :class:`Counts` keeps both
    numerators: ``tp`` = found ground truths, ``tp_pred`` = scoring predictions,
    ``fp`` = predictions that reach no ground truth, ``fn`` = ground truths not found, and
    ``F1 = 2 P R / (P + R)``. Not verified against the MEGC 2020 baseline's own script, which is
    not in the searchable public code; the nearest public script read
    (hitheyuhong/micro-expression-spotting-challenge, ``casme_evaluation.py``,
    ``get_TP_FP_and_result``, MEGC 2021) finds a ground truth the same way and counts the same
    FP and FN, but drops the further predictions on a found ground truth from the count
    (precision = found / (found + FP)), so its precision differs from this rule's only when
    two predictions score on one expression.
``"overlap"``
    Many-to-one: every spotted interval with ``IoU >= 0.5`` to some ground truth is a true
    positive (so several can score on one expression), the others false positives; a ground
    truth that no prediction reaches is a false negative; ``F1 = 2TP / (2TP + FP + FN)``. The
    rule AUW-GCN's evaluation followed until its 2025 fix (as described in issue 22; the code was
    not read here).

and the rule of the current challenges:

``"strs"``
    How MEGC 2024 and 2025 count spotting: the STRS metric's ``Evaluator.evaluate_spotting``
    (genbing99/STRS-Metric, ``strs_metric.py`` at commit eb86468, 2024-06-20). Predictions are
    taken in the order given (file order); each one is compared with the ground truths in their
    order and is a true positive for *every* ground truth not yet matched with ``IoU >= 0.5``
    (so one prediction may take several, each counting one TP); a prediction that takes none
    (no ground truth at 0.5, or only ones already taken) is a false positive; the ground truths
    left are false negatives; precision ``TP / (TP + FP)``, recall ``TP / (TP + FN)``. Only videos
    with ground truth are evaluated: a video without any contributes nothing (its predictions
    are no false positives) and :func:`evaluate` leaves it out of the per-video table. IoU is
    computed there over the inclusive frame sets (``np.arange(onset, offset + 1)``), the same
    value as :func:`interval_iou`. Not reproduced: ``evaluate_STRS`` evaluates only the subjects
    that have at least one prediction, so there a subject without any prediction adds no false
    negatives; here every video with ground truth counts. The challenge applies the rule to one
    expression type at a time as given; here it is applied per type like the other rules.

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

from .timing import BOOTSTRAP, SPOTTING, timed

__all__ = [
    "MODES",
    "IOU_THRESHOLD",
    "Counts",
    "interval_iou",
    "f1_of",
    "match_iou",
    "match_video",
    "evaluate",
    "metrics_table",
    "F1Interval",
    "bootstrap_f1",
]

MODES = ("megc", "authors", "megc2020", "overlap", "strs")
#: the IoU a spotted interval needs with a ground truth (MEGC; ``"authors"``: strictly above it)
IOU_THRESHOLD = 0.5


def f1_of(tp, fp, fn, tp_pred):
    """``2 a b / (2 a b + a FN + b FP)`` with ``a = tp_pred``, ``b = tp``: the harmonic mean of
    precision ``a / (a + FP)`` and recall ``b / (b + FN)`` (``2TP / (2TP + FP + FN)`` when
    ``a = b``); 0 where nothing was counted. Works on scalars and arrays."""
    tp, fp, fn, a = (np.asarray(v, dtype=np.float64) for v in (tp, fp, fn, tp_pred))
    num = 2 * a * tp
    denom = num + a * fn + tp * fp
    return np.divide(num, denom, out=np.zeros(np.shape(denom), dtype=np.float64), where=denom > 0)


@dataclass(frozen=True)
class Counts:
    """True/false positive and false negative counts, with the derived metrics.

    ``tp_pred`` is the precision's numerator where it differs from the recall's (the
    ``"megc2020"`` rule counts found ground truths for recall and scoring predictions for
    precision); None: the same as ``tp`` (the one-to-one rules and ``"overlap"``).
    """

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tp_pred: int | None = None

    def __add__(self, other: "Counts") -> "Counts":
        both_none = self.tp_pred is None and other.tp_pred is None
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn,
                      None if both_none else self.tp_p + other.tp_p)

    @property
    def tp_p(self) -> int:
        """True positives over the spotted intervals (precision's numerator)."""
        return self.tp if self.tp_pred is None else self.tp_pred

    @property
    def precision(self) -> float:
        return self.tp_p / (self.tp_p + self.fp) if self.tp_p + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        """The harmonic mean of precision and recall (``2TP / (2TP + FP + FN)`` when
        ``tp_pred`` is None)."""
        return float(f1_of(self.tp, self.fp, self.fn, self.tp_p))

    def as_dict(self) -> dict[str, float]:
        """TP, FP, FN (and TP_pred where it is kept), precision, recall, F1."""
        extra = {} if self.tp_pred is None else {"TP_pred": self.tp_pred}
        return {"TP": self.tp, "FP": self.fp, "FN": self.fn, **extra, "precision": self.precision,
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


def match_iou(iou: np.ndarray, mode: str = "megc") -> tuple[Counts, list[tuple[int, int]]]:
    """Match one video's spotted intervals with its ground truths, given their IoU matrix.

    What :func:`match_video` does once the IoU is known; callers that score many subsets of one
    video's predictions (a threshold grid) compute the IoU once and pass sub-matrices.

    Args:
        iou: ``(P, G)`` IoU of the spotted intervals (rows, in their given order) with the ground
            truths (columns, in their given order), e.g. :func:`interval_iou`; P or G may be 0.
        mode: one of :data:`MODES` (see the module docstring).

    Returns:
        The counts and the list of matched ``(pred index, gt index)`` pairs (for ``"megc2020"``
        and ``"overlap"``: every scoring prediction with its best-IoU ground truth; for
        ``"strs"``: every (prediction, ground truth) true positive, in the order taken).

    >>> match_iou(np.array([[0.6, 0.7], [0.9, 0.0]]), "strs")
    (Counts(tp=2, fp=1, fn=0, tp_pred=None), [(0, 0), (0, 1)])
    >>> match_iou(np.array([[0.6, 0.7], [0.9, 0.0]]), "megc")[0]
    Counts(tp=2, fp=0, fn=0, tp_pred=None)
    """
    if mode not in MODES:
        raise ValueError(f"unknown matching mode {mode!r}; choose one of {MODES}")
    iou = np.asarray(iou, dtype=np.float64)
    if iou.ndim != 2:
        raise ValueError(f"the IoU must be a (P, G) matrix, got shape {iou.shape}")
    n_pred, n_gt = iou.shape
    pairs: list[tuple[int, int]] = []
    if mode == "authors":
        if n_pred == 0:
            return Counts(0, 1, n_gt), pairs
        matched = np.zeros(n_gt, dtype=bool)
        for p in range(n_pred if n_gt else 0):
            g = int(np.argmax(iou[p]))
            if iou[p, g] > IOU_THRESHOLD and not matched[g]:
                matched[g] = True
                pairs.append((p, g))
    elif mode == "strs":
        if n_gt == 0:
            return Counts(0, 0, 0), pairs
        matched = np.zeros(n_gt, dtype=bool)
        fp = 0
        for p in range(n_pred):
            taken = np.flatnonzero((iou[p] >= IOU_THRESHOLD) & ~matched)
            matched[taken] = True
            pairs += [(p, int(g)) for g in taken]
            fp += len(taken) == 0
        return Counts(len(pairs), fp, n_gt - len(pairs)), pairs
    elif mode in ("megc2020", "overlap"):
        hit = iou >= IOU_THRESHOLD
        scoring = np.flatnonzero(hit.any(axis=1)) if n_gt else np.zeros(0, dtype=np.int64)
        pairs = [(int(p), int(np.argmax(iou[p]))) for p in scoring]
        found = int(hit.any(axis=0).sum()) if n_pred else 0
        fp, fn = n_pred - len(scoring), n_gt - found
        if mode == "megc2020":
            return Counts(found, fp, fn, tp_pred=len(scoring)), pairs
        return Counts(len(scoring), fp, fn), pairs
    elif n_pred and n_gt:
        hit = iou >= IOU_THRESHOLD
        if (hit.sum(axis=1) <= 1).all():   # each prediction reaches at most one ground truth: one per hit truth
            first = np.argmax(hit, axis=0)
            pairs = sorted((int(first[g]), int(g)) for g in np.flatnonzero(hit.any(axis=0)))
        else:
            gt_of_pred = maximum_bipartite_matching(csr_matrix(hit), perm_type="column")
            pairs = [(p, int(g)) for p, g in enumerate(gt_of_pred) if g >= 0]
    tp = len(pairs)
    return Counts(tp, n_pred - tp, n_gt - tp), pairs


def match_video(pred, gt, mode: str = "megc", *, video: str = "") -> tuple[Counts, list[tuple[int, int]]]:
    """Match one video's spotted intervals with its ground truths.

    Args:
        pred: ``(P, 2)`` spotted ``[onset, offset]`` intervals (inclusive frames), P may be 0,
            in the order the method gave them (``"authors"`` and ``"strs"`` depend on it).
        gt: ``(G, 2)`` ground-truth intervals, G may be 0.
        mode: one of :data:`MODES` (see the module docstring).
        video: name used in error messages.

    Returns:
        The counts and the matched pairs, as :func:`match_iou`.

    Three ground truths (the third missed) and four predictions: an exact hit, a duplicate of it
    (IoU 0.8), one at IoU exactly 0.5 and a miss; every rule gives another F1 (``"strs"`` the
    MEGC rule's here: no prediction reaches two ground truths):

    >>> gt, pred = [[0, 9], [20, 29], [60, 69]], [[0, 9], [2, 9], [20, 24], [40, 49]]
    >>> {m: round(match_video(pred, gt, m)[0].f1, 4) for m in MODES}
    {'megc': 0.5714, 'authors': 0.2857, 'megc2020': 0.7059, 'overlap': 0.75, 'strs': 0.5714}
    """
    if mode not in MODES:
        raise ValueError(f"unknown matching mode {mode!r}; choose one of {MODES}")
    pred = _as_intervals(pred, "spotted", video)
    gt = _as_intervals(gt, "ground-truth", video)
    return match_iou(interval_iou(pred, gt), mode)


def _group(df: pd.DataFrame | None, key: str) -> dict[str, np.ndarray]:
    if df is None or len(df) == 0:
        return {}
    return {str(v): g[["onset", "offset"]].to_numpy(np.int64) for v, g in df.groupby(key, sort=False)}


@timed(SPOTTING)
def evaluate(spotted: Mapping[str, np.ndarray], ground_truth: pd.DataFrame | Mapping[str, np.ndarray],
             mode: str = "megc", *, key: str = "video") -> tuple[Counts, pd.DataFrame]:
    """Evaluate the spotted intervals of a set of videos of one expression type.

    Args:
        spotted: video name -> ``(P, 2)`` spotted intervals; every evaluated video must be a key
            (an empty array for a video without a spotted interval).
        ground_truth: DataFrame with columns ``key``, ``onset``, ``offset`` (0-based, inclusive),
            or a mapping video -> ``(G, 2)``. Videos without ground truth are allowed.
        mode: one of :data:`MODES`.

    Returns:
        The pooled counts and a per-video DataFrame (video, n_spotted, n_gt, TP, FP, FN, and for
        ``"megc2020"`` TP_pred, the scoring predictions), one row per video of ``spotted`` in its
        order; under ``"strs"`` only the videos with ground truth (the others are not evaluated).

    Raises:
        ValueError: a ground truth names a video that is not among the spotted videos.
    """
    gt = ground_truth if isinstance(ground_truth, Mapping) else _group(ground_truth, key)
    unknown = sorted(set(gt) - set(spotted))
    if unknown:
        raise ValueError(f"{len(unknown)} video(s) have ground truth but no spotting result "
                         f"(first: {unknown[0]}); evaluate every video of the set")
    rows, total = [], Counts(tp_pred=0 if mode == "megc2020" else None)
    columns = ["video", "n_spotted", "n_gt", "TP", "FP", "FN"] + (["TP_pred"] if mode == "megc2020" else [])
    for video, pred in spotted.items():
        if mode == "strs" and len(gt.get(video, ())) == 0:
            continue
        counts, _ = match_video(pred, gt.get(video, np.empty((0, 2), np.int64)), mode, video=video)
        total = total + counts
        rows.append({"video": video, "n_spotted": len(np.asarray(pred).reshape(-1, 2)),
                     "n_gt": len(gt.get(video, ())), "TP": counts.tp, "FP": counts.fp, "FN": counts.fn,
                     "TP_pred": counts.tp_p})
    return total, pd.DataFrame(rows, columns=columns)


def metrics_table(counts: Mapping[str, Counts], overall: Iterable[str] | None = None) -> pd.DataFrame:
    """A DataFrame with one row per entry (TP, FP, FN, precision, recall, F1) plus ``overall``.

    Args:
        counts: name (e.g. ``"me"``, ``"mae"``) -> counts.
        overall: names pooled into an ``overall`` row; default all of them (no row for one entry).
    """
    rows = {name: c.as_dict() for name, c in counts.items()}
    names = list(counts) if overall is None else list(overall)
    if len(names) > 1:
        pooled = Counts(tp_pred=0 if any(counts[n].tp_pred is not None for n in names) else None)
        for name in names:
            pooled = pooled + counts[name]
        rows["overall"] = pooled.as_dict()
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "type"
    return table.astype({c: int for c in ("TP", "FP", "FN", "TP_pred") if c in table})


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


def _pooled_f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tp_pred: np.ndarray, axis: int = -1) -> np.ndarray:
    """F1 of counts summed along ``axis`` (:func:`f1_of`; 0 where nothing was counted)."""
    return f1_of(*(np.sum(a, axis=axis) for a in (tp, fp, fn, tp_pred)))


@timed(BOOTSTRAP)
def bootstrap_f1(per_video_counts: pd.DataFrame, n_resamples: int = 9999, confidence: float = 0.95,
                 seed: int = 0) -> F1Interval:
    """Bootstrap confidence interval of the pooled F1 over videos.

    Videos are resampled with replacement as whole units (their TP, FP and FN stay together,
    ``scipy.stats.bootstrap`` with ``paired=True``); each resample's counts are summed and give
    ``F1 = 2TP / (2TP + FP + FN)``; the interval is the percentile interval of those F1 values.
    With a ``TP_pred`` column (the ``"megc2020"`` rule) the resample's F1 is the harmonic mean of
    precision ``TP_pred / (TP_pred + FP)`` and recall ``TP / (TP + FN)``.

    Args:
        per_video_counts: one row per video with integer columns ``TP``, ``FP``, ``FN`` (the
            per-video table of :func:`evaluate` or ``slswin_lib.scores.spot_score_set``), and
            optionally ``TP_pred``. FP (or FN) may be negative where a rule's precision numerator
            counts found ground truths, not predictions (the peers' own rules,
            :mod:`slswin_lib.peers`: precision = found / predictions, so ``TP_pred = TP`` = found and
            ``FP`` = predictions - found, below 0 in a video where one prediction finds two); the
            counts of predictions (``TP_pred + FP``) and of ground truths (``TP + FN``) may not.
        n_resamples: bootstrap resamples.
        confidence: confidence level of the two-sided interval.
        seed: seeds the resampling (the same seed gives the same interval).

    Returns:
        The pooled F1 of all videos and its interval. With fewer than two videos, or when every
        video has the same counts (every resample then has the same F1), the interval is the
        point ``[F1, F1]``.

    Raises:
        ValueError: a count column is missing, a count of predictions or ground truths is negative,
            or ``confidence`` is outside (0, 1).
    """
    from scipy.stats import bootstrap

    missing = [c for c in COUNT_COLUMNS if c not in per_video_counts.columns]
    if missing:
        raise ValueError(f"per-video counts lack column(s) {missing}; pass the per-video table of "
                         "evaluate() or spot_score_set() (columns TP, FP, FN)")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence = {confidence} must lie in (0, 1), e.g. 0.95")
    columns = list(COUNT_COLUMNS) + ["TP_pred" if "TP_pred" in per_video_counts.columns else "TP"]
    counts = per_video_counts[columns].to_numpy(np.int64)
    tp, fp, fn, tp_pred = counts.T
    if np.any(tp < 0) or np.any(tp_pred < 0) or np.any(tp + fn < 0) or np.any(tp_pred + fp < 0):
        raise ValueError("per-video counts must give TP, TP_pred, ground truths TP + FN and predictions "
                         "TP_pred + FP >= 0")
    f1 = float(_pooled_f1(tp, fp, fn, tp_pred))
    if len(counts) < 2 or np.all(counts == counts[0]):
        return F1Interval(f1, f1, f1, confidence, len(counts))
    result = bootstrap((tp, fp, fn, tp_pred), _pooled_f1, n_resamples=n_resamples, paired=True, vectorized=True,
                       confidence_level=confidence, method="percentile", rng=np.random.default_rng(seed))
    ci = result.confidence_interval
    return F1Interval(f1, float(ci.low), float(ci.high), confidence, len(counts))
