"""Training recipes side by side at the same number of optimiser steps.

For each expression type of the synthetic benchmark, holds out the first ``--held-out`` subjects,
builds the training arrays of the others exactly as a LOSO fold does
(:func:`slswin_lib.training.samples.training_arrays`), trains SL-Swin-T with each recipe through
:func:`slswin_lib.training.trainer.fit` for (about) ``--steps`` steps, scores every held-out
sample and prints, side by side:

* held-out per-frame ROC-AUC of the scores against the pseudo labels (scikit-learn's
  ``roc_auc_score``), next to the training-free baseline's (mean ROI flow magnitude);
* the mean training loss of the last epoch next to the label variance (the loss of a model that
  always predicts the mean label: a model at this loss has learnt nothing);
* seconds per optimiser step (on ``--threads`` threads).

The paper recipe counts epochs, so its epochs are chosen to give the closest number of steps
(at the recipe's own batch size). ``--model softnet`` compares SOFTNet's recipes (its published one,
``softnet_published``, and the CPU profiles' ``softnet_cpu``, :data:`slswin_lib.config.SOFTNET_RECIPES`);
``--step-cost`` first times a training step of ``--model`` and of SL-Swin-T on random inputs at the
same batch and prints the ratio (how many steps ``--model`` takes in the time of one SL-Swin-T step).

    SLSWIN_WORK=/tmp/w python benchmarks/bench_recipes.py --profile quick --steps 150
    python benchmarks/bench_recipes.py --expressions mae --recipes paper_sgd adamw_cosine_3e-4
    python benchmarks/bench_recipes.py --model softnet --step-cost --steps 600 \
        --recipes softnet_published softnet_cpu softnet_adamw_3e-3 softnet_adamw_3e-4 sgd_momentum
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import tempfile
import time
from pathlib import Path

import numpy as np

from slswin_lib.config import SOFTNET_RECIPES

#: the compared recipes: name -> TrainConfig overrides (steps/epochs are set per run)
RECIPES = {
    "paper_sgd": {"recipe": "paper", "lr": 5e-4},
    "sgd_momentum": {"recipe": "paper", "lr": 1e-3, "momentum": 0.9},
    "adamw_one_cycle_1e-3": {"recipe": "adamw", "adamw_lr": 1e-3, "weight_decay": 0.05, "lr_decay": "one_cycle"},
    "adamw_cosine_1e-3": {"recipe": "adamw", "adamw_lr": 1e-3, "weight_decay": 0.05, "lr_decay": "cosine"},
    "adamw_cosine_3e-4": {"recipe": "adamw", "adamw_lr": 3e-4, "weight_decay": 0.05, "lr_decay": "cosine"},
    "adamw_cosine_1e-4": {"recipe": "adamw", "adamw_lr": 1e-4, "weight_decay": 0.05, "lr_decay": "cosine"},
    **SOFTNET_RECIPES,
    "softnet_adamw_3e-3": {**SOFTNET_RECIPES["softnet_cpu"], "adamw_lr": 3e-3},
    "softnet_adamw_3e-4": {**SOFTNET_RECIPES["softnet_cpu"], "adamw_lr": 3e-4},
}
#: the reference model of ``--step-cost``
SL_SWIN_T = "sl_swin_tiny_patch6_window7_42"


def step_cost(model_name: str, batch: int, steps: int, warmup: int = 3) -> float:
    """Seconds of one training step (forward, MSE, backward, AdamW) of ``model_name`` on random inputs."""
    import torch

    from slswin_lib.models import create_model, model_input_size

    torch.manual_seed(0)
    model = create_model(model_name, num_classes=1)
    size = model_input_size(model_name)
    x, y = torch.rand(batch, 3, size, size), torch.rand(batch, 1)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()
    for i in range(warmup + steps):
        if i == warmup:
            t0 = time.perf_counter()
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return (time.perf_counter() - t0) / steps


def held_out_arrays(es, held_out, cfg):
    """Model inputs, pseudo labels and baseline scores of the held-out videos, pooled."""
    from slswin_lib.features.preprocess import roi_flow_magnitude
    from slswin_lib.training.labels import make_labels
    from slswin_lib.features.preprocess import to_model_input

    test = [i for i in es.infos if i.subject in held_out]
    x = np.concatenate([to_model_input(es.features[i.key]) for i in test])
    y = np.concatenate([make_labels(i.n_frames - es.k, es.k, i.intervals, cfg.labelling, cfg.pseudo_window)
                        for i in test])
    base = np.concatenate([roi_flow_magnitude(es.features[i.key]) for i in test])
    return x, y, base


def training_set(es, held_out, cfg, signed_u):
    from slswin_lib.training.labels import make_labels
    from slswin_lib.training.samples import training_arrays

    train = [i for i in es.infos if i.subject not in held_out]
    labels = [make_labels(i.n_frames - es.k, es.k, i.intervals, cfg.labelling, cfg.pseudo_window) for i in train]
    return training_arrays([es.features[i.key] for i in train], labels, cfg,
                           augment=cfg.augment and es.expression == "me", signed_u=signed_u,
                           rng=np.random.default_rng(cfg.seed), groups=[i.subject for i in train])


def run(args: argparse.Namespace) -> None:
    import torch
    from sklearn.metrics import roc_auc_score

    from slswin_lib.config import get_profile
    from slswin_lib.experiment import expression_set, open_dataset
    from slswin_lib.training.trainer import TrainingError, fit, predict

    torch.set_num_threads(args.threads)
    if args.step_cost:
        batch = get_profile(args.profile).train.batch_size
        mine, ref = (step_cost(name, batch, args.cost_steps) for name in (args.model, SL_SWIN_T))
        print(f"step cost at batch {batch} on {args.threads} thread(s): {args.model} {mine * 1e3:.1f} ms, "
              f"{SL_SWIN_T} {ref * 1e3:.1f} ms: {ref / mine:.0f} steps of {args.model} per SL-Swin-T step",
              flush=True)
    profile = get_profile(args.profile)
    ds = open_dataset(profile)
    rows = []
    for expression in args.expressions:
        es = expression_set(ds, expression, profile, progress=False)
        held_out = es.subjects[:args.held_out]
        base_cfg = dataclasses.replace(profile.train, device="cpu", val_every=None)
        if args.max_train_samples is not None:
            base_cfg = dataclasses.replace(base_cfg, max_train_samples=args.max_train_samples or None)
        x, y, groups = training_set(es, held_out, base_cfg, not profile.features.abs_uv)
        xv, yv, base = held_out_arrays(es, held_out, base_cfg)
        print(f"{expression}: k = {es.k}, held out {held_out}, {len(y)} training samples "
              f"({int(y.sum())} positive), {len(yv)} held-out samples ({int(yv.sum())} positive)", flush=True)
        for name, budget in ((n, b) for n in args.recipes for b in args.steps):
            batch = RECIPES[name].get("batch_size", base_cfg.batch_size)
            per_epoch = math.ceil(len(y) / batch)
            cfg = dataclasses.replace(base_cfg, **{**RECIPES[name], "steps": budget,
                                                   "epochs": max(1, round(budget / per_epoch))})
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                try:
                    model, hist = fit(args.model, x, y, cfg, checkpoint=Path(tmp) / "c.pt", progress=False)
                except TrainingError as err:
                    print(f"{expression} {name}: diverged ({err})", flush=True)
                    rows.append({"type": expression, "recipe": name, "steps": "diverged"})
                    continue
                seconds = time.perf_counter() - t0
            scores = predict(model, xv, batch_size=cfg.predict_batch_size)
            rows.append({"type": expression, "recipe": name, "steps": len(hist.step_loss),
                         "AUC": roc_auc_score(yv, scores), "baseline AUC": roc_auc_score(yv, base),
                         "last-epoch loss": hist.loss[-1], "label variance": float(np.var(y)),
                         "s/step": seconds / len(hist.step_loss)})
            print(" | ".join(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}"
                             for k, v in rows[-1].items()), flush=True)
    import pandas as pd

    print()
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3f"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--expressions", nargs="+", default=["mae", "me"], choices=["mae", "me"])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--steps", type=int, nargs="+", default=[150],
                        help="optimiser steps of every recipe (several: one run from scratch per budget, a curve)")
    parser.add_argument("--max-train-samples", type=int, default=None,
                        help="override TrainConfig.max_train_samples (0: no cap)")
    parser.add_argument("--held-out", type=int, default=2, help="held-out subjects (the first n)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model", default=SL_SWIN_T)
    parser.add_argument("--step-cost", action="store_true",
                        help="time a training step of --model against SL-Swin-T's first")
    parser.add_argument("--cost-steps", type=int, default=10, help="timed steps of --step-cost")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
