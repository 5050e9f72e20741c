"""What the portable CPU kernels cost, and whether they give the same bits on other CPUs.

``--cost`` (default): seconds per optimiser step of SOFTNet and SL-Swin-T at the quick profile's
batch (48), seconds per held-out sample of prediction (at ``predict_batch_size``), and the seconds to
render one synthetic video and extract its features, each in a fresh process (the kernels are chosen when torch first computes), side by side in ``--rounds``
interleaved rounds (medians; the ratios are what to read on a loaded machine):

* ``native x1``: each library's own kernels on one thread (a quick fold worker on 2 cores);
* ``portable x1``: the pinned kernels (:mod:`slswin_lib.determinism`), one thread (every fold);
* ``native xN``: native on all N cores (a fold trained in the notebook's own process before the
  pinning, which now trains on one thread).

A step is the trainer's (forward, MSE, backward, the recipe's fused AdamW), timed one by one after a
warm-up (median); prediction is timed as ``benchmarks/bench_budget.py`` does.

``--emulate CPU ...``: the golden fit (:func:`slswin_lib.determinism.golden_fit`) here and under
user-mode QEMU (``apt-get install qemu-user``) as each named CPU model (``qemu-x86_64 -cpu help``),
which changes the vendor, instruction sets and cache sizes the libraries see (QEMU's TCG has no
AVX-512, so an emulated CPU offers at most AVX2); prints per CPU the libraries' own account of the
CPU (MKL's and oneDNN's verbose headers, ATen's capability) and whether the golden fit's bits equal
this machine's. QEMU computes floating point exactly (no approximate ``rcpps``), so equal bits also
mean no approximate instruction decided them. Emulation is slow: ~5 min per CPU on 2 loaded cores.

    .venv/bin/python benchmarks/bench_determinism.py --cost --rounds 3
    .venv/bin/python benchmarks/bench_determinism.py --emulate Skylake-Client-v4 EPYC-Rome --kernels portable native
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ("softnet", "sl_swin_tiny_patch6_window7_42")
#: frame distance of the timed feature extraction (about the quick benchmark's ME k)
FEATURE_K = 6
#: a forward of a SOFTNet-sized convolution and a matrix product, with the libraries' verbose output
#: on: their first lines name the code each chose
VERBOSE_PROBE = ("import torch; torch.nn.functional.conv2d(torch.ones(48, 1, 42, 42), torch.ones(8, 1, 5, 5), "
                 "padding=2); torch.ones(64, 64) @ torch.ones(64, 64); "
                 "print('aten', torch.backends.cpu.get_cpu_capability())")


def step_times(model_name: str, cfg, threads: int, steps: int, warmup: int = 3) -> list[float]:
    """Seconds of each of ``steps`` optimiser steps (forward, MSE, backward, the recipe's optimiser)
    of ``model_name`` at ``cfg.batch_size`` on random 42 x 42 inputs, after ``warmup`` steps."""
    import numpy as np
    import torch

    from slswin_lib.training.trainer import _optimiser, build_model

    torch.set_num_threads(threads)
    model = build_model(model_name, cfg.seed).train()
    optimiser, _ = _optimiser(cfg, model, warmup + steps)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.random((cfg.batch_size, 3, 42, 42), dtype=np.float32))
    y = torch.from_numpy((rng.random((cfg.batch_size, 1)) < 0.2).astype(np.float32))
    out = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        loss = torch.nn.functional.mse_loss(model(x), y)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        out.append(time.perf_counter() - t0)
    return out[warmup:]


def feature_seconds(seconds: float, k: int = FEATURE_K) -> dict[str, float]:
    """Seconds to render one synthetic video of the quick profile (``seconds`` long, one subject, one
    process) and to extract its features (landmarks, DIS flow, ROI mosaics at frame distance ``k``)."""
    import tempfile

    from slswin_lib.config import get_profile
    from slswin_lib.data import load_dataset
    from slswin_lib.data.synthetic import ensure_synthetic
    from slswin_lib.features.pairs import extract_video

    p = get_profile("quick").replace(data={"n_subjects": 1, "seconds_per_video": seconds, "workers": 1})
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        root = ensure_synthetic(p, Path(tmp) / "synthetic")
        render = time.perf_counter() - t0
        video = load_dataset("synthetic", root, profile=p).videos[0]
        t0 = time.perf_counter()
        extract_video(video, k, p.features)
        return {"render": render, "features": time.perf_counter() - t0}


def _one(args: argparse.Namespace) -> None:
    """In a fresh process: step and prediction seconds of one model, or rendering and feature seconds
    (``--one features``); the parent set the kernels."""
    import dataclasses

    from bench_budget import predict_seconds
    from slswin_lib.config import SOFTNET, get_profile

    if args.one == "features":
        print(json.dumps(feature_seconds(args.video_seconds)))
        return
    p = get_profile("quick")
    cfg = dataclasses.replace(p.softnet if args.one == SOFTNET else p.train, device="cpu")
    step = statistics.median(step_times(args.one, cfg, args.threads, args.steps))
    per_sample = predict_seconds(args.one, 42, [cfg.predict_batch_size], args.threads)[cfg.predict_batch_size]
    print(json.dumps({"step": step, "predict": per_sample}))


def _child(mode: str, argv: list[str]) -> dict:
    from slswin_lib.determinism import environment

    env = {**environment(mode), "PYTHONPATH": os.pathsep.join([str(ROOT / "benchmarks"), str(ROOT)])}
    out = subprocess.run([sys.executable, __file__, *argv], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cost(args: argparse.Namespace) -> None:
    import pandas as pd

    cores = os.cpu_count() or 1
    settings = [("native", 1), ("portable", 1), ("native", cores)]
    steps = {"softnet": args.steps * 4, "sl_swin_tiny_patch6_window7_42": args.steps}
    got: dict = {}
    features: dict = {}
    for r in range(args.rounds):
        for model in MODELS:
            for mode, threads in settings:
                res = _child(mode, ["--one", model, "--threads", str(threads), "--steps", str(steps[model])])
                got.setdefault((model, f"{mode} x{threads}"), []).append(res)
        for mode in ("native", "portable"):
            features.setdefault(mode, []).append(_child(mode, ["--one", "features", "--video-seconds",
                                                               str(args.video_seconds)]))
        print(f"round {r + 1}/{args.rounds} done ({time.strftime('%H:%M:%S')}, load {os.getloadavg()[0]:.1f})",
              flush=True)
    rows = []
    for (model, setting), runs in got.items():
        rows.append({"model": model, "kernels": setting,
                     "step ms": 1000 * statistics.median(r["step"] for r in runs),
                     "predict ms/sample": 1000 * statistics.median(r["predict"] for r in runs)})
    table = pd.DataFrame(rows)
    for col in ("step ms", "predict ms/sample"):
        base = table[table["kernels"] == "native x1"].set_index("model")[col]
        table[f"{col} / native x1"] = table[col] / table["model"].map(base)
    print(f"batch 48, {args.rounds} rounds, medians; load average {os.getloadavg()}")
    print(table.round(3).to_string(index=False))
    stages = pd.DataFrame({mode: {stage: statistics.median(r[stage] for r in runs) for stage in ("render", "features")}
                           for mode, runs in features.items()})
    stages["portable / native"] = stages["portable"] / stages["native"]
    print(f"one {args.video_seconds:g} s video of the quick benchmark (one process), seconds:")
    print(stages.round(3).to_string())


def _digest(golden: dict) -> str:
    keep = {k: v for k, v in golden.items() if isinstance(v, dict)}
    return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]


def _verbose(prefix: list[str], mode: str) -> str:
    from slswin_lib.determinism import environment

    env = {**environment(mode), "MKL_VERBOSE": "1", "ONEDNN_VERBOSE": "1"}
    out = subprocess.run([*prefix, sys.executable, "-c", VERBOSE_PROBE], env=env, capture_output=True, text=True)
    lines = out.stdout.splitlines()
    mkl = next((line.split(" architecture ", 1)[1].split(",")[0] for line in lines
                if line.startswith("MKL_VERBOSE oneMKL")), "?")
    mkl_cnr = next((line.split("CNR:")[1].split()[0] for line in lines if "CNR:" in line), "?")
    isa = next((line.split("isa:")[1] for line in lines if "info,cpu,isa:" in line), "?")
    conv = next((line.split(",")[6] for line in lines if ",exec,cpu,convolution," in line), "?")
    aten = next((line.split()[1] for line in lines if line.startswith("aten ")), "?")
    return f"MKL: {mkl} (CNR {mkl_cnr}); oneDNN: {isa}, conv {conv}; ATen: {aten}"


def emulate(args: argparse.Namespace) -> None:
    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        raise SystemExit("qemu-x86_64 not found: install user-mode QEMU (Debian: apt-get install qemu-user)")
    from slswin_lib.determinism import environment

    reference: dict[str, str] = {}
    for cpu in ["native", *args.emulate]:
        prefix = [] if cpu == "native" else [qemu, "-cpu", cpu]
        for mode in args.kernels:
            t0 = time.perf_counter()
            out = subprocess.run([*prefix, sys.executable, "-m", "slswin_lib.determinism", "--golden", "--kernels",
                                  mode], env=environment(mode), capture_output=True, text=True)
            if out.returncode:
                print(f"{cpu} {mode}: failed: {out.stderr.strip().splitlines()[-1:]}", flush=True)
                continue
            golden = json.loads(out.stdout)
            if args.save:
                Path(args.save).mkdir(parents=True, exist_ok=True)
                (Path(args.save) / f"golden_{cpu}_{mode}.json").write_text(out.stdout)
            digest = _digest(golden)
            reference.setdefault(mode, digest)
            same = "same bits as native" if digest == reference[mode] else "OTHER BITS than native"
            print(f"{cpu:>22} {mode:>8}: golden fit {digest} ({same}; {time.perf_counter() - t0:.0f} s); "
                  f"{_verbose(prefix, mode)}", flush=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cost", action="store_true", help="step and prediction time, native vs portable (default)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of --cost")
    ap.add_argument("--steps", type=int, default=6, help="timed SL-Swin-T steps per process (SOFTNet: 4x)")
    ap.add_argument("--video-seconds", type=float, default=10.0, help="length of the rendered and extracted video")
    ap.add_argument("--emulate", nargs="+", metavar="CPU", help="QEMU CPU models to run the golden fit on")
    ap.add_argument("--kernels", nargs="+", default=["portable"], choices=["portable", "native"],
                    help="kernels of the golden fit under --emulate")
    ap.add_argument("--save", metavar="DIR", help="keep each golden fit's JSON here (--emulate)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        _one(args)
    elif args.emulate:
        emulate(args)
    else:
        cost(args)


if __name__ == "__main__":
    main()
