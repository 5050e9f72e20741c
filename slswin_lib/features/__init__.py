"""Feature extraction and preprocessing (paper Sections 2.1-2.2): landmarks, face crop, TV-L1 flow and
strain, head-motion removal, eye masks and the ROI mosaic; cached, resumable and parallel.

Modules by concern: :mod:`~slswin_lib.features.landmarks` (MediaPipe), :mod:`~slswin_lib.features.crop`,
:mod:`~slswin_lib.features.flow`, :mod:`~slswin_lib.features.preprocess` (the ROI mosaic and the inference
transform :func:`~slswin_lib.features.preprocess.to_model_input`), :mod:`~slswin_lib.features.tracking`
(stage A: face tracking), :mod:`~slswin_lib.features.pairs` (stage B: frame pairs),
:mod:`~slswin_lib.features.cache` (the feature cache), :mod:`~slswin_lib.features.executors` (process pool,
Dask) and :mod:`~slswin_lib.features.extract` (the entry point, :func:`extract_features`).

Submodules are imported lazily so that ``import slswin_lib.features`` stays cheap.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "FaceLandmarker": "landmarks", "to_dlib68": "landmarks", "DLIB68": "landmarks",
    "MESH_TO_DLIB68": "landmarks", "NOSE_POINT": "landmarks", "fill_missing": "landmarks",
    "LandmarkError": "landmarks",
    "extract_features": "extract", "extract_video": "extract", "ArrayVideo": "extract",
    "FeatureError": "extract", "cache_file": "extract", "load_cached": "extract",
    "minmax_normalise": "preprocess", "roi_flow_magnitude": "preprocess", "to_model_input": "preprocess",
    "FlowComputer": "flow", "optical_strain": "flow", "flow_to_rgb": "flow",
}


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    return getattr(importlib.import_module(f".{module}", __name__), name)


__all__ = sorted(_EXPORTS)
