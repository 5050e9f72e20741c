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

Heavy dependencies (OpenCV, PyEMD, MediaPipe) are imported inside the functions that use them.
"""
from .baseline import BASELINE_NAME, BASELINE_SCORER, BASELINE_T_SOURCE, baseline_k, flow_magnitude_scores
from .benchmark import (OF_METHOD, OF_PUBLISHED, add_of_rows, analyse_dataset, deploy_sensitivity, of_published,
                        roi_markdown, settings_markdown)
from .ofspot import (OF_DESCRIPTION, OF_SCORER, OFAnalysis, OFError, OFResult, OFTooShort, analyse_track,
                     analyse_video, cached_track)

__all__ = ["BASELINE_NAME", "BASELINE_SCORER", "BASELINE_T_SOURCE", "baseline_k", "flow_magnitude_scores", "OF_METHOD",
           "OF_PUBLISHED", "add_of_rows", "analyse_dataset", "deploy_sensitivity", "of_published", "roi_markdown",
           "settings_markdown", "OF_DESCRIPTION", "OF_SCORER", "OFAnalysis", "OFError", "OFResult", "OFTooShort",
           "analyse_track", "analyse_video", "cached_track"]
