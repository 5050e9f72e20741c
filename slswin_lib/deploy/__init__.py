"""Deployment: spotters trained on a whole data set, and spotting any video with them.

Module map (builds on :mod:`slswin_lib.experiment`):

* :mod:`~slswin_lib.deploy.checkpoint`  the spotter checkpoint format: :func:`export_spotter`,
  :func:`load_spotter`, the choice of t (:func:`deploy_t`), k at another frame rate (:func:`rescale_k`)
* :mod:`~slswin_lib.deploy.choice`      which method ``spot`` uses for each type (:func:`choose`: the best
  nested-LOSO F1 of the run's Table 2 among the training-free methods and the exported spotters), the
  run's stable spotters folder ``runs/<profile>/spotters`` (:func:`spotters_dir`, :func:`spotter_path`,
  :func:`write_ranking`, :func:`last_run_spotters`)
* :mod:`~slswin_lib.deploy.spot`        :func:`spot_video` / :func:`spot_report` on any video file or
  frame folder (edge maxima, one label per expression), their plots and :func:`apex_montage`
* :mod:`~slswin_lib.deploy.clips`       short clips cut from a data set's videos and how well
  :func:`spot_report` spots them with and without the short-clip rules (:func:`short_clip_table`)
"""
from .checkpoint import (EXPRESSION_TYPES, KNOWN_FPS, SPOTTER_FORMAT, SpotterError, deploy_t, export_spotter,
                         feature_config_from_dict, feature_config_to_dict, load_spotter, rescale_k, spotter_table)
from .choice import (Choice, best_t, choice_table, choose, last_run_spotters, read_ranking, spotter_path,
                     spotters_dir, write_ranking)
from .clips import CLIP_SETTINGS, Clip, cut_clips, short_clip_table
from .spot import (BASELINE_FPS, BASELINE_K, BASELINE_SCORER, BASELINE_T, BASELINE_T_SOURCE, INTERVAL_COLUMNS,
                   OVERLAP_COVERAGE, TypeSpotting, VideoSpotting, apex_montage, plot_video_spotting, respot, rules_text,
                   spot_report, spot_video, summary_lines)

__all__ = ["EXPRESSION_TYPES", "KNOWN_FPS", "SPOTTER_FORMAT", "SpotterError", "deploy_t", "export_spotter",
           "feature_config_from_dict", "feature_config_to_dict", "load_spotter", "rescale_k", "spotter_table", "BASELINE_FPS",
           "BASELINE_K", "BASELINE_SCORER", "BASELINE_T", "INTERVAL_COLUMNS", "TypeSpotting", "VideoSpotting",
           "apex_montage", "plot_video_spotting", "spot_report", "spot_video", "BASELINE_T_SOURCE", "OVERLAP_COVERAGE",
           "respot", "rules_text", "summary_lines", "CLIP_SETTINGS", "Clip", "cut_clips", "short_clip_table", "Choice", "best_t",
           "choice_table", "choose", "last_run_spotters", "read_ranking", "spotter_path", "spotters_dir", "write_ranking"]
