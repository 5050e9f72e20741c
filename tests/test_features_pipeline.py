"""Flow, strain, crop and preprocessing on hand-computed cases."""
from __future__ import annotations

import numpy as np
import pytest

from slswin_lib.features.crop import crop_face, crop_transform, face_box, to_crop_coords
from slswin_lib.features.flow import FlowComputer, end_point_error, flow_to_rgb, optical_strain
from slswin_lib.features.preprocess import (eye_polygons, minmax_normalise, preprocess_sample,
                                            remove_head_motion, roi_boxes, roi_flow_magnitude,
                                            roi_mosaic, scaled_sizes)


def test_strain_of_linear_fields():
    yy, xx = np.mgrid[0:6, 0:7].astype(np.float32)
    assert np.allclose(optical_strain(0.5 * xx, 0.25 * yy), np.hypot(0.5, 0.25))
    # pure shear u = c y, v = c x: exy = eyx = c -> sqrt(0.5 (2c)^2) = c sqrt(2)
    assert np.allclose(optical_strain(0.3 * yy, 0.3 * xx), 0.3 * np.sqrt(2))
    # forward differences, last column/row repeat the previous one
    u = np.zeros((3, 3), np.float32)
    u[:, 2] = 1.0
    e = optical_strain(u, np.zeros_like(u))
    assert np.allclose(e, [[0, 1, 1]] * 3)


def _texture(size=96, seed=0):
    import cv2

    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.uniform(0, 255, (size, size)).astype(np.float32), (0, 0), 2.0)
    img = (img - img.min()) / (img.max() - img.min()) * 255
    return img.astype(np.uint8)


@pytest.mark.parametrize("method,params", [("tvl1", {}), ("dis", {}), ("farneback", {}),
                                           ("tvl1", {"scales": 3, "warps": 3, "epsilon": 0.05})])
def test_flow_recovers_translation(method, params):
    import cv2

    img = _texture()
    shift = np.float32([[1, 0, 1.5], [0, 1, -1.0]])  # content moves by (+1.5, -1.0)
    nxt = cv2.warpAffine(img, shift, img.shape[::-1], borderMode=cv2.BORDER_REFLECT)
    flow = FlowComputer(method, params)(img, nxt)
    inner = (slice(16, -16), slice(16, -16))
    truth = np.broadcast_to(np.float32([1.5, -1.0]), flow.shape)
    assert flow.shape == (96, 96, 2) and flow.dtype == np.float32
    assert end_point_error(flow, truth, inner) < 0.25
    assert flow_to_rgb(flow).shape == (96, 96, 3)


def test_flow_reuse_equals_fresh_and_bad_params():
    img, nxt = _texture(64, 1), _texture(64, 2)
    fc = FlowComputer("tvl1", {"scales": 2, "warps": 2})
    a = fc(img, nxt)
    b = fc(img, nxt)
    assert np.array_equal(a, b)
    assert np.array_equal(a, FlowComputer("tvl1", {"scales": 2, "warps": 2})(img, nxt))
    with pytest.raises(ValueError, match="no parameter"):
        FlowComputer("tvl1", {"nscales": 3})
    with pytest.raises(ValueError, match="unknown flow method"):
        FlowComputer("raft")
    with pytest.raises(ValueError, match="grayscale"):
        fc(img, nxt[:32])


def test_crop_box_and_coordinates():
    pts = np.array([[10, 20], [50, 20], [30, 100]], np.float32)
    box = face_box(pts, margin=1.0)
    assert np.allclose(box, [-10, 20, 80])
    m = crop_transform(box, 40)
    assert np.allclose(m @ [-10, 20, 1], [0, 0]) and np.allclose(m @ [70, 100, 1], [40, 40])
    assert np.allclose(to_crop_coords(pts, box, 40), [[10, 0], [30, 0], [20, 40]])
    frame = np.zeros((120, 80, 3), np.uint8)
    frame[:, 40:] = 200
    crop = crop_face(frame, box, 40)
    assert crop.shape == (40, 40) and crop.dtype == np.uint8
    assert crop[5, 5] == 0 and crop[5, 35] > 150  # frame column 40 -> crop x 25


def _face68(size=128):
    """A plausible dlib-68 layout on a 128 px crop (only the points used matter)."""
    p = np.zeros((68, 2), np.float32)
    p[:, :] = 64
    p[17:22] = [[30, 40], [35, 36], [40, 35], [46, 36], [52, 40]]
    p[22:27] = [[76, 40], [82, 36], [88, 35], [93, 36], [98, 40]]
    p[36:42] = [[34, 50], [39, 47], [45, 47], [50, 50], [45, 53], [39, 53]]
    p[42:48] = [[78, 50], [83, 47], [89, 47], [94, 50], [89, 53], [83, 53]]
    p[28] = [64, 60]
    p[48:60] = [[48, 95], [54, 92], [60, 90], [64, 91], [68, 90], [74, 92], [80, 95], [74, 100],
                [68, 103], [64, 104], [60, 103], [54, 100]]
    p[60:68] = [[50, 95], [60, 93], [64, 94], [68, 93], [78, 95], [68, 98], [64, 99], [60, 98]]
    return p * size / 128


def test_head_motion_and_eye_mask():
    feat = np.ones((128, 128, 3), np.float32) * [2.0, -3.0, 0.5]
    pts = _face68()
    out = remove_head_motion(feat, pts, half=5)
    assert np.allclose(out, 0)
    feat[55:66, 59:70] += 1.0  # only the 11 x 11 nose box
    out = remove_head_motion(feat, pts, half=5)
    assert np.allclose(out[0, 0], [-1, -1, -1]) and np.allclose(out[60, 64], 0)
    out2 = remove_head_motion(feat, pts, half=5, abs_uv=True)
    assert np.allclose(out2[0, 0], [1, 1, -1])
    left, right = eye_polygons(pts, 15)
    assert left.tolist() == [[19, 50], [39, 32], [45, 32], [65, 50], [45, 68], [39, 68]]
    assert right[0].tolist() == [63, 50]


def test_roi_boxes_and_mosaic_layout():
    pts = _face68()
    b1, b2, b3 = roi_boxes(pts, 12, 128)
    assert b1 == (18, 23, 64, 65) and b2 == (64, 23, 110, 65) and b3 == (38, 78, 90, 116)
    top, mouth = roi_boxes(pts, 12, 128, layout="one_box")
    assert top == (18, 23, 110, 65) and mouth == b3
    feat = np.zeros((128, 128, 1), np.float32)
    feat[23:65, 18:64] = 1
    feat[23:65, 64:110] = 2
    feat[78:116, 38:90] = 3
    mos = roi_mosaic(feat, [b1, b2, b3], 21)
    assert mos.shape == (42, 42, 1)
    assert np.allclose(mos[:21, :21], 1) and np.allclose(mos[:21, 21:], 2) and np.allclose(mos[21:], 3)
    s = scaled_sizes(256, 42)
    assert s == (10, 30, 24, 42)
    big = preprocess_sample(np.ones((256, 256, 3), np.float32), _face68(256), s)
    assert big.shape == (84, 84, 3) and np.allclose(big, 0)


def test_minmax_and_roi_magnitude():
    x = np.zeros((2, 4, 4, 3), np.float32)
    x[0, ..., 0] = np.arange(16).reshape(4, 4)
    x[1, ..., 1] = 5.0
    y = minmax_normalise(x)
    assert y[0, 0, 0, 0] == 0 and y[0, 3, 3, 0] == 1 and np.isclose(y[0, 1, 1, 0], 5 / 15)
    assert np.all(y[1] == 0)  # constant channels -> 0
    f = np.zeros((3, 42, 42, 3), np.float32)
    f[1, ..., 0], f[1, ..., 1] = 3, 4
    f[2, :21, :, 0] = 2
    assert np.allclose(roi_flow_magnitude(f), [0, 5, 1])


def test_px_scaling_at_the_256_crop(monkeypatch):
    """Table 6 crop: sizes doubled ("with_crop") or the 128 px values kept ("fixed", the authors' code),
    checked on the sizes, the boxes and the mosaic that feature extraction produces."""
    from slswin_lib.config import FeatureConfig
    from slswin_lib.features import pairs
    from slswin_lib.features.preprocess import config_sizes

    fixed = FeatureConfig(face_size=256, roi_size=42, px_scaling="fixed")
    scaled = FeatureConfig(face_size=256, roi_size=42, px_scaling="with_crop")
    assert scaled_sizes(256, 42, scaling="fixed") == config_sizes(fixed) == (5, 15, 12, 42)
    assert config_sizes(scaled) == (10, 30, 24, 42)
    assert config_sizes(FeatureConfig()) == config_sizes(FeatureConfig(px_scaling="fixed")) == (5, 15, 12, 21)
    with pytest.raises(ValueError, match=r"px_scaling = 'double'.*\['with_crop', 'fixed'\]"):
        scaled_sizes(256, 42, scaling="double")
    with pytest.raises(ValueError, match=r"FeatureConfig.px_scaling = 'double'"):
        FeatureConfig(px_scaling="double")
    pts = _face68(256)  # nose point 28 at (128, 120); left brow/eye from x 60, y 70 to x 104, y 106
    assert roi_boxes(pts, 12, 256)[0] == (48, 58, 116, 118)
    assert roi_boxes(pts, 24, 256)[0] == (36, 46, 128, 130)
    left = eye_polygons(pts, 15)[0]
    assert left[0].tolist() == [68 - 15, 100] and left[1].tolist() == [78, 94 - 15]
    raw = np.ones((256, 256, 3), np.float32)
    raw[115:126, 123:134] += 1.0  # the 11 x 11 box around the nose point
    # the flow (u, v) and the strain of every pair are the raw map's channels
    monkeypatch.setattr(pairs, "pair_flows", lambda crops, k, cfg, **_: np.repeat(raw[None, ..., :2], len(crops) - k, 0))
    monkeypatch.setattr(pairs, "optical_strain", lambda u, v: raw[..., 2].copy())
    crops, pts1 = np.zeros((2, 256, 256), np.uint8), pts[None]
    out_fixed = pairs.pair_features(crops, pts1, 1, fixed)
    out_scaled = pairs.pair_features(crops, pts1, 1, scaled)
    assert out_fixed.shape == out_scaled.shape == (1, 84, 84, 3)
    # mouth half: far from nose and eyes, so 1 - nose-box mean: 11 x 11 box mean 2; the 21 x 21 box
    # holds the 121 raised pixels: mean (121 * 2 + 320 * 1) / 441
    assert np.allclose(out_fixed[0, 42:], -1.0)
    assert np.allclose(out_scaled[0, 42:], 1 - 562 / 441)
    assert np.array_equal(out_fixed[0], preprocess_sample(raw.copy(), pts, config_sizes(fixed)))


def test_authors_code_preprocessing_by_hand():
    """abs(u), abs(v) after the nose-box subtraction with the strain left signed, and one top box
    over both brows/eyes resized to 2r x r (the authors' code), on maps of known values."""
    pts = _face68()
    feat = np.zeros((128, 128, 3), np.float32)
    feat[..., 0], feat[..., 1], feat[..., 2] = 0.5, -2.0, 0.25
    feat[55:66, 59:70] = [1.5, 1.0, 1.25]  # nose box: subtracting its mean gives u -1, v -3, |e| -1 elsewhere
    out = preprocess_sample(feat.copy(), pts, scaled_sizes(128, 21), abs_uv=True, layout="one_box")
    assert out.shape == (42, 42, 3)
    mouth = out[21:]
    assert np.allclose(mouth[..., 0], 1.0) and np.allclose(mouth[..., 1], 3.0) and np.allclose(mouth[..., 2], -1.0)
    assert out[:21, :, :2].min() >= 0 and out[:21, :, 2].min() == -1.0
    signed = preprocess_sample(feat.copy(), pts, scaled_sizes(128, 21), layout="one_box")
    assert np.allclose(signed[21:, :, 0], -1.0) and np.allclose(signed[21:, :, 1], -3.0)
    assert np.array_equal(np.abs(signed[..., :2]), out[..., :2]) and np.array_equal(signed[..., 2], out[..., 2])
    # one box (x 18..110, y 23..65) -> the whole 21 x 42 top half; the mouth box below
    top, mouth_box = roi_boxes(pts, 12, 128, layout="one_box")
    marked = np.zeros((128, 128, 1), np.float32)
    marked[23:65, 18:110] = 4.0
    marked[78:116, 38:90] = 3.0
    mos = roi_mosaic(marked, [top, mouth_box], 21)
    assert mos.shape == (42, 42, 1) and np.allclose(mos[:21], 4.0) and np.allclose(mos[21:], 3.0)
    with pytest.raises(ValueError, match="unknown ROI layout"):
        roi_boxes(pts, 12, 128, layout="three_boxes")


def test_minmax_normalise_equals_the_channel_last_formula_bit_for_bit():
    """The fast channel-first reduction gives exactly (x - min) / max(max - min, eps) per sample and channel."""
    from slswin_lib.features.preprocess import minmax_normalise, to_model_input

    rng = np.random.default_rng(0)
    x = rng.normal(size=(9, 42, 42, 3)).astype(np.float32) * 3
    x[2, ..., 1] = 5.0          # a constant channel maps to 0
    x[4] = 0.0
    lo, hi = x.min(axis=(1, 2), keepdims=True), x.max(axis=(1, 2), keepdims=True)
    expected = ((x - lo) / np.maximum(hi - lo, 1e-8)).astype(np.float32)
    out = minmax_normalise(x)
    assert out.dtype == np.float32 and out.shape == x.shape and np.array_equal(out, expected)
    assert np.array_equal(minmax_normalise(x[3]), expected[3]) and (out[2, ..., 1] == 0).all()
    model_input = to_model_input(x)
    assert model_input.flags.c_contiguous and np.array_equal(model_input, expected.transpose(0, 3, 1, 2))
