"""Batched Dual TV-L1 optical flow in PyTorch (CPU, CUDA or any torch device).

The algorithm of Zach, Pock & Bischof, "A duality based approach for realtime TV-L1 optical
flow" (DAGM 2007), in the formulation of Sanchez, Meinhardt-Llopis & Facciolo, "TV-L1 Optical
Flow Estimation" (IPOL 2013, Algorithm 1 and Section 4), with the structure and defaults that
OpenCV documents for ``cv2.optflow.DualTVL1OpticalFlow`` (tau 0.25, lambda 0.15, theta 0.3,
5 scales, scale step 0.8, 5 warps, epsilon 0.01, 10 outer x 30 inner iterations, median filter
5; gamma 0, i.e. no illumination term).

Per scale (coarse to fine) and warp, with ``I1w, I1wx, I1wy`` the second image and its
centred-difference gradient warped by the current flow ``u0`` (bicubic):

* ``rho(u) = I1w + <grad I1w, u - u0> - I0`` (IPOL eq. 13, linearised data term);
* thresholding (IPOL eq. 18): ``v = u + lambda theta grad I1w`` where
  ``rho < -lambda theta |grad I1w|^2``, ``v = u - lambda theta grad I1w`` where
  ``rho > lambda theta |grad I1w|^2``, ``v = u - rho grad I1w / |grad I1w|^2`` otherwise;
* ``u = v + theta div p`` (IPOL eq. 19; divergence by backward differences, the adjoint of the
  forward-difference gradient with Neumann boundaries, IPOL eqs. 27-28);
* ``p = (p + tau/theta grad u) / (1 + tau/theta |grad u|)`` (IPOL eq. 24);
* a warp stops when the mean squared update of ``u`` falls to ``epsilon^2`` (IPOL Algorithm 1);
  each outer iteration starts with a 5 x 5 median filter of ``u`` (OpenCV's
  ``medianFiltering``).

Everything runs on ``(N, 1, H, W)`` stacks of frame pairs; a pair whose update has converged
stops changing (its flow and dual variables are frozen) while the others continue, so each pair
follows the same iterations as it would alone. The pyramid shrinks the images by
``scale_step`` (OpenCV's default 0.8) with bilinear down-sampling and the flow is carried up by
bilinear up-sampling times ``1 / scale_step``, as OpenCV does.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any, Mapping

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["TVL1Params", "tvl1_flow", "TorchTVL1", "check_pairs", "check_device", "PairError"]

#: ``|grad I1w|^2`` below this counts as no gradient (no data-term step there)
GRAD_IS_ZERO = 1e-10
#: border of the median filter and of the centred gradient: the edge pixel is repeated
_BORDER = "replicate"
#: the cubic convolution kernel's parameter (Keys 1981; -0.75 as in OpenCV's and torch's bicubic)
CUBIC_A = -0.75


@dataclass(frozen=True)
class TVL1Params:
    """Dual TV-L1 parameters; names and defaults are OpenCV's ``DualTVL1OpticalFlow`` ones.

    ``lambda_`` is OpenCV's ``lambda`` (a Python keyword); :meth:`from_mapping` accepts both.
    """

    tau: float = 0.25
    lambda_: float = 0.15
    theta: float = 0.3
    scales: int = 5
    warps: int = 5
    epsilon: float = 0.01
    inner_iterations: int = 30
    outer_iterations: int = 10
    scale_step: float = 0.8
    gamma: float = 0.0
    median_filtering: int = 5

    def __post_init__(self) -> None:
        if self.gamma != 0:
            raise ValueError(f"TVL1Params.gamma = {self.gamma}: the torch TV-L1 has no illumination "
                             f"term; use gamma 0 (OpenCV's default) or flow='tvl1'")
        if not 0 < self.scale_step < 1:
            raise ValueError(f"TVL1Params.scale_step = {self.scale_step} must be in (0, 1)")
        if self.median_filtering > 1 and self.median_filtering % 2 == 0:
            raise ValueError(f"TVL1Params.median_filtering = {self.median_filtering} must be odd")
        for name in ("scales", "warps", "inner_iterations", "outer_iterations"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"TVL1Params.{name} = {getattr(self, name)} must be >= 1")

    @classmethod
    def from_mapping(cls, params: Mapping[str, Any] | None) -> "TVL1Params":
        """Parameters from OpenCV-style names (``{"lambda": 0.15, "warps": 3, ...}``)."""
        params = {("lambda_" if k == "lambda" else k): v for k, v in dict(params or {}).items()}
        known = {f.name for f in fields(cls)}
        unknown = set(params) - known
        if unknown:
            raise ValueError(f"TV-L1 has no parameter(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**params)


class PairError(ValueError):
    """A frame pair the flow cannot use; ``pair`` is its index in the call (None: all pairs)."""

    def __init__(self, message: str, pair: int | None = None) -> None:
        super().__init__(message)
        self.pair = pair


def check_pairs(prev: torch.Tensor, nxt: torch.Tensor) -> None:
    """Refuse pairs the flow cannot use: different sizes, wrong rank, non-finite pixels.

    Raises:
        PairError: naming the first offending pair index (``err.pair``).
    """
    if prev.shape != nxt.shape or prev.ndim != 4 or prev.shape[1] != 1:
        raise PairError(f"TV-L1 needs two (N, 1, H, W) stacks of one size, got "
                        f"{tuple(prev.shape)} and {tuple(nxt.shape)}")
    bad = ~(torch.isfinite(prev).flatten(1).all(1) & torch.isfinite(nxt).flatten(1).all(1))
    if bad.any():
        first = int(bad.nonzero()[0])
        raise PairError(f"TV-L1: frame pair {first} has NaN/inf pixels ({int(bad.sum())} pair(s) "
                        f"affected); nothing was computed", pair=first)


def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of ``(N, C, H, W)`` to ``size`` (pixel centres aligned; the flow's up-sampling)."""
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def _centred_gradient(img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Centred differences ``(I[x+1] - I[x-1]) / 2``; one-sided halves at the border."""
    pad = F.pad(img, (1, 1, 1, 1), mode=_BORDER)
    gx = 0.5 * (pad[..., 1:-1, 2:] - pad[..., 1:-1, :-2])
    gy = 0.5 * (pad[..., 2:, 1:-1] - pad[..., :-2, 1:-1])
    return gx, gy


def _forward_gradient(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward differences with Neumann boundary (0 in the last column / row), IPOL eq. 27."""
    gx = F.pad(u[..., :, 1:] - u[..., :, :-1], (0, 1, 0, 0))
    gy = F.pad(u[..., 1:, :] - u[..., :-1, :], (0, 0, 0, 1))
    return gx, gy


def _divergence(px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """Backward-difference divergence, the negative adjoint of :func:`_forward_gradient` (eq. 28)."""
    dx = torch.cat([px[..., :, :1], px[..., :, 1:-1] - px[..., :, :-2], -px[..., :, -2:-1]], dim=-1)
    dy = torch.cat([py[..., :1, :], py[..., 1:-1, :] - py[..., :-2, :], -py[..., -2:-1, :]], dim=-2)
    return dx + dy


def _merge_sort_network(n: int) -> list[tuple[int, int]]:
    """Comparators ``(i, j)``, ``i < j``, of Batcher's odd-even merge sort of ``n`` values.

    Knuth, The Art of Computer Programming vol. 3, Section 5.3.4, Algorithm M (any ``n``).
    """
    pairs = []
    p = 1
    while p < n:
        k = p
        while k >= 1:
            for j in range(k % p, n - k, 2 * k):
                for i in range(min(k, n - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        pairs.append((i + j, i + j + k))
            k //= 2
        p *= 2
    return pairs


@lru_cache(maxsize=None)
def _median_network(n: int) -> tuple[tuple[int, int], ...]:
    """The comparators of :func:`_merge_sort_network` that the middle output depends on."""
    needed, kept = {n // 2}, []
    for a, b in reversed(_merge_sort_network(n)):
        if a in needed or b in needed:
            kept.append((a, b))
            needed |= {a, b}
    return tuple(reversed(kept))


def _median(u: torch.Tensor, k: int) -> torch.Tensor:
    """``k x k`` median of each channel (replicated border): ``(N, C, H, W) -> (N, C, H, W)``.

    A selection network of element-wise min/max over the ``k * k`` shifted copies (a few
    hundred fused element-wise ops instead of a per-pixel sort).
    """
    h, w = u.shape[-2:]
    r = k // 2
    pad = F.pad(u, (r, r, r, r), mode=_BORDER)
    taps = [pad[..., dy:dy + h, dx:dx + w] for dy in range(k) for dx in range(k)]
    for a, b in _median_network(k * k):
        taps[a], taps[b] = torch.minimum(taps[a], taps[b]), torch.maximum(taps[a], taps[b])
    return taps[(k * k) // 2]


def _cubic_weights(t: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Cubic convolution weights of the taps at -1, 0, 1, 2 for fractions ``t`` in [0, 1)."""
    a = CUBIC_A
    w0 = ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a
    w1 = ((a + 2) * t - (a + 3)) * t * t + 1
    w2 = ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1
    return w0, w1, w2, 1 - w0 - w1 - w2


def _warp(stack: torch.Tensor, u: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
    """Bicubic ``stack(x + u(x))``; samples outside the image count as 0.

    Exact at integer positions (a zero flow returns ``stack`` bit for bit, so no rounding error
    can leak in through the border), which ``F.grid_sample``'s coordinate normalisation is not.

    Args:
        stack: ``(N, C, H, W)`` images.
        u: ``(N, 2, H, W)`` flow in pixels.
        base: ``(1, 2, H, W)`` pixel grid (x, y).

    Returns:
        ``(N, C, H, W)`` warped images.
    """
    n, c, h, w = stack.shape
    dtype = stack.dtype
    stack = stack.float()   # positions and weights in float32: bfloat16 cannot tell 100 from 100.5
    pos = base.float() + u.float()
    corner = torch.floor(pos)
    wx, wy = (_cubic_weights(t) for t in (pos - corner).unbind(1))
    x0, y0 = corner.to(torch.long).unbind(1)                        # (N, H, W)
    flat = stack.reshape(n, c, h * w)
    out = torch.zeros_like(stack)
    for j in range(4):
        yj = y0 + (j - 1)
        inside_y = (yj >= 0) & (yj < h)
        row = yj.clamp(0, h - 1) * w
        for i in range(4):
            xi = x0 + (i - 1)
            inside = (inside_y & (xi >= 0) & (xi < w)).to(stack.dtype)
            idx = (row + xi.clamp(0, w - 1)).view(n, 1, h * w).expand(n, c, h * w)
            tap = flat.gather(2, idx).view(n, c, h, w)
            out = out + (wy[j] * wx[i] * inside)[:, None] * tap
    return out.to(dtype)


def _inner_step(u, p, i1wx, i1wy, grad2, rho_c, lt: float, theta: float, taut: float):
    """One thresholding / primal / dual iteration of every pair given.

    Shapes: u ``(N, 2, H, W)``, p ``(N, 4, H, W)`` (p1x, p1y, p2x, p2y), image terms
    ``(N, 1, H, W)``. Returns ``(u, p, error (N,))`` with error the summed squared update of
    ``u`` of each pair.
    """
    gI = torch.cat([i1wx, i1wy], dim=1)
    rho = rho_c + (gI * u).sum(1, keepdim=True)
    thr = lt * grad2
    step = torch.where(rho < -thr, lt * gI,
                       torch.where(rho > thr, -lt * gI,
                                   torch.where(grad2 > GRAD_IS_ZERO,
                                               -rho * gI / grad2.clamp_min(GRAD_IS_ZERO),
                                               torch.zeros_like(gI))))
    v = u + step
    div = torch.cat([_divergence(p[:, 0:1], p[:, 1:2]), _divergence(p[:, 2:3], p[:, 3:4])], dim=1)
    u_new = v + theta * div
    error = (u_new - u).float().square().flatten(1).sum(1)
    ux, uy = _forward_gradient(u_new)                              # (N, 2, H, W) each
    norm = 1.0 + taut * torch.sqrt(ux.square() + uy.square())
    p_new = torch.stack([(p[:, 0::2] + taut * ux) / norm, (p[:, 1::2] + taut * uy) / norm],
                        dim=2).flatten(1, 2)                       # (p1x, p1y, p2x, p2y)
    return u_new, p_new, error


_COMPILED: dict[str, Any] = {}


def _step_fn(compile: bool):
    if not compile:
        return _inner_step
    if "step" not in _COMPILED:
        _COMPILED["step"] = torch.compile(_inner_step, dynamic=True)   # the batch shrinks
    return _COMPILED["step"]


def _downscale(img: torch.Tensor, scale: float) -> torch.Tensor:
    """Bilinear resize by ``scale`` < 1 to ``round(H * scale) x round(W * scale)``.

    Output pixel ``x`` samples the input at ``(x + 0.5) / scale - 0.5`` (pixel centres aligned,
    border replicated), the mapping of OpenCV's ``resize`` with a scale factor.
    """
    h, w = img.shape[-2:]
    oh, ow = max(int(round(h * scale)), 1), max(int(round(w * scale)), 1)
    ys = (torch.arange(oh, device=img.device, dtype=img.dtype) + 0.5) / scale   # in input pixels + 0.5
    xs = (torch.arange(ow, device=img.device, dtype=img.dtype) + 0.5) / scale
    gy, gx = torch.meshgrid(ys * (2.0 / h) - 1.0, xs * (2.0 / w) - 1.0, indexing="ij")
    grid = torch.stack([gx, gy], dim=-1).expand(img.shape[0], oh, ow, 2)
    return F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _pyramid(img: torch.Tensor, p: TVL1Params) -> list[torch.Tensor]:
    levels = [img]
    for _ in range(1, p.scales):
        levels.append(_downscale(levels[-1], p.scale_step))
    return levels


@torch.no_grad()
def tvl1_flow(prev: torch.Tensor, nxt: torch.Tensor, params: TVL1Params | Mapping[str, Any] | None = None,
              *, compile: bool = False) -> torch.Tensor:
    """Dual TV-L1 flow of every pair ``(prev[n], nxt[n])``.

    Args:
        prev: ``(N, 1, H, W)`` first frames, intensities in 0..255 (any float dtype; the flow is
            computed in this dtype on this device).
        nxt: ``(N, 1, H, W)`` second frames, same shape, dtype and device.
        params: :class:`TVL1Params` or OpenCV-style overrides (``{"warps": 3}``); default OpenCV's.
        compile: run the inner iteration through ``torch.compile``.

    Returns:
        ``(N, 2, H, W)`` flow ``(u, v)`` in pixels: ``prev(y, x) ~ nxt(y + v, x + u)``.

    Raises:
        PairError: pairs of different sizes, or NaN/inf pixels (naming the pair).
    """
    p = params if isinstance(params, TVL1Params) else TVL1Params.from_mapping(params)
    check_pairs(prev, nxt)
    step = _step_fn(compile)
    n = prev.shape[0]
    i0s, i1s = _pyramid(prev, p), _pyramid(nxt, p)
    u = None
    for s in range(p.scales - 1, -1, -1):
        i0, i1 = i0s[s], i1s[s]
        h, w = i0.shape[-2:]
        if u is None:
            u = i0.new_zeros((n, 2, h, w))
        else:
            u = _resize(u, (h, w)) * (1.0 / p.scale_step)
        pdual = i0.new_zeros((n, 4, h, w))
        ys, xs = torch.meshgrid(torch.arange(h, device=i0.device, dtype=torch.float32),
                                torch.arange(w, device=i0.device, dtype=torch.float32), indexing="ij")
        base = torch.stack([xs, ys])[None]
        i1x, i1y = _centred_gradient(i1)
        i1stack = torch.cat([i1, i1x, i1y], dim=1)
        scaled_eps = p.epsilon ** 2 * h * w
        for _ in range(p.warps):
            i1w, i1wx, i1wy = _warp(i1stack, u, base).split(1, dim=1)
            grad2 = i1wx.square() + i1wy.square()
            rho_c = i1w - i1wx * u[:, :1] - i1wy * u[:, 1:] - i0
            u, pdual = _solve_warp(step, u, pdual, (i1wx, i1wy, grad2, rho_c), p, scaled_eps)
    return u


def _solve_warp(step, u: torch.Tensor, pdual: torch.Tensor, terms: tuple[torch.Tensor, ...],
                p: TVL1Params, scaled_eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The outer (median filter) and inner iterations of one warp, with per-pair stopping.

    A pair stops once the summed squared update of its flow is at most ``scaled_eps``; its flow
    and dual variables are written back then and it leaves the batch, so the pairs still
    iterating are the only ones computed.
    """
    lt, theta, taut = p.lambda_ * p.theta, p.theta, p.tau / p.theta
    u, pdual = u.clone(), pdual.clone()
    idx = torch.arange(len(u), device=u.device)        # pairs still iterating
    cur_u, cur_p, cur_t = u, pdual, terms
    for _ in range(p.outer_iterations):
        if p.median_filtering > 1:
            cur_u = _median(cur_u, p.median_filtering)
        for _ in range(p.inner_iterations):
            cur_u, cur_p, error = step(cur_u, cur_p, *cur_t, lt, theta, taut)
            going = error > scaled_eps
            if not bool(going.all()):                  # some pairs converged: store and drop them
                u[idx], pdual[idx] = cur_u, cur_p
                idx = idx[going]
                if len(idx) == 0:
                    return u, pdual
                cur_u, cur_p = cur_u[going], cur_p[going]
                cur_t = tuple(t[going] for t in cur_t)
    u[idx], pdual[idx] = cur_u, cur_p
    return u, pdual


class TorchTVL1:
    """Batched TV-L1 on uint8 crops: ``TorchTVL1()(prev (N, H, W), nxt (N, H, W)) -> (N, H, W, 2)``.

    Args:
        params: OpenCV-style overrides (names as in :data:`slswin_lib.features.flow.FLOW_METHODS`).
        device: torch device (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...).
        batch: pairs per device call (more pairs than this are split).
        dtype: compute dtype (``torch.float32``; ``torch.bfloat16`` trades accuracy for speed).
        compile: wrap the inner iteration in ``torch.compile``.

    Raises:
        ValueError: the device is not available.
    """

    def __init__(self, params: Mapping[str, Any] | None = None, device: str = "cpu", batch: int = 64,
                 dtype: torch.dtype = torch.float32, compile: bool = False) -> None:
        self.params = TVL1Params.from_mapping(params)
        self.device = check_device(device)
        self.batch, self.dtype, self.compile = max(int(batch), 1), dtype, compile

    def __call__(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        """Flow of ``(H, W)`` or ``(N, H, W)`` images (uint8 or float, 0..255) -> ``(..., H, W, 2)``.

        Raises:
            PairError: stacks of different sizes or NaN pixels; ``err.pair`` indexes this call.
        """
        prev, nxt = np.asarray(prev), np.asarray(nxt)
        if prev.ndim == 2 and nxt.ndim == 2:
            return self(prev[None], nxt[None])[0]
        if prev.shape != nxt.shape or prev.ndim != 3:
            raise PairError(f"TV-L1 needs two (N, H, W) stacks of one size, got {prev.shape} and {nxt.shape}")
        out = np.empty(prev.shape + (2,), np.float32)
        for s in range(0, len(prev), self.batch):
            a = torch.from_numpy(np.ascontiguousarray(prev[s:s + self.batch])).to(self.device)
            b = torch.from_numpy(np.ascontiguousarray(nxt[s:s + self.batch])).to(self.device)
            try:
                flow = tvl1_flow(a[:, None].to(self.dtype), b[:, None].to(self.dtype), self.params,
                                 compile=self.compile)
            except PairError as err:   # renumber the pair in the caller's numbering
                pair = None if err.pair is None else s + err.pair
                raise PairError(str(err).replace(f"pair {err.pair} ", f"pair {pair} "), pair) from None
            out[s:s + len(a)] = flow.float().permute(0, 2, 3, 1).cpu().numpy()
        return out


def check_device(device: str) -> torch.device:
    """``torch.device(device)`` after checking it can be used here.

    Raises:
        ValueError: unknown device string, or CUDA/MPS/XPU absent.
    """
    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"flow device {device!r} is not a torch device ({err})") from None
    backend = getattr(torch, dev.type, None)
    if dev.type != "cpu":
        count = backend.device_count() if backend is not None and hasattr(backend, "device_count") else 0
        if not (backend is not None and getattr(backend, "is_available", lambda: False)()) or \
                (dev.index or 0) >= max(count, 1):
            raise ValueError(f"flow device {device!r} is not available on this machine; "
                             f"set FeatureConfig.flow_device='cpu'")
    return dev

