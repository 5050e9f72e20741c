"""slswin: the reference implementation of SL-Swin (He, Chen & Zhong, Electronics 2023).

Stages, one module (or sub-package) each:

* :mod:`slswin_lib.data`        data-set readers and the synthetic benchmark
* :mod:`slswin_lib.features`    face landmarks, crop, TV-L1 flow, strain, ROI mosaics
* :mod:`slswin_lib.models`      SL-Swin and the Table 4 models as timm models
* :mod:`slswin_lib.training`    labels, training loops, LOSO / MEGC 2022 protocols
* :mod:`slswin_lib.spotting`    score smoothing, thresholding, peak picking
* :mod:`slswin_lib.evaluation`  MEGC interval matching and metrics
* :mod:`slswin_lib.config`      the smoke / quick / paper profiles

Importing the package is cheap and has no side effects; heavy dependencies (torch, OpenCV,
MediaPipe) load with the sub-module that needs them.
"""
__version__ = "0.1.0"
