"""The peers' released outputs on real CAS(ME)^2 data: their published figures reproduced, then re-scored.

Two peers published outputs with their code (bundled in ``reference/peers/``, provenance in its
README), so that their numbers can be checked without the licensed video frames:

* **LGSNet** (Yu et al. 2023, williamlee91/LGSNet, MIT): the detections of its 22 LOSO models
  after each of 30 epochs (``video, start, end, score``; frames of the 1-based annotation,
  fractional), and the 357-interval annotation they were scored against (:func:`lgsnet_detections`,
  :func:`lgsnet_annotation`).
* **He et al.** (hitheyuhong/MEGC2024-CODE, Apache-2.0): the spotted intervals of its
  training-free optical-flow spotter with the authors' own TP/FN/FP verdicts (:func:`he_output`).

**Their own counting** (read from LGSNet ``tools/F1_score_last.py`` at commit fb38eb2 and
shengjianda/micro-expression-spot ``main_casme2.py`` ``metrics``, the MEGC 2021 version of He et
al.'s): a ground truth is *found* when any kept prediction has IoU >= 0.5 with it (one prediction
may find several; IoU with +1 on lengths, i.e. inclusive frames, as LGSNet computes it; He et al.'s
file holds exactly the verdicts of this rule, ``tests/test_peers.py``, although the MEGC 2021 version
of its code computes IoU without the +1 and stops at the first interval overlapping with IoU >= 0.2);
recall = found / ground truths,
precision = found / predictions; a found ground truth counts as ME when its length
``end - start <= 15`` (:data:`ME_MAX_LENGTH`), a prediction likewise by its own length; F1 is the
harmonic mean. In :class:`~slswin_lib.evaluation.Counts` terms: ``TP = TP_pred`` = found,
``FN`` = ground truths - found, ``FP`` = predictions - found (:func:`found_any_counts`).
LGSNet then reports the best F1 over every epoch from 5 on and every score threshold
k = 0.300 .. 0.499 (a detection is kept when its score, read without its last digit, is > k; at
most 14 per video, in file order), one (epoch, k) for all subjects, chosen on the test subjects
(:func:`lgsnet_published_selection` reproduces recall 0.366947, precision 0.629808, F1 0.463717).

**One protocol** (:func:`one_protocol`): every output under every rule of
:mod:`slswin_lib.evaluation` (the MEGC rule: one-to-one, IoU >= 0.5, per type), spotted intervals
typed by their length (LGSNet and He et al. output no type), ground truth typed by the
annotation's ``type``; LGSNet's epoch and threshold chosen by nested leave-one-subject-out
selection on the other 21 subjects' outputs (:func:`~slswin_lib.intervals.select_loso`, over its
own grid), and its last epoch (29) with only k so chosen, for reference.

**Frames.** The annotation is 1-based (CAS(ME)^2 image numbers) and LGSNet's detections are in its
numbering (its training targets are the annotation's frames); He et al.'s spotted intervals are
1-based too (shifted by +1 by their code). Everything is shifted by -1 to the library's 0-based
inclusive frames, which leaves every IoU unchanged; LGSNet's fractional frames are truncated
(``int(float(x))``, as its evaluation reads them) and an onset before the first frame (a start
in ``[0, 1)``) is clipped to frame 0 (counted in ``attrs["clipped"]``).
"""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .evaluation import IOU_THRESHOLD, Counts, f1_of, interval_iou
from .intervals import (GRID_COUNTS, INTERVAL_COLUMNS, TYPES, check_intervals, counts_at, evaluate_intervals,
                        grid_counts, select_loso, type_by_length, typed_rows)

__all__ = [
    "ME_MAX_LENGTH",
    "LGSNET_EPOCHS",
    "LGSNET_THRESHOLDS",
    "LGSNET_MAX_PER_VIDEO",
    "read_lgsnet_folder",
    "write_lgsnet_csv",
    "lgsnet_detections",
    "lgsnet_annotation",
    "casme2_ground_truth",
    "lgsnet_spotted",
    "lgsnet_own_grid",
    "lgsnet_published_selection",
    "he_output",
    "he_spotted",
    "he_ground_truth",
    "he_own_counts",
    "write_interval_examples",
    "found_any_counts",
    "one_protocol",
    "one_protocol_cells",
    "what_moved",
    "ground_truth_versions",
    "published_figures",
    "MAIN_COLUMNS",
    "PEER_METHODS",
]

#: the peers' ME length: an interval is ME when ``end - start <= 15`` frames (LGSNet ``--base_duration 15``,
#: tools/tcas.sh; He et al. ``mic_frame = fps // 2`` at CAS(ME)^2's 30 fps)
ME_MAX_LENGTH = 15
#: the epochs LGSNet's evaluation searches: ``for e in range(5, 120)`` over its 30 epoch files (it stops
#: with an index error after epoch 29, once the best has been printed)
LGSNET_EPOCHS = tuple(range(5, 30))
#: its score thresholds k: ``--start_threshold 300`` to 499 thousandths (``range(start_threshold, 500)``)
LGSNET_THRESHOLDS = tuple(k / 1000 for k in range(300, 500))
#: at most this many detections per video are kept, the first in file order (``--most_pos_num 14``)
LGSNET_MAX_PER_VIDEO = 14
#: the last epoch of LGSNet's released outputs (files test_00 .. test_29)
LGSNET_LAST_EPOCH = 29
#: the method names of the one-protocol table, in its order
PEER_METHODS = ("SL-Swin-T (released scores)", "LGSNet", "LGSNet (last epoch)", "He et al. 2024")

_DETECTIONS = "lgsnet_casme2/detections.csv.gz"
_ANNOTATION = "lgsnet_casme2/casme2_annotation_357.csv"
_HE = "he2024/my_casme.csv"
_TYPE_OF = {"micro-expression": "me", "macro-expression": "mae"}


def _ref(name: str):
    return resources.files("slswin_lib") / "reference" / "peers" / name


def _subject(video: pd.Series) -> pd.Series:
    """``15_0101disgustingteeth`` -> ``s15`` (CAS(ME)^2 video names start with the subject number)."""
    return "s" + video.str[:2]


# -- LGSNet ---------------------------------------------------------------------------------------
def read_lgsnet_folder(folder: str | os.PathLike) -> pd.DataFrame:
    """Read LGSNet's released detections from their layout ``subject_sNN/test_EE.txt``.

    Each file holds tab-separated ``video  start  end  score`` lines (LGSNet
    ``output/cas(me)^2_new/subject_sNN/test_detection/test_EE.txt``). Values stay text, unchanged.

    Returns:
        One row per detection: ``subject`` (``s15``), ``epoch`` (int), ``line`` (0-based line in its
        file: the order LGSNet's evaluation reads), ``video``, ``start``, ``end``, ``score`` (text).
    """
    folder = Path(folder)
    files = sorted(folder.glob("subject_s*/test_*.txt"))
    if not files:
        raise FileNotFoundError(f"{folder} holds no subject_sNN/test_EE.txt files (LGSNet's released layout)")
    rows = []
    for path in files:
        for i, line in enumerate(path.read_text().splitlines()):
            fields = line.split("\t")
            if len(fields) != 4:
                raise ValueError(f"{path}: line {i + 1} has {len(fields)} tab-separated fields, expected 4 "
                                 "(video, start, end, score)")
            rows.append((path.parent.name.removeprefix("subject_"), int(path.stem.removeprefix("test_")), i, *fields))
    return pd.DataFrame(rows, columns=["subject", "epoch", "line", "video", "start", "end", "score"])


def write_lgsnet_csv(folder: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Write :func:`read_lgsnet_folder` as one gzip csv (byte-reproducible: no time stamp), atomically.

    The bundled ``reference/peers/lgsnet_casme2/detections.csv.gz`` was made by this from the shared
    reference copy of LGSNet's 660 files (see that folder's README).
    """
    import gzip

    from .io import atomic_path

    text = read_lgsnet_folder(folder).to_csv(index=False, lineterminator="\n")
    with atomic_path(target) as tmp:
        tmp.write_bytes(gzip.compress(text.encode(), compresslevel=9, mtime=0))
    return Path(target)


def lgsnet_detections(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """LGSNet's CAS(ME)^2 LOSO detections (bundled; or a csv of :func:`write_lgsnet_csv`).

    Returns:
        The columns of :func:`read_lgsnet_folder` (text values unchanged) plus what LGSNet's
        evaluation reads from them: ``start_frame``, ``end_frame`` (``int(float(x))``: truncated,
        1-based annotation numbering) and ``score_read`` (the score without its last digit:
        ``float(o[-1][:-2])`` strips the line's newline and the fourth decimal).
    """
    d = pd.read_csv(_ref(_DETECTIONS) if path is None else path,
                    dtype={"subject": str, "video": str, "start": str, "end": str, "score": str})
    d["start_frame"] = d["start"].astype(np.float64).astype(np.int64)
    d["end_frame"] = d["end"].astype(np.float64).astype(np.int64)
    d["score_read"] = d["score"].str[:-1].astype(np.float64)
    return d


def lgsnet_annotation() -> pd.DataFrame:
    """The 357-interval CAS(ME)^2 annotation LGSNet was scored against (57 ME + 300 MaE).

    Returns:
        One row per interval: ``subject`` (``s15``), ``video`` (``15_0101disgustingteeth``),
        ``start``, ``end`` (1-based, inclusive, as in the file's ``startFrame``/``endFrame``),
        ``type`` (``me``/``mae`` from the file's micro-/macro-expression), in file order.
    """
    a = pd.read_csv(_ref(_ANNOTATION))
    video = a["video"].str.rsplit("/", n=1).str[-1]
    return pd.DataFrame({"subject": _subject(video), "video": video, "start": a["startFrame"].astype(np.int64),
                         "end": a["endFrame"].astype(np.int64), "type": a["type"].map(_TYPE_OF)})


def casme2_ground_truth(annotation: pd.DataFrame | None = None) -> pd.DataFrame:
    """The annotation as checked ground truth (:func:`~slswin_lib.intervals.check_intervals`): 0-based
    (``start - 1``, ``end - 1``), typed by the annotation; with ``subject``."""
    a = lgsnet_annotation() if annotation is None else annotation
    gt = pd.DataFrame({"video": a["video"], "onset": a["start"] - 1, "offset": a["end"] - 1, "type": a["type"],
                       "subject": a["subject"]})
    return check_intervals(gt, "CAS(ME)^2 annotation (357 intervals)", ground_truth=True)


def lgsnet_spotted(detections: pd.DataFrame, epoch: int) -> pd.DataFrame:
    """One epoch's detections as checked spotted intervals: 0-based, typed by length, scored.

    ``onset = start_frame - 1`` (clipped to 0), ``offset = end_frame - 1``; ``score`` is the score
    LGSNet's evaluation reads (``score_read``); ``subject`` kept; in file order within each video.

    Raises:
        ValueError: a detection of this epoch has start > end (epoch 0 has such; LGSNet's own
            selection starts at epoch 5).
    """
    d = detections[detections["epoch"] == epoch]
    onset, offset = d["start_frame"].to_numpy() - 1, d["end_frame"].to_numpy() - 1
    inverted = np.flatnonzero(onset > offset)
    if len(inverted):
        r = d.iloc[inverted[0]]
        raise ValueError(f"LGSNet epoch {epoch}: {len(inverted)} detection(s) with start > end as frames "
                         f"(first: subject {r['subject']}, line {r['line']}, {r['video']} {r['start']} > {r['end']}); "
                         f"use an epoch of {LGSNET_EPOCHS[0]}-{LGSNET_EPOCHS[-1]}")
    clipped = int((onset < 0).sum() + (offset < 0).sum())
    spotted = pd.DataFrame({"video": d["video"].to_numpy(), "onset": onset.clip(min=0), "offset": offset.clip(min=0),
                            "score": d["score_read"].to_numpy(), "subject": d["subject"].to_numpy()})
    out = check_intervals(spotted, f"LGSNet epoch {epoch}", max_me_length=ME_MAX_LENGTH, duplicates="keep")
    out.attrs["clipped"] = clipped
    return out


def lgsnet_own_grid(detections: pd.DataFrame, annotation: pd.DataFrame | None = None,
                    epochs: Sequence[int] = LGSNET_EPOCHS, thresholds: Sequence[float] = LGSNET_THRESHOLDS
                    ) -> tuple[np.ndarray, list[str]]:
    """LGSNet's own counts (module docstring) of every video at every (epoch, threshold).

    Matching reads the frames as LGSNet's evaluation does (``start_frame``, ``end_frame``: 1-based,
    truncated, no clipping) against the 1-based annotation. (A found ground truth of length 0 counts
    as neither type there; the annotation has none.)

    Returns:
        ``(counts, videos)``: ``(n_videos, n_epochs, n_thresholds, 2, 4)`` :data:`GRID_COUNTS` per
        type (ME, MaE: found ground truths typed by their length, kept detections by theirs; FN
        against the annotation's per-type counts) and the videos (annotation order).
    """
    a = lgsnet_annotation() if annotation is None else annotation
    videos = list(dict.fromkeys(a["video"]))
    k = np.asarray(thresholds, dtype=np.float64)
    out = np.zeros((len(videos), len(epochs), len(k), len(TYPES), len(GRID_COUNTS)), dtype=np.int64)
    d = detections[detections["epoch"].isin(epochs)]
    groups = d.groupby(["video", "epoch"], sort=False).indices
    frames, score = d[["start_frame", "end_frame"]].to_numpy(np.int64), d["score_read"].to_numpy(np.float64)
    for vi, video in enumerate(videos):
        g = a[a["video"] == video]
        gt = g[["start", "end"]].to_numpy(np.int64)
        gt_is = np.stack([type_by_length(gt[:, 0], gt[:, 1], ME_MAX_LENGTH) == e for e in TYPES])   # (2, G)
        n_gt = np.array([(g["type"] == e).sum() for e in TYPES])
        for ei, epoch in enumerate(epochs):
            rows = groups.get((video, epoch))
            if rows is None:
                out[vi, ei, :, :, 2] = n_gt
                continue
            hit = interval_iou(frames[rows], gt) >= IOU_THRESHOLD                       # (D, G)
            passing = score[rows][None, :] > k[:, None]                                 # (K, D)
            kept = passing & (np.cumsum(passing, axis=1) <= LGSNET_MAX_PER_VIDEO)
            found = (kept.astype(np.int64) @ hit.astype(np.int64)) > 0                  # (K, G)
            pred_is = np.stack([type_by_length(frames[rows, 0], frames[rows, 1], ME_MAX_LENGTH) == e for e in TYPES])
            found_t = (found[:, None, :] & gt_is[None]).sum(axis=2)                     # (K, 2)
            n_pred_t = (kept[:, None, :] & pred_is[None]).sum(axis=2)                   # (K, 2)
            out[vi, ei] = np.stack([found_t, n_pred_t - found_t, n_gt[None] - found_t, found_t], axis=-1)
    return out, videos


def lgsnet_published_selection(counts: np.ndarray, epochs: Sequence[int] = LGSNET_EPOCHS,
                               thresholds: Sequence[float] = LGSNET_THRESHOLDS) -> dict:
    """LGSNet's own selection: the (epoch, k) with the best overall F1 pooled over every subject (the
    test subjects included; the first of ties in epoch-then-k order, as its loop's strict ``>``).

    Args:
        counts: :func:`lgsnet_own_grid`'s counts.

    Returns:
        ``epoch``, ``k``, ``recall``, ``precision``, ``F1`` (overall) and ``index`` (the flat
        candidate index).
    """
    total = counts.sum(axis=(0, 3))                                                      # (E, K, 4)
    f1 = f1_of(*np.moveaxis(total, -1, 0))
    e, k = np.unravel_index(int(np.argmax(f1)), f1.shape)
    c = Counts(*map(int, total[e, k]))
    return {"epoch": int(epochs[e]), "k": float(thresholds[k]), "recall": c.recall, "precision": c.precision,
            "F1": c.f1, "index": int(e * len(thresholds) + k)}


# -- He et al. ------------------------------------------------------------------------------------
def he_output() -> pd.DataFrame:
    """He et al.'s CAS(ME)^2 output with its own verdicts, as released (1-based frames).

    Returns:
        One row per file row: ``video`` (``15_0101disgustingteeth``, the file's ``s15/`` dropped),
        ``subject``, ``gt_onset``, ``gt_offset`` (a ground truth; empty for FP rows),
        ``spotted_onset``, ``spotted_offset`` (the spotted interval that found it, or the unmatched
        one; empty for FN rows), ``verdict`` (TP/FN/FP), ``row`` (the file's row number).
    """
    h = pd.read_csv(_ref(_HE), header=None, dtype={0: str, 5: str},
                    names=["video", "gt_onset", "gt_offset", "spotted_onset", "spotted_offset", "verdict", "row"])
    h["video"] = h["video"].str.rsplit("/", n=1).str[-1]
    h.insert(1, "subject", _subject(h["video"]))
    for col in ("gt_onset", "gt_offset", "spotted_onset", "spotted_offset"):
        h[col] = h[col].astype("Int64")
    return h


def he_spotted(output: pd.DataFrame | None = None) -> pd.DataFrame:
    """He et al.'s distinct spotted intervals (TP and FP rows), 0-based, typed by length, in time order.

    The file lists spotted intervals by verdict, not in the order they were spotted; they are put
    in time order (video, onset, offset), the order a spotter emits them (``"authors"`` and
    ``"strs"`` depend on it).
    """
    h = he_output() if output is None else output
    s = h.dropna(subset=["spotted_onset"]).drop_duplicates(["video", "spotted_onset", "spotted_offset"])
    spotted = pd.DataFrame({"video": s["video"], "onset": s["spotted_onset"].astype(np.int64) - 1,
                            "offset": s["spotted_offset"].astype(np.int64) - 1, "subject": s["subject"]})
    spotted = spotted.sort_values(["video", "onset", "offset"], kind="stable")
    return check_intervals(spotted.reset_index(drop=True), "He et al. spotted intervals", max_me_length=ME_MAX_LENGTH)


def he_ground_truth(output: pd.DataFrame | None = None) -> pd.DataFrame:
    """The ground truth of He et al.'s own file (357 intervals, 0-based), typed by the annotation.

    It is the 357-interval annotation with 3 offsets earlier (at the apex, as the SL-Swin authors'
    cleaned list has them); each row takes the type of the annotation row with its video, onset and
    offset, or else of the one with its video and onset.
    """
    h = he_output() if output is None else output
    g = h[h["verdict"] != "FP"].reset_index(drop=True)
    a = lgsnet_annotation()
    exact = g.merge(a, left_on=["video", "gt_onset", "gt_offset"], right_on=["video", "start", "end"],
                    how="left", validate="one_to_one")["type"]
    by_onset = a.drop_duplicates(["video", "start"], keep=False)
    onset = g.merge(by_onset, left_on=["video", "gt_onset"], right_on=["video", "start"], how="left",
                    validate="many_to_one")["type"]
    typed = g.assign(type=exact.fillna(onset))
    if typed["type"].isna().any():
        r = typed[typed["type"].isna()].iloc[0]
        raise ValueError(f"He et al. ground truth {r['video']} [{r['gt_onset']}, {r['gt_offset']}] has no annotation "
                         "row to type it")
    gt = pd.DataFrame({"video": typed["video"], "onset": typed["gt_onset"].astype(np.int64) - 1,
                       "offset": typed["gt_offset"].astype(np.int64) - 1, "type": typed["type"],
                       "subject": typed["subject"]})
    return check_intervals(gt, "He et al. ground truth", ground_truth=True)


def he_own_counts(output: pd.DataFrame | None = None) -> pd.DataFrame:
    """He et al.'s own counts from its own verdicts, per video and type (:func:`found_any_counts`'s
    columns): found = its TP rows (a ground truth typed by its length), predictions = its distinct
    spotted intervals (typed by theirs), ground truths per type from the annotation."""
    h = he_output() if output is None else output
    gt = h[h["verdict"] != "FP"]
    found = gt[gt["verdict"] == "TP"]
    spotted = he_spotted(h)
    types = he_ground_truth(h)
    videos = list(dict.fromkeys(h["video"]))
    rows = []
    for e in TYPES:
        f = found[type_by_length(found["gt_onset"], found["gt_offset"], ME_MAX_LENGTH) == e]
        for video in videos:
            n_found = int((f["video"] == video).sum())
            n_pred = int(((spotted["video"] == video) & (spotted["type"] == e)).sum())
            n_gt = int(((types["video"] == video) & (types["type"] == e)).sum())
            rows.append({"type": e, "video": video, "subject": f"s{video[:2]}", "TP": n_found,
                         "FP": n_pred - n_found, "FN": n_gt - n_found, "TP_pred": n_found})
    return pd.DataFrame(rows)


def found_any_counts(pred: pd.DataFrame, gt: pd.DataFrame, videos: Sequence[str]) -> pd.DataFrame:
    """The peers' own counting (module docstring) of typed spotted intervals, per video and type.

    A ground truth is found when any prediction of its video (of either type) has IoU >= 0.5;
    found ground truths are typed by their length, predictions by theirs (:data:`ME_MAX_LENGTH`),
    ground truths per type by ``gt["type"]`` (the recall denominators).

    Returns:
        One row per (type, video): ``TP`` = ``TP_pred`` = found, ``FP`` = predictions - found,
        ``FN`` = ground truths - found (:func:`~slswin_lib.evaluation.bootstrap_f1` takes it).
    """
    rows = []
    for video in videos:
        p, g = pred[pred["video"] == video], gt[gt["video"] == video]
        iou = interval_iou(p[["onset", "offset"]].to_numpy(), g[["onset", "offset"]].to_numpy())
        found = (iou >= IOU_THRESHOLD).any(axis=0)
        found_type = type_by_length(g["onset"], g["offset"], ME_MAX_LENGTH)
        pred_type = type_by_length(p["onset"], p["offset"], ME_MAX_LENGTH)
        for e in TYPES:
            n_found = int((found & (found_type == e)).sum())
            rows.append({"type": e, "video": video, "TP": n_found, "FP": int((pred_type == e).sum()) - n_found,
                         "FN": int((g["type"] == e).sum()) - n_found, "TP_pred": n_found})
    return pd.DataFrame(rows)


def write_interval_examples(folder: str | os.PathLike) -> dict[str, Path]:
    """Write He et al.'s output and the annotation in the interval format of :mod:`slswin_lib.intervals`.

    The bundled ``reference/peers/casme2_gt_357.csv`` (``video, onset, offset, type``: the
    357-interval annotation, 0-based), ``he2024/spotted_casme2.csv`` (``video, onset, offset``:
    :func:`he_spotted`, 0-based, untyped) and ``he2024/videos_casme2.csv`` (the videos of its
    output without any ground truth) were made by this; they are the runnable example of
    ``python -m slswin_lib spot-eval --intervals``.
    """
    from .io import atomic_path

    folder = Path(folder)
    gt, h = casme2_ground_truth(), he_output()
    spotted = he_spotted(h)
    tables = {"casme2_gt_357.csv": gt[list(INTERVAL_COLUMNS)],
              "he2024/spotted_casme2.csv": spotted[["video", "onset", "offset"]],
              "he2024/videos_casme2.csv": pd.DataFrame({"video": [v for v in dict.fromkeys(h["video"])
                                                                  if v not in set(gt["video"])]})}
    out = {}
    for name, table in tables.items():
        with atomic_path(folder / name) as tmp:
            table.to_csv(tmp, index=False, lineterminator="\n")
        out[name] = folder / name
    return out


# -- the one-protocol table -----------------------------------------------------------------------
def _rows(method: str, column: str, per_type: Mapping[str, pd.DataFrame], selection: str, **kw) -> dict:
    """The me, mae and overall rows of one (method, column) from per-type per-video counts
    (:func:`~slswin_lib.intervals.typed_rows`)."""
    return {(method, column, name): {**row, "selection": selection}
            for name, row in typed_rows({e: per_type[e] for e in TYPES}, **kw).items()}


def _grid_tables(counts: np.ndarray, videos: Sequence[str], subjects: Sequence[str]) -> dict[str, pd.DataFrame]:
    """``(n_videos, n_types, 4)`` counts as per-type per-video tables."""
    return {e: pd.DataFrame({"video": list(videos), "subject": list(subjects),
                             **{c: counts[:, ei, ci] for ci, c in enumerate(GRID_COUNTS)}})
            for ei, e in enumerate(TYPES)}


def _chosen_text(chosen: Mapping[str, int], epochs: Sequence[int], thresholds: Sequence[float]) -> str:
    idx = np.array(list(chosen.values()))
    e, k = np.asarray(epochs)[idx // len(thresholds)], np.asarray(thresholds)[idx % len(thresholds)]
    where = f"epoch {e.min()}" if e.min() == e.max() else f"epochs {e.min()}-{e.max()}"
    return f"nested LOSO: {where}, k {k.min():.3f}-{k.max():.3f} chosen per held-out subject on the other subjects"


def _nested_rows(method: str, column: str, grid: np.ndarray, videos: Sequence[str], subjects: Sequence[str],
                 epochs: Sequence[int], **kw) -> dict:
    """The rows of an LGSNet (epoch, k) grid with the candidate chosen by nested LOSO for each subject."""
    chosen = select_loso(grid, subjects)
    return _rows(method, column, _grid_tables(counts_at(grid, subjects, chosen), videos, subjects),
                 _chosen_text(chosen, epochs, LGSNET_THRESHOLDS), **kw)


def one_protocol(sets: Mapping, spot_cfg, modes: Sequence[str] | None = None, *, n_resamples: int | None = None,
                 detections: pd.DataFrame | None = None,
                 slswin_grids: Mapping[str, Mapping[str, np.ndarray]] | None = None) -> pd.DataFrame:
    """Published figures beside the same outputs under one protocol: SL-Swin-T, LGSNet, He et al.

    Columns of the result's ``column`` level, each with ``me``, ``mae`` and ``overall`` rows:

    * ``own rule, as published``: each output counted and selected as its authors did (SL-Swin-T:
      the authors' rule at t = 0.60; LGSNet: its best (epoch, k) on the test subjects, its own
      counting; He et al.: its own verdicts);
    * ``own rule, honest selection``: the same counting, the choice made without the test
      subject (SL-Swin-T: t by nested LOSO; LGSNet: (epoch, k) by nested LOSO; He et al. has
      nothing selected on this output and no such row);
    * ``<mode>, honest selection`` for each matching rule (default
      :data:`slswin_lib.config.SPOT_MODES`): per type, spotted intervals typed by length for the
      peers, the selection (t; epoch and k) made by nested LOSO under that rule.

    SL-Swin-T is scored against its released cleaned ground truth (57 ME + 298 MaE); the peers
    against the 357-interval annotation (:func:`casme2_ground_truth`).

    Args:
        sets: ``{"me": ScoreSet, "mae": ScoreSet}``, the released SL-Swin-T scores.
        spot_cfg: a :class:`~slswin_lib.config.SpotConfig` (its t grid; t = its ``t``).
        modes: matching rules (default every rule).
        n_resamples: bootstrap resamples (default :data:`slswin_lib.config.INTERVAL_RESAMPLES`).
        detections: LGSNet's detections (default: the bundled ones).
        slswin_grids: mode -> type -> :func:`slswin_lib.scores.counts_grid` of ``sets`` on
            ``spot_cfg.t_grid``, when already computed (e.g. for
            :func:`slswin_lib.report.rescoring_table`); default: computed here.

    Returns:
        TP, FP, FN, TP_pred, precision, recall, F1, ``F1 low``, ``F1 high``, videos and the
        selection made (text), indexed by (method, column, type); ``attrs["lgsnet_published"]``:
        :func:`lgsnet_published_selection`'s result, ``attrs["he_ground_truth_effect"]``: He et al.'s
        MEGC-rule overall F1 against its own file's ground truth.
    """
    from .config import SPOT_MODES

    modes = tuple(SPOT_MODES if modes is None else modes)
    kw = {"n_resamples": n_resamples}
    rows = _slswin_rows(sets, spot_cfg, modes, slswin_grids, **kw)
    lgsnet, published = _lgsnet_rows(lgsnet_detections() if detections is None else detections, modes, **kw)
    he, he_own_gt = _he_rows(modes, **kw)
    out = pd.DataFrame.from_dict({**rows, **lgsnet, **he}, orient="index")
    out.index = pd.MultiIndex.from_tuples(out.index, names=["method", "column", "type"])
    out.attrs.update(lgsnet_published=published, he_ground_truth_effect=he_own_gt)
    return out


def _slswin_rows(sets: Mapping, spot_cfg, modes: Sequence[str], grids: Mapping | None, **kw) -> dict:
    """SL-Swin-T's rows: the released scores, one model per type, t as published or by nested LOSO."""
    from .scores import select_t_loso, spot_score_set

    method = PEER_METHODS[0]
    fixed = {e: spot_score_set(s, spot_cfg.t, "authors")[1] for e, s in sets.items()}
    rows = _rows(method, "own rule, as published", fixed, f"t = {spot_cfg.t} (chosen on the test folds)", **kw)
    for mode in dict.fromkeys(("authors", *modes)):
        _, folds, videos = select_t_loso(sets, spot_cfg.t_grid, mode, per_video=True,
                                         grid_counts=None if grids is None else grids[mode])
        per_type = {e: videos[videos["set"] == e] for e in sets}
        text = f"nested LOSO t (mean {folds['t'].mean():.2f}) chosen per held-out subject on the other subjects"
        columns = (["own rule, honest selection"] if mode == "authors" else []) + \
            ([f"{mode}, honest selection"] if mode in modes else [])
        for column in columns:
            rows.update(_rows(method, column, per_type, text, **kw))
    return rows


def _lgsnet_rows(detections: pd.DataFrame, modes: Sequence[str], **kw) -> tuple[dict, dict]:
    """LGSNet's rows (one model for both types; (epoch, k) as published or by nested LOSO) and its
    published selection reproduced."""
    annotation = lgsnet_annotation()
    gt = casme2_ground_truth(annotation)
    own, videos = lgsnet_own_grid(detections, annotation)
    subjects = [f"s{v[:2]}" for v in videos]
    published = lgsnet_published_selection(own)
    at_published = own.reshape(len(videos), -1, len(TYPES), len(GRID_COUNTS))[:, published["index"]]
    rows = _rows("LGSNet", "own rule, as published", _grid_tables(at_published, videos, subjects),
                 f"epoch {published['epoch']}, k = {published['k']:.3f} (best on the test subjects)", **kw)
    per_epoch = [grid_counts(lgsnet_spotted(detections, epoch), gt, videos, LGSNET_THRESHOLDS, modes,
                             max_per_video=LGSNET_MAX_PER_VIDEO, strictly_above=True) for epoch in LGSNET_EPOCHS]
    last = LGSNET_EPOCHS.index(LGSNET_LAST_EPOCH)
    for column, grid in (("own rule, honest selection", own),
                         *((f"{mode}, honest selection", np.stack([g[mode] for g in per_epoch], axis=1))
                           for mode in modes)):
        rows.update(_nested_rows("LGSNet", column, grid, videos, subjects, LGSNET_EPOCHS, **kw))
        rows.update(_nested_rows("LGSNet (last epoch)", column, grid[:, last], videos, subjects,
                                 [LGSNET_LAST_EPOCH], **kw))
    return rows, published


def _he_rows(modes: Sequence[str], **kw) -> tuple[dict, float]:
    """He et al.'s rows (one output, hand-set thresholds) and its MEGC-rule overall F1 against its own
    file's ground truth."""
    method = PEER_METHODS[3]
    h = he_output()
    own = he_own_counts(h)
    rows = _rows(method, "own rule, as published", {e: own[own["type"] == e] for e in TYPES},
                 "hand-set thresholds (nothing selected on this output); its own verdicts", **kw)
    spotted, gt = he_spotted(h), casme2_ground_truth()
    videos = list(dict.fromkeys([*gt["video"], *h["video"]]))
    _, per_video = evaluate_intervals(spotted, gt, videos=videos, modes=modes, n_resamples=0)
    for mode in modes:
        pv = per_video[per_video["mode"] == mode]
        rows.update(_rows(method, f"{mode}, honest selection", {e: pv[pv["type"] == e] for e in TYPES},
                          "hand-set thresholds (nothing selected on this output)", **kw))
    own_gt, _ = evaluate_intervals(spotted, he_ground_truth(h), videos=videos, modes=["megc"], n_resamples=0)
    return rows, float(own_gt.loc[("megc", "overall"), "F1"])


def ground_truth_versions(sets: Mapping) -> pd.DataFrame:
    """How the SL-Swin authors' cleaned ground truth (released with their scores, ``sets``) differs
    from the 357-interval annotation the peers are scored against, per type.

    Returns:
        One row per type: the intervals of each, those identical, those with the same onset but
        another offset, and those in one only (matched on subject, video code and 0-based frames).
    """
    a = casme2_ground_truth()
    a = a.assign(key="s" + a["video"].str[:2] + "_" + a["video"].str[3:7])
    rows = {}
    for e, s in sets.items():
        theirs = a[a["type"] == e][["key", "onset", "offset"]]
        ours = s.gt.rename(columns={"video": "key"})[["key", "onset", "offset"]]
        exact = ours.merge(theirs, how="outer", indicator=True)
        rest = [exact.loc[exact["_merge"] == side, ["key", "onset"]] for side in ("left_only", "right_only")]
        moved = rest[0].merge(rest[1], how="outer", indicator=True)["_merge"].value_counts()
        rows[e] = {"SL-Swin-T list": len(ours), "357 annotation": len(theirs),
                   "identical": int((exact["_merge"] == "both").sum()), "other offset": int(moved.get("both", 0)),
                   "annotation only": int(moved.get("right_only", 0)),
                   "SL-Swin-T list only": int(moved.get("left_only", 0))}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "type"
    return table


#: the columns of the one-protocol table (:func:`one_protocol_cells`): its name -> the ``column`` of
#: :func:`one_protocol` shown there (None: the published figure)
MAIN_COLUMNS = {"published F1": None, "own rule, as published": "own rule, as published",
                "own rule, honest selection": "own rule, honest selection",
                "MEGC rule, honest selection": "megc, honest selection",
                "STRS (MEGC 2024/25), honest selection": "strs, honest selection"}
#: what is shown where a cell has no value (not published, nothing selected)
NO_VALUE = "—"


def published_figures() -> dict[str, dict[str, float]]:
    """The published CAS(ME)^2 F1 of each method of :func:`one_protocol` (per type where published)."""
    from .published import LGSNET_CASME2, MEGC2021_F1

    return {PEER_METHODS[0]: dict(MEGC2021_F1["casme2"]), "LGSNet": {"overall": LGSNET_CASME2["F1"]}}


def one_protocol_cells(table: pd.DataFrame, columns: Mapping[str, str | None] | None = None) -> pd.DataFrame:
    """The one-protocol table as ``"F1 [low, high]"`` text cells: one row per (method, type), ME
    before MaE, then overall; published figures as printed (no interval); ``—`` where a method has
    no such figure.

    Args:
        table: :func:`one_protocol`'s result.
        columns: shown name -> ``column`` of ``table`` (None: the published F1); default
            :data:`MAIN_COLUMNS`; e.g. ``{f"{m}, honest selection": ... for m in modes}`` for every rule.
    """
    from .report import f1_text

    columns = MAIN_COLUMNS if columns is None else columns
    published = published_figures()
    methods = [m for m in PEER_METHODS if m in table.index.get_level_values("method")]
    rows = []
    for method in methods:
        for e in (*TYPES, "overall"):
            row = {"method": method, "type": {"me": "ME", "mae": "MaE"}.get(e, e)}
            for name, column in columns.items():
                if column is None:
                    value = published.get(method, {}).get(e)
                    row[name] = NO_VALUE if value is None else f"{value:.4f}"
                elif (method, column, e) in table.index:
                    r = table.loc[(method, column, e)]
                    row[name] = f1_text(r["F1"], r["F1 low"], r["F1 high"])
                else:
                    row[name] = NO_VALUE
            rows.append(row)
    return pd.DataFrame(rows)


def what_moved(table: pd.DataFrame) -> list[str]:
    """One descriptive sentence per method on what moved its number from the published one
    (selection, counting, typing), with the figures of :func:`one_protocol`'s table. Descriptive
    only: it compares a method with itself, never methods with each other."""
    def f1(method, column, e="overall"):
        return float(table.loc[(method, column, e), "F1"])

    def tp(method, column, e):
        return int(table.loc[(method, column, e), "TP"])

    pub, lg = published_figures(), table.attrs["lgsnet_published"]
    sl, he = PEER_METHODS[0], PEER_METHODS[3]
    own, honest, megc = "own rule, as published", "own rule, honest selection", "megc, honest selection"
    n_me = int(table.loc[(sl, own, "me"), "videos"])
    n_lg = int(table.loc[("LGSNet", megc, "overall"), "videos"])
    he_own = table.loc[(he, own, "overall")]
    return [
        f"{sl}: the published {pub[sl]['overall']:.4f} is the authors' rule at a t fixed after sweeping it on the "
        f"test folds (reproduced: {f1(sl, own):.4f}); t chosen on the other subjects gives {f1(sl, honest):.4f} under "
        f"that rule and {f1(sl, megc):.4f} under the one-to-one MEGC rule; its ME scores exist only for the {n_me} "
        f"videos that have an ME (the authors' sets), so no ME false positive of another video is counted.",
        f"LGSNet: the published {lg['F1']:.4f} (reproduced exactly: recall {lg['recall']:.6f}, precision "
        f"{lg['precision']:.6f}) is the best of {len(LGSNET_EPOCHS)} epochs x {len(LGSNET_THRESHOLDS)} thresholds "
        f"on the test subjects (epoch {lg['epoch']}, k = {lg['k']:.3f}), counting a ground truth as found by any kept "
        f"detection and typing it by its own length; epoch and k chosen on the other subjects give "
        f"{f1('LGSNet', honest):.4f} under that rule, and one-to-one MEGC counting with detections typed by their "
        f"length gives {f1('LGSNet', megc):.4f} (ME found: {tp('LGSNet', own, 'me')} of 57 under its rule, "
        f"{tp('LGSNet', megc, 'me')} under the MEGC rule, where only a detection of at most {ME_MAX_LENGTH} frames "
        f"counts as ME), {f1('LGSNet (last epoch)', megc):.4f} at its last epoch; it is scored on all "
        f"{n_lg} annotated videos.",
        f"{he}: no F1 was published with this output; its own verdicts ({int(he_own['TP'])} of "
        f"{int(he_own['TP'] + he_own['FN'])} found, precision over its {int(he_own['TP_pred'] + he_own['FP'])} spotted "
        f"intervals) give {f1(he, own):.4f}; one-to-one MEGC counting per type gives {f1(he, megc):.4f} (ME "
        f"{f1(he, own, 'me'):.4f} -> {f1(he, megc, 'me'):.4f}; ME found: {tp(he, own, 'me')} under its rule, "
        f"{tp(he, megc, 'me')} under the MEGC rule, where only an interval of at most {ME_MAX_LENGTH} frames counts "
        f"as ME); its thresholds were set by hand, "
        f"nothing is selected on this output; against its own file's ground truth (3 offsets at the apex) the MEGC "
        f"rule gives {table.attrs['he_ground_truth_effect']:.4f}.",
    ]
