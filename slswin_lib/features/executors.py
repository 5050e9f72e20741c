"""Where the feature extraction runs: a local process pool (stage A per video, stage B per chunk of
pairs; a batched device flow runs in the pool's main process) or a Dask cluster (per video).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..config import FeatureConfig
from ..timing import FLOW, collect, parallel
from .pairs import DEVICE_FLOWS, extract_video, flow_features, pair_features, pair_flows
from .tracking import FaceTrack, track_face

__all__ = ["init_worker", "dask_task", "picklable", "run_pool"]


def init_worker() -> None:
    """One OpenCV thread per worker process (the pool supplies the parallelism)."""
    import cv2

    cv2.setNumThreads(1)


# Each task returns its result with the seconds of the stages it timed (slswin_lib.timing.collect),
# which the waiting process adds to its time split.
def _track_task(video, cfg: FeatureConfig, model: str, cache_root) -> tuple[FaceTrack, dict[str, float]]:
    with collect() as seconds:
        track = track_face(video, cfg, model=model, cache_root=cache_root)
    return track, seconds


def _pairs_task(crops: np.ndarray, pts68: np.ndarray, k: int, cfg: FeatureConfig, key: str,
                first: int) -> tuple[np.ndarray, dict[str, float]]:
    with collect() as seconds:
        features = pair_features(crops, pts68, k, cfg, key=key, first=first)
    return features, seconds


def _preprocess_task(flows: np.ndarray, pts68: np.ndarray, cfg: FeatureConfig) -> tuple[np.ndarray, dict[str, float]]:
    with collect() as seconds:
        features = flow_features(flows, pts68, cfg)
    return features, seconds


def dask_task(video, k: int, cfg: FeatureConfig, model: str | None, track: FaceTrack | None = None,
              cache_root=None):
    """Features and face track of one video on a Dask worker, with its stage seconds."""
    init_worker()
    with collect() as seconds:
        features, track = extract_video(video, k, cfg, model=model, track=track, cache_root=cache_root)
    return features, track, seconds


def picklable(video):
    """A copy of ``video`` without an open OpenCV capture (those cannot cross processes)."""
    import copy

    if getattr(video, "_cap", None) is not None:
        video = copy.copy(video)
        video._cap = None
        if hasattr(video, "_next"):
            video._next = 0
    return video


def run_pool(todo: Sequence, k: int, cfg: FeatureConfig, model: str, n_workers: int,
              finish, progress: bool, tracks: dict[str, FaceTrack] | None = None, cache_root=None) -> None:
    """Stage A per video and stage B per chunk of pairs over one process pool (``cache_root``: where
    stage A caches the landmarks, :func:`~slswin_lib.features.tracking.track_face`)."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor
    from concurrent.futures import wait as wait_for

    from tqdm.auto import tqdm

    total_pairs = sum(v.n_frames - k for v in todo)
    pairs_bar = tqdm(total=total_pairs, desc="frame pairs", unit="pair", disable=not progress,
                     leave=False)
    chunk = max(int(cfg.chunk), 1)
    with parallel(FLOW) as wait, ProcessPoolExecutor(n_workers, mp_context=mp.get_context("spawn"),
                                                     initializer=init_worker) as pool:
        state: dict[str, dict] = {}
        pending: dict = {}

        def handle(kind, video, start, result):
            if kind == "track":   # stage A done: split the pairs into chunks for stage B
                n_pairs = video.n_frames - k
                state[video.key] = dict(track=result, parts={}, n_chunks=0)
                for s in range(0, n_pairs, chunk):
                    e = min(s + chunk, n_pairs)
                    if cfg.flow in DEVICE_FLOWS:   # flow here on the device, the rest in a worker
                        flows = pair_flows(result.crops[s:e + k], k, cfg, key=video.key, first=s)
                        f = pool.submit(_preprocess_task, flows, result.pts68[s:e], cfg)
                    else:
                        f = pool.submit(_pairs_task, result.crops[s:e + k], result.pts68[s:e], k, cfg,
                                        video.key, s)
                    pending[f] = ("pairs", video, s)
                    state[video.key]["n_chunks"] += 1
                return
            st = state[video.key]
            st["parts"][start] = result
            pairs_bar.update(len(result))
            if len(st["parts"]) == st["n_chunks"]:
                features = np.concatenate([st["parts"][s] for s in sorted(st["parts"])])
                finish(video, features, st["track"])
                del state[video.key]

        tracks = tracks or {}
        for v in todo:
            if v.key in tracks:   # a cached face track goes straight to stage B
                handle("track", v, None, tracks[v.key])
            else:
                pending[pool.submit(_track_task, picklable(v), cfg, model, cache_root)] = ("track", v, None)
        while pending:
            done, _ = wait_for(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                kind, video, start = pending.pop(fut)
                result, seconds = fut.result()  # re-raises a worker's error with its message
                wait.add(seconds)
                handle(kind, video, start, result)
    pairs_bar.close()
