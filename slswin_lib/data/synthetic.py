"""Synthetic long-video benchmark with exact ground truth (the embedded default data set).

Real faces (scikit-image's ``astronaut`` and matplotlib's ``grace_hopper.jpg``, both public
domain) are turned into subjects of different identity (portrait, mirroring, scale, in-plane
pose and shear, skin tone, lighting) and animated with known expressions:

* every expression moves facial regions like action units (brow raise / lower, lid tighten,
  cheek raise, nose wrinkle, lip-corner pull / depress, lip press / part). A region is a smooth
  Gaussian bump of displacement placed on the MediaPipe face mesh of the portrait (detected once
  per portrait with :class:`slswin_lib.features.landmarks.FaceLandmarker` and cached);
* ME: 0.2-0.5 s, 0.3-1 px at the 128 px face crop, one region (sometimes two);
  MaE: 0.5-4 s (log-uniform), 1.5-6 px, two to four regions; a smooth rise to the apex and fall
  to the offset (sizes in :class:`slswin_lib.config.DataConfig`);
* distractors: blinks, slow head drift and small rotations, sudden head movements, lighting
  flicker, sensor noise and JPEG compression.

Geometry and the displacement convention
----------------------------------------
Each subject has a *base image* ``B`` (frame size, the posed portrait). Frame ``t`` shows the base
point ``p`` at ``phi_t(p) = H_t(p + E_t(p))``, where ``E_t(p) = sum_r a_t[r] v_r g_r(p)`` is the
expression field (bump ``r``: unit direction ``v_r``, Gaussian ``g_r`` with centre ``c_r`` and
standard deviations ``s_r``, amplitude ``a_t[r]`` in pixels) and ``H_t`` is the head's similarity
transform. Frames are rendered as ``F_t(x) = B(phi_t^{-1}(x))`` with ``cv2.remap``;
``phi_t^{-1}`` is found by fixed-point iteration (the fields are smooth and small, so it converges
to < 1e-4 px). :func:`true_displacement` returns ``d(x) = phi_j(phi_i^{-1}(x)) - x``: the point at
``x`` in frame ``i`` is at ``x + d(x)`` in frame ``j`` (forward flow, pixels of the full frame).
Lighting, noise and compression change intensities only.

Files (CAS(ME)^2 layout, read by :func:`slswin_lib.data.casme2.load_casme2`)::

    ROOT/rawpic/s01/01_0101disgustingteeth/img1.jpg ...
    ROOT/CAS(ME)^2code_final.xlsx
    ROOT/motion/s01_0101.npz      per-frame head matrices, bump amplitudes, bump geometry
    ROOT/synthetic.json           build parameters; written last (marks a complete build)
"""
from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..io import atomic_write_json, cache_dir, save_npz_atomic, work_dir
from ..timing import RENDERING, timed
from .base import Event, Video

__all__ = [
    "GENERATOR_VERSION", "AUS", "VIDEO_CODES", "portraits", "portrait_landmarks", "ensure_synthetic",
    "build_synthetic", "count_events", "true_displacement", "load_motion", "expression_field", "invert_warp",
    "forward_warp", "render_frame",
]

#: bump this when the generator's output changes, so that cached sets are rebuilt
GENERATOR_VERSION = 2

#: video codes: (code, folder name, sheet name); "unnyfarting" is CAS(ME)^2's own folder typo
VIDEO_CODES = [
    ("0101", "disgustingteeth", "disgust1"), ("0102", "eatingworms", "disgust2"),
    ("0401", "girlcrashing", "anger1"), ("0502", "funnyerrors", "happy1"),
    ("0503", "unnyfarting", "happy2"), ("0505", "funnyinnovations", "happy3"),
    ("0507", "climbingthewall", "happy4"), ("0508", "funnydunkey", "happy5"),
]

#: action units: name -> list of (mesh point, direction in face axes (outward, up), sigma / face box)
#: "outward" points from the face's vertical mid-line towards the point, "up" from chin to forehead.
AUS: dict[str, list[tuple[int, tuple[float, float], float]]] = {
    "AU1+2": [(105, (0.0, 1.0), 0.08), (334, (0.0, 1.0), 0.08)],       # brow raise
    "AU4": [(107, (-0.5, -0.85), 0.07), (336, (-0.5, -0.85), 0.07)],   # brow lower (and together)
    "AU6": [(50, (0.0, 1.0), 0.09), (280, (0.0, 1.0), 0.09)],          # cheek raise
    "AU7": [(145, (0.0, 1.0), 0.045), (374, (0.0, 1.0), 0.045)],       # lid tighten
    "AU9": [(98, (-0.3, 0.95), 0.05), (327, (-0.3, 0.95), 0.05)],      # nose wrinkle
    "AU12": [(61, (0.8, 0.6), 0.06), (291, (0.8, 0.6), 0.06)],         # lip-corner pull
    "AU15": [(61, (0.3, -0.95), 0.06), (291, (0.3, -0.95), 0.06)],     # lip-corner depress
    "AU24": [(0, (0.0, -1.0), 0.05), (17, (0.0, 1.0), 0.05)],          # lip press
    "AU25": [(13, (0.0, 1.0), 0.05), (14, (0.0, -1.0), 0.05)],         # lips part
}
#: blink: upper lids move down; amplitude as a fraction of the eye opening
BLINK = [(159, 145), (386, 374)]
EMOTION_OF = {"AU12": "positive", "AU6": "positive", "AU4": "negative", "AU9": "negative",
              "AU15": "negative", "AU24": "negative"}
#: fixed-point iterations used to invert the warp
INVERT_ITERS = 12


# --------------------------------------------------------------------------- portraits
def portraits() -> dict[str, np.ndarray]:
    """The two public-domain portraits as RGB uint8 arrays."""
    import cv2
    import matplotlib.cbook as cbook
    from skimage import data

    hopper = cv2.imread(str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)), cv2.IMREAD_COLOR)
    return {"astronaut": data.astronaut(), "grace_hopper": cv2.cvtColor(hopper, cv2.COLOR_BGR2RGB)}


def portrait_landmarks(name: str, image: np.ndarray | None = None) -> np.ndarray:
    """``(478, 2)`` float64 face-mesh points (pixels) of portrait ``name``; detected once, cached."""
    path = cache_dir("synthetic") / f"landmarks_{name}.npz"
    if path.exists():
        return np.load(path)["points"].astype(np.float64)
    from ..features.landmarks import FaceLandmarker

    image = portraits()[name] if image is None else image
    with FaceLandmarker() as lm:
        pts = lm.detect(image)
    if pts is None:
        raise RuntimeError(f"no face found in portrait {name!r}; the landmark model may be broken")
    save_npz_atomic(path, points=pts)
    return pts.astype(np.float64)


# --------------------------------------------------------------------------- warp maths
def expression_field(px: np.ndarray, py: np.ndarray, centres: np.ndarray, sigmas: np.ndarray,
                     vectors: np.ndarray, amps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``E(p)`` at points ``(px, py)`` (any shape, pixels): sum of the active bumps.

    centres, sigmas, vectors: ``(R, 2)``; amps: ``(R,)`` pixels. Returns ``(ex, ey)``.
    """
    ex = np.zeros_like(px)
    ey = np.zeros_like(py)
    for r in np.flatnonzero(amps):
        (cx, cy), (sx, sy), (vx, vy) = centres[r], sigmas[r], vectors[r]
        g = np.exp(-0.5 * (((px - cx) / sx) ** 2 + ((py - cy) / sy) ** 2)) * amps[r]
        ex += g * vx
        ey += g * vy
    return ex, ey


def _apply_affine(m: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return m[0, 0] * x + m[0, 1] * y + m[0, 2], m[1, 0] * x + m[1, 1] * y + m[1, 2]


def _invert_affine(m: np.ndarray) -> np.ndarray:
    a = np.linalg.inv(m[:, :2])
    return np.hstack([a, -a @ m[:, 2:3]])


def invert_warp(x: np.ndarray, y: np.ndarray, head: np.ndarray, bumps: dict, amps: np.ndarray,
                iters: int = INVERT_ITERS, tol: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """Base points ``p = phi^{-1}(x)`` for frame points ``(x, y)``; ``head`` is the ``(2, 3)`` matrix.

    Fixed-point iteration ``p <- q - E(p)`` with ``q = H^{-1}(x)``, stopped after ``iters`` steps or
    when no point moves by more than ``tol`` pixels.
    """
    qx, qy = _apply_affine(_invert_affine(head), x, y)
    if not np.any(amps):
        return qx, qy
    px, py = qx.copy(), qy.copy()
    for _ in range(iters):  # a contraction for our small, smooth fields (Lipschitz < 1)
        ex, ey = expression_field(px, py, bumps["centres"], bumps["sigmas"], bumps["vectors"], amps)
        nx, ny = qx - ex, qy - ey
        step = max(float(np.abs(nx - px).max()), float(np.abs(ny - py).max()))
        px, py = nx, ny
        if step < tol:
            break
    return px, py


def forward_warp(px: np.ndarray, py: np.ndarray, head: np.ndarray, bumps: dict,
                 amps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frame points ``phi(p) = H(p + E(p))`` of base points ``(px, py)``."""
    ex, ey = expression_field(px, py, bumps["centres"], bumps["sigmas"], bumps["vectors"], amps)
    return _apply_affine(head, px + ex, py + ey)


def render_frame(base: np.ndarray, head: np.ndarray, bumps: dict, amps: np.ndarray) -> np.ndarray:
    """Warp the float32 base image ``(H, W, 3)`` to one frame (float32, no lighting/noise)."""
    import cv2

    h, w = base.shape[:2]
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    px, py = invert_warp(gx, gy, head, bumps, amps)
    return cv2.remap(base, px.astype(np.float32), py.astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REFLECT101)


# --------------------------------------------------------------------------- subjects
@dataclass
class _Subject:
    number: int
    portrait: str
    base: np.ndarray          # (S, S, 3) float32 RGB 0..255
    landmarks: np.ndarray     # (478, 2) in base/frame pixels
    face_box: float           # side of the landmarks' bounding square, pixels
    bumps: dict               # centres, sigmas, vectors (R, 2); names (R,), au (R,)
    jpeg_quality: int
    noise_sigma: float


def _make_subject(number: int, cfg, rng: np.random.Generator, images: dict, marks: dict) -> _Subject:
    import cv2

    names = sorted(images)
    name = names[number % len(names)]
    img, lm = images[name], marks[name]
    size = cfg.frame_size
    mirror = (number // len(names)) % 2 == 1
    lo, hi = lm.min(0), lm.max(0)
    centre = (lo + hi) / 2
    extent = float((hi - lo).max())
    scale = size * rng.uniform(*cfg.face_fraction) / extent
    angle = math.radians(rng.uniform(-cfg.pose_degrees, cfg.pose_degrees))
    shear = rng.uniform(-0.06, 0.06)
    squeeze = rng.uniform(0.9, 1.0)  # a little yaw-like foreshortening
    lin = scale * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    lin = lin @ np.array([[squeeze, shear], [0.0, 1.0]])
    if mirror:
        lin = lin @ np.diag([-1.0, 1.0])
    target = np.array([size / 2, size / 2]) + rng.uniform(-0.04, 0.04, 2) * size
    m = np.hstack([lin, (target - lin @ centre)[:, None]])
    src = img
    if scale < 1:
        src = cv2.GaussianBlur(img, (0, 0), 0.5 / scale)
    base = cv2.warpAffine(src, m, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT101).astype(np.float32)
    marks_b = (lm @ m[:, :2].T) + m[:, 2]
    # identity: skin tone (per-channel gain), gamma, static lighting gradient
    tone = np.array([1.0, 1.0, 1.0]) + rng.normal(0, [0.06, 0.05, 0.07])
    tone *= rng.uniform(0.75, 1.15)
    gamma = rng.uniform(0.8, 1.25)
    phi = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    light = 1.0 + rng.uniform(0.0, 0.35) * (xx * math.cos(phi) + yy * math.sin(phi))
    base = 255.0 * (base / 255.0) ** gamma
    base = np.clip(base * tone[None, None, :] * light[..., None], 0, 255).astype(np.float32)

    ext_b = float((marks_b.max(0) - marks_b.min(0)).max())
    up = marks_b[10] - marks_b[152]
    up /= np.linalg.norm(up)
    mid = (marks_b[10] + marks_b[152]) / 2
    centres, sigmas, vectors, bnames, baus = [], [], [], [], []
    for au, spec in AUS.items():
        for point, (f_out, f_up), sig in spec:
            c = marks_b[point]
            rel = c - mid
            out = rel - up * float(rel @ up)
            n = np.linalg.norm(out)
            out = out / n if n > 1e-3 * ext_b else np.zeros(2)
            v = f_out * out + f_up * up
            v /= np.linalg.norm(v)
            centres.append(c); sigmas.append([sig * ext_b, sig * ext_b]); vectors.append(v)
            bnames.append(f"{au}@{point}"); baus.append(au)
    for upper, lower in BLINK:
        c = marks_b[upper]
        centres.append(c); sigmas.append([0.06 * ext_b, 0.035 * ext_b]); vectors.append(-up)
        bnames.append(f"blink@{upper}"); baus.append("blink")
    bumps = {"centres": np.array(centres), "sigmas": np.array(sigmas), "vectors": np.array(vectors),
             "names": np.array(bnames), "au": np.array(baus)}
    return _Subject(number, name, base, marks_b, ext_b, bumps,
                    int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1)),
                    float(rng.uniform(*cfg.noise_sigma)))


# --------------------------------------------------------------------------- time lines
def _profile(n: int, onset: int, apex: int, offset: int, hold: int = 0) -> np.ndarray:
    """Smooth 0 -> 1 -> 0 envelope: sin^2 rise onset..apex, hold, cos^2 fall to offset."""
    a = np.zeros(n)
    t = np.arange(n)
    rise = (t >= onset) & (t <= apex)
    a[rise] = np.sin(0.5 * np.pi * (t[rise] - onset) / max(apex - onset, 1)) ** 2
    top = apex + hold
    a[(t > apex) & (t <= top)] = 1.0
    fall = (t > top) & (t <= offset)
    a[fall] = np.cos(0.5 * np.pi * (t[fall] - top) / max(offset - top, 1)) ** 2
    return a


def _smoothstep(n: int, start: int, length: int) -> np.ndarray:
    t = np.clip((np.arange(n) - start) / max(length, 1), 0, 1)
    return t * t * (3 - 2 * t)


def _expressions(subject: _Subject, n: int, fps: float, cfg, rng: np.random.Generator,
                 amps: np.ndarray, aus: list[str], px128: float) -> list[tuple[Event, list[str], float]]:
    """Place non-overlapping expressions; adds their bump amplitudes into ``amps`` ``(n, R)``."""
    bumps = subject.bumps
    events: list[tuple[Event, list[str], float]] = []
    t = int(rng.uniform(*cfg.gap_seconds) * fps)
    while True:
        kind = "me" if rng.random() < cfg.me_fraction else "mae"
        if kind == "me":
            dur = rng.uniform(*cfg.me_seconds)
            size = rng.uniform(*cfg.me_px)
            chosen = list(rng.choice(aus, size=1 if rng.random() < 0.7 else 2, replace=False))
            hold_frac = 0.0
        else:
            dur = math.exp(rng.uniform(math.log(cfg.mae_seconds[0]), math.log(cfg.mae_seconds[1])))
            size = rng.uniform(*cfg.mae_px)
            chosen = list(rng.choice(aus, size=int(rng.integers(2, 5)), replace=False))
            hold_frac = rng.uniform(0.0, 0.4)
        length = max(int(round(dur * fps)), 3)
        onset, offset = t, t + length - 1
        if offset >= n - int(0.3 * fps):
            break
        apex = onset + max(1, int(round(rng.uniform(0.3, 0.6) * (length - 1))))
        hold = int(hold_frac * (offset - apex))
        env = _profile(n, onset, apex, offset, hold)
        for au in chosen:
            w = rng.uniform(0.7, 1.0)
            for r in np.flatnonzero(bumps["au"] == au):
                # cap at 0.9 sigma so that the warp stays a smooth, invertible contraction
                peak = min(size * w * px128, 0.9 * bumps["sigmas"][r].min())
                amps[:, r] += env * peak
        events.append((Event(onset, apex, offset, kind), chosen, size))
        t = offset + 1 + int(rng.uniform(*cfg.gap_seconds) * fps)
    return events


def _timeline(subject: _Subject, n: int, fps: float, cfg, rng: np.random.Generator):
    """Events, per-frame bump amplitudes ``(n, R)``, head matrices ``(n, 2, 3)``, gains ``(n,)``."""
    bumps = subject.bumps
    R = len(bumps["au"])
    px128 = subject.face_box / 128.0          # frame pixels per pixel of the 128 px face crop
    aus = list(AUS)
    for _attempt in range(100):  # redraw until the video holds at least one ME and one MaE
        amps = np.zeros((n, R))
        events = _expressions(subject, n, fps, cfg, rng, amps, aus, px128)
        if {e.type for e, _, _ in events} == {"me", "mae"}:
            break
    else:
        raise ValueError(f"seconds_per_video={cfg.seconds_per_video} is too short to hold one ME "
                         f"and one MaE; use at least ~6 s")


    # blinks: 0.1-0.3 s, every 2-6 s, independent of expressions
    blink_idx = np.flatnonzero(bumps["au"] == "blink")
    opening = [np.linalg.norm(subject.landmarks[u] - subject.landmarks[lo_]) for u, lo_ in BLINK]
    t = int(rng.uniform(0.5, 3.0) * fps)
    while t < n:
        length = max(int(round(rng.uniform(0.1, 0.3) * fps)), 3)
        env = _profile(n, t, t + length // 2, min(t + length, n - 1))
        depth = rng.uniform(0.5, 0.8)
        for r, o in zip(blink_idx, opening):
            amps[:, r] += env * min(depth * o, 0.9 * bumps["sigmas"][r].min())
        t += length + int(rng.uniform(*cfg.blink_every_seconds) * fps)

    # head: slow drift (sinusoids), sudden moves (smooth steps), about the face centre
    tt = np.arange(n) / fps
    tx = np.zeros(n); ty = np.zeros(n); rot = np.zeros(n); sc = np.ones(n)
    for _ in range(3):
        period = rng.uniform(4.0, 20.0)
        ph = rng.uniform(0, 2 * np.pi, 4)
        tx += rng.uniform(0, cfg.drift_px / 3) * px128 * np.sin(2 * np.pi * tt / period + ph[0])
        ty += rng.uniform(0, cfg.drift_px / 3) * px128 * np.sin(2 * np.pi * tt / period + ph[1])
        rot += rng.uniform(0, cfg.drift_degrees / 3) * np.sin(2 * np.pi * tt / period + ph[2])
        sc += rng.uniform(0, 0.004) * np.sin(2 * np.pi * tt / period + ph[3])
    t = int(rng.exponential(cfg.head_move_every_seconds) * fps)
    while t < n:
        length = max(int(rng.uniform(0.15, 0.4) * fps), 2)
        step = _smoothstep(n, t, length)
        back_at = t + length + int(rng.uniform(0.5, 2.0) * fps)
        if rng.random() < 0.5:
            step = step - _smoothstep(n, back_at, length)
        mag = rng.uniform(*cfg.head_move_px) * px128
        ang = rng.uniform(0, 2 * np.pi)
        tx += step * mag * math.cos(ang)
        ty += step * mag * math.sin(ang)
        rot += step * rng.uniform(*cfg.head_move_degrees) * rng.choice([-1, 1])
        t += length + int(rng.exponential(cfg.head_move_every_seconds) * fps)
    c = (subject.landmarks.min(0) + subject.landmarks.max(0)) / 2
    head = np.zeros((n, 2, 3))
    for i in range(n):
        a = math.radians(rot[i])
        lin = sc[i] * np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        head[i, :, :2] = lin
        head[i, :, 2] = c - lin @ c + np.array([tx[i], ty[i]])

    # lighting: slow wobble, per-frame jitter, occasional flicker pulses
    gain = 1.0 + 0.01 * np.sin(2 * np.pi * tt / rng.uniform(3, 10) + rng.uniform(0, 6.3))
    gain += rng.normal(0, cfg.flicker, n)
    t = int(rng.exponential(8.0) * fps)
    while t < n:
        length = int(rng.integers(2, 7))
        gain[t:t + length] += rng.choice([-1, 1]) * rng.uniform(0.02, 0.05)
        t += length + int(rng.exponential(8.0) * fps)
    return events, amps, head, gain


# --------------------------------------------------------------------------- build
def _fingerprint(cfg) -> dict[str, Any]:
    from ..config import identity_facts  # without the runtime-only settings (workers)

    return {"generator_version": GENERATOR_VERSION, "config": identity_facts(cfg)}


def _write_video(folder: Path, subject: _Subject, amps, head, gain, rng, desc: str, progress: bool = True) -> None:
    import cv2
    from tqdm.auto import tqdm

    folder.mkdir(parents=True, exist_ok=True)
    params = [int(cv2.IMWRITE_JPEG_QUALITY), subject.jpeg_quality]
    for i in tqdm(range(len(amps)), desc=desc, leave=False, mininterval=1.0, disable=not progress):
        img = render_frame(subject.base, head[i], subject.bumps, amps[i])
        img *= gain[i]
        img += rng.normal(0.0, subject.noise_sigma, img.shape[:2])[..., None].astype(np.float32)
        img = np.clip(img + 0.5, 0, 255).astype(np.uint8)
        if not cv2.imwrite(str(folder / f"img{i + 1}.jpg"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR), params):
            raise OSError(f"could not write {folder / f'img{i + 1}.jpg'}; check disk space")


def _check_size(cfg) -> None:
    if cfg.videos_per_subject > len(VIDEO_CODES):
        raise ValueError(f"videos_per_subject={cfg.videos_per_subject} > {len(VIDEO_CODES)} video codes")


def _videos(cfg, images: dict, marks: dict, progress: bool = False):
    """Every video's plan, in build order: ``(subject index, subject, code index, timeline, rng)``;
    ``timeline`` is :func:`_timeline`'s ``(events, amps, head, gain)`` and ``rng`` the video's
    generator, positioned where rendering (noise) continues drawing from it."""
    from tqdm.auto import tqdm

    _check_size(cfg)
    n = int(round(cfg.seconds_per_video * cfg.fps))
    for s in tqdm(range(cfg.n_subjects), desc="synthetic subjects", mininterval=1.0, disable=not progress):
        subj_rng = np.random.default_rng([cfg.seed, s])
        subject = _make_subject(s, cfg, subj_rng, images, marks)
        codes = subj_rng.choice(len(VIDEO_CODES), size=cfg.videos_per_subject, replace=False)
        for code_idx in sorted(codes):
            vrng = np.random.default_rng([cfg.seed, s, int(VIDEO_CODES[code_idx][0])])
            yield s, subject, int(code_idx), _timeline(subject, n, cfg.fps, cfg, vrng), vrng


def count_events(cfg) -> dict[str, int]:
    """The ME and MaE events the benchmark of ``cfg`` (:class:`DataConfig`) holds, without rendering it.

    Draws exactly the time lines :func:`build_synthetic` draws (same seeds and order), so the counts
    are those of the built set, in well under a second per video; a profile's benchmark can be sized
    with it (``count_events(get_profile("quick").data)``).

    Returns:
        ``{"videos": ..., "me": ..., "mae": ...}``.
    """
    images = portraits()
    marks = {name: portrait_landmarks(name, img) for name, img in images.items()}
    out = {"videos": 0, "me": 0, "mae": 0}
    for *_, (events, _amps, _head, _gain), _rng in _videos(cfg, images, marks):
        out["videos"] += 1
        for event, _, _ in events:
            out[event.type] += 1
    return out


@timed(RENDERING)
def build_synthetic(cfg, out: Path) -> dict[str, Any]:
    """Write a complete synthetic set for ``cfg`` (:class:`DataConfig`) into the empty folder ``out``;
    the videos are rendered by ``cfg.workers`` processes (0: one per core)."""
    from tqdm.auto import tqdm

    images = portraits()
    marks = {name: portrait_landmarks(name, img) for name, img in images.items()}
    _check_size(cfg)
    n = int(round(cfg.seconds_per_video * cfg.fps))
    sheet_rows, stats = [], []
    n_workers = min(cfg.workers or os.cpu_count() or 1, cfg.n_subjects * cfg.videos_per_subject)
    pool = None
    if n_workers > 1:  # every video draws from its own generator: the same frames in any order
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(n_workers, mp_context=mp.get_context("spawn"))
    pending = []
    for s, subject, code_idx, (events, amps, head, gain), vrng in _videos(cfg, images, marks, progress=True):
        sid = f"s{s + 1:02d}"
        code, folder_name, sheet_name = VIDEO_CODES[code_idx]
        folder = out / "rawpic" / sid / f"{s + 1:02d}_{code}{folder_name}"
        if pool is None:
            _write_video(folder, subject, amps, head, gain, vrng, f"{sid}_{code}")
        else:
            pending.append(pool.submit(_write_video, folder, subject, amps, head, gain, vrng, f"{sid}_{code}", False))
        save_npz_atomic(out / "motion" / f"{sid}_{code}.npz", head=head, amps=amps.astype(np.float32),
                        gain=gain, centres=subject.bumps["centres"], sigmas=subject.bumps["sigmas"],
                        vectors=subject.bumps["vectors"], bump_names=subject.bumps["names"],
                        bump_aus=subject.bumps["au"], landmarks=subject.landmarks,
                        face_box=subject.face_box, frame_size=cfg.frame_size, fps=cfg.fps,
                        events=np.array([[e.onset, e.apex, e.offset] for e, _, _ in events]).reshape(-1, 3),
                        event_types=np.array([e.type for e, _, _ in events]),
                        event_px128=np.array([px for _, _, px in events]))
        for j, (ev, aus, px) in enumerate(events, start=1):
            emotion = next((EMOTION_OF[a] for a in aus if a in EMOTION_OF), "others")
            sheet_rows.append([s + 1, f"{sheet_name}_{j}", ev.onset + 1, ev.apex + 1, ev.offset + 1,
                               "+".join(a[2:] for a in aus), emotion,
                               "micro-expression" if ev.type == "me" else "macro-expression", emotion])
            stats.append({"subject": sid, "video_id": code, "type": ev.type, "px128": px,
                          "aus": "+".join(aus), "frames": ev.length})
    if pool is not None:
        try:
            for job in tqdm(pending, desc="rendering videos", mininterval=1.0):
                job.result()
        finally:
            pool.shutdown(cancel_futures=True)
    naming2 = [[s + 1, f"s{s + 1:02d}", s + 1] for s in range(cfg.n_subjects)]
    naming1 = [[code, sheet_name] for code, _, sheet_name in VIDEO_CODES]
    with pd.ExcelWriter(out / "CAS(ME)^2code_final.xlsx", engine="openpyxl") as xw:
        pd.DataFrame(sheet_rows).to_excel(xw, sheet_name="Sheet1", header=False, index=False)
        pd.DataFrame(naming2).to_excel(xw, sheet_name="naming rule2", header=False, index=False)
        pd.DataFrame(naming1).to_excel(xw, sheet_name="naming rule1", header=False, index=False)
    pd.DataFrame(stats).to_csv(out / "events.csv", index=False)
    return {"n_videos": cfg.n_subjects * cfg.videos_per_subject, "n_frames_per_video": n,
            "n_me": sum(r["type"] == "me" for r in stats), "n_mae": sum(r["type"] == "mae" for r in stats)}


def _is_complete(root: Path, cfg) -> bool:
    marker = root / "synthetic.json"
    if not marker.exists():
        return False
    try:
        info = json.loads(marker.read_text())
    except ValueError:
        return False
    return info.get("fingerprint") == json.loads(json.dumps(_fingerprint(cfg)))


def ensure_synthetic(profile="quick", root: str | os.PathLike | None = None, **overrides) -> Path:
    """Build (once) or locate the synthetic benchmark of a profile; returns its root folder.

    ``profile`` is a profile name or :class:`~slswin_lib.config.Profile`; ``overrides`` replace
    :class:`~slswin_lib.config.DataConfig` fields (e.g. ``seconds_per_video=4``). The default
    root is ``work_dir(profile, "data", "synthetic")``. The set is built in a temporary sibling
    folder and renamed into place only when complete, so an interrupted build is never reused;
    a set built with other parameters is replaced.
    """
    from ..config import Profile, get_profile

    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    cfg = dataclasses.replace(prof.data, **overrides) if overrides else prof.data
    root = Path(root) if root is not None else work_dir(prof.name, "data", "synthetic")
    if _is_complete(root, cfg):
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = root.parent / f".{root.name}.building-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        start = time.perf_counter()
        info = build_synthetic(cfg, tmp)
        info["build_seconds"] = round(time.perf_counter() - start, 2)
        info["fingerprint"] = _fingerprint(cfg)
        atomic_write_json(tmp / "synthetic.json", info)
        if root.exists():
            old = root.parent / f".{root.name}.old-{os.getpid()}"
            os.replace(root, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, root)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return root


# --------------------------------------------------------------------------- ground truth
@functools.lru_cache(maxsize=8)
def _load_motion(path: str, mtime: float) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def load_motion(video: Video | str | os.PathLike) -> dict[str, np.ndarray]:
    """The motion record of a synthetic video (a :class:`Video` read from a synthetic root, or the
    ``.npz`` path): head ``(n, 2, 3)``, amps ``(n, R)``, centres/sigmas/vectors ``(R, 2)``, events, ..."""
    if isinstance(video, Video):
        path = video.path.parents[2] / "motion" / f"{video.key}.npz"
    else:
        path = Path(video)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no motion record; true displacements exist only for "
                                f"videos of the synthetic benchmark (ensure_synthetic)")
    return _load_motion(str(path), path.stat().st_mtime)


def true_displacement(video: Video | str | os.PathLike, i: int, j: int) -> np.ndarray:
    """Exact forward displacement from frame ``i`` to frame ``j`` of a synthetic video.

    Returns ``(H, W, 2)`` float32 ``(dx, dy)`` in full-frame pixels: the scene point at pixel
    ``(x, y)`` of frame ``i`` is at ``(x + dx, y + dy)`` in frame ``j`` (``d = phi_j(phi_i^{-1}(x)) - x``;
    see the module docs). Lighting, noise and compression do not move points.
    """
    m = load_motion(video)
    n = len(m["head"])
    for f in (i, j):
        if not 0 <= f < n:
            raise IndexError(f"frame {f} outside 0..{n - 1}")
    size = int(m["frame_size"])
    bumps = {"centres": m["centres"], "sigmas": m["sigmas"], "vectors": m["vectors"]}
    gy, gx = np.mgrid[0:size, 0:size].astype(np.float64)
    px, py = invert_warp(gx, gy, m["head"][i], bumps, m["amps"][i].astype(np.float64), iters=50,
                         tol=1e-9)
    xj, yj = forward_warp(px, py, m["head"][j], bumps, m["amps"][j].astype(np.float64))
    return np.stack([xj - gx, yj - gy], axis=-1).astype(np.float32)
