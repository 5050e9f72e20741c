"""Cached, resumable, parallel feature extraction (paper Sections 2.1-2.2).

Per video: (A) landmarks on every frame once (MediaPipe), face box, grayscale crop, landmarks in
crop pixels; (B) for every pair (i, i+k): flow, strain, head-motion removal, eye masks, ROI
mosaic. Stage A runs per video, stage B in chunks of ``cfg.chunk`` pairs, both over a process
pool (``cv2.setNumThreads(1)`` in each worker), or per video on a Dask cluster when a
scheduler address is given. With a batched device flow (``flow="tvl1_torch"``) the pool's main
process computes each chunk's flow on ``cfg.flow_device`` (``cfg.flow_batch`` pairs per call)
and the workers do landmarks, crops and preprocessing.

Per video two files are written atomically under ``<cache_root>/<video key>/``:
``k<k>_<digest>.npy``, the features (uncompressed, so that training folds memory-map them), then
``k<k>_<digest>.npz``, the landmarks, boxes and settings, which marks the video as done. The digest
(:func:`slswin_lib.config.run_digest`) covers every parameter that changes the output
(:func:`cache_params`); a finished video is never recomputed, a changed parameter never reuses
stale data, and an interrupted run resumes at the first unfinished video.
"""
from __future__ import annotations

import atexit
import dataclasses
import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..config import RUNTIME_ONLY, FeatureConfig, run_digest
from ..io import atomic_path, cache_dir, check_free_space, save_npz_atomic
from .crop import crop_face, face_box, to_crop_coords
from .flow import FlowComputer, optical_strain
from .landmarks import FaceLandmarker, LandmarkError, fill_missing, model_sha256, to_dlib68
from .preprocess import config_sizes, minmax_normalise, preprocess_sample, roi_flow_magnitude

__all__ = ["ArrayVideo", "FeatureError", "FaceTrack", "extract_features", "extract_video", "track_face",
           "pair_features", "pair_flows", "flow_features", "feature_bytes_per_pair", "cache_bytes_needed", "DEVICE_FLOWS", "cache_params", "cache_file",
           "load_cached", "landmarker", "landmark_model_path", "minmax_normalise",
           "roi_flow_magnitude", "CODE_VERSION"]

#: bump when a code change alters the features (part of the cache key)
CODE_VERSION = "1"


class FeatureError(ValueError):
    """A video cannot be turned into features (too short, frames of different sizes, ...)."""


@dataclass
class FaceTrack:
    """Stage A result of one video of ``n`` frames.

    crops: ``(n, S, S)`` uint8 grayscale face crops; pts68: ``(n, 68, 2)`` float32 dlib-68
    landmarks in crop pixels; boxes: ``(n, 3)`` (x0, y0, side) frame pixels; missing: ``(n,)``
    bool, frames without a detected face (they carry the nearest frame's landmarks).
    """

    crops: np.ndarray
    pts68: np.ndarray
    boxes: np.ndarray
    missing: np.ndarray


class ArrayVideo:
    """An in-memory video (tests, benchmarks): ``frames`` is a sequence of RGB uint8 ``(H, W, 3)``."""

    def __init__(self, key: str, frames: Sequence[np.ndarray], fps: float = 30.0) -> None:
        self.key, self.fps, self._frames = key, float(fps), list(frames)

    @property
    def n_frames(self) -> int:
        return len(self._frames)

    def frame(self, i: int) -> np.ndarray:
        return self._frames[i]

    def frames(self):
        return iter(self._frames)


# -- landmark model ----------------------------------------------------------------------------
def landmark_model_path(model: str | os.PathLike | None = None) -> Path:
    """The face-landmarker model file: ``model``, else the bundled, hash-checked one."""
    if model is None:
        from ..assets import asset_path

        return Path(asset_path("face_landmarker"))
    return Path(model)


@lru_cache(maxsize=8)
def _model_hash(path: str, mtime: float) -> str:
    return model_sha256(path)


_LANDMARKERS: dict[tuple, FaceLandmarker] = {}


def _close_landmarkers() -> None:
    """Close the cached landmarkers while MediaPipe is still whole (at exit, before module teardown,
    where closing them from ``__del__`` prints an ignored exception)."""
    while _LANDMARKERS:
        _LANDMARKERS.popitem()[1].close()


def landmarker(model: Path, cfg: FeatureConfig) -> FaceLandmarker:
    """One landmarker per process, model and settings (image mode is stateless); closed at exit."""
    key = (str(model), cfg.landmark_mode, cfg.min_confidence)
    if cfg.landmark_mode == "video":  # tracking state must not leak between videos
        return FaceLandmarker(model, mode="video", min_confidence=cfg.min_confidence)
    if key not in _LANDMARKERS:
        if not _LANDMARKERS:  # the first one of this process
            atexit.register(_close_landmarkers)
        _LANDMARKERS[key] = FaceLandmarker(model, mode="image", min_confidence=cfg.min_confidence)
    return _LANDMARKERS[key]


# -- stage A ------------------------------------------------------------------------------------
def track_face(video, cfg: FeatureConfig, *, model: str | os.PathLike | None = None,
               progress: bool = False) -> FaceTrack:
    """Landmarks, face box and grayscale crop of every frame of ``video`` (one pass).

    Frames without a face take the landmarks (and box) of the nearest frame with one; they are
    counted in ``FaceTrack.missing`` and reported with a warning. Raises :class:`FeatureError`
    for frames of different sizes and :class:`LandmarkError` when no frame has a face.
    """
    from tqdm.auto import tqdm

    key = getattr(video, "key", "video")
    n = int(video.n_frames)
    lm = landmarker(landmark_model_path(model), cfg)
    size = cfg.face_size
    crops = np.zeros((n, size, size), np.uint8)
    meshes: list[np.ndarray | None] = []
    shape = None
    fps = float(getattr(video, "fps", 30.0) or 30.0)
    frames = tqdm(video.frames(), total=n, desc=f"landmarks {key}", disable=not progress,
                  leave=False)
    try:
        for i, frame in enumerate(frames):
            if shape is None:
                shape = frame.shape
            elif frame.shape != shape:
                raise FeatureError(f"{key}: frame {i} has shape {frame.shape} but frame 0 has "
                                   f"{shape}; all frames of a video must have one size (resize them)")
            if cfg.landmark_mode == "video":
                mesh = lm.detect_video_frame(frame, int(round(i * 1000.0 / fps)))
            else:
                mesh = lm.detect(frame)
            meshes.append(mesh)
            if mesh is not None:
                crops[i] = crop_face(frame, face_box(mesh[:468], cfg.crop_margin), size)
    finally:  # a video-mode landmarker holds tracking state: one per video, closed here
        if cfg.landmark_mode == "video":
            lm.close()
    if len(meshes) != n:
        raise FeatureError(f"{key}: expected {n} frames, read {len(meshes)}")
    filled, missing = fill_missing(meshes, key=key)
    boxes = np.stack([face_box(m[:468], cfg.crop_margin) for m in filled])
    for i in np.flatnonzero(missing):  # crop with the nearest face's box
        crops[i] = crop_face(video.frame(int(i)), boxes[i], size)
    if missing.any():
        warnings.warn(f"{key}: no face found in {int(missing.sum())} of {n} frames "
                      f"(first: {int(np.flatnonzero(missing)[0])}); they use the nearest "
                      f"frame's landmarks", stacklevel=2)
    pts68 = np.stack([to_crop_coords(to_dlib68(m), b, size) for m, b in zip(filled, boxes)])
    return FaceTrack(crops, pts68.astype(np.float32), boxes, missing)


# -- stage B ------------------------------------------------------------------------------------
_FLOWS: dict[tuple, FlowComputer] = {}

#: flow methods that run batched on a torch device: the pool's main process computes their flow
#: chunk by chunk on ``cfg.flow_device``; the workers do landmarks, crops and preprocessing
DEVICE_FLOWS = ("tvl1_torch",)


def _flow(cfg: FeatureConfig) -> FlowComputer:
    key = (cfg.flow, tuple(cfg.flow_params), cfg.flow_device, cfg.flow_batch, cfg.flow_compile)
    if key not in _FLOWS:
        try:
            _FLOWS[key] = FlowComputer(cfg.flow, dict(cfg.flow_params), device=cfg.flow_device,
                                       batch=cfg.flow_batch, compile=cfg.flow_compile)
        except ValueError as err:
            raise FeatureError(f"FeatureConfig (flow={cfg.flow!r}, flow_device={cfg.flow_device!r}): "
                               f"{err}") from None
    return _FLOWS[key]


def raw_features(prev: np.ndarray, nxt: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """(u, v, |e|) ``(S, S, 3)`` float32 of one pair of grayscale crops (before preprocessing)."""
    flow = _flow(cfg)(prev, nxt)
    return np.dstack([flow, optical_strain(flow[..., 0], flow[..., 1])])


def pair_flows(crops: np.ndarray, k: int, cfg: FeatureConfig, *, key: str = "video",
               first: int = 0) -> np.ndarray:
    """Flow of pairs (j, j+k), j = 0 .. len(crops)-k-1, in one batched call.

    Args:
        crops: ``(m, S, S)`` uint8 grayscale crops (``"tvl1_torch"``: also float, 0..255).
        k: frame distance of the pairs.
        cfg: the flow settings (``flow``, ``flow_params``, ``flow_device``, ``flow_batch``).
        key: the video's key, named in errors.
        first: frame number of ``crops[0]`` in the video, for errors.

    Returns:
        ``(m-k, S, S, 2)`` float32 flow (u, v).

    Raises:
        FeatureError: naming the video and frame pair when the flow refuses a pair (frames of
            different sizes, NaN pixels) or the flow device is unavailable.
    """
    prev, nxt = crops[:len(crops) - k], crops[k:]
    try:
        return _flow(cfg).many(prev, nxt)
    except ValueError as err:
        j = getattr(err, "pair", None)
        if j is not None:
            raise FeatureError(f"{key}: frame pair ({first + j}, {first + j + k}): {err}") from None
        raise FeatureError(f"{key}: frame pairs ({first}, {first + k}) .. "
                           f"({first + len(prev) - 1}, {first + len(prev) - 1 + k}): {err}") from None


def flow_features(flows: np.ndarray, pts68: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """ROI mosaics of pairs from their flow: ``(P, S, S, 2)`` and ``(>= P, 68, 2)`` -> ``(P, 2r, 2r, 3)``."""
    sizes = config_sizes(cfg)
    out = np.empty((len(flows), 2 * sizes.roi, 2 * sizes.roi, 3), np.float32)
    for j, flow in enumerate(flows):
        raw = np.dstack([flow, optical_strain(flow[..., 0], flow[..., 1])])
        out[j] = preprocess_sample(raw, pts68[j], sizes, abs_uv=cfg.abs_uv, layout=cfg.roi_layout)
    return out


def pair_features(crops: np.ndarray, pts68: np.ndarray, k: int, cfg: FeatureConfig, *,
                  key: str = "video", first: int = 0) -> np.ndarray:
    """ROI mosaics of pairs (j, j+k) for j = 0 .. len(crops)-k-1.

    crops: ``(m, S, S)`` uint8; pts68: ``(>= m-k, 68, 2)`` landmarks of the first frames of the
    pairs -> ``(m-k, 2r, 2r, 3)`` float32. ``key``/``first`` name the video and the first frame in
    errors (:func:`pair_flows`). Flows are held for ``cfg.chunk`` pairs at a time.
    """
    n_pairs = len(crops) - k
    step = max(int(cfg.chunk), 1)
    parts = [flow_features(pair_flows(crops[s:min(s + step, n_pairs) + k], k, cfg, key=key, first=first + s),
                           pts68[s:], cfg) for s in range(0, n_pairs, step)]
    if not parts:
        sizes = config_sizes(cfg)
        return np.empty((0, 2 * sizes.roi, 2 * sizes.roi, 3), np.float32)
    return np.concatenate(parts)


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)


def _pairs_task(crops: np.ndarray, pts68: np.ndarray, k: int, cfg: FeatureConfig, key: str,
                first: int) -> np.ndarray:
    return pair_features(crops, pts68, k, cfg, key=key, first=first)


def _preprocess_task(flows: np.ndarray, pts68: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    return flow_features(flows, pts68, cfg)


def extract_video(video, k: int, cfg: FeatureConfig, *, model: str | os.PathLike | None = None,
                  progress: bool = False, track: FaceTrack | None = None) -> tuple[np.ndarray, FaceTrack]:
    """Features of one video in this process: ``((n-k, 2r, 2r, 3) float32, FaceTrack)``.

    ``track``: the video's face track when already known (e.g. from the cache of another k).
    """
    _check_length(video, k)
    if track is None:
        track = track_face(video, cfg, model=model, progress=progress)
    return pair_features(track.crops, track.pts68, k, cfg, key=video.key), track


# -- cache ---------------------------------------------------------------------------------------
def _check_length(video, k: int) -> None:
    if int(k) < 1:
        raise FeatureError(f"k must be >= 1, got {k}")
    if video.n_frames < k + 1:
        raise FeatureError(f"{video.key}: {video.n_frames} frames is shorter than k + 1 = {k + 1}; "
                           f"drop the video or use a smaller k")


def _video_fingerprint(video) -> str:
    first = np.ascontiguousarray(video.frame(0))
    h = hashlib.sha1(first.tobytes())
    h.update(repr((first.shape, int(video.n_frames), float(getattr(video, "fps", 0)))).encode())
    return h.hexdigest()[:16]



def cache_params(video, k: int, cfg: FeatureConfig, *, model: str | os.PathLike | None = None
                 ) -> dict[str, Any]:
    """Everything that determines a video's features (the cache key, also saved beside them)."""
    path = landmark_model_path(model)
    out = {k_: v for k_, v in dataclasses.asdict(cfg).items() if k_ not in RUNTIME_ONLY}
    out["flow_params"] = [list(p) for p in cfg.flow_params]
    out.update(video=video.key, k=int(k), video_fingerprint=_video_fingerprint(video),
               landmark_model_sha256=_model_hash(str(path), path.stat().st_mtime),
               code_version=CODE_VERSION)
    return out


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def cache_file(video, k: int, cfg: FeatureConfig, cache_root: str | os.PathLike | None = None, *,
               model: str | os.PathLike | None = None) -> Path:
    """Where ``video``'s landmarks and settings for ``(k, cfg)`` are cached (written last: the done mark)."""
    digest = run_digest(cache_params(video, k, cfg, model=model))
    root = Path(cache_root) if cache_root is not None else cache_dir("features")
    return root / _safe(video.key) / f"k{int(k)}_{digest}.npz"


def load_cached(path: str | os.PathLike) -> dict[str, Any]:
    """Contents of a cache entry (its ``.npz``): ``features`` (memory-mapped), ``pts68``, ``boxes``,
    ``missing`` and ``params``."""
    path = Path(path)
    with np.load(path) as z:
        out = {name: z[name] for name in z.files if name != "params"}
        out["params"] = json.loads(str(z["params"]))
    out["features"] = np.load(path.with_suffix(".npy"), mmap_mode="r")
    return out


#: FeatureConfig fields that decide a face track (landmarks, boxes, crops); the flow and the
#: preprocessing do not, so one track serves every k and flow setting of a video.
_TRACK_FIELDS = ("face_size", "crop_margin", "landmark_mode", "min_confidence")


def track_file(video, cfg: FeatureConfig, cache_root: str | os.PathLike | None = None, *,
               model: str | os.PathLike | None = None) -> Path:
    """Where ``video``'s face track (stage A) is cached, keyed by what decides it."""
    path = landmark_model_path(model)
    params = {f: getattr(cfg, f) for f in _TRACK_FIELDS}
    params.update(video=video.key, video_fingerprint=_video_fingerprint(video), code_version=CODE_VERSION,
                  landmark_model_sha256=_model_hash(str(path), path.stat().st_mtime))
    digest = run_digest(params)
    root = Path(cache_root) if cache_root is not None else cache_dir("features")
    return root / _safe(video.key) / f"track_{digest}.npz"


def _load_track(path: Path) -> FaceTrack:
    with np.load(path) as z:
        return FaceTrack(z["crops"], z["pts68"], z["boxes"], z["missing"])


def _save_track(path: Path, track: FaceTrack) -> None:
    save_npz_atomic(path, crops=track.crops, pts68=track.pts68, boxes=track.boxes, missing=track.missing)


def _save(path: Path, features: np.ndarray, track: FaceTrack, params: dict) -> None:
    with atomic_path(path.with_suffix(".npy")) as tmp:
        np.save(tmp, np.ascontiguousarray(features, dtype=np.float32))
    save_npz_atomic(path, pts68=track.pts68,
                    boxes=track.boxes, missing=track.missing,
                    params=np.array(json.dumps(params, sort_keys=True)))


def _dask_task(video, k: int, cfg: FeatureConfig, model: str | None, track: FaceTrack | None = None):
    _init_worker()
    features, track = extract_video(video, k, cfg, model=model, track=track)
    return features, track


def _picklable(video):
    """A copy of ``video`` without an open OpenCV capture (those cannot cross processes)."""
    import copy

    if getattr(video, "_cap", None) is not None:
        video = copy.copy(video)
        video._cap = None
        if hasattr(video, "_next"):
            video._next = 0
    return video


def feature_bytes_per_pair(cfg: FeatureConfig) -> int:
    """Bytes of one frame pair's ``(2r, 2r, 3)`` float32 ROI mosaic in the feature cache's ``.npy``."""
    side = 2 * config_sizes(cfg).roi
    return side * side * 3 * np.dtype(np.float32).itemsize


def cache_bytes_needed(videos: Sequence, k: int, cfg: FeatureConfig) -> int:
    """An upper bound of the cache bytes that extracting ``videos`` writes: the features' ``.npy``
    (:func:`feature_bytes_per_pair` a pair) and, per frame, the face track (crop, landmarks, box,
    flag; stored compressed, counted raw) once in the track file and the landmarks again with the features."""
    per_frame = cfg.face_size ** 2 + 2 * (68 * 2 * 4 + 3 * 8 + 1)
    return sum((int(v.n_frames) - k) * feature_bytes_per_pair(cfg) + int(v.n_frames) * per_frame for v in videos)


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
        _check_length(v, k)
    model = str(landmark_model_path(model))
    _flow(cfg)   # an unknown flow parameter or an unavailable device fails here, before any work
    paths = {v.key: cache_file(v, k, cfg, cache_root, model=model) for v in videos}
    todo = [v for v in videos if not (paths[v.key].exists() and paths[v.key].with_suffix(".npy").exists())]
    if todo:  # a clear refusal now rather than a full disk hours into the extraction
        check_free_space(next(iter(paths.values())).parent, cache_bytes_needed(todo, k, cfg),
                         what=f"the features of {len(todo)} video(s) at k = {k}")
    n_workers = workers if workers is not None else cfg.workers
    n_workers = n_workers or os.cpu_count() or 1

    bar = tqdm(total=len(todo), desc=f"features k={k}", unit="video", disable=not progress or not todo)

    track_paths = {v.key: track_file(v, cfg, cache_root, model=model) for v in todo}
    tracks = {key: _load_track(p) for key, p in track_paths.items() if p.exists()}

    def finish(video, features, track):
        if not track_paths[video.key].exists():
            _save_track(track_paths[video.key], track)
        _save(paths[video.key], features, track, cache_params(video, k, cfg, model=model))
        bar.update(1)

    if todo and scheduler_address:
        from distributed import Client

        with Client(scheduler_address) as client:
            futures = {client.submit(_dask_task, _picklable(v), k, cfg, model, tracks.get(v.key), pure=False): v
                       for v in todo}
            from distributed import as_completed

            for fut in as_completed(futures):
                features, track = fut.result()
                finish(futures[fut], features, track)
    elif todo and n_workers <= 1:
        for v in todo:
            bar.set_postfix_str(v.key)
            features, track = extract_video(v, k, cfg, model=model, progress=progress, track=tracks.get(v.key))
            finish(v, features, track)
    elif todo:
        _run_pool(todo, k, cfg, model, n_workers, finish, progress, tracks)
    bar.close()
    return {v.key: np.load(paths[v.key].with_suffix(".npy"), mmap_mode="r") for v in videos}


def _run_pool(todo: Sequence, k: int, cfg: FeatureConfig, model: str, n_workers: int,
              finish, progress: bool, tracks: dict[str, FaceTrack] | None = None) -> None:
    """Stage A per video and stage B per chunk of pairs over one process pool."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    from tqdm.auto import tqdm

    total_pairs = sum(v.n_frames - k for v in todo)
    pairs_bar = tqdm(total=total_pairs, desc="frame pairs", unit="pair", disable=not progress,
                     leave=False)
    chunk = max(int(cfg.chunk), 1)
    with ProcessPoolExecutor(n_workers, mp_context=mp.get_context("spawn"),
                             initializer=_init_worker) as pool:
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
                pending[pool.submit(track_face, _picklable(v), cfg, model=model)] = ("track", v, None)
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                kind, video, start = pending.pop(fut)
                handle(kind, video, start, fut.result())  # re-raises a worker's error with its message
    pairs_bar.close()
