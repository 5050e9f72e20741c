"""Training-free spotting methods, beside the trained models of :mod:`slswin_lib.models`.

Module map (no training, no GPU; the face track of :mod:`slswin_lib.features` is their input):

* :mod:`~slswin_lib.trainfree.baseline`     the ROI flow-magnitude baseline: the mean optical-flow
  magnitude over the ROI mosaic as a per-frame score, spotted like a model's scores
* :mod:`~slswin_lib.trainfree.of_signals`   the optical-flow spotter's ROI motion signals: per analysis
  window, Farneback flow of each region relative to the window's first frame, head motion removed
  with the nose tip's
* :mod:`~slswin_lib.trainfree.of_analysis`  its signal analysis: band filter, EMD, peak test,
  expansion, splitting, merging, window placement, length limits, typing
* :mod:`~slswin_lib.trainfree.ofspot`       the optical-flow spotter end to end (He Yuhong et al.'s
  method, :data:`slswin_lib.config.OF_SOURCE`): a video or face track -> ME and MaE intervals
* :mod:`~slswin_lib.trainfree.benchmark`    both methods on a data set: the optical-flow spotter's
  Table 2 rows (source settings and nested-LOSO sensitivity) and the settings table of docs/method.md

Submodules are imported lazily so that ``import slswin_lib.trainfree`` stays cheap.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BASELINE_NAME": "baseline", "BASELINE_SCORER": "baseline", "BASELINE_T_SOURCE": "baseline",
    "baseline_k": "baseline", "flow_magnitude_scores": "baseline",
    "OFError": "ofspot", "OFTooShort": "ofspot", "OFResult": "ofspot", "OFAnalysis": "ofspot",
    "analyse_track": "ofspot", "analyse_video": "ofspot", "cached_track": "ofspot", "OF_SCORER": "ofspot",
    "OF_METHOD": "benchmark", "of_table": "benchmark", "analyse_dataset": "benchmark",
    "deploy_sensitivity": "benchmark", "settings_markdown": "benchmark", "roi_markdown": "benchmark",
}


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    return getattr(importlib.import_module(f".{module}", __name__), name)


__all__ = sorted(_EXPORTS)
