"""Face crop per frame from landmarks (paper Section 2.1): a square box around the face, resized.

The box of a frame is the bounding square of its 468 face-mesh points, enlarged by
``margin`` (1.0 = the mesh's extent, forehead to chin), centred on the mesh's extent. The crop is
one affine warp (``cv2.warpAffine``, bilinear, replicated border), so boxes that leave the frame
are padded instead of shrinking. Landmarks follow the same affine map into crop coordinates.
"""
from __future__ import annotations

import numpy as np

__all__ = ["face_box", "crop_transform", "crop_face", "to_crop_coords"]


def face_box(points: np.ndarray, margin: float = 1.0) -> np.ndarray:
    """Square face box ``(x0, y0, side)`` float64 in frame pixels from landmarks ``(P, 2)``."""
    pts = np.asarray(points, np.float64)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    side = float((hi - lo).max() * margin)
    if not side > 0:
        raise ValueError(f"degenerate landmarks (extent {hi - lo}); cannot build a face box")
    cx, cy = (lo + hi) / 2
    return np.array([cx - side / 2, cy - side / 2, side])


def crop_transform(box: np.ndarray, size: int) -> np.ndarray:
    """2 x 3 affine matrix mapping frame pixels into a ``size x size`` crop of ``box``."""
    x0, y0, side = (float(b) for b in box)
    s = size / side
    return np.array([[s, 0.0, -x0 * s], [0.0, s, -y0 * s]])


def crop_face(frame: np.ndarray, box: np.ndarray, size: int, *, gray: bool = True) -> np.ndarray:
    """Crop ``box`` of ``frame`` (RGB uint8 ``(H, W, 3)``) to ``(size, size)`` (grayscale uint8 when
    ``gray``, else RGB ``(size, size, 3)``)."""
    import cv2

    if gray and frame.ndim == 3:
        frame = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    return cv2.warpAffine(frame, crop_transform(box, size), (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def to_crop_coords(points: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """Map frame-pixel points ``(..., 2)`` into the crop of ``box`` (float32)."""
    x0, y0, side = (float(b) for b in box)
    s = size / side
    return ((np.asarray(points, np.float64) - [x0, y0]) * s).astype(np.float32)
