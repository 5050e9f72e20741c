"""A tiny synthetic set built without MediaPipe: face crops with known landmarks, motion and ground truth.

The device check (:mod:`slswin_lib.gpucheck`) must run on a bare GPU machine whose Python has no
MediaPipe, so it cannot track faces. This module draws what tracking would return instead: per video
the ``(n, S, S)`` uint8 grayscale face crops and their ``(n, 68, 2)`` dlib-68 landmarks
(:data:`~slswin_lib.features.landmarks.DLIB68`), with the ground-truth expression intervals.

Each subject is a schematic face drawn into the crop (face oval, brows, eyes, nose, lips over a fine
skin texture, so the flow has gradients everywhere), its landmarks placed by the same geometry, the
proportions varied per subject. It moves the way the synthetic benchmark's faces move
(:mod:`slswin_lib.data.synthetic`): frame ``t`` shows base point ``p`` at ``H_t(p + E_t(p))``, the
expression field ``E_t`` a sum of Gaussian bumps of displacement centred on landmarks (brow raise,
lip-corner pull, ...) and ``H_t`` a slow head drift; frames are rendered and landmarks moved with
:func:`~slswin_lib.data.synthetic.render_frame` and :func:`~slswin_lib.data.synthetic.forward_warp`,
so :func:`true_flow` gives the exact displacement between two frames. Expression durations and sizes
follow :class:`~slswin_lib.config.DataConfig` (ME 0.2-0.5 s, 0.3-1 px; MaE 0.5-4 s, 1.5-6 px at the
128 px crop), with a raised-cosine (Hann) envelope peaking mid-event.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..config import DataConfig
from ..data.base import Event

__all__ = ["TinyVideo", "face_landmarks", "tiny_set", "true_flow", "FACE_AUS"]

#: action units of the schematic face: name -> [(dlib point, direction (x, y) in crop axes, y down)]
FACE_AUS: dict[str, list[tuple[int, tuple[float, float]]]] = {
    "brow_raise": [(19, (0.0, -1.0)), (24, (0.0, -1.0))],
    "brow_lower": [(21, (0.5, 0.85)), (22, (-0.5, 0.85))],
    "lid_tighten": [(40, (0.0, -1.0)), (47, (0.0, -1.0))],
    "lip_corner_pull": [(48, (-0.8, -0.6)), (54, (0.8, -0.6))],
    "lip_corner_depress": [(48, (-0.3, 0.95)), (54, (0.3, 0.95))],
    "lips_part": [(62, (0.0, -1.0)), (66, (0.0, 1.0))],
}
#: bump width (Gaussian standard deviation) as a fraction of the crop side
BUMP_SIGMA = 0.07
#: head drift: peak translation in crop pixels and its period in seconds
DRIFT_PX, DRIFT_PERIOD_S = 0.6, 5.0
#: grey levels: face, background, the darker features (brows, eyes, lips) and the skin texture's s.d.
FACE_GREY, BACKGROUND_GREY, FEATURE_GREY, TEXTURE_SD = 170.0, 90.0, 70.0, 6.0
#: Gaussian blur (pixels) of the skin texture (its grain) and of the drawn edges (anti-aliasing)
TEXTURE_BLUR, EDGE_BLUR = 1.2, 0.8


@dataclass(frozen=True)
class TinyVideo:
    """One video of the tiny set.

    Attributes:
        key, subject, video_code: as in the data sets (``key = f"{subject}_{video_code}"``).
        crops: ``(n, S, S)`` uint8 grayscale face crops.
        pts68: ``(n, 68, 2)`` float32 dlib-68 landmarks in crop pixels.
        events: ground truth, 0-based inclusive.
        fps: frame rate.
        head: ``(n, 2, 3)`` head transforms; ``bumps``: centres, sigmas, vectors ``(R, 2)``;
            ``amps``: ``(n, R)`` bump amplitudes in pixels (the known motion, :func:`true_flow`).
    """

    key: str
    subject: str
    video_code: str
    crops: np.ndarray
    pts68: np.ndarray
    events: tuple[Event, ...]
    fps: float
    head: np.ndarray
    bumps: dict
    amps: np.ndarray

    @property
    def n_frames(self) -> int:
        return len(self.crops)


def _arc(cx: float, cy: float, ax: float, ay: float, start: float, stop: float, n: int) -> np.ndarray:
    """``n`` points ``(cx + ax cos a, cy + ay sin a)`` for angles ``a`` from ``start`` to ``stop``."""
    a = np.linspace(start, stop, n)
    return np.stack([cx + ax * np.cos(a), cy + ay * np.sin(a)], axis=1)


def face_landmarks(size: int, rng: np.random.Generator) -> np.ndarray:
    """``(68, 2)`` dlib-68 points of a schematic face filling a ``size`` px crop, proportions drawn from ``rng``.

    The layout is dlib's (points 0-16 jaw from the image left, 17-26 brows, 27-35 nose, 36-47 eyes,
    48-67 lips); the jaw spans the crop's width, the brows sit at about 0.3 of its height and the
    mouth at 0.75, each within a few per cent drawn per subject.
    """
    s = float(size)
    eye_dx, eye_y = s * rng.uniform(0.19, 0.22), s * rng.uniform(0.40, 0.44)
    mouth_w, mouth_y = s * rng.uniform(0.15, 0.19), s * rng.uniform(0.74, 0.78)
    brow_gap = s * rng.uniform(0.09, 0.11)
    cx = s / 2
    pts = np.zeros((68, 2))
    pts[0:17] = _arc(cx, s * 0.42, s * 0.47, s * 0.55, math.pi, 0.0, 17)            # jaw, ear level to chin
    arch = eye_y - brow_gap - s * 0.03 * np.sin(np.linspace(0.2, 2.9, 5))
    pts[17:22] = np.stack([cx - np.linspace(eye_dx * 1.55, eye_dx * 0.45, 5), arch], axis=1)   # outer to inner
    pts[22:27] = np.stack([cx + np.linspace(eye_dx * 0.45, eye_dx * 1.55, 5), arch[::-1]], axis=1)  # inner to outer
    pts[27:31] = np.stack([np.full(4, cx), np.linspace(eye_y - s * 0.02, s * 0.62, 4)], axis=1)
    pts[31:36] = np.stack([cx + np.linspace(-s * 0.07, s * 0.07, 5), s * 0.655 + s * 0.01 * np.abs(
        np.linspace(-2, 2, 5))], axis=1)
    # each eye from its image-left corner over the upper lid to its image-right corner and back under
    # the lower lid (dlib's order for both eyes; y grows downwards, so the upper lid has sin < 0)
    eye = _arc(0.0, eye_y, s * 0.075, s * 0.028, math.pi, 3 * math.pi, 7)[:6]
    pts[36:42] = eye + [cx - eye_dx, 0.0]
    pts[42:48] = eye + [cx + eye_dx, 0.0]
    pts[48:60] = _arc(cx, mouth_y, mouth_w, s * 0.05, math.pi, 3 * math.pi, 13)[:12]   # from the left corner
    pts[60:68] = _arc(cx, mouth_y, mouth_w * 0.8, s * 0.018, math.pi, 3 * math.pi, 9)[:8]
    return pts


def _base_image(size: int, pts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The subject's ``(size, size, 3)`` float32 face (grey replicated): oval, features, fine texture."""
    import cv2

    img = np.full((size, size), BACKGROUND_GREY, np.float32)
    jaw = pts[0:17]
    centre = (int(round(size / 2)), int(round(jaw[:, 1].min())))
    axes = (int(round((jaw[:, 0].max() - jaw[:, 0].min()) / 2)), int(round(jaw[:, 1].max() - centre[1])))
    cv2.ellipse(img, centre, axes, 0, 0, 360, FACE_GREY * rng.uniform(0.9, 1.1), -1)
    dark = FEATURE_GREY * rng.uniform(0.85, 1.15)
    for brow in (pts[17:22], pts[22:27]):
        cv2.polylines(img, [np.rint(brow).astype(np.int32)], False, dark, thickness=max(2, size // 40))
    for eye in (pts[36:42], pts[42:48]):
        cv2.fillPoly(img, [np.rint(eye).astype(np.int32)], dark)
    cv2.polylines(img, [np.rint(pts[27:31]).astype(np.int32)], False, dark + 40.0, thickness=1)
    cv2.polylines(img, [np.rint(pts[31:36]).astype(np.int32)], False, dark + 20.0, thickness=2)
    cv2.fillPoly(img, [np.rint(pts[48:60]).astype(np.int32)], dark + 25.0)
    cv2.fillPoly(img, [np.rint(pts[60:68]).astype(np.int32)], dark - 30.0)
    texture = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), TEXTURE_BLUR)
    img = cv2.GaussianBlur(img, (0, 0), EDGE_BLUR) + texture * (TEXTURE_SD / texture.std())
    return np.repeat(np.clip(img, 0, 255)[..., None], 3, axis=2)


def _bumps(pts: np.ndarray, size: int) -> tuple[dict, list[str]]:
    """Bump geometry (centres, sigmas, vectors ``(R, 2)``) of :data:`FACE_AUS` and each bump's AU."""
    centres, vectors, aus = [], [], []
    for au, spec in FACE_AUS.items():
        for point, (vx, vy) in spec:
            centres.append(pts[point])
            norm = math.hypot(vx, vy)
            vectors.append((vx / norm, vy / norm))
            aus.append(au)
    sig = BUMP_SIGMA * size
    return {"centres": np.array(centres), "sigmas": np.full((len(aus), 2), sig), "vectors": np.array(vectors)}, aus


def _timeline(n: int, fps: float, cfg: DataConfig, aus: list[str], rng: np.random.Generator):
    """Events (MaE and ME in turn, the first a MaE shortened to fit) and ``(n, R)`` amplitudes."""
    amps = np.zeros((n, len(aus)))
    names = list(FACE_AUS)
    # the first pause is at most a quarter of the video, so that a short video holds its macro-expression
    events, t, kind = [], min(int(rng.uniform(*cfg.gap_seconds) * fps), n // 4), "mae"
    end = n - int(0.3 * fps)
    while True:
        seconds = cfg.mae_seconds if kind == "mae" else cfg.me_seconds
        length = max(int(round(rng.uniform(*seconds) * fps)), 3)
        if not events:
            length = min(length, end - t)
        if length < 3 or t + length > end:
            break
        size = rng.uniform(*(cfg.mae_px if kind == "mae" else cfg.me_px))     # pixels at the 128 px crop
        chosen = rng.choice(names, size=2 if kind == "mae" else 1, replace=False)
        env = np.zeros(n)
        env[t:t + length] = np.hanning(length)
        for au in chosen:
            for r in (r for r, a in enumerate(aus) if a == au):
                amps[:, r] += env * size
        events.append(Event(t, t + length // 2, t + length - 1, kind))
        t += length + int(rng.uniform(*cfg.gap_seconds) * fps)
        kind = "me" if kind == "mae" else "mae"
    if not any(e.type == "mae" for e in events):
        raise ValueError(f"{n} frames at {fps:g} fps cannot hold a macro-expression; use longer videos")
    return tuple(events), amps


def tiny_set(n_subjects: int, seconds: float, *, size: int = 128, cfg: DataConfig | None = None,
             seed: int = 0) -> list[TinyVideo]:
    """One video per subject, ``seconds`` long, of ``size`` px face crops with known landmarks and motion.

    Args:
        n_subjects: subjects (``s01``, ``s02``, ...), one video each.
        seconds: length of each video at ``cfg.fps``.
        size: the crop side (:attr:`~slswin_lib.config.FeatureConfig.face_size`); pixel sizes of
            expressions are given at 128 px and scaled.
        cfg: expression durations, sizes, pauses and sensor noise (default: :class:`DataConfig`'s).
        seed: the draws of faces, events and noise.

    Raises:
        ValueError: the videos are too short to hold a macro-expression.
    """
    from ..data.synthetic import forward_warp, render_frame

    cfg = cfg or DataConfig()
    n = int(round(seconds * cfg.fps))
    scale = size / 128.0
    videos = []
    for s in range(n_subjects):
        rng = np.random.default_rng([seed, s])
        pts = face_landmarks(size, rng)
        base = _base_image(size, pts, rng)
        bumps, aus = _bumps(pts, size)
        events, amps = _timeline(n, cfg.fps, cfg, aus, rng)
        amps *= scale
        phase = rng.uniform(0, 2 * math.pi, 2)
        t = np.arange(n) / cfg.fps
        head = np.zeros((n, 2, 3))
        head[:, 0, 0] = head[:, 1, 1] = 1.0
        head[:, 0, 2] = DRIFT_PX * scale * np.sin(2 * math.pi * t / DRIFT_PERIOD_S + phase[0])
        head[:, 1, 2] = DRIFT_PX * scale * np.sin(2 * math.pi * t / DRIFT_PERIOD_S + phase[1])
        noise = rng.uniform(*cfg.noise_sigma)
        crops = np.empty((n, size, size), np.uint8)
        pts68 = np.empty((n, 68, 2), np.float32)
        for i in range(n):
            frame = render_frame(base, head[i], bumps, amps[i])[..., 0]
            frame = frame + rng.normal(0.0, noise, frame.shape)
            crops[i] = np.clip(frame + 0.5, 0, 255).astype(np.uint8)
            x, y = forward_warp(pts[:, 0], pts[:, 1], head[i], bumps, amps[i])
            pts68[i] = np.stack([x, y], axis=1)
        subject = f"s{s + 1:02d}"
        videos.append(TinyVideo(f"{subject}_0101", subject, "0101", crops, pts68, events, float(cfg.fps),
                                head, bumps, amps))
    return videos


def true_flow(video: TinyVideo, i: int, j: int) -> np.ndarray:
    """Exact ``(S, S, 2)`` float32 displacement from frame ``i`` to frame ``j``: the point at pixel
    ``(x, y)`` of frame ``i`` is at ``(x + dx, y + dy)`` of frame ``j`` (as
    :func:`~slswin_lib.data.synthetic.true_displacement`)."""
    from ..data.synthetic import forward_warp, invert_warp

    size = video.crops.shape[1]
    gy, gx = np.mgrid[0:size, 0:size].astype(np.float64)
    px, py = invert_warp(gx, gy, video.head[i], video.bumps, video.amps[i], iters=50, tol=1e-9)
    xj, yj = forward_warp(px, py, video.head[j], video.bumps, video.amps[j])
    return np.stack([xj - gx, yj - gy], axis=-1).astype(np.float32)
