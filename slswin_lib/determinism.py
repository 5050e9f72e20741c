"""The same bits on every x86-64 CPU: the pinned CPU kernels of the smoke profile (and ``./run_all.sh --portable``).

A run's numbers depend on the CPU through libraries that pick their code by the CPU they find, and
through the number of threads:

* ATen (PyTorch's own kernels: layer norm, softmax, GELU, AdamW, reductions) dispatches to AVX2 or
  AVX-512 code; ``ATEN_CPU_CAPABILITY=avx2`` pins the AVX2 code (``torch.backends.cpu.get_cpu_capability``);
* oneDNN (SOFTNet's convolutions) generates code for the best instruction set of the CPU (AVX2,
  AVX-512, AMX); ``ONEDNN_MAX_CPU_ISA=AVX2`` caps it at AVX2 (oneDNN developer guide, "CPU Dispatcher
  Control");
* MKL (every matrix product: linear layers, attention) runs per-vendor and per-ISA kernels; of its
  Conditional Numerical Reproducibility branches (``MKL_CBWR``) only ``COMPATIBLE`` is honoured on
  non-Intel CPUs (oneMKL developer guide, "Getting Started with Conditional Numerical
  Reproducibility"; measured here: on this AMD EPYC ``AVX2``, ``SSE4_2`` and ``SSE2`` give the bits of
  ``AUTO``, an emulated Intel CPU gives others, ``COMPATIBLE`` gives the same on both);
* numpy dispatches float64 ``exp``/``sin``/``cos``/``**`` to AVX-512 code (up to 4 ulp from its other
  code) where the CPU has it, which changes the rendered synthetic videos (and so every number after
  them); ``NPY_DISABLE_CPU_FEATURES`` switches off numpy's AVX-512 targets (:func:`numpy_avx512_targets`);
* the backward pass of a layer norm sums its weight gradients over per-thread partial sums, so
  SL-Swin-T's training bits change with the number of threads (measured: 1 vs 2 threads).

``"portable"`` (:data:`slswin_lib.config.CPU_KERNELS`: the smoke profile, or any profile with the setting
``train.cpu_kernels = softnet.cpu_kernels = "portable"``, which ``./run_all.sh --portable`` gives) sets these
variables (:func:`kernel_env`) in every process that renders, extracts, trains or scores (they are read
when the libraries load or first compute, so they are set before: by ``./run_all.sh`` for the
notebook kernel, the test run and the processes they start; by
:func:`slswin_lib.experiment.local_cluster` for the fold workers; by :func:`enter` in a process that
starts a fold without them) and trains every fold on :data:`PORTABLE_THREADS` thread. ``"native"``
(the quick and paper profiles: pinned, the quick hour would grow by ~21 min) changes nothing.

Evidence (``benchmarks/bench_determinism.py --emulate``): the golden fit (:func:`golden_fit`: a few
steps of SOFTNet and SL-Swin-T on a few dozen samples, then their scores) gives the same bits on this
AMD EPYC (Zen 4, AVX-512) and under user-mode QEMU as an Intel CPU (``-cpu Skylake-Client-v4``: another
vendor, AVX2 only, other cache sizes) and as an AVX2-only AMD one (``EPYC-Rome``); without the pins the
emulated Intel CPU gives other bits. Rendering a synthetic video and extracting its features (MediaPipe
landmarks, DIS flow, ROI mosaics) gives the same bits here with numpy's AVX-512 off and on the emulated
Intel CPU, other bits here with it on. The pins need a CPU with AVX2 (Intel since 2013, AMD since 2015);
on an older one the libraries fall back to other code and the bits differ.

Cost (``benchmarks/bench_determinism.py --cost``, side by side on this 2-core machine): see
:data:`slswin_lib.config.PORTABLE_KERNELS`.

    python -m slswin_lib.determinism --profile quick        # the shell exports of a profile
    python -m slswin_lib.determinism --golden                # the golden fit's scores and video digests
"""
from __future__ import annotations

import json
import os
import sys
import warnings
from typing import Any, Mapping, Sequence

__all__ = ["PORTABLE_ENV", "NUMPY_VARIABLE", "PORTABLE_THREADS", "NativeKernelsWarning", "numpy_avx512_targets",
           "kernel_env", "environment", "apply", "enter", "fold_threads", "shell_exports", "golden_fit",
           "golden_video", "GOLDEN_MODELS", "GOLDEN_VIDEO", "main"]

#: torch's libraries under the ``"portable"`` kernels: ATen's AVX2 code, oneDNN capped at AVX2, MKL's
#: vendor-independent ``COMPATIBLE`` branch (see the module docstring for the sources)
PORTABLE_ENV: dict[str, str] = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
                                "MKL_CBWR": "COMPATIBLE"}
#: numpy's variable of the dispatch targets it must not use (read when numpy is imported)
NUMPY_VARIABLE = "NPY_DISABLE_CPU_FEATURES"
#: torch threads of a fold under the ``"portable"`` kernels (a layer norm's backward pass sums per thread)
PORTABLE_THREADS = 1

#: the models of the golden fit: the conv net and the transformer of Table 2
GOLDEN_MODELS: tuple[str, ...] = ("softnet", "sl_swin_tiny_patch6_window7_42")
#: the golden fit's data: videos, samples per video, positive frames of each video, sample side
GOLDEN_VIDEOS, GOLDEN_FRAMES, GOLDEN_POSITIVES, GOLDEN_SIDE = 2, 40, (10, 16), 42
#: optimiser steps of the golden fit: three batches of 48 over two epochs (a full and a partial batch)
GOLDEN_STEPS = 3
#: the golden video: the smoke profile's synthetic benchmark cut to one subject and its shortest video
#: (one event of each type), rendered in one process, and the frame distance of its features
GOLDEN_VIDEO: dict[str, Any] = {"n_subjects": 1, "seconds_per_video": 6.0, "workers": 1}
GOLDEN_VIDEO_K = 6


class NativeKernelsWarning(UserWarning):
    """A fold asked for the portable kernels in a process whose torch already runs on this CPU's own."""


def _check_mode(mode: str) -> None:
    from .config import CPU_KERNELS, check_choice

    check_choice("TrainConfig.cpu_kernels", mode, CPU_KERNELS)


def numpy_avx512_targets() -> list[str]:
    """This numpy's dispatch targets that hold AVX-512 code (their names depend on numpy's version:
    ``X86_V4``, ``AVX512_ICL``, ``AVX512_SPR`` in numpy 2.4; ``AVX512F``, ``AVX512_SKX``, ... before);
    disabling one the CPU lacks changes nothing."""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__
    except ImportError:   # numpy < 2
        from numpy.core._multiarray_umath import __cpu_dispatch__
    return [t for t in __cpu_dispatch__ if t.startswith(("AVX512", "X86_V4"))]


def kernel_env(mode: str) -> dict[str, str]:
    """The environment variables of the kernels ``mode`` (``"native"``: none).

    >>> kernel_env("portable")["MKL_CBWR"], kernel_env("native")
    ('COMPATIBLE', {})
    """
    _check_mode(mode)
    if mode != "portable":
        return {}
    return {**PORTABLE_ENV, NUMPY_VARIABLE: " ".join(numpy_avx512_targets())}


def environment(mode: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """A child process's environment for the kernels ``mode``: ``base`` (default ``os.environ``)
    without any of the pinning variables, plus those of ``mode`` (for benchmarks and tests that
    compare the modes side by side).

    >>> environment("native", {"MKL_CBWR": "AVX2", "NPY_DISABLE_CPU_FEATURES": "X86_V4", "HOME": "/h"})
    {'HOME': '/h'}
    """
    base = os.environ if base is None else base
    pinned = {*PORTABLE_ENV, NUMPY_VARIABLE}
    return {**{k: v for k, v in base.items() if k not in pinned}, **kernel_env(mode)}


def apply(mode: str) -> None:
    """Set the variables of ``mode`` in ``os.environ``: this process's torch follows them if it has
    not computed yet, and every process it starts inherits them (this process's numpy keeps the code it
    loaded with: :func:`kernel_env` reads numpy's targets). ``"native"`` leaves it as it is."""
    os.environ.update(kernel_env(mode))


def enter(mode: str) -> None:
    """Make this process train with the kernels ``mode`` as far as it still can (a fold's start-up).

    With ``"portable"`` the variables are set (:func:`apply`); if torch has computed here already on
    AVX-512 code (ATen's dispatch is fixed at the first operation), this process's results are this
    CPU's own: warns once (:class:`NativeKernelsWarning`) with the fix. ``"native"`` does nothing.
    """
    if mode != "portable":
        _check_mode(mode)
        return
    missing = {k: v for k, v in kernel_env(mode).items() if os.environ.get(k) != v}
    if not missing:
        return
    torch_loaded = "torch" in sys.modules
    apply(mode)
    if torch_loaded:
        import torch

        if torch.backends.cpu.get_cpu_capability() != "AVX2":
            warnings.warn("the profile trains on the portable CPU kernels, but torch has already run in this "
                          f"process on {torch.backends.cpu.get_cpu_capability()} code, so its results are this "
                          "CPU's own; start the process with them set (./run_all.sh does; or "
                          f"`eval \"$(python -m slswin_lib.determinism --profile quick)\"` first)",
                          NativeKernelsWarning, stacklevel=3)


def fold_threads(mode: str, threads: int | None) -> int | None:
    """The torch threads of a fold: :data:`PORTABLE_THREADS` under ``"portable"``, else ``threads``."""
    _check_mode(mode)
    return PORTABLE_THREADS if mode == "portable" else threads


def shell_exports(profile: str, kernels: str | None = None) -> str:
    """``export NAME=VALUE`` lines of the profile's kernels, or of ``kernels`` when given (none for
    ``"native"``), for ``eval`` in a shell.

    >>> print(shell_exports("smoke"))  # doctest: +ELLIPSIS
    export ATEN_CPU_CAPABILITY=avx2
    export ONEDNN_MAX_CPU_ISA=AVX2
    export MKL_CBWR=COMPATIBLE
    export NPY_DISABLE_CPU_FEATURES=...
    >>> shell_exports("paper")
    ''
    >>> shell_exports("paper", kernels="portable") == shell_exports("smoke")
    True
    """
    import shlex

    from .config import resolve_profile

    env = kernel_env(kernels or resolve_profile(profile).train.cpu_kernels)
    return "\n".join(f"export {k}={shlex.quote(v)}" for k, v in env.items())


def _golden_data(seed: int = 0):
    """The golden fit's raw features ``(GOLDEN_VIDEOS, GOLDEN_FRAMES, S, S, 3)`` float32 (u, v in
    [-1, 1], strain in [0, 1]) and labels ``(GOLDEN_VIDEOS, GOLDEN_FRAMES)``: positives at frames
    ``GOLDEN_POSITIVES[0] .. GOLDEN_POSITIVES[1] - 1`` of each video, where u is raised by 0.5."""
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.random((GOLDEN_VIDEOS, GOLDEN_FRAMES, GOLDEN_SIDE, GOLDEN_SIDE, 3), dtype=np.float32)
    x[..., :2] = 2 * x[..., :2] - 1
    y = np.zeros((GOLDEN_VIDEOS, GOLDEN_FRAMES), np.float32)
    y[:, slice(*GOLDEN_POSITIVES)] = 1
    x[:, slice(*GOLDEN_POSITIVES), ..., 0] += 0.5
    return x, y


def golden_fit(models: Sequence[str] = GOLDEN_MODELS, profile: str = "quick") -> dict[str, Any]:
    """A few training steps of each model and its scores, as the folds of ``profile`` compute them.

    The training set is built by :func:`slswin_lib.training.stream.training_samples` with the ME
    augmentation (flip, 7 x 7 blur, noise) from :data:`GOLDEN_VIDEOS` videos of :data:`GOLDEN_FRAMES`
    samples; each model trains :data:`GOLDEN_STEPS` steps with its recipe in ``profile`` (SL-Swin-T the
    ``train`` section, SOFTNet the ``softnet`` one: AdamW, batch 48 in quick) through
    :func:`~slswin_lib.training.trainer.fit` on the CPU, its held-out loss measured after each step,
    and scores every sample of the first video through :func:`~slswin_lib.training.trainer.predict`.
    Runs on :data:`PORTABLE_THREADS` thread; the kernels are this process's (see :func:`main`).

    Returns:
        ``{"torch": version, "cpu_capability": ATen's, "threads": n, "<model>": {"step_loss": [...],
        "val_loss": [...], "scores": [...]}}``, every float as ``float.hex`` (exact bits).
    """
    import dataclasses
    import tempfile
    from pathlib import Path

    import numpy as np
    import torch

    from .config import SOFTNET, resolve_profile
    from .features.preprocess import to_model_input
    from .training.stream import training_samples
    from .training.trainer import fit, predict

    torch.set_num_threads(PORTABLE_THREADS)
    p = resolve_profile(profile)
    x, y = _golden_data()
    out: dict[str, Any] = {"torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                           "threads": torch.get_num_threads()}
    for name in models:
        cfg = dataclasses.replace(p.softnet if name == SOFTNET else p.train, steps=GOLDEN_STEPS, val_every=1,
                                  device="cpu", max_train_samples=None)
        samples = training_samples(list(x), list(y), cfg, augment=True, signed_u=not p.features.abs_uv,
                                   rng=np.random.default_rng(cfg.seed))
        val = (to_model_input(x[1]), y[1])
        with tempfile.TemporaryDirectory() as tmp:
            model, history = fit(name, samples, samples.y, cfg, checkpoint=Path(tmp) / "checkpoint.pt", val=val,
                                 progress=False)
        scores = predict(model, x[0], batch_size=cfg.predict_batch_size, transform=to_model_input)
        out[name] = {"step_loss": [float(v).hex() for v in history.step_loss],
                     "val_loss": [float(v).hex() for v in history.val_loss],
                     "scores": [float(v).hex() for v in scores]}
    return out


def _digest(arrays: Sequence[Any]) -> str:
    """The first 16 hex digits of the SHA-256 of byte strings or arrays (their bytes, in order)."""
    import hashlib

    import numpy as np

    h = hashlib.sha256()
    for a in arrays:
        h.update(a if isinstance(a, bytes) else np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def golden_video() -> dict[str, Any]:
    """The digests of the golden video (:data:`GOLDEN_VIDEO`, smoke settings): its rendered frames (the
    image files), its face landmarks and its features (DIS flow, ROI mosaics at :data:`GOLDEN_VIDEO_K`)."""
    import tempfile
    from pathlib import Path

    from .config import get_profile
    from .data import load_dataset
    from .data.synthetic import ensure_synthetic
    from .features.pairs import extract_video

    p = get_profile("smoke")
    p = p.replace(data=GOLDEN_VIDEO)
    with tempfile.TemporaryDirectory() as tmp:
        root = ensure_synthetic(p, Path(tmp) / "synthetic")
        frames = sorted(f for f in root.rglob("*") if f.suffix in (".jpg", ".png"))
        video = load_dataset("synthetic", root, profile=p).videos[0]
        features, track = extract_video(video, GOLDEN_VIDEO_K, p.features)
        return {"frames": _digest([f.read_bytes() for f in frames]), "landmarks": _digest([track.pts68]),
                "features": _digest([features]), "n_frames": len(frames), "shape": list(features.shape)}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m slswin_lib.determinism``: a profile's shell exports, or the golden fit and video (in a
    process started with the kernels' variables: this one if it was, else a child)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m slswin_lib.determinism", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick",
                        help="profile whose kernels are exported (and whose recipes the golden fit trains)")
    parser.add_argument("--golden", action="store_true",
                        help="run the golden fit and the golden video and print their scores and digests as JSON")
    parser.add_argument("--kernels", choices=["portable", "native"], default=None,
                        help="kernels to export instead of the profile's; of the golden fit (default portable; "
                             "native: as this process's environment has them)")
    args = parser.parse_args(argv)
    if not args.golden:
        try:
            text = shell_exports(args.profile, args.kernels)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if text:
            print(text)
        return 0
    args.kernels = args.kernels or "portable"
    if any(os.environ.get(k) != v for k, v in kernel_env(args.kernels).items()):
        # numpy reads its variable when it loads: run in a process that starts with the variables set
        import subprocess

        argv = sys.argv[1:] if argv is None else list(argv)
        return subprocess.run([sys.executable, "-m", "slswin_lib.determinism", *argv],
                              env=environment(args.kernels)).returncode
    print(json.dumps({**golden_fit(profile=args.profile), "video": golden_video()}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
