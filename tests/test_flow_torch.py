"""Batched torch Dual TV-L1: hand-checkable flows, agreement with OpenCV, per-pair stopping, bad input."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from slswin_lib.config import FLOWS, FeatureConfig
from slswin_lib.features.extract import FeatureError, pair_flows
from slswin_lib.features.flow import FLOW_METHODS, FlowComputer, end_point_error
from slswin_lib.features.tvl1_torch import (PairError, TorchTVL1, TVL1Params, _inner_step, check_device,
                                            tvl1_flow)

SIZE = 64
INNER = (slice(6, -6), slice(6, -6))


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _texture(size: int = SIZE, seed: int = 0) -> np.ndarray:
    """Smooth random texture, float64 in 0..255 (blurred noise: gradients everywhere)."""
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.uniform(0, 255, (size, size)), (0, 0), 2.0)
    return (img - img.min()) / (img.max() - img.min()) * 255


def _moved(img: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """``img`` with the point at x moved to x + d (d small and smooth): img(x - d)."""
    gy, gx = np.mgrid[0:img.shape[0], 0:img.shape[1]].astype(np.float32)
    return cv2.remap(img.astype(np.float32), gx - dx.astype(np.float32), gy - dy.astype(np.float32),
                     cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def test_zero_motion_gives_zero_flow():
    img = np.round(_texture()).astype(np.uint8)
    flow = TorchTVL1()(img, img)
    assert flow.shape == (SIZE, SIZE, 2) and flow.dtype == np.float32
    assert np.abs(flow).max() < 1e-3


def test_pure_translation_is_recovered():
    img = _texture()
    shift = np.array([1.25, -0.5])
    nxt = _moved(img, np.full(img.shape, shift[0]), np.full(img.shape, shift[1]))
    flow = TorchTVL1()(np.round(img).astype(np.uint8), np.round(nxt).astype(np.uint8))
    mean = flow[INNER].reshape(-1, 2).mean(0)
    assert np.allclose(mean, shift, atol=0.03), mean
    assert end_point_error(flow[INNER], np.broadcast_to(shift, flow[INNER].shape)) < 0.1


def test_agrees_with_opencv_on_a_small_pair():
    img = _texture(seed=1)
    gy, gx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    dx = 1.2 * np.exp(-((gx - 30) ** 2 + (gy - 34) ** 2) / 150) + 0.2
    dy = -0.7 * np.exp(-((gx - 40) ** 2 + (gy - 25) ** 2) / 120)
    a, b = np.round(img).astype(np.uint8), np.round(_moved(img, dx, dy)).astype(np.uint8)
    truth = np.dstack([dx, dy])
    ours = FlowComputer("tvl1_torch")(a, b)
    theirs = FlowComputer("tvl1")(a, b)
    mask = np.zeros((SIZE, SIZE), bool)
    mask[INNER] = True
    # stated tolerance: end-point error within 0.01 px of OpenCV's, flows within 0.03 px on average
    assert abs(end_point_error(ours, truth, mask) - end_point_error(theirs, truth, mask)) < 0.01
    assert np.abs(ours - theirs).mean() < 0.03
    assert end_point_error(ours, truth, mask) < 0.5 * end_point_error(np.zeros_like(truth), truth, mask)


def test_batch_equals_single_pairs_and_stopping_is_per_pair():
    img = _texture(seed=2)
    still = np.round(img).astype(np.uint8)
    moved = np.round(_moved(img, np.full(img.shape, 0.8), np.zeros(img.shape))).astype(np.uint8)
    prev, nxt = np.stack([still, still]), np.stack([still, moved])
    flow = TorchTVL1(batch=2)(prev, nxt)
    alone = [TorchTVL1()(prev[i], nxt[i]) for i in range(2)]
    for i in range(2):
        np.testing.assert_allclose(flow[i], alone[i], atol=1e-4)
    assert np.abs(flow[0]).max() < 1e-3 and abs(flow[1][INNER][..., 0].mean() - 0.8) < 0.03


def test_converged_pair_stays_fixed_while_another_continues():
    from slswin_lib.features.tvl1_torch import _solve_warp

    torch.manual_seed(0)
    n, h, w = 2, 8, 8
    u, p = torch.randn(n, 2, h, w), torch.randn(n, 4, h, w) * 0.1
    ix, iy, rho_c = torch.randn(n, 1, h, w), torch.randn(n, 1, h, w), torch.randn(n, 1, h, w)
    terms = (ix, iy, ix ** 2 + iy ** 2, rho_c)
    calls = []

    def step(cu, cp, *args):   # pair 0 "converges" at its first step, pair 1 never
        out_u, out_p, _ = _inner_step(cu, cp, *args)
        calls.append(len(cu))
        return out_u, out_p, torch.tensor([0.0, 1e9]) if len(cu) == 2 else torch.full((len(cu),), 1e9)

    params = TVL1Params(outer_iterations=2, inner_iterations=3, median_filtering=1)
    before = u.clone()
    u2, p2 = _solve_warp(step, u, p, terms, params, scaled_eps=1.0)
    assert calls == [2, 1, 1, 1, 1, 1]                # pair 0 left the batch after one step
    one_u, one_p, _ = _inner_step(u[:1], p[:1], *(t[:1] for t in terms), 0.045, 0.3, 0.25 / 0.3)
    assert torch.equal(u2[:1], one_u) and torch.equal(p2[:1], one_p)   # exactly one update
    assert not torch.equal(u2[1], u[1])
    assert torch.equal(u, before)   # the caller's tensors are not written to


def test_divergence_is_minus_adjoint_of_forward_gradient():
    from slswin_lib.features.tvl1_torch import _divergence, _forward_gradient

    torch.manual_seed(1)
    u, px, py = torch.randn(1, 1, 5, 6), torch.randn(1, 1, 5, 6), torch.randn(1, 1, 5, 6)
    gx, gy = _forward_gradient(u)
    px[..., -1], py[..., -1, :] = 0, 0   # p lives where the gradient does (Neumann boundary)
    lhs = (gx * px + gy * py).sum()
    assert torch.allclose(lhs, -(u * _divergence(px, py)).sum(), atol=1e-5)


def test_bad_input_is_refused():
    img = np.round(_texture()).astype(np.uint8)
    with pytest.raises(PairError, match="one size"):
        TorchTVL1()(np.stack([img]), np.stack([img[:32, :32]]))
    stack = np.stack([img, img, img]).astype(np.float32)
    bad = stack.copy()
    bad[2, 5, 5] = np.nan
    with pytest.raises(PairError, match="frame pair 2 has NaN") as err:
        TorchTVL1(batch=2)(stack, bad)
    assert err.value.pair == 2
    with pytest.raises(ValueError, match="not available"):
        check_device("cuda:99")
    with pytest.raises(ValueError, match="not a torch device"):
        check_device("tpu9")
    with pytest.raises(ValueError, match="gamma"):
        TVL1Params(gamma=0.1)
    with pytest.raises(ValueError, match="no parameter"):
        FlowComputer("tvl1_torch", {"gamma": 0.1})
    with pytest.raises(ValueError, match="no parameter"):
        TVL1Params.from_mapping({"nscales": 3})
    with pytest.raises(PairError, match="stacks of one size"):
        tvl1_flow(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 9))


def test_pipeline_names_video_and_pair():
    crops = np.stack([_texture(seed=s) for s in range(6)]).astype(np.float32)
    crops[4, 3, 3] = np.nan
    cfg = FeatureConfig(flow="tvl1_torch", flow_params=(("scales", 2), ("warps", 1)))
    with pytest.raises(FeatureError, match=r"clip7: frame pair \(12, 14\)"):
        pair_flows(crops, 2, cfg, key="clip7", first=10)   # pairs (10,12) .. (13,15); 14 has NaN
    with pytest.raises(FeatureError, match="cuda:99.*not available"):
        pair_flows(crops[:3], 1, FeatureConfig(flow="tvl1_torch", flow_device="cuda:99"), key="v")


def test_settings():
    assert set(FLOWS) == set(FLOW_METHODS)
    with pytest.raises(ValueError, match="FeatureConfig.flow = 'raft'"):
        FeatureConfig(flow="raft")
    with pytest.raises(ValueError, match="flow_batch"):
        FeatureConfig(flow_batch=0)


@pytest.mark.parametrize("k", [3, 5])
def test_median_network_equals_sorting(k):
    from slswin_lib.features.tvl1_torch import _median

    torch.manual_seed(k)
    u = torch.randint(0, 4, (2, 2, 9, 11)).float()   # many ties
    r = k // 2
    padded = torch.nn.functional.pad(u, (r, r, r, r), mode="replicate")
    taps = padded.unfold(2, k, 1).unfold(3, k, 1).reshape(2, 2, 9, 11, k * k)
    assert torch.equal(_median(u, k), taps.median(-1).values)
    assert _median(torch.arange(25.0).view(1, 1, 5, 5), 5)[0, 0, 2, 2] == 12


def test_many_equals_one_pair_at_a_time():
    imgs = np.stack([np.round(_texture(seed=s)).astype(np.uint8) for s in range(3)])
    for method, params in (("dis", {}), ("tvl1_torch", {"scales": 2, "warps": 1})):
        fc = FlowComputer(method, params, batch=2)
        many = fc.many(imgs[:2], imgs[1:])
        assert many.shape == (2, SIZE, SIZE, 2)
        for n in range(2):
            np.testing.assert_allclose(many[n], fc(imgs[n], imgs[n + 1]), atol=1e-5)
    with pytest.raises(ValueError, match="uint8"):
        FlowComputer("dis").many(imgs[:2].astype(np.float32), imgs[1:].astype(np.float32))
