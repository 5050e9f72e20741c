"""The ROI flow-magnitude baseline: a training-free floor in the same harness as the trained models.

Each sample ``(i, i + k)`` of a video's features (the un-normalised ROI mosaic of
:mod:`slswin_lib.features`) is scored by its mean optical-flow magnitude ``sqrt(u^2 + v^2)`` over the
mosaic (:func:`flow_magnitude_scores`); the scores are spotted like a model's (paper Section 2.5), with
the paper's CAS(ME)^2 k at 30 fps rescaled to a video's frame rate and the paper's t
(:data:`~slswin_lib.config.BASELINE_K`, :data:`~slswin_lib.config.BASELINE_FPS`,
:data:`~slswin_lib.config.BASELINE_T`). On the benchmark it is a score set like a model's
(:func:`slswin_lib.experiment.baseline`); on a video, ``spot --scorer baseline``.
"""
from __future__ import annotations

import numpy as np

from ..config import BASELINE_FPS, BASELINE_K, BASELINE_T

__all__ = ["BASELINE_NAME", "BASELINE_SCORER", "BASELINE_T_SOURCE", "baseline_k", "flow_magnitude_scores"]

#: the baseline's scorer name (``spot --scorer``, the ``scorer`` column)
BASELINE_NAME = "baseline"
#: how ``spot`` describes it
BASELINE_SCORER = "baseline (mean ROI flow magnitude, training-free)"
#: where its t comes from when no benchmark ranking gives one
BASELINE_T_SOURCE = f"the baseline's fixed t (the paper's {BASELINE_T:.2f}, Section 2.5)"


def baseline_k(expression: str, fps: float) -> int:
    """The baseline's k for ``expression`` on a video at ``fps``: the paper's CAS(ME)^2 k at 30 fps, rescaled.

    >>> baseline_k("mae", 30.0), baseline_k("mae", 24.0), baseline_k("me", 200.0)
    (18, 14, 40)
    """
    from ..deploy.checkpoint import rescale_k

    return rescale_k(BASELINE_K[expression], fps, BASELINE_FPS)


def flow_magnitude_scores(features: np.ndarray) -> np.ndarray:
    """The baseline's scores: ``(N, S, S, 3)`` un-normalised ROI mosaics -> ``(N,)`` float64, the mean flow
    magnitude over each mosaic in pixels of the face crop
    (:func:`slswin_lib.features.preprocess.roi_flow_magnitude`)."""
    from ..features.preprocess import roi_flow_magnitude

    return roi_flow_magnitude(np.asarray(features)).astype(np.float64)
