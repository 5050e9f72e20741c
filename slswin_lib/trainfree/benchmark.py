"""The optical-flow spotter on a data set: its Table 2 rows, and the settings tables of docs/method.md.

* :func:`analyse_dataset` spots every video of a data set at every sensitivity of
  ``OFSpotConfig.sensitivity_grid`` (one analysis per video; the face tracks come from the feature cache of
  the run, so nothing is tracked twice; videos in parallel processes; results cached in the run folder).
* :func:`add_of_rows` adds its rows to Table 2 (:func:`slswin_lib.report.megc2021_table`): per type and
  overall, at the source's settings (sensitivity 1) under each matching rule, and with the sensitivity
  chosen by nested leave-one-subject-out selection (for each held-out subject, the grid value with the
  best F1 on the other subjects; no threshold is tuned on a test subject), each F1 with its 95 % bootstrap
  interval and its paired difference to the table's reference method, over the table's units.
* :func:`settings_markdown` and :func:`roi_markdown`: every setting beside the source's value, and the
  regions' dlib-68 points with their MediaPipe mesh vertices (docs/method.md, section 5; a test keeps
  the page in sync with :mod:`slswin_lib.config`).
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from ..config import OF_SOURCE, OF_SPOT, OFSpotConfig, Profile, SpotConfig, run_digest
from ..timing import SPOTTING, collect, parallel, stage
from .ofspot import OF_SCORER, OFResult, analyse_track, cached_track

__all__ = ["OF_METHOD", "SOURCE_LABEL", "NESTED_LABEL", "OF_PUBLISHED", "of_published", "analyse_dataset", "add_of_rows", "deploy_sensitivity",
           "settings_markdown", "roi_markdown", "CODE_VERSION"]

#: the method's name in Table 2
OF_METHOD = "optical-flow spotter (He et al.)"
#: the threshold labels of its Table 2 rows
SOURCE_LABEL = "source settings"
NESTED_LABEL = "nested LOSO sensitivity"
#: bump when a code change alters the spotted intervals (part of the cache key)
CODE_VERSION = "1"
#: the published MEGC 2021 LOSO F1 of the method's family, with how each was selected and matched:
#: OF-FD (He Yuhong et al., "Research on Micro-Expression Spotting Method Based on Optical Flow Features",
#: ACM MM 2021, doi 10.1145/3474085.3479225; the figures as issue 31 quotes them)
OF_PUBLISHED = {
    "OF-FD (He et al. 2021)": {"casme2": {"mae": 0.3782, "me": 0.1965, "overall": 0.3436},
                               "samm_lv": {"mae": 0.4149, "me": 0.2162, "overall": 0.3638},
                               "note": "hand-set thresholds of the same family of code, no held-out selection; a "
                                       "ground truth is found by any spotted interval at IoU >= 0.5 (one may find "
                                       "several; shared/reference/peers/README.md)"},
}


def of_published(dataset: str) -> pd.DataFrame:
    """The published rows of :data:`OF_PUBLISHED` for ``casme2`` or ``samm_lv`` (empty otherwise), in the
    columns of :func:`slswin_lib.published.published_table2`."""
    rows = {name: {**row[dataset], "selection and matching": row["note"]}
            for name, row in OF_PUBLISHED.items() if dataset in row}
    table = pd.DataFrame.from_dict(rows, orient="index", columns=["mae", "me", "overall", "selection and matching"])
    table.index.name = "published"
    return table


def _spot_all(analysis, sensitivities) -> dict[float, OFResult]:
    return {float(f): analysis.spot(f) for f in sensitivities}


def _save(path: Path, results: dict[float, OFResult], track_name: str) -> None:
    from ..io import save_npz_atomic

    arrays = {}
    for i, r in enumerate(results.values()):
        arrays.update({f"intervals_{i}": r.intervals, f"me_{i}": r.types == "me", f"apexes_{i}": r.apexes,
                       f"heights_{i}": r.heights})
    first = next(iter(results.values()))
    meta = {"key": first.key, "fps": first.fps, "n_frames": first.n_frames, "stats": first.stats,
            "sensitivities": list(results), "track": track_name}
    save_npz_atomic(path, motion=first.motion, windows=first.windows, meta=np.array(json.dumps(meta)), **arrays)


def _load(path: Path, track_name: str) -> dict[float, OFResult] | None:
    with np.load(path) as z:
        meta = json.loads(str(z["meta"]))
        if meta["track"] != track_name:
            return None
        out = {}
        for i, f in enumerate(meta["sensitivities"]):
            types = np.where(z[f"me_{i}"], "me", "mae")
            out[float(f)] = OFResult(meta["key"], meta["fps"], meta["n_frames"], float(f), z[f"intervals_{i}"], types,
                                     z[f"apexes_{i}"], z[f"heights_{i}"], z["motion"], z["windows"], meta["stats"])
    return out


def _analyse_one(video, feature_cfg, cache_root, cfg: OFSpotConfig, sensitivities, path: str
                 ) -> tuple[str, dict[str, float]]:
    """Worker: one video's results at every sensitivity, written to ``path``, with the seconds of its stages
    (the ROI flow as optical flow, the rest as spotting; :mod:`slswin_lib.timing`)."""
    from ..features.cache import track_file

    with collect() as seconds, stage(SPOTTING):
        track = cached_track(video, feature_cfg, cache_root=cache_root)
        analysis = analyse_track(track, float(video.fps), cfg, key=video.key)
        _save(Path(path), _spot_all(analysis, sensitivities), track_file(video, feature_cfg, cache_root).name)
    return path, seconds


def analyse_dataset(ds, profile: Profile, cfg: OFSpotConfig = OF_SPOT, *, workers: int | None = None,
                    cache_root: str | os.PathLike | None = None, progress: bool = True
                    ) -> dict[str, dict[float, OFResult]]:
    """Every video of ``ds`` spotted at every sensitivity of ``cfg.sensitivity_grid`` (and ``cfg.sensitivity``).

    Args:
        ds: a :mod:`slswin_lib.data` data set (videos with ``key``, ``fps``, frames).
        profile: the run's profile: its ``features`` give the face track (landmarks, crops; read from
            the feature cache when the features were extracted) and its name the run folder
            (``runs/<dataset>/of_spotter-<digest>/``, one ``.npz`` per video, reused when the settings and
            the face track are the same).
        workers: processes (default: one per core, at most one per video).
        cache_root: the feature cache (default the run's, ``work_dir(profile.name, "features")``).

    Returns:
        video key -> sensitivity -> :class:`~slswin_lib.trainfree.ofspot.OFResult`.
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from tqdm.auto import tqdm

    from ..experiment import run_folder
    from ..features.cache import track_file
    from ..features.executors import init_worker, picklable
    from ..io import work_dir

    root = Path(cache_root) if cache_root is not None else work_dir(profile.name, "features")
    sensitivities = list(dict.fromkeys([*map(float, cfg.sensitivity_grid), float(cfg.sensitivity)]))
    track_fields = {f: getattr(profile.features, f) for f in ("face_size", "crop_margin", "landmark_mode",
                                                              "min_confidence")}
    digest = run_digest({"of": dataclasses.asdict(cfg), "track": track_fields, "code": CODE_VERSION}, length=8)
    folder = run_folder(profile, ds.name, f"{OF_SCORER}-{digest}")
    out: dict[str, dict[float, OFResult]] = {}
    todo = []
    for v in ds.videos:
        path = folder / f"{v.key}.npz"
        name = track_file(v, profile.features, root).name
        loaded = _load(path, name) if path.exists() else None
        if loaded is not None and set(sensitivities) <= set(loaded):
            out[v.key] = loaded
        else:
            todo.append((v, path, name))
    n = min(workers or os.cpu_count() or 1, len(todo)) if todo else 0
    bar = tqdm(total=len(todo), desc="optical-flow spotter", unit="video", disable=not progress or not todo)
    with parallel(SPOTTING) as wait:
        if n <= 1:
            for v, path, _ in todo:
                wait.add(_analyse_one(v, profile.features, root, cfg, sensitivities, str(path))[1])
                bar.update(1)
        elif todo:
            with ProcessPoolExecutor(n, mp_context=mp.get_context("spawn"), initializer=init_worker) as pool:
                futures = [pool.submit(_analyse_one, picklable(v), profile.features, root, cfg, sensitivities,
                                       str(path)) for v, path, _ in todo]
                for fut in as_completed(futures):
                    wait.add(fut.result()[1])
                    bar.update(1)
    bar.close()
    for v, path, name in todo:
        out[v.key] = _load(path, name)
    return {v.key: out[v.key] for v in ds.videos}


def _counts_grid(results: Mapping[str, Mapping[float, OFResult]], scores, grid, e: str, mode: str) -> np.ndarray:
    """``(n_videos, len(grid), 4)`` counts (:data:`slswin_lib.scores.GRID_COUNTS`) of the type-``e`` intervals
    of every video of the score set ``scores`` (its videos and ground truth) at every sensitivity."""
    from ..evaluation import match_video

    out = np.zeros((len(scores.keys), len(grid), 4), dtype=np.int64)
    for vi, video in enumerate(scores.keys):
        gt = scores.gt_of(video)
        for fi, f in enumerate(grid):
            c, _ = match_video(results[video][f].of_type(e), gt, mode, video=video)
            out[vi, fi] = (c.tp, c.fp, c.fn, c.tp_p)
    return out


def _spotted(results: Mapping[str, Mapping[float, OFResult]], sets: Mapping, sensitivity_of) -> dict:
    """type -> video -> the optical-flow spotter's intervals of that type at the video's sensitivity."""
    return {e: {v: results[v][sensitivity_of(e, v)].of_type(e) for v in s.keys} for e, s in sets.items()}


def _nested(results, sets: Mapping, mode: str, grid: list[float]) -> dict[str, dict[str, float]]:
    """type -> video -> the sensitivity nested leave-one-subject-out selection gives its subject."""
    from ..scores import select_t_loso

    out = {}
    for e, s in sets.items():
        counts = _counts_grid(results, s, grid, e, mode)
        _, folds = select_t_loso({"set": s}, grid, mode, grid_counts={"set": counts})
        of_subject = dict(zip(folds["subject"].astype(str), folds["t"]))
        out[e] = {v: float(of_subject[str(subject)]) for v, subject in zip(s.videos["video"], s.videos["subject"])}
    return out


def add_of_rows(comparison, results: Mapping[str, Mapping[float, OFResult]], sets: Mapping, spot_cfg: SpotConfig,
                cfg: OFSpotConfig = OF_SPOT, *, modes: tuple[str, ...] = ("authors", "megc"), method: str = OF_METHOD):
    """Table 2 (:func:`slswin_lib.report.megc2021_table`'s :class:`~slswin_lib.report.Comparison`) with the
    optical-flow spotter's rows added (module docs).

    Its rows are indexed like the others by (method, threshold, matching, type): ``"source settings"`` under
    each of ``modes``, ``"nested LOSO sensitivity"`` under ``spot_cfg.mode``; each F1 has its 95 % bootstrap
    interval and its paired difference to the table's reference method (at that method's fixed t and at
    its nested t, respectively) over the table's units.

    Args:
        comparison: Table 2 of the other methods, on the same videos.
        results: :func:`analyse_dataset`'s.
        sets: expression type -> a score set of those videos (e.g. the reference method's: its videos,
            subjects and ground truth).
        spot_cfg: the profile's spotting settings (``mode``: the nested selection's matching).

    Returns:
        The combined :class:`~slswin_lib.report.Comparison`; its table has ``sensitivity`` (for the nested
        rows the mean over videos) and ``t`` (NaN) for these rows.
    """
    from ..comparison import set_unit_counts
    from ..report import Comparison, difference_cells, unit_metrics

    units = next(iter(comparison.units.values()))     # one set of units for every row
    reference = comparison.reference
    labels = list(comparison.table.xs(reference, level="method").index.unique("threshold"))
    fixed_label = next(label for label in labels if not label.startswith("nested"))
    nested = _nested(results, sets, spot_cfg.mode, [float(f) for f in cfg.sensitivity_grid])
    choices = [(SOURCE_LABEL, mode, fixed_label, lambda e, v: 1.0) for mode in modes]
    choices.append((NESTED_LABEL, spot_cfg.mode, next(label for label in labels if label.startswith("nested")),
                    lambda e, v: nested[e][v]))
    blocks, counts = {}, {}
    for label, mode, ref_label, sensitivity_of in choices:
        tables = set_unit_counts(sets, _spotted(results, sets, sensitivity_of), mode, units)
        table = unit_metrics(tables, sets)
        for row, c in tables.items():
            counts[(method, label, mode, row)] = c
            table.loc[row, ["diff", "diff low", "diff high"]] = difference_cells(
                c, comparison.counts.get((reference, ref_label, mode, row)))
        table["t"] = np.nan
        f = {e: float(np.mean([sensitivity_of(e, v) for v in s.keys])) for e, s in sets.items()}
        table["sensitivity"] = pd.Series({**f, "overall": float(np.mean(list(f.values())))})
        blocks[(method, label, mode)] = table
    rows = pd.concat(blocks, names=["method", "threshold", "matching", "type"])
    rows["units"] = units.describe()
    return Comparison(pd.concat([comparison.table, rows]), comparison.units, {**comparison.counts, **counts},
                      reference)


def deploy_sensitivity(results: Mapping[str, Mapping[float, OFResult]], scores, expression: str, mode: str,
                       cfg: OFSpotConfig = OF_SPOT) -> float:
    """The sensitivity for spotting new videos of one type: the grid value with the best F1 pooled over
    every video of the score set ``scores`` (its videos and ground truth of type ``expression``; the nested
    selection with every subject a training subject; ties: the first in the grid)."""
    from ..evaluation import f1_of

    grid = [float(f) for f in cfg.sensitivity_grid]
    pooled = _counts_grid(results, scores, grid, expression, mode).sum(axis=0)
    return grid[int(np.argmax(f1_of(*pooled.T)))]


def _value(v) -> str:
    from ..config import FlowROI

    if isinstance(v, FlowROI):
        return f"points {v.points[0]}-{v.points[-1]}, margins {v.margins}, less {v.trim}, fraction {v.fraction}"
    if isinstance(v, tuple) and v and isinstance(v[0], FlowROI):
        return f"{len(v)} regions, {sum(r.n_signals for r in v)} signals (table below)"
    if isinstance(v, tuple) and v and isinstance(v[0], tuple):
        return ", ".join(f"{a} {b}" for a, b in v)
    if isinstance(v, tuple):
        return ", ".join(map(str, v))
    return str(v)


def settings_markdown(cfg: OFSpotConfig = OF_SPOT) -> str:
    """Every setting of :class:`~slswin_lib.config.OFSpotConfig` beside the source's value (markdown)."""
    lines = [f"| step | setting (`OFSpotConfig`) | unit | ours | source ({OF_SOURCE}) | where in the source |",
             "|---|---|---|---|---|---|"]
    for f in dataclasses.fields(cfg):
        md = f.metadata
        unit = md["unit"] + (", x sensitivity" if md["sensitive"] else "")
        lines.append(f"| {md['step']} | `{f.name}` | {unit} | {_value(getattr(cfg, f.name))} | {md['source']} | "
                     f"{md['where']} |")
    return "\n".join(lines)


def roi_markdown(cfg: OFSpotConfig = OF_SPOT) -> str:
    """The regions: their dlib-68 points with the MediaPipe mesh vertices they are, margins and signals."""
    from ..features.landmarks import MESH_TO_DLIB68

    def points(ps) -> str:
        return ", ".join(f"{p} ({int(MESH_TO_DLIB68[p])})" for p in ps)

    lines = ["| region | dlib-68 points (mesh vertex) | margins above, below, left, right (px) | signals |",
             "|---|---|---|---|"]
    for roi in (cfg.head_roi, *cfg.rois):
        sig = []
        if roi.trim is not None:
            sig.append(f"whole box less {roi.trim}, top {roi.fraction:g}")
        sig += [f"patch {extents} at {p} ({int(MESH_TO_DLIB68[p])}), top {roi.patch_fraction:g}"
                for p, extents in roi.patches]
        lines.append(f"| {roi.name} | {points(roi.points)} | {roi.margins} | {'; '.join(sig)} |")
    return "\n".join(lines)
