"""Dense optical flow between face crops and the optical strain magnitude (paper Section 2.1).

``method="tvl1"`` with no parameters is the paper's setting: OpenCV's
``cv2.optflow.DualTVL1OpticalFlow_create()`` with its defaults, on 8-bit grayscale crops.
Faster options for the ``quick``/``smoke`` profiles: TV-L1 with fewer scales/warps/iterations
(``params``), ``"dis"`` (DIS, ``cv2.DISOpticalFlow``) and ``"farneback"``. Their accuracy cost is
measured by ``benchmarks/bench_features.py`` (end-point error against true displacements).

``method="tvl1_torch"`` is the same Dual TV-L1 written in PyTorch
(:mod:`slswin_lib.features.tvl1_torch`): it takes OpenCV's TV-L1 parameter names and defaults,
runs many pairs at once on any torch device (:meth:`FlowComputer.many`), and agrees with
OpenCV's flow to within 0.01 px of end-point error (``benchmarks/bench_features.py --agreement``).
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

__all__ = ["FLOW_METHODS", "FlowComputer", "optical_strain", "end_point_error",
           "flow_to_rgb"]

#: supported methods and the parameters each accepts (all optional; OpenCV defaults otherwise)
FLOW_METHODS: dict[str, tuple[str, ...]] = {
    "tvl1": ("tau", "lambda", "theta", "scales", "warps", "epsilon", "inner_iterations",
             "outer_iterations", "scale_step", "gamma", "median_filtering"),
    "tvl1_torch": ("tau", "lambda", "theta", "scales", "warps", "epsilon", "inner_iterations",
                   "outer_iterations", "scale_step", "median_filtering"),
    "dis": ("preset", "finest_scale", "coarsest_scale", "patch_size", "patch_stride",
            "gradient_descent_iterations", "variational_refinement_iterations",
            "variational_refinement_alpha", "variational_refinement_delta",
            "variational_refinement_gamma", "use_mean_normalization", "use_spatial_propagation"),
    "farneback": ("pyr_scale", "levels", "winsize", "iterations", "poly_n", "poly_sigma"),
}

#: parameter name -> OpenCV setter where the name differs from the camel-cased one
_SETTERS = {"scales": "setScalesNumber", "warps": "setWarpingsNumber"}

_FARNEBACK_DEFAULTS = dict(pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5,
                           poly_sigma=1.2)


def _setter(name: str) -> str:
    return _SETTERS.get(name) or "set" + "".join(w[:1].upper() + w[1:] for w in name.split("_"))


class FlowComputer:
    """A reusable flow estimator: ``FlowComputer("tvl1")(prev, next) -> (H, W, 2)`` float32.

    Parameters
    ----------
    method: ``"tvl1"`` | ``"tvl1_torch"`` | ``"dis"`` | ``"farneback"``.
    params: overrides of the method's OpenCV parameters (names as in :data:`FLOW_METHODS`);
        empty = OpenCV defaults (for ``"dis"`` the default preset is ``MEDIUM``).
    device: torch device of ``"tvl1_torch"`` (refused when absent); ignored by the others.
    batch: pairs per device call of ``"tvl1_torch"``.
    compile: run ``"tvl1_torch"``'s inner iteration through ``torch.compile``.

    The OpenCV object is created once and reused; none of the methods keeps state between
    calls (``useInitialFlow`` stays off), so the result equals a freshly created object's.
    """

    def __init__(self, method: str = "tvl1", params: Mapping[str, Any] | None = None, *,
                 device: str = "cpu", batch: int = 64, compile: bool = False) -> None:
        import cv2

        params = dict(params or {})
        if method not in FLOW_METHODS:
            raise ValueError(f"unknown flow method {method!r}; choose one of {sorted(FLOW_METHODS)}")
        unknown = set(params) - set(FLOW_METHODS[method])
        if unknown:
            raise ValueError(f"flow method {method!r} has no parameter(s) {sorted(unknown)}; "
                             f"known: {FLOW_METHODS[method]}")
        self.method, self.params = method, params
        if method == "tvl1_torch":
            from .tvl1_torch import TorchTVL1

            self._torch = TorchTVL1(params, device=device, batch=batch, compile=compile)
        elif method == "tvl1":
            self._impl = cv2.optflow.DualTVL1OpticalFlow_create()
            for name, value in params.items():
                getattr(self._impl, _setter(name))(value)
        elif method == "dis":
            preset = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
                      "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
                      "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}[params.get("preset", "medium")]
            self._impl = cv2.DISOpticalFlow_create(preset)
            for name, value in params.items():
                if name != "preset":
                    getattr(self._impl, _setter(name))(value)
        else:
            self._farneback = {**_FARNEBACK_DEFAULTS, **params}

    def __call__(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        """Flow from ``prev`` to ``nxt`` (uint8 grayscale ``(H, W)``): ``(H, W, 2)`` float32 (u, v)
        in pixels, ``prev(y, x) ~ nxt(y + v, x + u)``."""
        import cv2

        if prev.shape != nxt.shape or prev.ndim != 2 or prev.dtype != np.uint8:
            raise ValueError(f"flow needs two uint8 grayscale images of one size, got "
                             f"{prev.dtype}{prev.shape} and {nxt.dtype}{nxt.shape}")
        if self.method == "tvl1_torch":
            return self._torch(prev, nxt)
        if self.method == "farneback":
            f = self._farneback
            flow = cv2.calcOpticalFlowFarneback(prev, nxt, None, f["pyr_scale"], f["levels"],
                                                f["winsize"], f["iterations"], f["poly_n"],
                                                f["poly_sigma"], 0)
        else:
            flow = self._impl.calc(prev, nxt, None)
        return np.asarray(flow, dtype=np.float32)

    def many(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        """Flow of every pair ``(prev[n], nxt[n])``: uint8 ``(N, H, W)`` each -> ``(N, H, W, 2)``.

        ``"tvl1_torch"`` computes ``batch`` pairs per device call; the OpenCV methods loop.

        ``"tvl1_torch"`` also takes float stacks (0..255) and refuses NaN pixels.

        Raises
        ------
        ValueError: stacks of different shapes or not uint8 ``(N, H, W)``; for ``"tvl1_torch"`` a
            :class:`~slswin_lib.features.tvl1_torch.PairError` whose ``pair`` is the pair index.
        """
        if self.method == "tvl1_torch":
            return self._torch(prev, nxt)
        if prev.shape != nxt.shape or prev.ndim != 3 or prev.dtype != np.uint8 or nxt.dtype != np.uint8:
            raise ValueError(f"flow needs two uint8 (N, H, W) stacks of one size, got "
                             f"{prev.dtype}{prev.shape} and {nxt.dtype}{nxt.shape}")
        out = np.empty(prev.shape + (2,), np.float32)
        for n in range(len(prev)):
            out[n] = self(prev[n], nxt[n])
        return out


def optical_strain(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Optical strain magnitude ``|e| = sqrt(exx^2 + eyy^2 + 0.5 (exy + eyx)^2)`` (paper Section 2.1).

    Derivatives are forward differences in pixels (``du/dx[y, x] = u[y, x+1] - u[y, x]``); the
    last column (row) repeats the one before it, as in the authors' code.

    Parameters
    ----------
    u, v: ``(H, W)`` flow components.

    Returns
    -------
    ``(H, W)`` float32 strain magnitude.
    """
    u = np.asarray(u, dtype=np.float32)
    v = np.asarray(v, dtype=np.float32)

    def dx(a: np.ndarray) -> np.ndarray:
        d = np.empty_like(a)
        d[:, :-1] = a[:, 1:] - a[:, :-1]
        d[:, -1] = d[:, -2] if a.shape[1] > 1 else 0.0
        return d

    def dy(a: np.ndarray) -> np.ndarray:
        d = np.empty_like(a)
        d[:-1] = a[1:] - a[:-1]
        d[-1] = d[-2] if a.shape[0] > 1 else 0.0
        return d

    exx, eyy = dx(u), dy(v)
    exy, eyx = dy(u), dx(v)
    return np.sqrt(exx ** 2 + eyy ** 2 + 0.5 * (exy + eyx) ** 2).astype(np.float32)


def end_point_error(flow: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean end-point error ``mean ||flow - truth||`` in pixels over ``mask`` (default all)."""
    err = np.linalg.norm(np.asarray(flow, np.float64) - np.asarray(truth, np.float64), axis=-1)
    return float(err[mask].mean() if mask is not None else err.mean())


def flow_to_rgb(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """Colour-code flow ``(H, W, 2)`` (hue = direction, value = magnitude) as RGB uint8."""
    import cv2

    mag, ang = cv2.cartToPolar(flow[..., 0].astype(np.float32), flow[..., 1].astype(np.float32))
    top = max_magnitude if max_magnitude else float(np.percentile(mag, 99)) or 1.0
    hsv = np.zeros(flow.shape[:2] + (3,), np.uint8)
    hsv[..., 0] = (ang * 90 / np.pi).astype(np.uint8)
    hsv[..., 1] = 255
    hsv[..., 2] = np.clip(mag / top * 255, 0, 255).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
