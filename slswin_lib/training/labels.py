"""Per-sample labels (He, Chen & Zhong 2023, Sec. 3.3, after SOFTNet).

Sample ``i`` of a video is the feature of frames ``i`` and ``i + k``; a video of ``n`` frames has
``n - k`` samples. Ground-truth intervals are ``[onset, offset]``, 0-based and inclusive.

The pseudo label of sample ``i`` looks at a window of frames starting at ``i``: ``"k_plus_one"``
covers ``[i, i + k]`` (the paper's text, the two frames of the feature and all between), and
``"k_frames"`` covers ``[i, i + k - 1]`` (the authors' public code).
"""
from __future__ import annotations

import numpy as np

from ..config import PSEUDO_WINDOWS, check_choice

__all__ = ["original_labels", "pseudo_labels", "make_labels", "window_span", "LABELLINGS"]

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


def window_span(k: int, window: str = "k_plus_one") -> int:
    """Frames after ``i`` that the pseudo-label window of sample ``i`` reaches: ``k`` or ``k - 1``.

    >>> window_span(6, "k_plus_one"), window_span(6, "k_frames")
    (6, 5)
    """
    check_choice("TrainConfig.pseudo_window", window, PSEUDO_WINDOWS)
    return k if window == "k_plus_one" else k - 1


def pseudo_labels(n_samples: int, k: int, intervals, window: str = "k_plus_one") -> np.ndarray:
    """1 where the window of sample ``i`` overlaps a ground-truth interval, else 0.

    This is the Heaviside step of the window/interval IoU (IoU > 0 iff they share a frame).

    Args:
        n_samples: samples of the video (``n_frames - k``).
        k: the feature's frame distance.
        intervals: ``(G, 2)`` ground-truth ``[onset, offset]`` rows.
        window: ``"k_plus_one"`` (window ``[i, i + k]``) or ``"k_frames"`` (``[i, i + k - 1]``).

    Returns:
        ``(n_samples,)`` float32 0/1 labels.
    """
    span = window_span(k, window)
    iv = _intervals(intervals)
    i = np.arange(n_samples)[:, None]
    return np.any((i <= iv[None, :, 1]) & (i + span >= iv[None, :, 0]), axis=1).astype(np.float32)


def make_labels(n_samples: int, k: int, intervals, labelling: str = "pseudo",
                window: str = "k_plus_one") -> np.ndarray:
    """Labels of one video by name: ``"pseudo"`` (the paper's) or ``"original"`` (Table 5).

    ``window`` is the pseudo-label window (:func:`pseudo_labels`); original labels ignore it.
    """
    if labelling == "pseudo":
        return pseudo_labels(n_samples, k, intervals, window)
    if labelling == "original":
        return original_labels(n_samples, intervals)
    raise ValueError(f"unknown labelling {labelling!r}; choose one of {LABELLINGS}")
