"""Rates measured side by side in one run, and the hours of a paper run projected from them.

* :func:`tvl1_torch_rate`: pairs/s of the batched torch TV-L1 (OpenCV's defaults) on a device, in a dtype;
* :func:`opencv_tvl1_rate`: pairs/s of OpenCV's TV-L1 on every CPU core (one single-thread process a
  core); where OpenCV's contrib module is absent (a bare GPU machine), the rate measured on one core
  of the development machine (:data:`OPENCV_TVL1_PER_CORE_HERE`), labelled as such;
* :func:`roi_features_rate`: pairs/s of the ROI stage (strain, head motion, eye masks, mosaic) in
  this process;
* :func:`training_rate`: samples/s of the paper recipe through :func:`~slswin_lib.training.trainer.fit`
  itself (streamed, augmented samples from a memory-mapped file, the loader, autocast and compile as
  set), timed on a second epoch after a first that warms up (and compiles);
* :func:`prediction_rate`: samples/s of :func:`~slswin_lib.training.trainer.predict` on memory-mapped
  features;
* :func:`paper_hours`: the hours of a paper run on CAS(ME)^2 and SAMM-LV, from the units of
  ``benchmarks/bench_scale.py`` (frame pairs, training samples of every fold and epoch, held-out
  samples) divided by these rates.
"""
from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["OPENCV_TVL1_PER_CORE_HERE", "opencv_reference_rate", "crop_pairs", "tvl1_torch_rate", "opencv_tvl1_rate", "roi_features_rate",
           "training_rate", "prediction_rate", "paper_hours", "PROJECTED_SETS"]

#: pairs/s of OpenCV's TV-L1 (its defaults, 128 px face crops) in one single-thread process on the 2-core
#: development machine: benchmarks/bench_scale.py's row "optical flow tvl1 (cpu)" on 2 idle cores (README,
#: "What a real run costs"); used where OpenCV's contrib module (cv2.optflow) is absent, e.g. on a bare GPU
#: machine, and labelled as a figure from that machine
OPENCV_TVL1_PER_CORE_HERE = 4.0
#: the real sets whose paper run is projected, by their name in benchmarks/bench_scale.py
PROJECTED_SETS = {"casme2": "CAS(ME)^2", "samm_lv": "SAMM-LV"}


def crop_pairs(videos, k: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` frame pairs ``(i, i + k)`` of the tiny set's crops, video after video (repeated as needed):
    two ``(n, S, S)`` uint8 stacks."""
    prev = np.concatenate([v.crops[:-k] for v in videos])
    nxt = np.concatenate([v.crops[k:] for v in videos])
    idx = np.arange(n) % len(prev)
    return prev[idx], nxt[idx]


def tvl1_torch_rate(prev: np.ndarray, nxt: np.ndarray, device, batch: int, dtype: str,
                    params: dict | None = None) -> dict[str, Any]:
    """Pairs/s of :class:`~slswin_lib.features.tvl1_torch.TorchTVL1` (``params``: OpenCV-style overrides;
    None, OpenCV's defaults) on ``device``, ``batch`` pairs a call, computing in ``dtype`` (``"float32"``
    or ``"bfloat16"``); the time includes the copies to and from the device."""
    import torch

    from ..features.tvl1_torch import TorchTVL1

    flow = TorchTVL1(params, device=str(device), batch=batch, dtype=getattr(torch, dtype))
    flow(prev[:1], nxt[:1])                                        # warm-up: kernels, allocator
    t0 = time.perf_counter()
    flow(prev, nxt)
    rate = len(prev) / (time.perf_counter() - t0)
    return {"result": f"{rate:,.1f} pairs/s", "value": rate, "unit": "pairs/s",
            "note": f"{len(prev)} pairs of 128 px crops", "facts": {"pairs": len(prev), "batch": batch}}


def _opencv_rate(prev: np.ndarray, nxt: np.ndarray, params: dict) -> float:
    """Pairs/s of OpenCV's TV-L1 (``params`` over its defaults) in this process on one thread, after one
    warm-up pair."""
    import cv2

    from ..features.flow import FlowComputer

    cv2.setNumThreads(1)
    flow = FlowComputer("tvl1", params)
    flow(prev[0], nxt[0])
    t0 = time.perf_counter()
    flow.many(prev, nxt)
    return len(prev) / (time.perf_counter() - t0)


def opencv_tvl1_rate(prev: np.ndarray, nxt: np.ndarray, cores: int, params: dict | None = None) -> dict[str, Any]:
    """Pairs/s of OpenCV's TV-L1 (``params`` over its defaults) on ``cores`` CPU cores: ``cores``
    single-thread processes (the feature stage's pool), each timing ``prev``/``nxt``; the sum of their
    rates. Without OpenCV's contrib module, :data:`OPENCV_TVL1_PER_CORE_HERE` (the defaults) times
    ``cores``, labelled as a figure from another machine."""
    import cv2

    params = dict(params or {})
    if not hasattr(cv2, "optflow"):
        if params:
            return {"result": "skipped: no cv2.optflow (OpenCV contrib) here", "status": "skipped",
                    "note": f"the figure from the development machine is for OpenCV's defaults, not {params}"}
        rate = opencv_reference_rate(cores)
        return {"result": f"{rate:,.1f} pairs/s (not measured here)", "value": rate, "unit": "pairs/s",
                "note": f"no cv2.optflow (OpenCV contrib) on this machine: {OPENCV_TVL1_PER_CORE_HERE} pairs/s "
                        f"measured on one core of the 2-core development machine, times {cores} cores",
                "facts": {"measured": False, "per_core": OPENCV_TVL1_PER_CORE_HERE, "cores": cores}}
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(cores, mp_context=mp.get_context("spawn")) as pool:
        rates = list(pool.map(_opencv_rate, [prev] * cores, [nxt] * cores, [params] * cores))
    rate = float(sum(rates))
    return {"result": f"{rate:,.1f} pairs/s", "value": rate, "unit": "pairs/s",
            "note": f"{cores} single-thread processes at once, {len(prev)} pairs each (cv2 {cv2.__version__})",
            "facts": {"measured": True, "per_process": rates, "cores": cores}}


def opencv_reference_rate(cores: int) -> float:
    """OpenCV's TV-L1 pairs/s (its defaults) on ``cores`` cores from :data:`OPENCV_TVL1_PER_CORE_HERE`
    (one process a core, as the feature stage runs it)."""
    return OPENCV_TVL1_PER_CORE_HERE * cores


def roi_features_rate(videos, fcfg, n: int) -> dict[str, Any]:
    """Pairs/s of the ROI stage (:func:`~slswin_lib.features.pairs.flow_features`) in this process, on
    ``n`` flow fields of the crop size (their values do not change the work) and the tiny set's landmarks."""
    from ..features.pairs import flow_features

    v = videos[0]
    size = v.crops.shape[1]
    flows = np.random.default_rng(0).normal(0.0, 1.0, (n, size, size, 2)).astype(np.float32)
    pts = v.pts68[np.arange(n) % v.n_frames]
    t0 = time.perf_counter()
    flow_features(flows, pts, fcfg)
    rate = n / (time.perf_counter() - t0)
    return {"result": f"{rate:,.1f} pairs/s", "value": rate, "unit": "pairs/s",
            "note": f"one process; the feature stage runs one a core ({os.cpu_count()} here)"}


def _features_file(path: Path, n: int, side: int) -> Path:
    """A ``(n, side, side, 3)`` float32 ``.npy`` of standard normal features (the feature cache's format)."""
    if not path.exists():
        np.save(path, np.random.default_rng(0).standard_normal((n, side, side, 3), dtype=np.float32))
    return path


def training_rate(model_name: str, model_kwargs: dict, cfg, side: int, steps: int, work: Path,
                  label: str) -> tuple[dict[str, Any], Any]:
    """Samples/s of :func:`~slswin_lib.training.trainer.fit` with ``cfg`` (its recipe, batch, device,
    loader workers, autocast, compile) on ``steps`` batches of streamed ME-style samples: every row a
    positive, so three in four samples are augmented copies (flip, blur, noise) made by the loader.

    Two epochs run (pooled, the same batch shapes); the second is timed (the first warms up and, with
    ``cfg.compile``, compiles). Returns the row's fields and the trained model (for a prediction rate).
    """
    from ..training.stream import training_samples
    from ..training.trainer import fit

    plain = steps * cfg.batch_size // 4          # each positive row gives itself and three copies
    path = _features_file(work / f"train_{side}_{plain}.npy", plain, side)
    samples = training_samples([path], [np.ones(plain, np.float32)], cfg, augment=True, signed_u=False,
                               rng=np.random.default_rng(0))
    run = dataclasses.replace(cfg, epochs=2, schedule="pooled", max_train_samples=None)
    checkpoint = work / f"speed_{label}.pt"
    checkpoint.unlink(missing_ok=True)
    model, history = fit(model_name, samples, samples.y, run, checkpoint=checkpoint, progress=False,
                         model_kwargs=model_kwargs)
    checkpoint.unlink(missing_ok=True)
    warm, timed = history.seconds
    rate = len(samples) / timed
    note = f"{len(samples)} samples an epoch, batch {cfg.batch_size}; first epoch {warm:.1f} s"
    return ({"result": f"{rate:,.1f} samples/s", "value": rate, "unit": "samples/s", "note": note,
             "facts": {"samples": len(samples), "first_epoch_s": warm, "timed_epoch_s": timed}}, model)


def prediction_rate(model, side: int, n: int, batch: int, autocast: bool, work: Path) -> dict[str, Any]:
    """Samples/s of :func:`~slswin_lib.training.trainer.predict` (``batch`` a call, the inference transform
    on each batch) on ``n`` memory-mapped samples, after one warm-up batch."""
    from ..features.preprocess import to_model_input
    from ..training.trainer import predict

    feats = np.load(_features_file(work / f"predict_{side}_{n}.npy", n, side), mmap_mode="r")
    predict(model, feats[:batch], batch_size=batch, transform=to_model_input, autocast=autocast)
    t0 = time.perf_counter()
    scores = predict(model, feats, batch_size=batch, transform=to_model_input, autocast=autocast)
    rate = n / (time.perf_counter() - t0)
    if not np.all(np.isfinite(scores)):
        raise RuntimeError("non-finite scores")
    return {"result": f"{rate:,.1f} samples/s", "value": rate, "unit": "samples/s",
            "note": f"{n} samples, batch {batch}"}


def _bench_scale():
    """``benchmarks/bench_scale.py`` of this checkout (the real sets' units), or None where it is absent."""
    import importlib.util
    import sys

    from ..io import repo_root

    path = repo_root() / "benchmarks" / "bench_scale.py"
    if not path.is_file():
        return None
    if "bench_scale" not in sys.modules:
        spec = importlib.util.spec_from_file_location("bench_scale", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_scale"] = module           # its dataclass looks its module up
        spec.loader.exec_module(module)
    return sys.modules["bench_scale"]


def paper_hours(train_cfg, rates: dict[str, float]) -> dict[str, dict[str, float]]:
    """Hours of each stage of a paper run on each of :data:`PROJECTED_SETS`.

    Args:
        train_cfg: the paper profile's training section (labelling, sampling, augmentation).
        rates: units/s of ``"flow"`` and ``"roi"`` (frame pairs), ``"train"`` (training samples) and
            ``"predict"`` (held-out samples); a stage without a rate is left out.

    Returns:
        set -> stage -> hours, and ``"total"``: the sum over the stages given.

    Raises:
        FileNotFoundError: ``benchmarks/bench_scale.py`` is not in this checkout.
    """
    bench = _bench_scale()
    if bench is None:
        raise FileNotFoundError("benchmarks/bench_scale.py (the real sets' units) is not in this checkout; "
                                "run from a clone of the repository")
    unit_of = {"flow": "pairs", "roi": "pairs", "train": "train", "predict": "predict"}
    out = {}
    for name in PROJECTED_SETS:
        u = bench.units(name, train_cfg)
        hours = {stage: u[unit_of[stage]] / rate / 3600 for stage, rate in rates.items() if rate}
        out[name] = {**hours, "total": sum(hours.values())}
    return out
