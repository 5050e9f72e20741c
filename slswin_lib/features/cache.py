"""The feature cache: where a video's features and face track are stored, keyed by
:func:`slswin_lib.config.run_digest` of every parameter that changes them (:func:`cache_params`).

Per video, under ``<cache_root>/<video key>/``: ``k<k>_<digest>.npy`` (the features, uncompressed so
that training folds memory-map them), then ``k<k>_<digest>.npz`` (landmarks, boxes, settings; written
last, the done mark), and ``track_<digest>.npz`` (the face track, shared by every k and flow setting).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..config import RUNTIME_ONLY, FeatureConfig, run_digest
from ..io import atomic_path, cache_dir, save_npz_atomic
from .preprocess import config_sizes
from .tracking import FaceTrack, landmark_model_path, model_hash

__all__ = ["CODE_VERSION", "cache_params", "cache_file", "load_cached", "track_file", "load_track", "save_track",
           "mesh_file", "load_meshes", "save_meshes",
           "save_features", "feature_bytes_per_pair", "cache_bytes_needed"]

#: bump when a code change alters the features (part of the cache key)
CODE_VERSION = "1"


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
               landmark_model_sha256=model_hash(str(path), path.stat().st_mtime),
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
                  landmark_model_sha256=model_hash(str(path), path.stat().st_mtime))
    digest = run_digest(params)
    root = Path(cache_root) if cache_root is not None else cache_dir("features")
    return root / _safe(video.key) / f"track_{digest}.npz"


#: FeatureConfig fields that decide the landmarks of a video's frames (not the crop size or margin):
#: one landmark pass serves the 42 x 42 and the 84 x 84 features (Table 6) alike
_MESH_FIELDS = ("landmark_mode", "min_confidence")


def mesh_file(video, cfg: FeatureConfig, cache_root: str | os.PathLike | None = None, *,
              model: str | os.PathLike | None = None) -> Path:
    """Where ``video``'s face meshes (the landmarker's output on every frame) are cached, keyed by what
    decides them: the frames, the landmark model and its mode and confidence."""
    path = landmark_model_path(model)
    params = {f: getattr(cfg, f) for f in _MESH_FIELDS}
    params.update(video=video.key, video_fingerprint=_video_fingerprint(video), code_version=CODE_VERSION,
                  landmark_model_sha256=model_hash(str(path), path.stat().st_mtime))
    root = Path(cache_root) if cache_root is not None else cache_dir("features")
    return root / _safe(video.key) / f"meshes_{run_digest(params)}.npz"


def load_meshes(path: Path) -> list:
    """The cached meshes of a video (:func:`mesh_file`): per frame ``(478, 2)`` points, or None where the
    landmarker found no face."""
    with np.load(path) as z:
        points, found = z["points"], z["found"]
    return [points[i] if found[i] else None for i in range(len(found))]


def save_meshes(path: Path, meshes: Sequence) -> None:
    """Cache a video's meshes atomically (frames without a face stored as NaN, flagged in ``found``)."""
    found = np.array([m is not None for m in meshes], bool)
    first = next(m for m in meshes if m is not None)
    points = np.full((len(meshes), *np.shape(first)), np.nan, dtype=np.asarray(first).dtype)
    for i, m in enumerate(meshes):
        if m is not None:
            points[i] = m
    save_npz_atomic(path, points=points, found=found)


def load_track(path: Path) -> FaceTrack:
    """A cached face track (:func:`track_file`)."""
    with np.load(path) as z:
        return FaceTrack(z["crops"], z["pts68"], z["boxes"], z["missing"])


def save_track(path: Path, track: FaceTrack) -> None:
    """Cache a face track atomically."""
    save_npz_atomic(path, crops=track.crops, pts68=track.pts68, boxes=track.boxes, missing=track.missing)


def save_features(path: Path, features: np.ndarray, track: FaceTrack, params: dict) -> None:
    """Cache a video's features (``.npy``), then its landmarks and settings (``.npz``, the done mark)."""
    with atomic_path(path.with_suffix(".npy")) as tmp:
        np.save(tmp, np.ascontiguousarray(features, dtype=np.float32))
    save_npz_atomic(path, pts68=track.pts68,
                    boxes=track.boxes, missing=track.missing,
                    params=np.array(json.dumps(params, sort_keys=True)))


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
