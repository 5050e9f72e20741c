"""Landmarks: MediaPipe wrapper, mesh -> dlib-68 mapping, missing-face fallback."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest

from slswin_lib.assets import asset_path
from slswin_lib.features.landmarks import (DLIB68, MESH_TO_DLIB68, NOSE_POINT, FaceLandmarker,
                                           LandmarkError, fill_missing, to_dlib68)


@pytest.fixture(scope="session")
def pexels_frame() -> np.ndarray:
    cap = cv2.VideoCapture(str(asset_path("pexels_video")))
    ok, frame = cap.read()
    cap.release()
    assert ok
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="session")
def landmarker():
    with FaceLandmarker() as lm:
        yield lm


def test_mapping_is_68_distinct_mesh_points():
    assert MESH_TO_DLIB68.shape == (68,)
    assert len(set(MESH_TO_DLIB68.tolist())) == 68
    assert MESH_TO_DLIB68.max() < 468
    assert sum(len(v) for k, v in DLIB68.items() if k != "mouth") == 68
    mesh = np.stack([np.arange(478), -np.arange(478)], axis=1).astype(np.float32)
    pts = to_dlib68(mesh)
    assert pts.shape == (68, 2)
    assert pts[NOSE_POINT, 0] == 197 and pts[36, 0] == 33 and pts[45, 0] == 263


def test_detect_on_real_frame_geometry(landmarker, pexels_frame):
    mesh = landmarker.detect(pexels_frame)
    assert mesh is not None and mesh.shape == (478, 2) and mesh.dtype == np.float32
    p = to_dlib68(mesh)
    # anatomical order on an upright face: image-left eye left of image-right eye,
    # brows above eyes, eyes above nose point 28 above mouth above chin
    assert p[DLIB68["left_eye"], 0].mean() < p[DLIB68["right_eye"], 0].mean()
    assert p[DLIB68["left_brow"], 1].mean() < p[DLIB68["left_eye"], 1].mean()
    assert p[DLIB68["right_eye"], 1].mean() < p[NOSE_POINT, 1] + 20
    assert p[NOSE_POINT, 1] < p[DLIB68["mouth"], 1].mean() < p[8, 1]
    assert p[36, 0] < p[39, 0] < p[42, 0] < p[45, 0]
    assert p[48, 0] < p[54, 0]
    h, w = pexels_frame.shape[:2]
    assert (p[:, 0] > 0).all() and (p[:, 0] < w).all() and (p[:, 1] > 0).all() and (p[:, 1] < h).all()


def test_no_face_returns_none(landmarker):
    assert landmarker.detect(np.full((240, 320, 3), 127, np.uint8)) is None


def test_bad_input_is_a_clear_error(landmarker, tmp_path):
    with pytest.raises(ValueError, match="RGB uint8"):
        landmarker.detect(np.zeros((10, 10), np.uint8))
    bad = tmp_path / "bad.task"
    bad.write_bytes(b"not a model")
    with pytest.raises(LandmarkError, match="bad.task"):
        FaceLandmarker(bad)


def test_fill_missing_nearest():
    a, b = np.zeros((2, 2), np.float32), np.ones((2, 2), np.float32)
    filled, missing = fill_missing([None, a, None, None, b, None])
    assert missing.tolist() == [True, False, True, True, False, True]
    assert filled[:, 0, 0].tolist() == [0, 0, 0, 1, 1, 1]
    with pytest.raises(LandmarkError, match="clip7: no face"):
        fill_missing([None, None], key="clip7")


#: MediaPipe's native (C++) log lines on stderr: informational, not Python exceptions
_NATIVE_LOG = re.compile(r"^([IWEF]\d{4} \d\d:\d\d:\d+\.\d+ |WARNING: Logging before InitGoogle\(\)|INFO: Created "
                         r"TensorFlow Lite)")

_EXIT_SCRIPT = """
import mediapipe.tasks.python.vision  # MediaPipe imported first, as after an earlier test
import numpy as np
from slswin_lib.config import FeatureConfig
from slswin_lib.features.extract import landmark_model_path, landmarker
from slswin_lib.features.landmarks import FaceLandmarker
landmarker(landmark_model_path(), FeatureConfig()).detect(np.zeros((64, 64, 3), np.uint8))
left_open = FaceLandmarker(landmark_model_path(), mode="video")
"""


def test_process_exits_without_ignored_exceptions():
    """A process that opens landmarkers (a cached one, one never closed) and exits prints no
    exception: they are closed before the interpreter's shutdown stops MediaPipe's thread pools."""
    asset_path("face_landmarker")
    done = subprocess.run([sys.executable, "-c", _EXIT_SCRIPT], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == 0, done.stderr
    python_stderr = [ln for ln in done.stderr.splitlines() if ln.strip() and not _NATIVE_LOG.match(ln)]
    assert python_stderr == []


def test_closed_landmarker_is_closed_once():
    lm = FaceLandmarker()
    assert not lm.closed
    lm.close()
    lm.close()
    assert lm.closed
