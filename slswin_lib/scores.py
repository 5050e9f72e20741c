"""Per-frame score sets: load, validate, spot, evaluate, sweep and select the threshold.

A *score set* is what a trained model (or the authors' released predictions) produced for one
expression type on a set of videos, in three files:

* ``scores.npz``: one array per video, key ``{subject}_{video_code}``, the ``n_frames - k``
  per-frame scores (score ``j`` for frames ``[j, j + k]``);
* ``videos.csv``: columns ``subject, video_code, n_frames, k`` (more columns are kept);
* ``gt.csv``: columns ``subject, video_code, onset, offset`` (0-based, inclusive).

This is the format of the authors' released SL-Swin-T predictions
(:func:`released_score_set`) and of the scores our protocols write (:func:`write_score_set`);
:func:`load_score_set` reads both.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .config import PAPER_T, check_threshold_factor
from .evaluation import Counts, evaluate, match_video, metrics_table
from .io import atomic_path, atomic_write_json, save_npz_atomic
from .spotting import SpotResult, spot
from .timing import SPOTTING, timed

__all__ = [
    "counts_grid",
    "ScoreSet",
    "load_score_set",
    "write_score_set",
    "released_score_set",
    "spot_score_set",
    "t_sweep",
    "t_sweeps",
    "select_t_loso",
    "write_submission",
    "read_submission",
    "submission_table",
    "SUBMISSION_COLUMNS",
]

SUBMISSION_COLUMNS = ["vid", "pred_onset", "pred_offset", "type"]
_VIDEO_COLUMNS = ["subject", "video_code", "n_frames", "k"]
_GT_COLUMNS = ["subject", "video_code", "onset", "offset"]


def _video_key(subject, code) -> str:
    return f"{subject}_{code}"


@dataclass
class ScoreSet:
    """Scores, videos and ground truth of one expression type (see the module docstring).

    Attributes:
        scores: video key -> ``(n_frames - k,)`` float64 scores.
        videos: one row per video, with a ``video`` column holding the key.
        gt: one row per ground-truth interval, with a ``video`` column holding the key.
        name: free text used in tables and plots (e.g. ``"casme2 me"``).
        source: the folder the set was read from, if any.
    """

    scores: dict[str, np.ndarray]
    videos: pd.DataFrame
    gt: pd.DataFrame
    name: str = ""
    #: folder the set was read from (its run folder), when read from disk
    source: Path | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.validate()

    @property
    def keys(self) -> list[str]:
        return self.videos["video"].tolist()

    @property
    def subjects(self) -> list[str]:
        return list(dict.fromkeys(self.videos["subject"].astype(str)))

    def k_of(self, video: str) -> int:
        return int(self.videos.loc[self.videos["video"] == video, "k"].iloc[0])

    def gt_of(self, video: str) -> np.ndarray:
        return self.gt.loc[self.gt["video"] == video, ["onset", "offset"]].to_numpy(np.int64)

    def validate(self) -> None:
        """Raise ``ValueError`` naming the video for any inconsistency."""
        for col in _VIDEO_COLUMNS:
            if col not in self.videos:
                raise ValueError(f"videos table lacks column {col!r} (needs {_VIDEO_COLUMNS})")
        for col in _GT_COLUMNS:
            if col not in self.gt:
                raise ValueError(f"ground-truth table lacks column {col!r} (needs {_GT_COLUMNS})")
        known = set(self.keys)
        missing = [v for v in self.keys if v not in self.scores]
        if missing:
            raise ValueError(f"the scores file has no scores for video {missing[0]} "
                             f"({len(missing)} video(s) missing)")
        for row in self.videos.itertuples():
            n = len(self.scores[row.video])
            if row.k < 1:
                raise ValueError(f"video {row.video}: k must be >= 1, got {row.k}")
            if n != row.n_frames - row.k:
                raise ValueError(f"video {row.video}: {n} scores, expected n_frames - k = "
                                 f"{row.n_frames} - {row.k} = {row.n_frames - row.k}")
        unknown = sorted(set(self.gt["video"]) - known)
        if unknown:
            raise ValueError(f"ground truth names video {unknown[0]}, which is not in the videos table")
        bad = self.gt[self.gt["onset"] > self.gt["offset"]]
        if len(bad):
            r = bad.iloc[0]
            raise ValueError(f"ground truth of video {r['video']}: onset {r['onset']} > offset {r['offset']}")

    def subset(self, subjects: Sequence[str]) -> "ScoreSet":
        """The videos (and ground truth) of some subjects only."""
        subjects = set(map(str, subjects))
        v = self.videos[self.videos["subject"].astype(str).isin(subjects)]
        g = self.gt[self.gt["video"].isin(set(v["video"]))]
        return ScoreSet({k: self.scores[k] for k in v["video"]}, v, g, self.name)


def _normalise_tables(videos: pd.DataFrame, gt: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    videos = videos.copy()
    gt = gt.copy()
    for df in (videos, gt):
        for col in ("subject", "video_code"):
            if col in df:
                df[col] = df[col].astype(str)
        if "subject" in df and "video_code" in df:
            df["video"] = [_video_key(s, c) for s, c in zip(df["subject"], df["video_code"])]
    return videos.reset_index(drop=True), gt.reset_index(drop=True)


def load_score_set(scores: str | os.PathLike, videos: str | os.PathLike, gt: str | os.PathLike,
                   name: str = "") -> ScoreSet:
    """Read a score set from its three files (see the module docstring)."""
    for path in (scores, videos, gt):
        if not Path(path).exists():
            raise FileNotFoundError(f"{path} does not exist")
    dtype = {"subject": str, "video_code": str}
    v, g = _normalise_tables(pd.read_csv(videos, dtype=dtype), pd.read_csv(gt, dtype=dtype))
    with np.load(scores) as z:
        arrays = {key: np.asarray(z[key], dtype=np.float64).reshape(-1) for key in z.files}
    return ScoreSet(arrays, v, g, name or Path(scores).stem, source=Path(scores).parent)


def write_score_set(out_dir: str | os.PathLike, videos: Sequence, scores: Mapping[str, np.ndarray],
                    k: int | Mapping[str, int], name: str = "", manifest: dict | None = None) -> ScoreSet:
    """Write ``scores.npz``, ``videos.csv``, ``gt.csv`` (and ``manifest.json``) atomically; return the set.

    Args:
        out_dir: the folder (created).
        videos: per video, an object with ``key``, ``subject``, ``video_code``, ``n_frames`` and
            ``intervals`` (``(onset, offset)`` pairs, 0-based inclusive), e.g.
            :class:`slswin_lib.experiment.VideoInfo`.
        scores: video key -> ``(n_frames - k,)`` scores.
        k: the frame distance of the scores, or video key -> its k (e.g. a LOSO run whose folds
            compute k from their own training subjects).
        manifest: facts about the run that produced the scores (written as ``manifest.json``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    k_of = k if isinstance(k, Mapping) else {i.key: k for i in videos}
    table = pd.DataFrame([{"subject": i.subject, "video_code": i.video_code, "n_frames": i.n_frames,
                           "k": int(k_of[i.key])} for i in videos], columns=_VIDEO_COLUMNS)
    gt = pd.DataFrame([{"subject": i.subject, "video_code": i.video_code, "onset": a, "offset": b}
                       for i in videos for a, b in i.intervals], columns=_GT_COLUMNS)
    with atomic_path(out / "videos.csv") as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(out / "gt.csv") as tmp:
        gt.to_csv(tmp, index=False)
    save_npz_atomic(out / "scores.npz", **{i.key: np.asarray(scores[i.key], np.float64) for i in videos})
    if manifest is not None:
        atomic_write_json(out / "manifest.json", manifest)
    return load_score_set(out / "scores.npz", out / "videos.csv", out / "gt.csv", name=name)


def released_score_set(expression: str, dataset: str = "casme2") -> ScoreSet:
    """The authors' released SL-Swin-T LOSO scores (bundled, see ``reference/README.md``).

    Args:
        expression: ``"me"`` or ``"mae"``.
        dataset: only ``"casme2"`` is released.
    """
    if expression not in ("me", "mae"):
        raise ValueError(f"expression must be 'me' or 'mae', got {expression!r}")
    root = resources.files("slswin_lib") / "reference" / dataset
    if not root.is_dir():
        raise ValueError(f"no released scores for data set {dataset!r}; available: casme2")
    return load_score_set(root / f"scores_{expression}.npz", root / f"videos_{expression}.csv",
                          root / f"gt_{expression}.csv", name=f"{dataset} {expression} (released)")


def released_expected(dataset: str = "casme2") -> pd.DataFrame:
    """The authors' published counts for the released scores (t = 0.60), indexed by type."""
    path = resources.files("slswin_lib") / "reference" / dataset / "expected_results.csv"
    return pd.read_csv(path).set_index("type")


@timed(SPOTTING)
def spot_score_set(scores: ScoreSet, t: float = PAPER_T, mode: str = "authors"
                   ) -> tuple[Counts, pd.DataFrame, dict[str, SpotResult]]:
    """Spot every video of a score set at threshold factor ``t`` and evaluate it.

    Returns:
        The pooled counts, the per-video table (subject, video, n_spotted, n_gt, TP, FP, FN) and
        the :class:`~slswin_lib.spotting.SpotResult` of each video.

    Raises:
        ValueError: ``t`` is outside ``(0, 1]`` (checked before any video is spotted).
    """
    check_threshold_factor("t", t)
    results = {v: spot(scores.scores[v], scores.k_of(v), t, video=v) for v in scores.keys}
    counts, per_video = evaluate({v: r.intervals for v, r in results.items()}, scores.gt, mode)
    per_video.insert(0, "subject", scores.videos.set_index("video").loc[per_video["video"], "subject"].to_numpy())
    return counts, per_video, results


#: the count columns of :func:`counts_grid` (TP_pred: the scoring predictions, TP except under "megc2020")
GRID_COUNTS = ("TP", "FP", "FN", "TP_pred")


def _counts(c: np.ndarray, mode: str) -> Counts:
    """:class:`Counts` of one :data:`GRID_COUNTS` row (``tp_pred`` kept under ``"megc2020"`` only)."""
    tp, fp, fn, tp_pred = map(int, c)
    return Counts(tp, fp, fn, tp_pred if mode == "megc2020" else None)


@timed(SPOTTING)
def counts_grid(scores: ScoreSet, grid: Sequence[float], mode: str) -> np.ndarray:
    """``(n_videos, len(grid), 4)`` :data:`GRID_COUNTS` of every video at every t (smoothing done once).

    Raises:
        ValueError: the grid is empty or a value is outside ``(0, 1]`` (checked before any work).
    """
    from .spotting import smooth_scores, spot_smoothed

    if len(grid) == 0:
        raise ValueError("the t grid is empty; give at least one threshold factor in (0, 1]")
    for i, t in enumerate(grid):
        check_threshold_factor(f"grid[{i}]", t)

    out = np.zeros((len(scores.keys), len(grid), len(GRID_COUNTS)), dtype=np.int64)
    for vi, video in enumerate(scores.keys):
        k = scores.k_of(video)
        smoothed = smooth_scores(scores.scores[video], 2 * k, video=video)
        gt = scores.gt_of(video)
        for ti, t in enumerate(grid):
            c, _ = match_video(spot_smoothed(smoothed, k, t).intervals, gt, mode, video=video)
            out[vi, ti] = (c.tp, c.fp, c.fn, c.tp_p)
    return out


def _f1(counts: np.ndarray) -> np.ndarray:
    """F1 of :data:`GRID_COUNTS` along the last axis (:func:`slswin_lib.evaluation.f1_of`)."""
    from .evaluation import f1_of

    return f1_of(*np.moveaxis(counts, -1, 0))


@timed(SPOTTING)
def t_sweep(scores: ScoreSet, grid: Sequence[float], mode: str = "authors", *,
            grid_counts: np.ndarray | None = None) -> pd.DataFrame:
    """TP/FP/FN/precision/recall/F1 of the whole set at every threshold factor in ``grid``
    (``grid_counts``: :func:`counts_grid` of this set, when already computed)."""
    totals = (counts_grid(scores, grid, mode) if grid_counts is None else grid_counts).sum(axis=0)
    rows = [dict(t=float(t), **_counts(c, mode).as_dict()) for t, c in zip(grid, totals)]
    return pd.DataFrame(rows)


def t_sweeps(sets: Mapping[str, ScoreSet], grid: Sequence[float], mode: str = "authors") -> dict[str, pd.DataFrame]:
    """:func:`t_sweep` of each set, plus ``"overall"``: their counts added at each t (F1 recomputed).

    >>> # sweeps = t_sweeps({"me": me, "mae": mae}, profile.spot.t_grid); sweeps["overall"]
    """
    sweeps = {name: t_sweep(s, grid, mode) for name, s in sets.items()}
    if len(sweeps) > 1:
        cols = list(GRID_COUNTS) if mode == "megc2020" else ["TP", "FP", "FN", "TP"]
        counts = sum(sw[cols].to_numpy() for sw in sweeps.values())
        rows = [dict(t=float(t), **_counts(c, mode).as_dict()) for t, c in zip(grid, counts)]
        sweeps["overall"] = pd.DataFrame(rows)
    return sweeps


@timed(SPOTTING)
def select_t_loso(sets: Mapping[str, ScoreSet], grid: Sequence[float], mode: str = "authors", *,
                  per_video: bool = False, grid_counts: Mapping[str, np.ndarray] | None = None
                  ) -> tuple[pd.DataFrame, ...]:
    """Choose t without looking at the test subject (nested leave-one-subject-out selection).

    For each held-out subject, t is the grid value with the best F1 pooled over the *other*
    subjects' videos of all given sets (ties: the smallest t); the held-out subject's videos are
    then spotted with it. Sets (e.g. ME and MaE) are selected independently.

    Args:
        sets: name (e.g. ``"me"``) -> score set.
        grid: candidate t values.

        per_video: also return the held-out counts of every video (for intervals over videos).
        grid_counts: set name -> its counts at every t of ``grid`` (:func:`counts_grid` with
            ``mode``), when already computed; default: computed here.

    Returns:
        ``(table, folds)``: the metrics table (one row per set plus ``overall``) of the held-out
        results, and one row per (set, subject) with the chosen t and that subject's counts; with
        ``per_video``, a third table: one row per (set, video) with its subject, t, TP, FP and FN.
    """
    grid = list(grid)
    totals, fold_rows, video_rows = {}, [], []
    for name, scores in sets.items():
        counts_of = counts_grid(scores, grid, mode) if grid_counts is None else grid_counts[name]
        subj = scores.videos["subject"].astype(str).to_numpy()
        total = _counts(np.zeros(len(GRID_COUNTS)), mode)
        for s in scores.subjects:
            train = counts_of[subj != s].sum(axis=0)
            best = int(np.argmax(_f1(train)))
            test = counts_of[subj == s, best].sum(axis=0)
            for video, counts in zip(np.asarray(scores.keys)[subj == s], counts_of[subj == s, best]):
                video_rows.append({"set": name, "subject": s, "video": video, "t": grid[best],
                                   **dict(zip(GRID_COUNTS, map(int, counts)))})
            c = _counts(test, mode)
            total = total + c
            fold_rows.append({"set": name, "subject": s, "t": grid[best],
                              "train_F1": float(_f1(train)[best]), **c.as_dict()})
        totals[name] = total
    if per_video:
        return metrics_table(totals), pd.DataFrame(fold_rows), pd.DataFrame(video_rows)
    return metrics_table(totals), pd.DataFrame(fold_rows)


def write_submission(path: str | os.PathLike, predictions: pd.DataFrame) -> Path:
    """Write a MEGC 2022 submission file (``vid,pred_onset,pred_offset,type``) atomically.

    ``type`` must be ``me`` or ``mae``; onsets and offsets are integer frames with onset <= offset.
    """
    df = _check_submission(predictions, str(path))
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
    return Path(path)


def submission_table(spotted: Mapping[str, Mapping[str, SpotResult]], names: Mapping[str, str] | None = None
                     ) -> pd.DataFrame:
    """The MEGC 2022 submission rows of spotted test videos.

    Args:
        spotted: expression type (``"me"``/``"mae"``) -> video key -> its
            :class:`~slswin_lib.spotting.SpotResult` (the third value of :func:`spot_score_set`).
        names: video key -> the ``vid`` the challenge expects (default: the key).

    Returns:
        One row per spotted interval with columns :data:`SUBMISSION_COLUMNS`.
    """
    names = names or {}
    rows = [{"vid": names.get(key, key), "pred_onset": int(a), "pred_offset": int(b), "type": e}
            for e, per_video in spotted.items() for key, r in per_video.items() for a, b in r.intervals]
    return pd.DataFrame(rows, columns=SUBMISSION_COLUMNS)


def read_submission(path: str | os.PathLike) -> pd.DataFrame:
    """Read and validate a MEGC 2022 submission file."""
    df = pd.read_csv(path, dtype={"vid": str})
    return _check_submission(df, str(path))


def _check_submission(df: pd.DataFrame, where: str) -> pd.DataFrame:
    missing = [c for c in SUBMISSION_COLUMNS if c not in df]
    if missing:
        raise ValueError(f"{where}: submission lacks column(s) {missing}; needs {SUBMISSION_COLUMNS}")
    df = df[SUBMISSION_COLUMNS].copy()
    bad_type = ~df["type"].isin(["me", "mae"])
    if bad_type.any():
        i = int(np.flatnonzero(bad_type)[0])
        raise ValueError(f"{where}: row {i + 1} has type {df['type'].iloc[i]!r}; must be 'me' or 'mae'")
    for col in ("pred_onset", "pred_offset"):
        df[col] = pd.to_numeric(df[col], errors="raise").astype(np.int64)
    bad = df["pred_onset"] > df["pred_offset"]
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{where}: row {i + 1} (video {df['vid'].iloc[i]}) has pred_onset > pred_offset")
    return df.reset_index(drop=True)
