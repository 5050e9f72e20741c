"""Speed and memory of SL-Swin-T against plain Swin-T, side by side.

Measures, for each model at the same batch size, training samples/s (forward + MSE + backward +
SGD step), inference samples/s (no_grad forward) and peak memory of one training step, then prints
SL-Swin-T's training throughput relative to the plain Swin-T baselines (target >= 0.85):

* ``timm_swin_tiny_patch6_window7_42``: timm's stock ``SwinTransformer`` with the same size
  (patch 6, window 7, 42 x 42, one output); timm shrinks the window to the token grid
  (4 x 4, 2 x 2, 1 x 1) and does not shift there.
* ``swin_tiny_patch6_window7_42``: our plain Swin-T (no SPT, no LSA) with the paper's padding
  (7 x 7 windows and shifting at every stage); isolates the cost of SPT + LSA.
* ``sl_swin_tiny_patch6_window7_42``: SL-Swin-T.

Timing runs the models round-robin in one process (median over rounds) so that load from other
processes hits all alike. Peak memory is measured per model in a fresh subprocess: on CPU the
peak resident set over the step minus the resident set before it
(/proc/self VmHWM after resetting it; ru_maxrss growth where that is not possible), on CUDA ``max_memory_allocated``.

    python benchmarks/bench_models.py                      # CPU, batch 48
    python benchmarks/bench_models.py --device cuda --bf16 --compile
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch
import torch.nn as nn

BASELINE = "timm_swin_tiny_patch6_window7_42"
MODELS = (BASELINE, "swin_tiny_patch6_window7_42", "sl_swin_tiny_patch6_window7_42")


def build(name: str, device: str) -> nn.Module:
    import timm
    import slswin_lib.models  # noqa: F401  (registers the models)

    if name == BASELINE:
        from timm.models.swin_transformer import SwinTransformer
        model = SwinTransformer(img_size=42, patch_size=6, window_size=7, num_classes=1, embed_dim=96,
                                depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24), drop_path_rate=0.1)
    else:
        model = timm.create_model(name)
    return model.to(device)


class Runner:
    """One model with its optimiser and a fixed random batch."""

    def __init__(self, name: str, args: argparse.Namespace):
        torch.manual_seed(0)
        self.name, self.args = name, args
        self.model = build(name, args.device)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=5e-4)
        self.x = torch.rand(args.batch, 3, 42, 42, device=args.device)
        self.y = torch.rand(args.batch, 1, device=args.device)
        self.fwd = torch.compile(self.model) if args.compile else self.model

    def _autocast(self):
        return torch.autocast(self.args.device, dtype=torch.bfloat16, enabled=self.args.bf16)

    def _sync(self):
        if self.args.device == "cuda":
            torch.cuda.synchronize()

    def train_step(self) -> None:
        self.model.train()
        with self._autocast():
            loss = nn.functional.mse_loss(self.fwd(self.x).float(), self.y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()

    @torch.no_grad()
    def infer_step(self) -> None:
        self.model.eval()
        with self._autocast():
            self.fwd(self.x)

    def timed(self, step, iters: int) -> float:
        """Samples per second over ``iters`` steps."""
        self._sync()
        t = time.perf_counter()
        for _ in range(iters):
            step()
        self._sync()
        return iters * self.args.batch / (time.perf_counter() - t)


def measure_memory(name: str, args: argparse.Namespace) -> float:
    """Peak memory growth (MiB) of one training step, measured in this (fresh) process."""
    r = Runner(name, args)
    r.infer_step()  # lazy initialisation outside the measurement
    if args.device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        r.train_step()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    import gc

    gc.collect()
    reset = _reset_peak_rss()
    base = _rss_kib("VmRSS") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r.train_step()
    peak = _rss_kib("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (peak - base) / 1024


def _rss_kib(field: str) -> int:
    """A memory field of /proc/self/status in KiB (Linux)."""
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} missing from /proc/self/status")


def _reset_peak_rss() -> bool:
    """Reset the peak resident set size (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--batch", type=int, default=48)
    p.add_argument("--rounds", type=int, default=3, help="round-robin rounds (median is reported)")
    p.add_argument("--iters", type=int, default=3, help="steps per model per round")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast")
    p.add_argument("--compile", action="store_true", help="torch.compile the models")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--json", help="also write the results to this JSON file")
    p.add_argument("--memory-only", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_only:
        print(json.dumps({"peak_mib": measure_memory(args.memory_only, args)}))
        return 0

    runners = [Runner(n, args) for n in MODELS]
    for r in runners:  # warm-up (and compilation)
        r.train_step()
        r.infer_step()
    train = {r.name: [] for r in runners}
    infer = {r.name: [] for r in runners}
    for _ in range(args.rounds):
        for r in runners:
            train[r.name].append(r.timed(r.train_step, args.iters))
            infer[r.name].append(r.timed(r.infer_step, args.iters))

    results = {}
    child_args = ["--device", args.device, "--batch", str(args.batch), "--threads", str(args.threads)]
    child_args += ["--bf16"] * args.bf16 + ["--compile"] * args.compile
    for r in runners:
        out = subprocess.run([sys.executable, __file__, *child_args, "--memory-only", r.name],
                             capture_output=True, text=True, check=True, env=os.environ.copy())
        results[r.name] = dict(
            train_samples_per_s=statistics.median(train[r.name]),
            train_best_samples_per_s=max(train[r.name]),
            infer_samples_per_s=statistics.median(infer[r.name]),
            peak_train_mib=json.loads(out.stdout.strip().splitlines()[-1])["peak_mib"],
            params=sum(p.numel() for p in r.model.parameters()),
        )

    mode = f"{args.device}, batch {args.batch}, threads {torch.get_num_threads()}" + \
        (", bf16" if args.bf16 else "") + (", compile" if args.compile else "")
    print(f"# models at 42 x 42 ({mode}; median of {args.rounds} rounds x {args.iters} steps)")
    print(f"{'model':34s} {'params':>11s} {'train/s':>9s} {'infer/s':>9s} {'peak MiB':>9s}")
    for name, res in results.items():
        print(f"{name:34s} {res['params']:11,d} {res['train_samples_per_s']:9.1f} "
              f"{res['infer_samples_per_s']:9.1f} {res['peak_train_mib']:9.1f}")
    sl = results["sl_swin_tiny_patch6_window7_42"]
    ratios = {base: sl["train_samples_per_s"] / results[base]["train_samples_per_s"] for base in MODELS[:2]}
    best = {base: sl["train_best_samples_per_s"] / results[base]["train_best_samples_per_s"] for base in MODELS[:2]}
    for base, ratio in ratios.items():
        print(f"SL-Swin-T / {base} training throughput: {ratio:.2f} median, {best[base]:.2f} best-of "
              f"(target >= 0.85: {'met' if ratio >= 0.85 else 'NOT met'})")
    if args.json:
        from slswin_lib.io import atomic_write_json
        atomic_write_json(args.json, dict(mode=mode, results=results, train_ratio=ratios, train_ratio_best=best))
    return 0


if __name__ == "__main__":
    sys.exit(main())
