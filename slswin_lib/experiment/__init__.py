"""Experiments: from features to score sets, under the MEGC protocols.

Module map (data flows one way: ``data -> features -> experiment -> scores -> spotting /
evaluation -> report``; :mod:`slswin_lib.deploy` builds on this package):

* :mod:`~slswin_lib.experiment.sets`       :class:`ExpressionSet` (one type's videos, k, features),
  :class:`VideoInfo`, :func:`open_dataset`, :func:`expression_set`, input-size variants (Table 6)
* :mod:`~slswin_lib.experiment.folds`      one fold (train, score, write its record) and mapping
  folds in-process or on Dask
* :mod:`~slswin_lib.experiment.protocols`  :func:`loso`, :func:`ablation_loso`, :func:`train_all`,
  :func:`megc2022`, :func:`baseline`
* :mod:`~slswin_lib.experiment.runs`       run folders, manifests, fold records, finding a run again

Settings travel one road: resolve the profile once, pass the :class:`~slswin_lib.config.Profile` down.

>>> p = resolve_profile("smoke")                                    # doctest: +SKIP
>>> ds = open_dataset(p)                                            # doctest: +SKIP
>>> me = expression_set(ds, "me", p)                                # doctest: +SKIP
>>> scores = loso(me, p)                                            # doctest: +SKIP
"""
from .folds import FoldJob, FoldResult, fold_identity, local_cluster, map_folds, train_fold
from .protocols import ablation_loso, baseline, loso, megc2022, run_tag, train_all
from .runs import (find_loso_run, fold_times, git_commit, notebook_time_split, read_fold_record, read_folds,
                   run_folder, run_manifest, run_profile, time_split_markdown, time_split_summary)
from .sets import (ExpressionSet, VideoInfo, check_input_size, expression_set, features_root, open_dataset,
                   sized_model_name, sized_profile, video_infos)

__all__ = ["ExpressionSet", "VideoInfo", "video_infos", "open_dataset", "expression_set", "features_root", "sized_profile",
           "sized_model_name", "check_input_size", "FoldJob", "FoldResult", "fold_identity", "train_fold",
           "map_folds", "local_cluster", "loso", "ablation_loso", "train_all", "megc2022", "baseline", "run_tag", "run_folder",
           "run_manifest", "git_commit", "read_folds", "read_fold_record", "fold_times",
           "notebook_time_split", "time_split_summary", "time_split_markdown", "run_profile", "find_loso_run"]
