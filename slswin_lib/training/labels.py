"""Per-sample labels (SPEC 2.4, from SOFTNet).

Sample ``i`` of a video is the feature of frames ``i`` and ``i + k``; a video of ``n`` frames has
``n - k`` samples. Ground-truth intervals are ``[onset, offset]``, 0-based and inclusive.
"""
from __future__ import annotations

import numpy as np

__all__ = ["original_labels", "pseudo_labels", "make_labels", "LABELLINGS"]

LABELLINGS = ("pseudo", "original")


def _intervals(intervals) -> np.ndarray:
    arr = np.asarray(intervals, dtype=np.int64).reshape(-1, 2)
    if np.any(arr[:, 0] > arr[:, 1]):
        raise ValueError(f"an interval has onset > offset: {arr[arr[:, 0] > arr[:, 1]][0].tolist()}")
    return arr


def original_labels(n_samples: int, intervals) -> np.ndarray:
    """1 where frame ``i`` lies inside a ground-truth interval, else 0. ``(n_samples,)`` float32."""
    iv = _intervals(intervals)
    i = np.arange(n_samples)[:, None]
    return np.any((i >= iv[None, :, 0]) & (i <= iv[None, :, 1]), axis=1).astype(np.float32)


def pseudo_labels(n_samples: int, k: int, intervals) -> np.ndarray:
    """1 where the sample window ``[i, i + k]`` overlaps a ground-truth interval, else 0.

    This is the Heaviside step of the window/interval IoU (IoU > 0 iff they share a frame).
    """
    iv = _intervals(intervals)
    i = np.arange(n_samples)[:, None]
    return np.any((i <= iv[None, :, 1]) & (i + k >= iv[None, :, 0]), axis=1).astype(np.float32)


def make_labels(n_samples: int, k: int, intervals, labelling: str = "pseudo") -> np.ndarray:
    """Labels of one video by name: ``"pseudo"`` (the paper's) or ``"original"`` (Table 5)."""
    if labelling == "pseudo":
        return pseudo_labels(n_samples, k, intervals)
    if labelling == "original":
        return original_labels(n_samples, intervals)
    raise ValueError(f"unknown labelling {labelling!r}; choose one of {LABELLINGS}")
