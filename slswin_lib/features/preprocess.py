"""Preprocessing of flow features on the face crop (paper Section 2.2).

Per sample (frame pair i, i+k), with the dlib-68 landmarks of frame i in crop pixels:

1. head motion: subtract from every channel its mean over a ``nose_box x nose_box`` box centred
   on dlib point 28; the **[code]** variant (``abs_uv``) then takes ``abs`` of u and v;
2. eye masks: each eye polygon (36-41, 42-47) grown by ``eye_grow`` px (corners 36/42 moved
   left, 39/45 right, upper lids 37, 38, 43, 44 up, lower lids 40, 41, 46, 47 down) set to 0;
3. ROIs with ``margin`` px: ROI1 left brow+eye (x 17..21, y 19..41), ROI2 right brow+eye
   (x 22..26, y 24..46), ROI3 mouth (x 60..64, y 50..57); ROI1 and ROI2 resized to
   ``roi x roi`` side by side, ROI3 to ``roi x 2 roi`` below: a ``2 roi x 2 roi x 3`` mosaic.
   ``layout="one_box"`` (**[code]**) resizes one box spanning both brows/eyes to the top half.

All pixel sizes are given for the 128 x 128 crop. At a larger crop (Table 6: 256 x 256) they scale
with the crop size (``px_scaling="with_crop"``, the paper's "everything doubled"), or keep their
128 px values (``"fixed"``, the authors' code **[code]**); see :func:`scaled_sizes` and
:func:`config_sizes`.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..config import PX_SCALING, FeatureConfig, check_choice
from .landmarks import DLIB68, NOSE_POINT

__all__ = ["PreprocessSizes", "scaled_sizes", "config_sizes", "nose_box", "remove_head_motion",
           "eye_polygons", "mask_eyes", "roi_boxes", "roi_mosaic", "preprocess_sample", "minmax_normalise",
           "to_model_input", "roi_flow_magnitude"]

#: crop size at which nose box, eye growth and ROI margin are specified (paper Section 2.2)
REFERENCE_FACE = 128


class PreprocessSizes(NamedTuple):
    nose_half: int  #: the nose box is (2 nose_half + 1) squared
    eye_grow: int
    margin: int
    roi: int


def scaled_sizes(face_size: int, roi_size: int, nose_box: int = 11, eye_grow: int = 15,
                 margin: int = 12, scaling: str = "with_crop") -> PreprocessSizes:
    """Pixel sizes for a ``face_size`` crop, from the values given at 128 px.

    Args:
        face_size: crop side in pixels.
        roi_size: ROI side in the mosaic (kept as is).
        nose_box, eye_grow, margin: the sizes at the 128 px crop.
        scaling: ``"with_crop"`` multiplies them by ``face_size / 128``; ``"fixed"`` keeps them
            (the authors' code at 256 px **[code]**).

    Raises:
        ValueError: ``scaling`` is not one of :data:`slswin_lib.config.PX_SCALING`.

    >>> scaled_sizes(256, 42)
    PreprocessSizes(nose_half=10, eye_grow=30, margin=24, roi=42)
    >>> scaled_sizes(256, 42, scaling="fixed")
    PreprocessSizes(nose_half=5, eye_grow=15, margin=12, roi=42)
    """
    check_choice("px_scaling", scaling, PX_SCALING)
    s = face_size / REFERENCE_FACE if scaling == "with_crop" else 1.0
    return PreprocessSizes(int(round((nose_box - 1) / 2 * s)), int(round(eye_grow * s)),
                           int(round(margin * s)), int(roi_size))


def config_sizes(cfg: FeatureConfig) -> PreprocessSizes:
    """The pixel sizes a :class:`~slswin_lib.config.FeatureConfig` implies (crop, ROI, ``px_scaling``)."""
    return scaled_sizes(cfg.face_size, cfg.roi_size, cfg.nose_box, cfg.eye_grow, cfg.roi_margin,
                        cfg.px_scaling)


def _ipt(p: np.ndarray) -> tuple[int, int]:
    return int(round(float(p[0]))), int(round(float(p[1])))


def nose_box(pts68: np.ndarray, half: int, size: int) -> tuple[slice, slice]:
    """Row and column slices of the box around dlib point 28, clipped to a ``size`` image."""
    x, y = _ipt(pts68[NOSE_POINT])
    rows = slice(max(y - half, 0), min(y + half + 1, size))
    cols = slice(max(x - half, 0), min(x + half + 1, size))
    if rows.start >= rows.stop or cols.start >= cols.stop:
        raise ValueError(f"nose point {x, y} lies outside the {size} px crop")
    return rows, cols


def remove_head_motion(feat: np.ndarray, pts68: np.ndarray, half: int, *,
                       abs_uv: bool = False) -> np.ndarray:
    """Subtract each channel's nose-box mean from ``feat`` ``(S, S, C)`` (a new float32 array);
    ``abs_uv``: then ``abs`` of channels 0 and 1 (**[code]**)."""
    rows, cols = nose_box(pts68, half, feat.shape[0])
    out = feat - feat[rows, cols].reshape(-1, feat.shape[2]).mean(axis=0)
    if abs_uv:
        out[..., :2] = np.abs(out[..., :2])
    return out.astype(np.float32, copy=False)


def eye_polygons(pts68: np.ndarray, grow: int) -> list[np.ndarray]:
    """The two grown eye polygons, each ``(6, 2)`` int32 (crop pixels)."""
    shift = np.array([[-grow, 0], [0, -grow], [0, -grow], [grow, 0], [0, grow], [0, grow]])
    polys = []
    for eye in ("left_eye", "right_eye"):
        p = np.rint(np.asarray(pts68, np.float64)[DLIB68[eye]]).astype(np.int64) + shift
        polys.append(p.astype(np.int32))
    return polys


def mask_eyes(feat: np.ndarray, pts68: np.ndarray, grow: int) -> np.ndarray:
    """Set the grown eye polygons of ``feat`` ``(S, S, C)`` to 0, in place; returns ``feat``."""
    import cv2

    cv2.fillPoly(feat, eye_polygons(pts68, grow), (0.0,) * feat.shape[2])
    return feat


def roi_boxes(pts68: np.ndarray, margin: int, size: int, layout: str = "paper"
              ) -> list[tuple[int, int, int, int]]:
    """ROI boxes ``(x0, y0, x1, y1)`` (exclusive ends, clipped to the crop).

    ``layout="paper"``: [ROI1 left brow+eye, ROI2 right brow+eye, ROI3 mouth];
    ``"one_box"``: [top box over both brows/eyes, ROI3 mouth].
    """
    p = np.rint(np.asarray(pts68, np.float64)).astype(np.int64)

    def box(x0, y0, x1, y1):
        return (max(int(x0) - margin, 0), max(int(y0) - margin, 0),
                min(int(x1) + margin, size), min(int(y1) + margin, size))

    roi1 = box(p[17, 0], p[19, 1], p[21, 0], p[41, 1])
    roi2 = box(p[22, 0], p[24, 1], p[26, 0], p[46, 1])
    roi3 = box(p[60, 0], p[50, 1], p[64, 0], p[57, 1])
    if layout == "paper":
        boxes = [roi1, roi2, roi3]
    elif layout == "one_box":
        boxes = [(roi1[0], min(roi1[1], roi2[1]), roi2[2], max(roi1[3], roi2[3])), roi3]
    else:
        raise ValueError(f"unknown ROI layout {layout!r}; use 'paper' or 'one_box'")
    for b in boxes:
        if b[2] - b[0] < 2 or b[3] - b[1] < 2:
            raise ValueError(f"ROI box {b} is empty: the landmarks do not describe a face in the "
                             f"{size} px crop")
    return boxes


def roi_mosaic(feat: np.ndarray, boxes: list[tuple[int, int, int, int]], roi: int) -> np.ndarray:
    """Resize ROI boxes of ``feat`` ``(S, S, C)`` into the ``(2 roi, 2 roi, C)`` mosaic."""
    import cv2

    def take(b, w, h):
        x0, y0, x1, y1 = b
        return cv2.resize(np.ascontiguousarray(feat[y0:y1, x0:x1]), (w, h),
                          interpolation=cv2.INTER_LINEAR).reshape(h, w, -1)

    out = np.zeros((2 * roi, 2 * roi, feat.shape[2]), np.float32)
    if len(boxes) == 3:
        out[:roi, :roi] = take(boxes[0], roi, roi)
        out[:roi, roi:] = take(boxes[1], roi, roi)
    else:
        out[:roi] = take(boxes[0], 2 * roi, roi)
    out[roi:] = take(boxes[-1], 2 * roi, roi)
    return out


def preprocess_sample(feat: np.ndarray, pts68: np.ndarray, sizes: PreprocessSizes, *,
                      abs_uv: bool = False, layout: str = "paper") -> np.ndarray:
    """Head motion, eye masks and ROI mosaic of one ``(S, S, 3)`` (u, v, |e|) map -> ``(2r, 2r, 3)``."""
    size = feat.shape[0]
    x = remove_head_motion(feat, pts68, sizes.nose_half, abs_uv=abs_uv)
    mask_eyes(x, pts68, sizes.eye_grow)
    return roi_mosaic(x, roi_boxes(pts68, sizes.margin, size, layout), sizes.roi)


def minmax_normalise(x: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """Per-sample, per-channel min-max scaling to [0, 1] (paper Section 2.2 **[code]**).

    ``x``: ``(N, H, W, C)`` or ``(H, W, C)``; a constant channel maps to 0.
    """
    x = np.asarray(x, np.float32)
    # computed on a contiguous channel-first copy, where each channel's extremes are one contiguous
    # reduction: min and max are exact and the rest is elementwise, so the values are those of the
    # channel-last formula bit for bit at ~1/10 of its cost on a CPU. The result is that copy seen
    # channel-last, so to_model_input's channel-first transpose needs no second copy.
    channels = np.ascontiguousarray(np.moveaxis(x, -1, -3))
    flat = channels.reshape(*channels.shape[:-2], -1)
    lo = flat.min(axis=-1, keepdims=True)
    scaled = (flat - lo) / np.maximum(flat.max(axis=-1, keepdims=True) - lo, eps)
    return np.moveaxis(scaled.astype(np.float32, copy=False).reshape(channels.shape), -3, -1)


def to_model_input(x: np.ndarray) -> np.ndarray:
    """The inference transform, shared by training (held-out inputs) and deployment (spotting a video):
    ``(N, S, S, 3)`` features -> ``(N, 3, S, S)`` contiguous float32, min-max normalised per sample.

    >>> (to_model_input(np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2))[0, 0] * 3).round(4).tolist()
    [[0.0, 1.0], [2.0, 3.0]]
    """
    return np.ascontiguousarray(minmax_normalise(x).transpose(0, 3, 1, 2))


def roi_flow_magnitude(features: np.ndarray) -> np.ndarray:
    """Mean optical-flow magnitude ``sqrt(u^2 + v^2)`` over the ROI mosaic per sample.

    ``features``: ``(N, S, S, 3)`` un-normalised mosaics -> ``(N,)`` float32, in pixels of
    the face crop (the training-free baseline score).
    """
    f = np.asarray(features, np.float32)
    return np.sqrt(f[..., 0] ** 2 + f[..., 1] ** 2).mean(axis=(1, 2)).astype(np.float32)
