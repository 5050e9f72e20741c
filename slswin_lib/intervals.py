"""Spotted intervals of any method (the MEGC submission format): read, check, evaluate, select a threshold.

A researcher's own method, or a peer's released output, gives *spotted intervals*, not per-frame
scores. Two tables, one row per interval:

* spotted intervals: ``video, onset, offset[, type][, score]`` (the MEGC submission columns
  ``vid, pred_onset, pred_offset, type`` are read as well); ``type`` is ``me`` or ``mae``, or it
  is left out and every interval is typed by its length (:func:`type_by_length`, as the peers
  do); ``score``, when given, allows a threshold (:func:`grid_counts`, :func:`select_loso`);
* ground truth: ``video, onset, offset, type``.

Frames are 0-based and inclusive in both (an interval ``[a, b]`` holds ``b - a + 1`` frames; a
1-based annotation such as the CAS(ME)^2 sheet's is shifted by -1 first, which leaves every IoU
unchanged). The evaluated videos are those with ground truth plus those listed as having no
interval at all; a spotted interval in any other video is refused as an unknown video.
:func:`evaluate_intervals` gives TP/FP/FN/precision/recall/F1 per type (``me``, ``mae``) and
``overall`` (the two types' counts pooled, as Tables 2-3 do) under one or every matching rule of
:mod:`slswin_lib.evaluation`, each F1 with its 95 % bootstrap interval over videos (a video's
ME and MaE counts resampled together).

Bad input is refused with the file, the row (1-based, after the header; the file line is one
more) and the fix: missing columns, missing / non-integer / negative frames, onset > offset, a
type other than me/mae, an unknown video, and duplicate rows (refused by default; ``duplicates=
"keep"`` scores each copy as its own prediction, ``"drop"`` keeps the first; either way their
number is reported in the table's ``attrs``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .evaluation import MODES, Counts, bootstrap_f1, evaluate, f1_of, interval_iou, match_iou

__all__ = [
    "TYPES",
    "INTERVAL_COLUMNS",
    "COLUMN_ALIASES",
    "DUPLICATE_ACTIONS",
    "check_intervals",
    "read_intervals",
    "read_videos",
    "type_by_length",
    "evaluate_intervals",
    "grid_counts",
    "select_loso",
    "counts_at",
    "counts_row",
    "typed_rows",
    "GRID_COUNTS",
]

#: expression types, in the order of every table (the paper's ME first)
TYPES = ("me", "mae")
#: the columns of an interval table (``type`` optional for spotted intervals; ``score`` optional too)
INTERVAL_COLUMNS = ("video", "onset", "offset", "type")
#: other names read for them: the MEGC 2022 submission columns (``slswin_lib.scores.SUBMISSION_COLUMNS``)
COLUMN_ALIASES = {"vid": "video", "pred_onset": "onset", "pred_offset": "offset"}
#: what to do with a repeated row: refuse it, score every copy, or keep the first
DUPLICATE_ACTIONS = ("error", "keep", "drop")
#: the count columns of :func:`grid_counts` (as ``slswin_lib.scores.GRID_COUNTS``)
GRID_COUNTS = ("TP", "FP", "FN", "TP_pred")


def type_by_length(onset, offset, max_me_length: int) -> np.ndarray:
    """Type intervals by length: ``"me"`` when ``offset - onset <= max_me_length``, else ``"mae"``.

    The peers' rule (LGSNet's ``base_duration`` 15; He et al.'s ``fps // 2``, 15 at 30 fps): an
    interval whose offset lies at most N frames after its onset is a micro-expression.

    >>> type_by_length([0, 10], [15, 26], 15).tolist()
    ['me', 'mae']
    """
    length = np.asarray(offset, dtype=np.int64) - np.asarray(onset, dtype=np.int64)
    return np.where(length <= max_me_length, "me", "mae").astype(object)


def _frames(values: pd.Series, column: str, where: str, rows: np.ndarray) -> np.ndarray:
    """``values`` as int64 frames, refusing missing, non-numeric, non-integer and negative ones."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
    missing = values.isna().to_numpy()
    for bad, why in ((missing, "is missing"), (np.isnan(numbers) & ~missing, "is not a number"),
                     (~np.isnan(numbers) & (numbers % 1 != 0), "is not an integer frame"),
                     (numbers < 0, "is negative")):
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            shown = "" if missing[i] else f" {_shown(values.iloc[i])}"
            raise ValueError(f"{where}: row {rows[i]}: {column}{shown} {why}; frames are 0-based integer indices "
                             f"(shift a 1-based annotation by -1) ({int(bad.sum())} such row(s))")
    return numbers.astype(np.int64)


def _shown(value) -> str:
    """A cell as written: integer-valued numbers without a decimal point, text quoted."""
    if isinstance(value, str):
        return repr(value)
    number = float(value)
    return str(int(number)) if number.is_integer() else str(number)


def check_intervals(df: pd.DataFrame, where: str = "intervals", *, ground_truth: bool = False,
                    max_me_length: int | None = None, duplicates: str = "error") -> pd.DataFrame:
    """Check an interval table and return it in the canonical form.

    Args:
        df: the table (columns :data:`INTERVAL_COLUMNS` or their :data:`COLUMN_ALIASES`, an
            optional ``score``; other columns are kept).
        where: the file (or name) used in error messages.
        ground_truth: a ground-truth table (``type`` required, no ``score`` needed).
        max_me_length: type each interval by :func:`type_by_length` (spotted intervals without a
            ``type`` column only).
        duplicates: one of :data:`DUPLICATE_ACTIONS` for rows repeating an earlier row's video,
            onset, offset and type.

    Returns:
        A copy with ``video`` (str), ``onset``, ``offset`` (int64), ``type`` (``me``/``mae``),
        ``score`` (float, when given) and ``row`` (the 1-based row in the input), in input order;
        ``attrs``: ``source`` (``where``), ``duplicates`` (how many repeated rows were found) and
        ``duplicate_action``.

    Raises:
        ValueError: naming ``where``, the row and the fix (see the module docstring).
    """
    if duplicates not in DUPLICATE_ACTIONS:
        raise ValueError(f"duplicates = {duplicates!r}; choose one of {list(DUPLICATE_ACTIONS)}")
    out = df.rename(columns={a: c for a, c in COLUMN_ALIASES.items() if a in df and c not in df}).copy()
    typed = "type" in out
    need = list(INTERVAL_COLUMNS) if ground_truth or max_me_length is None else list(INTERVAL_COLUMNS[:3])
    missing = [c for c in need if c not in out]
    if missing:
        fix = ("a ground-truth table needs a type per interval" if ground_truth else
               "give a type column (me/mae) or type the intervals by length (--type-by-length N)")
        raise ValueError(f"{where}: lacks column(s) {missing}; needs {need} (MEGC names {list(COLUMN_ALIASES)} "
                         f"are read too; {fix}); it has {list(df.columns)}")
    if typed and max_me_length is not None and not ground_truth:
        raise ValueError(f"{where}: has a type column and was asked to type intervals by length; "
                         "drop --type-by-length (max_me_length) or the type column")
    rows = np.arange(1, len(out) + 1)
    out["row"] = rows
    empty = (out["video"].isna() | out["video"].astype(str).str.strip().eq("")).to_numpy()
    out["video"] = out["video"].astype(str).str.strip()
    if empty.any():
        raise ValueError(f"{where}: row {rows[np.flatnonzero(empty)[0]]}: the video name is empty; give every row "
                         "its video")
    out["onset"] = _frames(out["onset"], "onset", where, rows)
    out["offset"] = _frames(out["offset"], "offset", where, rows)
    inverted = np.flatnonzero(out["onset"].to_numpy() > out["offset"].to_numpy())
    if len(inverted):
        r = out.iloc[inverted[0]]
        raise ValueError(f"{where}: row {r['row']} (video {r['video']}): onset {r['onset']} > offset {r['offset']}; "
                         f"swap them or fix the row ({len(inverted)} such row(s))")
    if typed:
        types = out["type"].astype(str).str.strip().str.lower()
        bad = np.flatnonzero(~types.isin(TYPES).to_numpy() | out["type"].isna().to_numpy())
        if len(bad):
            r = out.iloc[bad[0]]
            raise ValueError(f"{where}: row {r['row']} (video {r['video']}): type {r['type']!r} is not 'me' or 'mae' "
                             f"({len(bad)} such row(s)); write me (micro) or mae (macro)"
                             + ("" if ground_truth else ", or drop the column and use --type-by-length N"))
        out["type"] = types.to_numpy(object)
    else:
        out["type"] = type_by_length(out["onset"], out["offset"], max_me_length)
    if "score" in out:
        score = pd.to_numeric(out["score"], errors="coerce")
        if score.isna().any():
            i = int(np.flatnonzero(score.isna().to_numpy())[0])
            raise ValueError(f"{where}: row {rows[i]}: score {out['score'].iloc[i]!r} is not a number; give every "
                             "spotted interval a numeric score or drop the column")
        out["score"] = score.astype(np.float64)
    repeated = out.duplicated(list(INTERVAL_COLUMNS)).to_numpy()
    if repeated.any() and duplicates == "error":
        first = out.loc[repeated].iloc[0]
        raise ValueError(f"{where}: {int(repeated.sum())} duplicate row(s) (first: row {first['row']}, video "
                         f"{first['video']}, [{first['onset']}, {first['offset']}] {first['type']}); remove them, or "
                         "keep every copy as its own prediction (duplicates='keep', --duplicates keep) or the first "
                         "only (duplicates='drop', --duplicates drop)")
    if repeated.any() and duplicates == "drop":
        out = out.loc[~repeated]
    out = out.reset_index(drop=True)
    out.attrs.update(source=where, duplicates=int(repeated.sum()), duplicate_action=duplicates)
    return out


def read_intervals(path: str | os.PathLike, *, ground_truth: bool = False, max_me_length: int | None = None,
                   duplicates: str = "error") -> pd.DataFrame:
    """Read and check an interval csv (:func:`check_intervals`); errors name ``path``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    df = pd.read_csv(path, dtype={"video": str, "vid": str, "type": str}, skipinitialspace=True)
    return check_intervals(df, str(path), ground_truth=ground_truth, max_me_length=max_me_length,
                           duplicates=duplicates)


def read_videos(path: str | os.PathLike) -> list[str]:
    """Read the videos that have no interval at all: a csv with a ``video`` (or ``vid``) column."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    df = pd.read_csv(path, dtype=str)
    column = next((c for c in ("video", "vid") if c in df), None)
    if column is None:
        raise ValueError(f"{path}: lacks a 'video' column (one row per video); it has {list(df.columns)}")
    names = df[column].astype(str).str.strip()
    empty = np.flatnonzero(df[column].isna().to_numpy() | (names == "").to_numpy())
    if len(empty):
        raise ValueError(f"{path}: row {empty[0] + 1}: the video name is empty")
    return list(dict.fromkeys(names))


def _universe(pred: pd.DataFrame, gt: pd.DataFrame, videos: Iterable[str]) -> list[str]:
    """The evaluated videos: ground truth's, then the listed ones; refuses a prediction elsewhere."""
    universe = list(dict.fromkeys([*gt["video"], *map(str, videos)]))
    unknown = ~pred["video"].isin(set(universe))
    if unknown.any():
        r = pred.loc[unknown].iloc[0]
        where = pred.attrs.get("source", "spotted intervals")
        raise ValueError(f"{where}: row {r['row']}: video {r['video']!r} has no ground truth and is not among the "
                         f"videos without intervals ({int(unknown.sum())} such row(s)); fix its name, or list it "
                         "in the videos file (--videos) if it truly has no ground-truth interval")
    return universe


def counts_row(per_video: pd.DataFrame, *, n_resamples: int | None = None, seed: int = 0) -> dict:
    """The pooled metrics of per-video counts, F1 with its 95 % bootstrap interval over videos.

    Args:
        per_video: one row per video with ``video``, ``TP``, ``FP``, ``FN`` (and ``TP_pred``, else
            TP); a video listed more than once (e.g. once per type) is summed into one unit first.
        n_resamples: bootstrap resamples (default :data:`slswin_lib.config.INTERVAL_RESAMPLES`;
            0: no interval, ``F1 low``/``F1 high`` NaN).
        seed: seeds the bootstrap.

    Returns:
        TP, FP, FN, TP_pred, precision, recall, F1, ``F1 low``, ``F1 high`` and ``videos``.
    """
    from .config import INTERVAL_RESAMPLES

    cols = list(GRID_COUNTS)
    table = per_video.assign(TP_pred=per_video["TP_pred"].fillna(per_video["TP"]) if "TP_pred" in per_video
                             else per_video["TP"])
    table = table.groupby("video", sort=False)[cols].sum().astype(np.int64).reset_index()
    c = Counts(*(int(table[col].sum()) for col in cols))
    n_resamples = INTERVAL_RESAMPLES if n_resamples is None else n_resamples
    ci = bootstrap_f1(table, n_resamples=n_resamples, seed=seed) if n_resamples else None
    return {"TP": c.tp, "FP": c.fp, "FN": c.fn, "TP_pred": c.tp_p, "precision": c.precision, "recall": c.recall,
            "F1": c.f1, "F1 low": ci.low if ci else np.nan, "F1 high": ci.high if ci else np.nan,
            "videos": len(table)}


def typed_rows(per_type: Mapping[str, pd.DataFrame], **kw) -> dict[str, dict]:
    """:func:`counts_row` of each type's per-video counts and, for more than one type, ``overall``
    (the types' counts of a video summed: the video is one bootstrap unit); ``kw`` go to
    :func:`counts_row`."""
    rows = {name: counts_row(table, **kw) for name, table in per_type.items()}
    if len(per_type) > 1:
        rows["overall"] = counts_row(pd.concat(list(per_type.values()), ignore_index=True), **kw)
    return rows


def evaluate_intervals(pred: pd.DataFrame, gt: pd.DataFrame, *, videos: Iterable[str] = (),
                       modes: Sequence[str] = ("megc",), min_score: float | None = None,
                       n_resamples: int | None = None, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Evaluate spotted intervals against ground truth, per type and overall, under each rule.

    Args:
        pred: spotted intervals (:func:`check_intervals` / :func:`read_intervals` output: typed,
            in the method's order, which ``"authors"`` and ``"strs"`` depend on).
        gt: ground-truth intervals (the same, with ``ground_truth=True``).
        videos: further videos that have no interval of either type (ground truth's are known).
        modes: matching rules of :data:`slswin_lib.evaluation.MODES`.
        min_score: keep only the spotted intervals with ``score >= min_score`` (needs a score column).
        n_resamples: bootstrap resamples of the F1 intervals (default
            :data:`slswin_lib.config.INTERVAL_RESAMPLES`; 0: no interval, ``F1 low/high`` NaN).
        seed: seeds the bootstrap.

    Returns:
        ``(table, per_video)``: the table indexed by (mode, type) with type ``me``, ``mae`` and
        ``overall``: TP, FP, FN, TP_pred (precision's numerator; TP except under ``"megc2020"``),
        precision, recall, F1, ``F1 low``, ``F1 high`` (95 % bootstrap interval over videos) and
        the number of videos evaluated; ``attrs``: videos, spotted (after ``min_score``),
        ground_truths, duplicates. ``per_video``: one row per (mode, type, video) with its counts
        (``TP_pred`` = TP except under ``"megc2020"``).

    Every type is evaluated on every video (a video without a spotted interval of a type counts
    under ``"authors"`` as one false positive of that type; under ``"strs"`` a video without ground
    truth of a type is not evaluated for it).

    >>> gt = check_intervals(pd.DataFrame({"video": ["a", "a", "b"], "onset": [0, 40, 5], "offset": [9, 79, 12],
    ...                                    "type": ["me", "mae", "me"]}), ground_truth=True)
    >>> pred = check_intervals(pd.DataFrame({"video": ["a", "a", "b"], "onset": [1, 45, 30], "offset": [9, 80, 35]}),
    ...                        max_me_length=15)
    >>> table, _ = evaluate_intervals(pred, gt, modes=["megc"], n_resamples=99)
    >>> table.loc["megc", ["TP", "FP", "FN"]].astype(int).values.tolist()
    [[1, 1, 1], [1, 0, 0], [2, 1, 1]]
    """
    for mode in modes:
        if mode not in MODES:
            raise ValueError(f"unknown matching mode {mode!r}; choose one of {MODES}")
    if min_score is not None:
        if "score" not in pred:
            raise ValueError(f"{pred.attrs.get('source', 'spotted intervals')}: min_score needs a score column")
        pred = pred[pred["score"] >= min_score]
    universe = _universe(pred, gt, videos)
    rows, tables = {}, []
    frames = pred[["onset", "offset"]].to_numpy(np.int64)
    spotted, truth = {}, {}
    for e in TYPES:
        of_type = pred.index[pred["type"] == e]
        index = pred.loc[of_type].groupby("video", sort=False).indices
        positions = pred.index.get_indexer(of_type)
        spotted[e] = {v: frames[positions[index[v]]] if v in index else np.zeros((0, 2), np.int64) for v in universe}
        truth[e] = gt[gt["type"] == e]
    for mode in modes:
        per_type = {e: evaluate(spotted[e], truth[e], mode)[1] for e in TYPES}
        for name, row in typed_rows(per_type, n_resamples=n_resamples, seed=seed).items():
            rows[(mode, name)] = row
        for e, per_video in per_type.items():
            tp_pred = per_video["TP_pred"] if "TP_pred" in per_video else per_video["TP"]
            tables.append(per_video.assign(mode=mode, type=e, TP_pred=tp_pred))
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index = pd.MultiIndex.from_tuples(table.index, names=["mode", "type"])
    table = table.astype({c: int for c in ("TP", "FP", "FN", "TP_pred", "videos")})
    table.attrs.update(videos=len(universe), spotted=len(pred), ground_truths=len(gt),
                       duplicates=int(pred.attrs.get("duplicates", 0)))
    per_video = pd.concat(tables, ignore_index=True)
    per_video = per_video[["mode", "type"] + [c for c in per_video.columns if c not in ("mode", "type")]]
    return table, per_video


def grid_counts(pred: pd.DataFrame, gt: pd.DataFrame, videos: Sequence[str], grid: Sequence[float],
                modes: Sequence[str], *, max_per_video: int | None = None, strictly_above: bool = False
                ) -> dict[str, np.ndarray]:
    """Counts of every video at every score threshold of ``grid``, per type, under each rule.

    At threshold ``s`` a video keeps its spotted intervals with ``score >= s`` (``> s`` with
    ``strictly_above``), in their order, then at most ``max_per_video`` of them (the first ones;
    LGSNet's evaluation keeps 14); each type's kept intervals are matched with that type's ground
    truth. The IoU of a video is computed once and each distinct kept set is matched once.

    Args:
        pred: typed spotted intervals with a ``score`` column (:func:`check_intervals`).
        gt: typed ground truth.
        videos: the evaluated videos (rows of the result, in this order); a video in ``pred`` or
            ``gt`` that is not listed is ignored.
        grid: score thresholds.
        modes: matching rules.

    Returns:
        mode -> ``(len(videos), len(grid), len(TYPES), 4)`` int64 counts :data:`GRID_COUNTS`.

    >>> gt = check_intervals(pd.DataFrame({"video": ["a"], "onset": [0], "offset": [9], "type": ["me"]}),
    ...                      ground_truth=True)
    >>> pred = check_intervals(pd.DataFrame({"video": ["a", "a"], "onset": [0, 50], "offset": [9, 59],
    ...                                      "type": ["me", "me"], "score": [0.4, 0.9]}))
    >>> grid_counts(pred, gt, ["a"], [0.3, 0.5, 0.95], ["megc"])["megc"][0, :, 0].tolist()
    [[1, 1, 0, 1], [0, 1, 1, 0], [0, 0, 1, 0]]
    """
    if "score" not in pred:
        raise ValueError(f"{pred.attrs.get('source', 'spotted intervals')}: a threshold grid needs a score column")
    grid = np.asarray(grid, dtype=np.float64)
    out = {mode: np.zeros((len(videos), len(grid), len(TYPES), len(GRID_COUNTS)), dtype=np.int64) for mode in modes}
    p_rows, g_rows = pred.groupby("video", sort=False).indices, gt.groupby("video", sort=False).indices
    p_frames, g_frames = pred[["onset", "offset"]].to_numpy(np.int64), gt[["onset", "offset"]].to_numpy(np.int64)
    p_type, g_type, score = pred["type"].to_numpy(), gt["type"].to_numpy(), pred["score"].to_numpy(np.float64)
    none = np.zeros(0, dtype=np.int64)
    for vi, video in enumerate(videos):
        pi, gi = p_rows.get(video, none), g_rows.get(video, none)
        iou = interval_iou(p_frames[pi], g_frames[gi])
        passing = score[pi][None, :] > grid[:, None] if strictly_above else score[pi][None, :] >= grid[:, None]
        kept = passing if max_per_video is None else passing & (np.cumsum(passing, axis=1) <= max_per_video)
        for ei, e in enumerate(TYPES):
            cols = g_type[gi] == e
            for rows, mask in _runs(kept & (p_type[pi] == e)[None, :]):
                sub = iou[np.ix_(mask, cols)]
                for mode in modes:
                    c, _ = match_iou(sub, mode)
                    out[mode][vi, rows, ei] = (c.tp, c.fp, c.fn, c.tp_p)
    return out


def _runs(masks: np.ndarray):
    """``(rows, mask)`` for each run of identical consecutive rows of a ``(K, D)`` boolean array."""
    if len(masks) == 0:
        return
    starts = np.concatenate([[0], np.flatnonzero(np.any(masks[1:] != masks[:-1], axis=1)) + 1, [len(masks)]])
    for a, b in zip(starts[:-1], starts[1:]):
        yield slice(a, b), masks[a]


def select_loso(counts: np.ndarray, subjects: Sequence[str], *, pooled: bool = True) -> dict[str, np.ndarray]:
    """Choose a candidate without looking at the test subject (nested leave-one-subject-out selection).

    For each subject, the candidate (a threshold, an epoch and threshold, ...) with the best F1
    pooled over the *other* subjects' videos (and over the types, with ``pooled``; else each type
    on its own) is chosen; ties go to the first candidate in the flattened order (the smallest
    threshold of the earliest epoch in a C-ordered ``(epoch, threshold)`` grid).

    Args:
        counts: ``(n_videos, *candidates, n_types, 4)`` :data:`GRID_COUNTS` (:func:`grid_counts`,
            or several stacked along a candidate axis).
        subjects: the subject of each video.
        pooled: one candidate per subject for all types (a method that spots every type at once);
            False: one per subject and type.

    Returns:
        subject -> the chosen flat candidate index (``(n_types,)`` of them unless ``pooled``).

    >>> c = np.zeros((2, 3, 1, 4), dtype=np.int64)
    >>> c[0, 1, 0] = c[1, 2, 0] = (1, 0, 0, 1)      # subject a's video is found at candidate 1, b's at 2
    >>> c[:, :, 0, 2] += 1 - c[:, :, 0, 0]           # missed otherwise
    >>> {s: int(i) for s, i in select_loso(c, ["a", "b"]).items()}   # each chosen on the other subject
    {'a': 2, 'b': 1}
    """
    subjects = np.asarray([str(s) for s in subjects])
    n_videos, n_types = counts.shape[0], counts.shape[-2]
    flat = counts.reshape(n_videos, -1, n_types, len(GRID_COUNTS))
    chosen = {}
    for s in dict.fromkeys(subjects.tolist()):
        train = flat[subjects != s].sum(axis=0)
        if pooled:
            chosen[s] = int(np.argmax(f1_of(*np.moveaxis(train.sum(axis=1), -1, 0))))
        else:
            chosen[s] = np.array([int(np.argmax(f1_of(*np.moveaxis(train[:, e], -1, 0)))) for e in range(n_types)])
    return chosen


def counts_at(counts: np.ndarray, subjects: Sequence[str], chosen: Mapping[str, np.ndarray | int]) -> np.ndarray:
    """``(n_videos, n_types, 4)``: each video's counts at the candidate chosen for its subject
    (:func:`select_loso`)."""
    subjects = [str(s) for s in subjects]
    n_videos, n_types = counts.shape[0], counts.shape[-2]
    flat = counts.reshape(n_videos, -1, n_types, len(GRID_COUNTS))
    out = np.zeros((n_videos, n_types, len(GRID_COUNTS)), dtype=np.int64)
    for vi, s in enumerate(subjects):
        idx = np.broadcast_to(np.asarray(chosen[s]), (n_types,))
        out[vi] = flat[vi, idx, np.arange(n_types)]
    return out
