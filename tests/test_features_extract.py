"""Extraction: real Pexels clip end to end, cache keys and resume, bad input, parallel paths."""
from __future__ import annotations

import dataclasses
from dataclasses import replace

import cv2
import numpy as np
import pytest

from slswin_lib.assets import asset_path
from slswin_lib.config import FeatureConfig
from slswin_lib.features.extract import (ArrayVideo, FeatureError, cache_file, extract_features,
                                         extract_video, load_cached)
from slswin_lib.features.landmarks import LandmarkError

FAST = FeatureConfig(flow="dis")


@pytest.fixture(scope="session")
def pexels_frames() -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(asset_path("pexels_video")))
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    assert len(frames) == 472
    return frames


@pytest.fixture(scope="session")
def pexels_full(pexels_frames):
    """The whole real clip through the pipeline (fast flow), once per session."""
    video = ArrayVideo("pexels", pexels_frames, fps=24)
    return extract_video(video, 6, FAST)


def test_pexels_full_clip(pexels_full):
    features, track = pexels_full
    assert features.shape == (472 - 6, 42, 42, 3) and features.dtype == np.float32
    assert np.isfinite(features).all()
    assert int(track.missing.sum()) == 0  # face found in every frame
    assert track.crops.shape == (472, 128, 128)
    # the landmarks of the crop lie inside it, nose near the centre
    assert (track.pts68 > -1).all() and (track.pts68 < 129).all()
    assert (track.pts68[:, 17:] > 5).all() and (track.pts68[:, 17:] < 123).all()
    assert np.all(np.abs(track.pts68[:, 28] - 64) < 32)  # nose in the central half
    # she acts expressions: the ROI flow varies over time
    mag = np.sqrt(features[..., 0] ** 2 + features[..., 1] ** 2).mean(axis=(1, 2))
    assert mag.max() > 3 * np.median(mag)


def _short(frames, n=20, key="clip"):
    return ArrayVideo(key, frames[:n], fps=24)


def test_cache_resume_and_keys(pexels_frames, tmp_path):
    a, b = _short(pexels_frames, key="a"), _short(pexels_frames[100:], key="b")
    out = extract_features([a, b], 4, FAST, cache_root=tmp_path, workers=1, progress=False)
    assert set(out) == {"a", "b"} and out["a"].shape == (16, 42, 42, 3)
    fa, fb = cache_file(a, 4, FAST, tmp_path), cache_file(b, 4, FAST, tmp_path)
    assert fa.exists() and fb.exists()
    assert not list(tmp_path.rglob(".*"))  # no temporary files left
    stamp = fa.stat().st_mtime_ns
    fb.unlink()  # "interrupted" after a: resume computes b only
    again = extract_features([a, b], 4, FAST, cache_root=tmp_path, workers=1, progress=False)
    assert fa.stat().st_mtime_ns == stamp and fb.exists()
    assert np.array_equal(again["b"], out["b"])
    cached = load_cached(fa)
    assert cached["params"]["k"] == 4 and cached["params"]["flow"] == "dis"
    assert cached["missing"].sum() == 0
    # every output-changing parameter gives a new file
    for other in (FeatureConfig(flow="farneback"), FeatureConfig(flow="dis", abs_uv=True),
                  FeatureConfig(flow="dis", roi_layout="one_box"),
                  FeatureConfig(flow="dis", face_size=256, roi_size=42),
                  FeatureConfig(flow="dis", face_size=256, roi_size=42, px_scaling="fixed")):
        assert cache_file(a, 4, other, tmp_path) != fa
    assert cache_file(a, 5, FAST, tmp_path) != fa
    big = FeatureConfig(flow="dis", face_size=256, roi_size=42)
    assert cache_file(a, 4, big, tmp_path) != cache_file(a, 4, replace(big, px_scaling="fixed"), tmp_path)
    assert cache_file(a, 4, FeatureConfig(flow="dis", workers=3, chunk=8), tmp_path) == fa
    changed = ArrayVideo("a", pexels_frames[1:21], fps=24)  # same key, other content
    assert cache_file(changed, 4, FAST, tmp_path) != fa


def test_parallel_pool_equals_serial(pexels_frames, tmp_path):
    v = _short(pexels_frames, n=30, key="p")
    serial, _ = extract_video(v, 5, FAST)
    cfg = FeatureConfig(flow="dis", chunk=7)
    out = extract_features([v], 5, cfg, cache_root=tmp_path, workers=2, progress=False)
    assert np.array_equal(out["p"], serial)


def test_bad_inputs(pexels_frames, tmp_path):
    with pytest.raises(FeatureError, match="shorter than k"):
        extract_features([_short(pexels_frames, n=4, key="tiny")], 4, FAST, cache_root=tmp_path)
    mixed = list(pexels_frames[:6]) + [cv2.resize(pexels_frames[6], (320, 180))]
    with pytest.raises(FeatureError, match="frame 6 has shape"):
        extract_video(ArrayVideo("mixed", mixed), 2, FAST)
    blank = [np.full((120, 160, 3), 128, np.uint8)] * 5
    with pytest.raises(LandmarkError, match="blank: no face"):
        extract_video(ArrayVideo("blank", blank), 2, FAST)
    with pytest.raises(FeatureError, match="not unique"):
        extract_features([_short(pexels_frames), _short(pexels_frames)], 2, FAST, cache_root=tmp_path)


def test_frame_without_face_is_counted(pexels_frames):
    frames = list(pexels_frames[:8])
    frames[3] = np.full_like(frames[3], 90)
    with pytest.warns(UserWarning, match="no face found in 1 of 8 frames"):
        features, track = extract_video(ArrayVideo("gap", frames), 2, FAST)
    assert track.missing.tolist() == [False, False, False, True, False, False, False, False]
    assert np.allclose(track.pts68[3], track.pts68[2])  # nearest (earlier on ties)
    assert np.isfinite(features).all()


@pytest.mark.slow
def test_dask_scheduler(pexels_frames, tmp_path):
    from distributed import LocalCluster

    v = _short(pexels_frames, n=12, key="d")
    serial, _ = extract_video(v, 3, FAST)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:
        out = extract_features([v], 3, FAST, cache_root=tmp_path,
                               scheduler_address=cluster.scheduler_address, progress=False)
    assert np.array_equal(out["d"], serial)


@pytest.mark.parametrize("workers", [1, 2])
def test_face_track_is_computed_once_for_every_k(pexels_frames, tmp_path, monkeypatch, workers):
    from slswin_lib.features import cache, pairs

    video = _short(pexels_frames, n=16, key="once")
    first = extract_features([video], 3, FAST, cache_root=tmp_path, workers=workers, progress=False)
    assert cache.track_file(video, FAST, tmp_path).exists()
    calls = []
    monkeypatch.setattr(pairs, "track_face", lambda *a, **kw: calls.append(1))  # must not be needed
    second = extract_features([video], 5, FAST, cache_root=tmp_path, workers=1, progress=False)
    assert calls == [] and second["once"].shape == (11, 42, 42, 3)
    monkeypatch.undo()
    fresh, _ = extract_video(video, 5, FAST)
    np.testing.assert_allclose(second["once"], fresh, atol=1e-5)
    assert first["once"].shape == (13, 42, 42, 3)


#: the torch TV-L1 with a cheap schedule (2 scales, 1 warp) keeps these tests quick on a CPU
TORCH_FLOW = FeatureConfig(flow="tvl1_torch", flow_params=(("scales", 2), ("warps", 1)), flow_batch=4)


def test_device_flow_pool_equals_serial(pexels_frames, tmp_path):
    """The pool's main process computes the torch flow chunk by chunk; workers preprocess."""
    v = _short(pexels_frames, n=14, key="t")
    serial, _ = extract_video(v, 3, TORCH_FLOW)
    cfg = dataclasses.replace(TORCH_FLOW, chunk=4)
    out = extract_features([v], 3, cfg, cache_root=tmp_path, workers=2, progress=False)
    assert out["t"].shape == (11, 42, 42, 3)
    np.testing.assert_allclose(out["t"], serial, atol=1e-5)
    assert cache_file(v, 3, cfg, tmp_path) == cache_file(v, 3, TORCH_FLOW, tmp_path)


def test_device_flow_settings_are_not_in_the_cache_key(pexels_frames, tmp_path):
    a = _short(pexels_frames, key="a")
    fa = cache_file(a, 4, FAST, tmp_path)
    assert cache_file(a, 4, FeatureConfig(flow="dis", flow_device="cuda:3", flow_batch=7, flow_compile=True),
                      tmp_path) == fa
    assert cache_file(a, 4, FeatureConfig(flow="tvl1_torch"), tmp_path) != cache_file(a, 4, FeatureConfig(), tmp_path)


def test_unavailable_flow_device_caches_nothing(pexels_frames, tmp_path):
    cfg = FeatureConfig(flow="tvl1_torch", flow_device="cuda:99")
    with pytest.raises(FeatureError, match="flow_device='cuda:99'.*not available"):
        extract_features([_short(pexels_frames, key="gpu")], 2, cfg, cache_root=tmp_path, workers=1,
                         progress=False)
    assert not list(tmp_path.rglob("*"))


@pytest.mark.parametrize("workers", [1, 2])
def test_the_landmarks_are_detected_once_for_every_crop_size(pexels_frames, tmp_path, monkeypatch, workers):
    """Table 6's 84 x 84 features (256 px crop) reuse the landmarks of the 42 x 42 ones, bit for bit."""
    from slswin_lib.features import cache, tracking

    video = _short(pexels_frames, n=12, key="mesh")
    big = replace(FAST, face_size=256, roi_size=42)
    fresh, fresh_track = extract_video(video, 3, big)              # detected here, nothing cached
    extract_features([video], 3, FAST, cache_root=tmp_path, workers=workers, progress=False)
    assert cache.mesh_file(video, FAST, tmp_path).exists()
    assert cache.mesh_file(video, big, tmp_path) == cache.mesh_file(video, FAST, tmp_path)   # not keyed by size

    def refuse(*args, **kwargs):
        raise AssertionError("the landmarker must not run again")

    monkeypatch.setattr(tracking, "landmarker", refuse)
    out = extract_features([video], 3, big, cache_root=tmp_path, workers=1, progress=False)
    assert out["mesh"].shape == (9, 84, 84, 3)
    assert np.array_equal(out["mesh"], fresh)
    track = tracking.track_face(video, big, cache_root=tmp_path)
    assert np.array_equal(track.crops, fresh_track.crops) and np.array_equal(track.pts68, fresh_track.pts68)


def test_cached_landmarks_of_another_length_are_refused(pexels_frames, tmp_path):
    from slswin_lib.features import cache, tracking

    video = _short(pexels_frames, n=10, key="len")
    tracking.track_face(video, FAST, cache_root=tmp_path)
    path = cache.mesh_file(video, FAST, tmp_path)
    cache.save_meshes(path, cache.load_meshes(path)[:7])
    with pytest.raises(FeatureError, match="hold 7 frames, the video 10; delete the file"):
        tracking.track_face(video, FAST, cache_root=tmp_path)
