"""Face tracking (stage A of the feature extraction, paper Section 2.2): landmarks on every frame,
face box, grayscale crop and the landmarks in crop pixels of one video.

The image-mode landmarker is cached per process (:func:`landmarker`); MediaPipe's lifecycle is in
:mod:`slswin_lib.features.landmarks`.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from ..config import FeatureConfig
from ..timing import LANDMARKS, timed
from .crop import crop_face, face_box, to_crop_coords
from .landmarks import FaceLandmarker, fill_missing, model_sha256, to_dlib68

__all__ = ["FeatureError", "FaceTrack", "ArrayVideo", "landmark_model_path", "model_hash", "landmarker",
           "track_face", "check_length"]


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


def landmark_model_path(model: str | os.PathLike | None = None) -> Path:
    """The face-landmarker model file: ``model``, else the bundled, hash-checked one."""
    if model is None:
        from ..assets import asset_path

        return Path(asset_path("face_landmarker"))
    return Path(model)


@lru_cache(maxsize=8)
def model_hash(path: str, mtime: float) -> str:
    """SHA-256 of the landmark model file (cached per path and modification time)."""
    return model_sha256(path)


_LANDMARKERS: dict[tuple, FaceLandmarker] = {}


def landmarker(model: Path, cfg: FeatureConfig) -> FaceLandmarker:
    """One landmarker per process, model and settings (image mode is stateless); closed when the
    interpreter begins to shut down (:func:`~slswin_lib.features.landmarks.close_open_landmarkers`)."""
    key = (str(model), cfg.landmark_mode, cfg.min_confidence)
    if cfg.landmark_mode == "video":  # tracking state must not leak between videos
        return FaceLandmarker(model, mode="video", min_confidence=cfg.min_confidence)
    if key not in _LANDMARKERS or _LANDMARKERS[key].closed:
        _LANDMARKERS[key] = FaceLandmarker(model, mode="image", min_confidence=cfg.min_confidence)
    return _LANDMARKERS[key]


@timed(LANDMARKS)
def track_face(video, cfg: FeatureConfig, *, model: str | os.PathLike | None = None,
               progress: bool = False, cache_root: str | os.PathLike | None = None) -> FaceTrack:
    """Landmarks, face box and grayscale crop of every frame of ``video`` (one pass over its frames).

    The landmarker's meshes do not depend on the crop size, so they are cached on their own
    (:func:`~slswin_lib.features.cache.mesh_file`, under ``cache_root``; None: not cached): the 84 x 84
    features of Table 6 (a 256 px crop) reuse the landmarks of the 42 x 42 ones and only crop again.
    Frames without a face take the landmarks (and box) of the nearest frame with one; they are
    counted in ``FaceTrack.missing`` and reported with a warning. Raises :class:`FeatureError`
    for frames of different sizes and :class:`LandmarkError` when no frame has a face.
    """
    from tqdm.auto import tqdm

    key = getattr(video, "key", "video")
    n = int(video.n_frames)
    model_path = landmark_model_path(model)
    cache, known = None, None
    if cache_root is not None:
        from .cache import load_meshes, mesh_file

        cache = mesh_file(video, cfg, cache_root, model=model_path)
        if cache.exists():
            known = load_meshes(cache)
            if len(known) != n:
                raise FeatureError(f"{key}: the cached landmarks {cache} hold {len(known)} frames, the video {n}; "
                                   "delete the file so that they are detected again")
    lm = landmarker(model_path, cfg) if known is None else None
    size = cfg.face_size
    crops = np.zeros((n, size, size), np.uint8)
    meshes: list[np.ndarray | None] = []
    shape = None
    fps = float(getattr(video, "fps", 30.0) or 30.0)
    frames = tqdm(video.frames(), total=n, desc=f"landmarks {key}", disable=not progress or known is not None,
                  leave=False)
    try:
        for i, frame in enumerate(frames):
            if shape is None:
                shape = frame.shape
            elif frame.shape != shape:
                raise FeatureError(f"{key}: frame {i} has shape {frame.shape} but frame 0 has "
                                   f"{shape}; all frames of a video must have one size (resize them)")
            if known is not None:
                mesh = known[i] if i < n else None
            elif cfg.landmark_mode == "video":
                mesh = lm.detect_video_frame(frame, int(round(i * 1000.0 / fps)))
            else:
                mesh = lm.detect(frame)
            meshes.append(mesh)
            if mesh is not None:
                crops[i] = crop_face(frame, face_box(mesh[:468], cfg.crop_margin), size)
    finally:  # a video-mode landmarker holds tracking state: one per video, closed here
        if lm is not None and cfg.landmark_mode == "video":
            lm.close()
    if len(meshes) != n:
        raise FeatureError(f"{key}: expected {n} frames, read {len(meshes)}")
    filled, missing = fill_missing(meshes, key=key)   # raises when no frame has a face
    if cache is not None and known is None:
        from .cache import save_meshes

        save_meshes(cache, meshes)
    boxes = np.stack([face_box(m[:468], cfg.crop_margin) for m in filled])
    for i in np.flatnonzero(missing):  # crop with the nearest face's box
        crops[i] = crop_face(video.frame(int(i)), boxes[i], size)
    if missing.any():
        warnings.warn(f"{key}: no face found in {int(missing.sum())} of {n} frames "
                      f"(first: {int(np.flatnonzero(missing)[0])}); they use the nearest "
                      f"frame's landmarks", stacklevel=2)
    pts68 = np.stack([to_crop_coords(to_dlib68(m), b, size) for m, b in zip(filled, boxes)])
    return FaceTrack(crops, pts68.astype(np.float32), boxes, missing)


def check_length(video, k: int) -> None:
    """Refuse a k below 1 or a video shorter than k + 1 frames (no pair), naming the video."""
    if int(k) < 1:
        raise FeatureError(f"k must be >= 1, got {k}")
    if video.n_frames < k + 1:
        raise FeatureError(f"{video.key}: {video.n_frames} frames is shorter than k + 1 = {k + 1}; "
                           f"drop the video or use a smaller k")
