"""Face landmarks with MediaPipe Tasks ``FaceLandmarker`` and the mesh -> dlib-68 mapping.

The paper (Section 2.2) uses dlib's 68-point layout: eyes 36-41 / 42-47, brows 17-21 / 22-26,
nose point 28, mouth 48-67, jaw 0-16. MediaPipe returns a 478-point mesh (468 face points plus
10 iris points). :data:`MESH_TO_DLIB68` picks, for every dlib point, the mesh vertex at the same
anatomical place; :func:`to_dlib68` applies it. Indices are 0-based, "left"/"right" follow dlib
(image left = the subject's right side), so ``DLIB68["left_eye"]`` (36-41) is the eye on the
left of the image.

Example::

    lm = FaceLandmarker()                 # bundled model, hash-checked
    mesh = lm.detect(frame_rgb)           # (478, 2) float32 pixels or None
    pts68 = to_dlib68(mesh)               # (68, 2)
    nose = pts68[NOSE_POINT]              # dlib point 28
"""
from __future__ import annotations

import os
import threading
import weakref
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

__all__ = [
    "FaceLandmarker",
    "LandmarkError",
    "MESH_TO_DLIB68",
    "DLIB68",
    "NOSE_POINT",
    "N_MESH",
    "to_dlib68",
    "model_sha256",
    "close_open_landmarkers",
]

#: number of points of the MediaPipe face mesh with irises
N_MESH = 478

#: mesh vertex index for each of the 68 dlib points (0-based dlib order).
MESH_TO_DLIB68: np.ndarray = np.array(
    [
        # 0-16 jaw line, image left (subject's right ear) to image right
        127, 234, 93, 132, 58, 136, 150, 176, 152, 400, 379, 365, 288, 361, 323, 454, 356,
        # 17-21 brow on the image left, outer to inner
        70, 63, 105, 66, 107,
        # 22-26 brow on the image right, inner to outer
        336, 296, 334, 293, 300,
        # 27-30 nose bridge, top to tip
        168, 197, 5, 4,
        # 31-35 nostrils, image left to right
        75, 97, 2, 326, 305,
        # 36-41 eye on the image left: outer corner, upper lid x2, inner corner, lower lid x2
        33, 160, 158, 133, 153, 144,
        # 42-47 eye on the image right: inner corner, upper lid x2, outer corner, lower lid x2
        362, 385, 387, 263, 373, 380,
        # 48-59 outer lip contour, from the left mouth corner clockwise (on screen)
        61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,
        # 60-67 inner lip contour
        78, 82, 13, 312, 308, 317, 14, 87,
    ],
    dtype=np.int64,
)

#: named dlib-68 index ranges (0-based) of the regions the paper uses
DLIB68: dict[str, np.ndarray] = {
    "jaw": np.arange(0, 17),
    "left_brow": np.arange(17, 22),
    "right_brow": np.arange(22, 27),
    "nose_bridge": np.arange(27, 31),
    "nostrils": np.arange(31, 36),
    "left_eye": np.arange(36, 42),
    "right_eye": np.arange(42, 48),
    "outer_lips": np.arange(48, 60),
    "inner_lips": np.arange(60, 68),
    "mouth": np.arange(48, 68),
}

#: dlib point whose 11 x 11 neighbourhood is the head-motion reference (paper Section 2.2)
NOSE_POINT = 28


class LandmarkError(RuntimeError):
    """The landmark model could not be loaded or a video has no detectable face."""


def to_dlib68(mesh: np.ndarray) -> np.ndarray:
    """Map a MediaPipe mesh ``(478, 2)`` (or ``(..., 478, 2)``) to dlib-68 points ``(..., 68, 2)``."""
    mesh = np.asarray(mesh)
    if mesh.shape[-2] < 468:
        raise ValueError(f"expected a MediaPipe mesh with >= 468 points, got shape {mesh.shape}")
    return mesh[..., MESH_TO_DLIB68, :]


def model_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a landmark model file (part of the feature-cache key)."""
    from ..assets import sha256_of

    return sha256_of(path)


def _as_rgb_uint8(image: np.ndarray, where: str = "image") -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(
            f"{where}: expected an RGB uint8 array (H, W, 3), got dtype {image.dtype} shape "
            f"{image.shape}; convert grey/BGR frames with cv2.cvtColor first"
        )
    return np.ascontiguousarray(image)


#: every FaceLandmarker not yet closed (closed by :func:`close_open_landmarkers` before shutdown)
_OPEN: "weakref.WeakSet[FaceLandmarker]" = weakref.WeakSet()
_EXIT_HOOK = threading.Lock()
_exit_hook_registered = False


def close_open_landmarkers() -> None:
    """Close every :class:`FaceLandmarker` of this process that is still open.

    Registered (once, with the first landmarker) to run when the interpreter begins to shut down,
    before its non-daemon threads are joined. MediaPipe runs every C call of a landmarker on a
    ``concurrent.futures`` thread pool, and ``concurrent.futures`` refuses new work from that point
    on (its own hook in :mod:`threading`), so a landmarker closed later (by an :mod:`atexit`
    handler, or by MediaPipe's ``__del__`` during module teardown) raised ``RuntimeError: cannot
    schedule new futures after interpreter shutdown``, printed as an ignored exception at exit.
    """
    for lm in list(_OPEN):
        lm.close()


def _close_before_shutdown() -> None:
    """Register :func:`close_open_landmarkers` with the interpreter's shutdown, once per process.

    It goes to :mod:`threading`'s shutdown hooks (``threading._register_atexit``, the hook
    ``concurrent.futures`` itself uses), which run in reverse order of registration before the
    :mod:`atexit` handlers: registered after ``concurrent.futures.thread``'s, it runs while the
    thread pools still take work.
    """
    global _exit_hook_registered
    import concurrent.futures.thread  # noqa: F401  (its shutdown hook is registered on import, before ours)

    with _EXIT_HOOK:
        if not _exit_hook_registered:
            threading._register_atexit(close_open_landmarkers)
            _exit_hook_registered = True


class FaceLandmarker:
    """MediaPipe Tasks ``FaceLandmarker`` returning pixel coordinates of the first face.

    Parameters
    ----------
    model_path:
        a ``face_landmarker.task`` file; default: the bundled, hash-checked model
        (:func:`slswin_lib.assets.asset_path` ``("face_landmarker")``).
    mode:
        ``"image"``: every call detects the face from scratch (deterministic per image, so
        frames can be processed in any order and in parallel); ``"video"``: MediaPipe's
        tracking mode (detect, track the face from frame to frame, re-detect when lost);
        frames must then be passed in time order through :meth:`track`.
    min_confidence:
        detection / presence threshold of MediaPipe (its default 0.5).

    Use as a context manager or call :meth:`close` to free the graph.
    """

    def __init__(self, model_path: str | os.PathLike | None = None, *, mode: str = "image",
                 min_confidence: float = 0.5) -> None:
        from mediapipe.tasks.python import BaseOptions, vision

        if mode not in ("image", "video"):
            raise ValueError(f"mode must be 'image' or 'video', got {mode!r}")
        if model_path is None:
            from ..assets import asset_path

            model_path = asset_path("face_landmarker")
        model_path = Path(model_path)
        if not model_path.is_file():
            raise LandmarkError(f"landmark model {model_path} does not exist; pass a valid "
                                f"face_landmarker.task or run `python -m slswin_lib fetch-assets`")
        self.model_path = model_path
        self.mode = mode
        running = vision.RunningMode.IMAGE if mode == "image" else vision.RunningMode.VIDEO
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model_path)),
            running_mode=running,
            num_faces=1,
            min_face_detection_confidence=min_confidence,
            min_face_presence_confidence=min_confidence,
            min_tracking_confidence=min_confidence,
        )
        try:
            self._impl = vision.FaceLandmarker.create_from_options(options)
        except Exception as exc:  # mediapipe raises RuntimeError/ValueError on bad files
            raise LandmarkError(f"could not load landmark model {model_path}: {exc}") from exc
        self._last_ts = -1
        _close_before_shutdown()
        _OPEN.add(self)

    # -- core ------------------------------------------------------------------------------
    @staticmethod
    def _to_pixels(result, width: int, height: int) -> np.ndarray | None:
        if not result.face_landmarks:
            return None
        pts = result.face_landmarks[0]
        out = np.empty((len(pts), 2), dtype=np.float32)
        for j, p in enumerate(pts):
            out[j, 0] = p.x * width
            out[j, 1] = p.y * height
        return out

    def detect(self, image_rgb: np.ndarray) -> np.ndarray | None:
        """Landmarks of one image.

        Parameters
        ----------
        image_rgb: RGB uint8 ``(H, W, 3)``.

        Returns
        -------
        ``(478, 2)`` float32 pixel coordinates (x, y) of the first face, or ``None``.
        """
        import mediapipe as mp

        if self.mode != "image":
            raise RuntimeError("detect() needs mode='image'; use track() in video mode")
        image_rgb = _as_rgb_uint8(image_rgb)
        h, w = image_rgb.shape[:2]
        result = self._impl.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=image_rgb))
        return self._to_pixels(result, w, h)

    def detect_video_frame(self, image_rgb: np.ndarray, timestamp_ms: int) -> np.ndarray | None:
        """Landmarks of one frame in ``video`` mode (timestamps strictly increasing)."""
        import mediapipe as mp

        if self.mode != "video":
            raise RuntimeError("detect_video_frame() needs mode='video'")
        image_rgb = _as_rgb_uint8(image_rgb)
        h, w = image_rgb.shape[:2]
        ts = max(int(timestamp_ms), self._last_ts + 1)
        self._last_ts = ts
        result = self._impl.detect_for_video(
            mp.Image(image_format=mp.ImageFormat.SRGB, data=image_rgb), ts)
        return self._to_pixels(result, w, h)

    def track(self, frames: Iterable[np.ndarray], fps: float = 30.0) -> Iterator[np.ndarray | None]:
        """Landmarks of a sequence of frames, in order (tracking in ``video`` mode)."""
        for i, frame in enumerate(frames):
            if self.mode == "video":
                yield self.detect_video_frame(frame, int(round(i * 1000.0 / fps)))
            else:
                yield self.detect(frame)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run (a closed landmarker cannot detect)."""
        return getattr(self, "_impl", None) is None

    def close(self) -> None:
        """Free MediaPipe's graph (idempotent)."""
        impl = getattr(self, "_impl", None)
        if impl is not None:
            self._impl = None
            _OPEN.discard(self)
            impl.close()

    def __enter__(self) -> "FaceLandmarker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


def fill_missing(landmarks: list[np.ndarray | None], *, key: str = "video") -> tuple[np.ndarray, np.ndarray]:
    """Replace missing per-frame landmarks (``None``) by those of the nearest frame with a face.

    Parameters
    ----------
    landmarks: per frame ``(P, 2)`` array or ``None``.
    key: video name used in the error message.

    Returns
    -------
    ``(n, P, 2)`` float32 landmarks and a boolean ``(n,)`` mask of frames that were filled.
    Ties (equally near before and after) take the earlier frame.

    Raises
    ------
    LandmarkError when no frame has a face.
    """
    found = np.array([lm is not None for lm in landmarks], dtype=bool)
    if not found.any():
        raise LandmarkError(
            f"{key}: no face found in any of its {len(landmarks)} frames; check that the video "
            f"shows a frontal face, or lower FeatureConfig.min_confidence")
    idx = np.flatnonzero(found)
    n = len(landmarks)
    pos = np.searchsorted(idx, np.arange(n))
    before = idx[np.clip(pos - 1, 0, len(idx) - 1)]
    after = idx[np.clip(pos, 0, len(idx) - 1)]
    frames = np.arange(n)
    nearest = np.where(np.abs(frames - before) <= np.abs(after - frames), before, after)
    nearest[found] = frames[found]
    out = np.stack([landmarks[j] for j in nearest]).astype(np.float32)
    return out, ~found


__all__.append("fill_missing")
