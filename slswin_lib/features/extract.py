"""Cached, resumable, parallel feature extraction (paper Sections 2.1-2.2).

Per video: (A) landmarks on every frame once (MediaPipe), face box, grayscale crop, landmarks in
crop pixels; (B) for every pair (i, i+k): flow, strain, head-motion removal, eye masks, ROI
mosaic. Stage A runs per video, stage B in chunks of ``cfg.chunk`` pairs, both over a process
pool (``cv2.setNumThreads(1)`` in each worker), or per video on a Dask cluster when a
scheduler address is given. With a batched device flow (``flow="tvl1_torch"``) the pool's main
process computes each chunk's flow on ``cfg.flow_device`` (``cfg.flow_batch`` pairs per call)
and the workers do landmarks, crops and preprocessing.

Per video two files are written atomically (:mod:`~slswin_lib.features.cache`); a finished video is
never recomputed, a changed parameter never reuses stale data, and an interrupted run resumes at the
first unfinished video.

This module is the entry point (:func:`extract_features`); the work is split by concern:
:mod:`~slswin_lib.features.tracking` (stage A, face tracking), :mod:`~slswin_lib.features.pairs`
(stage B, frame pairs), :mod:`~slswin_lib.features.cache` (the feature cache) and
:mod:`~slswin_lib.features.executors` (process pool, Dask). Their public names are importable from here.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import numpy as np

from ..config import FeatureConfig
from ..io import cache_dir, check_free_space
from ..timing import FLOW, parallel
from .cache import (CODE_VERSION, cache_bytes_needed, cache_file, cache_params, feature_bytes_per_pair, load_cached,
                    load_track, save_features, save_track, track_file)
from .executors import dask_task, picklable, run_pool
from .pairs import DEVICE_FLOWS, extract_video, flow_computer, flow_features, pair_features, pair_flows, raw_features
from .preprocess import minmax_normalise, roi_flow_magnitude
from .tracking import (ArrayVideo, FaceTrack, FeatureError, check_length, landmark_model_path, landmarker,
                       track_face)

__all__ = ["ArrayVideo", "FeatureError", "FaceTrack", "extract_features", "extract_video", "track_face",
           "pair_features", "pair_flows", "flow_features", "raw_features", "feature_bytes_per_pair",
           "cache_bytes_needed", "DEVICE_FLOWS", "cache_params", "cache_file",
           "track_file", "load_cached", "landmarker", "landmark_model_path", "minmax_normalise",
           "roi_flow_magnitude", "CODE_VERSION"]


def extract_features(videos: Iterable, k: int, cfg: FeatureConfig, *,
                     cache_root: str | os.PathLike | None = None, workers: int | None = None,
                     scheduler_address: str | None = None, progress: bool = True,
                     model: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """ROI-mosaic features of every video, from the cache or computed (and cached).

    Parameters
    ----------
    videos: objects with ``key``, ``fps``, ``n_frames``, ``frame(i)``, ``frames()`` (RGB uint8).
    k: frame distance of the flow pairs (paper Section 2.1).
    cfg: the profile's :class:`~slswin_lib.config.FeatureConfig`.
    cache_root: folder of the per-video ``.npz`` files (default ``cache_dir("features")``;
        notebooks pass ``work_dir(profile, "features")``).
    workers: processes (default ``cfg.workers``; 0 = all cores; 1 = in this process).
    scheduler_address: a Dask scheduler; videos are then mapped over its workers.
    model: landmark model file (default: the bundled, hash-checked one).

    Returns
    -------
    ``{video key: (n_frames - k, 2r, 2r, 3) float32}`` with channels (u, v, |e|) after head-motion
    removal and eye masks, before :func:`minmax_normalise`.
    """
    from tqdm.auto import tqdm

    videos = list(videos)
    keys = [v.key for v in videos]
    if len(set(keys)) != len(keys):
        raise FeatureError(f"video keys are not unique: {sorted(k_ for k_ in keys if keys.count(k_) > 1)}")
    for v in videos:
        check_length(v, k)
    model = str(landmark_model_path(model))
    flow_computer(cfg)   # an unknown flow parameter or an unavailable device fails here, before any work
    paths = {v.key: cache_file(v, k, cfg, cache_root, model=model) for v in videos}
    root = Path(cache_root) if cache_root is not None else cache_dir("features")   # the landmarks' cache too
    todo = [v for v in videos if not (paths[v.key].exists() and paths[v.key].with_suffix(".npy").exists())]
    if todo:  # a clear refusal now rather than a full disk hours into the extraction
        check_free_space(next(iter(paths.values())).parent, cache_bytes_needed(todo, k, cfg),
                         what=f"the features of {len(todo)} video(s) at k = {k}")
    n_workers = workers if workers is not None else cfg.workers
    n_workers = n_workers or os.cpu_count() or 1

    bar = tqdm(total=len(todo), desc=f"features k={k}", unit="video", disable=not progress or not todo)

    track_paths = {v.key: track_file(v, cfg, cache_root, model=model) for v in todo}
    tracks = {key: load_track(p) for key, p in track_paths.items() if p.exists()}

    def finish(video, features, track):
        if not track_paths[video.key].exists():
            save_track(track_paths[video.key], track)
        save_features(paths[video.key], features, track, cache_params(video, k, cfg, model=model))
        bar.update(1)

    if todo and scheduler_address:
        from distributed import Client

        with Client(scheduler_address) as client:
            futures = {client.submit(dask_task, picklable(v), k, cfg, model, tracks.get(v.key), root, pure=False): v
                       for v in todo}
            from distributed import as_completed

            with parallel(FLOW) as wait:
                for fut in as_completed(futures):
                    features, track, seconds = fut.result()
                    wait.add(seconds)
                    finish(futures[fut], features, track)
    elif todo and n_workers <= 1:
        for v in todo:
            bar.set_postfix_str(v.key)
            features, track = extract_video(v, k, cfg, model=model, progress=progress, track=tracks.get(v.key),
                                            cache_root=root)
            finish(v, features, track)
    elif todo:
        run_pool(todo, k, cfg, model, n_workers, finish, progress, tracks, root)
    bar.close()
    return {v.key: np.load(paths[v.key].with_suffix(".npy"), mmap_mode="r") for v in videos}
