"""slswin: the reference implementation of SL-Swin (He, Chen & Zhong, Electronics 2023).

Module map. Data flows one way: ``data -> features -> experiment -> scores -> spotting /
evaluation -> report``; ``deploy`` builds on ``experiment``.

* :mod:`slswin_lib.config`      the smoke / quick / paper profiles: every setting, and
  :func:`~slswin_lib.config.run_digest`, the identity of every cached product
* :mod:`slswin_lib.data`        data-set readers and the synthetic benchmark
* :mod:`slswin_lib.features`    face landmarks, crop, TV-L1 flow, strain, ROI mosaics (cached)
* :mod:`slswin_lib.models`      SL-Swin and the Table 4 models, registered with timm on import
* :mod:`slswin_lib.training`    labels, training arrays, the training loop
* :mod:`slswin_lib.experiment`  expression sets, folds, the LOSO / MEGC 2022 protocols, run folders
* :mod:`slswin_lib.scores`      score sets (the released predictions' format): read, write, sweep t
* :mod:`slswin_lib.spotting`    score smoothing, thresholding, peak picking
* :mod:`slswin_lib.evaluation`  MEGC interval matching and metrics (five matching rules)
* :mod:`slswin_lib.intervals`   spotted intervals of any method (the MEGC submission format): read, check, evaluate
* :mod:`slswin_lib.comparison`  resampling units (videos or time blocks) and paired F1 differences
* :mod:`slswin_lib.peers`       the peers' released outputs on CAS(ME)^2 (LGSNet, He et al. 2024)
* :mod:`slswin_lib.timing`      where a run's time goes, by named stage
* :mod:`slswin_lib.report`, :mod:`slswin_lib.results`, :mod:`slswin_lib.plots`  tables, figures,
  the results page and the README block
* :mod:`slswin_lib.deploy`      spotter checkpoints and spotting any video
* :mod:`slswin_lib.cli`         ``python -m slswin_lib`` (``spot-eval``, ``spot``, ``sweep``, ...)

The method, with the paper's sections and equations, is described in ``docs/method.md``.

Importing the package is cheap and has no side effects; heavy dependencies (torch, OpenCV,
MediaPipe) load with the sub-module that needs them.
"""
__version__ = "0.1.0"
