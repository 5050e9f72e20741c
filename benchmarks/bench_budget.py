"""The time budget of a cold ``./run_all.sh``: measured per-stage costs, projected per notebook.

Measures on this machine, on the threads a fold gets (``cpu_count // fold_workers``):

* seconds per optimiser step at the profile's batch size of every model the default run trains
  (through :func:`slswin_lib.training.trainer.fit`, the trainer the folds use: the time of
  ``2 n`` steps minus the time of ``n`` steps, so model building and the first step are left out);
* seconds per held-out sample of :func:`~slswin_lib.training.trainer.predict` at
  ``TrainConfig.predict_batch_size`` (and at a few other batch sizes, to choose it);

and projects the wall time of each training notebook from the profile's fold counts and steps
(folds run ``fold_workers`` at a time): a fold costs its steps, its held-out loss points
(``VAL_SAMPLES`` samples each) and the prediction of its held-out videos (frames of the
benchmark, :func:`slswin_lib.data.synthetic.count_events` for the counts). Runs that several
notebooks share (06's SL-Swin-T is 07's pseudo row, 08's 42 x 42 row and 07's authors'-code row)
are counted once. Stages that do not train (00-03, 05, 09, 10) are taken from ``--measured``
(seconds of a run at this size, e.g. from ``notebook_times.tsv``) or else scaled from the
reference cold run (:data:`REFERENCE`) by the number of frames, and marked as scaled.

    SLSWIN_WORK=/tmp/w python benchmarks/bench_budget.py --profile quick
    python benchmarks/bench_budget.py --measured 00=120,01=60,02=300 --steps 10

On a loaded machine every number is inflated (the script prints the load average).
"""
from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np

#: the cold quick run at 6 x 30 s (README, commit 30f579c, 2 cores): seconds per notebook
REFERENCE = {"seconds_per_video": 30.0, "n_subjects": 6,
             "seconds": {"00": 42, "01": 16, "02": 63, "03": 17, "04": 632, "05": 47, "06": 217, "07": 471,
                         "08": 283, "09": 7, "10": 16, "11": 173}}
#: notebooks whose non-training cost grows with the frames of the benchmark (rendering, features,
#: spotting); the others' (03, 09, 10) does not
PER_FRAME = ("00", "01", "02", "05")


def step_seconds(model_name: str, size: int, cfg, threads: int, n: int) -> float:
    """Seconds per optimiser step of ``model_name`` at ``cfg.batch_size`` (median of the 2n - n difference)."""
    import dataclasses

    import torch

    from slswin_lib.training.trainer import fit

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    x = rng.random((cfg.batch_size * 4, 3, size, size), dtype=np.float32)
    y = (rng.random(len(x)) < 0.2).astype(np.float32)
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        for steps in (n, 2 * n):
            c = dataclasses.replace(cfg, steps=steps, val_every=None, max_train_samples=None)
            t0 = time.perf_counter()
            fit(model_name, x, y, c, checkpoint=Path(tmp) / f"{steps}.pt", progress=False)
            times[steps] = time.perf_counter() - t0
    return (times[2 * n] - times[n]) / n


def predict_seconds(model_name: str, size: int, batch_sizes, threads: int, n_samples: int = 1024) -> dict:
    """Seconds per sample of ``predict`` at each batch size."""
    import torch

    from slswin_lib.training.trainer import build_model, predict

    torch.set_num_threads(threads)
    model = build_model(model_name, 0)
    x = np.random.default_rng(0).random((n_samples, 3, size, size), dtype=np.float32)
    predict(model, x[:64], batch_size=64)  # warm-up
    out = {}
    with torch.no_grad():
        for b in batch_sizes:
            t0 = time.perf_counter()
            predict(model, x, batch_size=b)
            out[b] = (time.perf_counter() - t0) / n_samples
    return out


def fidelity_runs(profile, model_name: str) -> int:
    """Trained runs of the fidelity ablation besides the profile itself (as ``report.fidelity_ablation``)."""
    from slswin_lib.config import FIDELITY, fidelity_variants
    from slswin_lib.models import model_input_size

    inert = {"model.vit_variant": "vit" not in model_name, "features.px_scaling": model_input_size(model_name) == 42}
    names = [n for n in fidelity_variants(profile) if n != "authors_code"]
    settings = {row.setting for row in FIDELITY}
    return sum(1 for n in names if not (n in settings and inert.get(n, False)))


def plan(profile, types=("me", "mae"), softnet: str | None = None, softnet_steps: int | None = None):
    """The training runs of a default run: (notebook, run key, model, input size, folds, steps, val_every).

    A run key identifies a run that several notebooks share; the first notebook to ask trains it.
    """
    from slswin_lib.models import TABLE4

    t, a = profile.train, profile.ablation
    n = profile.data.n_subjects
    a_steps, a_folds = a.steps or t.steps, a.folds or n
    a_val = a.val_every or t.val_every
    main = profile.model.name
    runs = []
    for e in types:
        runs.append(("04", ("loso", main, e), main, 42, n, t.steps, t.val_every))
        if softnet:
            runs.append(("04", ("loso", softnet, e), softnet, 42, n, softnet_steps or t.steps, t.val_every))
    for display in a.table4_models:
        name = f"{TABLE4[display]}_42"
        for e in types:
            runs.append(("06", ("ablation", name, e, "pseudo"), name, 42, a_folds, a_steps, a_val))
    for e in types:
        for labelling in ("original", "pseudo"):
            runs.append(("07", ("ablation", main, e, labelling), main, 42, a_folds, a_steps, a_val))
    for i in range(fidelity_runs(profile, main)):
        runs.append(("07", ("fidelity", i), main, 42, a_folds, a_steps, a_val))
    big = main.replace("_42", "_84")
    for e in types:
        runs.append(("08", ("ablation", main, e, "pseudo"), main, 42, a_folds, a_steps, a_val))
        runs.append(("08", ("ablation", big, e, "pseudo"), big, 84, a_folds, a_steps, a_val))
    for e in types:  # notebook 11: one spotter per type, trained on every subject (no held-out video)
        runs.append(("11", ("spotter", main, e), main, 42, 1, t.steps, None))
    seen, out = set(), []
    for r in runs:
        if r[1] not in seen:
            seen.add(r[1])
            out.append(r)
    return out


def run(args: argparse.Namespace) -> None:
    import dataclasses

    import pandas as pd

    from slswin_lib.config import get_profile
    from slswin_lib.data.synthetic import count_events
    from slswin_lib.experiment.folds import VAL_SAMPLES
    import timm

    import slswin_lib.models  # noqa: F401  (registers the models with timm)

    p = get_profile(args.profile)
    if args.steps_main or args.ablation_steps or args.predict_batch:
        p = p.replace(train={k: v for k, v in (("steps", args.steps_main), ("predict_batch_size", args.predict_batch)) if v},
                      ablation={k: v for k, v in (("steps", args.ablation_steps),) if v})
    if args.data:  # project another sizing: DataConfig values, e.g. n_subjects=12,seconds_per_video=72.5
        p = p.replace(data={k: type(getattr(p.data, k))(v) for k, v in (kv.split("=") for kv in args.data.split(","))})
    if args.ablation_val_every:
        p = p.replace(ablation={"val_every": args.ablation_val_every})
    workers = p.train.fold_workers
    threads = max(1, (os.cpu_count() or 1) // workers)
    print(f"profile {p.name}: {p.data.n_subjects} subjects x {p.data.videos_per_subject} x {p.data.seconds_per_video:g} s; "
          f"{workers} folds at a time, {threads} thread(s) each; load average {os.getloadavg()}")
    counts = count_events(p.data)
    frames_per_video = int(round(p.data.seconds_per_video * p.data.fps))
    print(f"benchmark: {counts['videos']} videos, {counts['me']} ME, {counts['mae']} MaE, {frames_per_video} frames a video")
    softnet = next(iter(timm.list_models("softnet*")), None) if hasattr(p, "softnet") and not args.no_softnet else None
    runs = plan(p, softnet=softnet, softnet_steps=args.softnet_steps or (p.softnet.steps if softnet else None))
    models = sorted({(r[2], r[3]) for r in runs})
    costs = {}
    given = {}
    for item in filter(None, args.costs.split(",")):
        name, values = item.split("=")
        step, pred = map(float, values.split("/"))
        given[name] = (step, {p.train.predict_batch_size: pred})
    for name, size in models:
        if name in given:
            costs[name] = given[name]
            print(f"{name}: given {given[name][0]:.3f} s/step, {given[name][1][p.train.predict_batch_size] * 1e3:.2f} ms/sample")
            continue
        cfg = p.softnet if name == softnet else p.train  # SOFTNet trains under its own section
        step = step_seconds(name, size, cfg, threads, args.steps * (10 if name == softnet else 1))
        pred = predict_seconds(name, size, sorted({64, 256, 1024, p.train.predict_batch_size}), threads)
        costs[name] = (step, pred)
        print(f"{name}: {step:.3f} s/step at batch {p.train.batch_size}; predict s/sample "
              + ", ".join(f"batch {b}: {s * 1e3:.2f} ms" for b, s in pred.items()), flush=True)
    held_out = frames_per_video * p.data.videos_per_subject  # samples of a held-out subject (k frames fewer)
    rows = []
    for nb, key, name, size, folds, steps, val_every in runs:
        step, pred = costs[name]
        per_sample = pred[p.train.predict_batch_size]
        val_points = (steps // val_every + 2) if val_every else 11
        t_steps = steps * step
        t_val = val_points * VAL_SAMPLES * per_sample if key[0] != "spotter" else 0.0
        t_pred = held_out * per_sample if key[0] != "spotter" else 0.0
        fold = t_steps + t_val + t_pred
        waves = math.ceil(folds / workers)
        rows.append({"notebook": nb, "run": " ".join(map(str, key)), "folds": folds, "steps": steps,
                     "fold s": fold, "step share": t_steps / fold, "wall s": waves * fold,
                     # steps at which the steps are 85 % of the fold (the rest held as it is)
                     "steps for 85 %": math.ceil(0.85 / 0.15 * (t_val + t_pred) / step)})
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 160)
    print(table.round(3).to_string(index=False))
    frames_ratio = (p.data.seconds_per_video * p.data.n_subjects * p.data.videos_per_subject
                    / (REFERENCE["seconds_per_video"] * REFERENCE["n_subjects"]))
    measured = dict(kv.split("=") for kv in args.measured.split(",")) if args.measured else {}
    train_wall = table.groupby("notebook")["wall s"].sum()
    total, out = 0.0, []
    for nb, ref in REFERENCE["seconds"].items():
        if nb in measured:
            sec, how = float(measured[nb]), "measured"
        elif nb in train_wall:
            sec, how = float(train_wall[nb]), "projected (training and prediction only)"
        elif nb in PER_FRAME:
            sec, how = ref * frames_ratio, f"reference x {frames_ratio:.2f} (frames)"
        else:
            sec, how = float(ref), "reference"
        total += sec
        out.append({"notebook": nb, "seconds": round(sec), "how": how})
    print(pd.DataFrame(out).to_string(index=False))
    print(f"projected cold run: {total / 60:.1f} min (plus notebook 08's 84 x 84 features, and start-up)")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--steps", type=int, default=10, help="n of the 2n - n step timing")
    ap.add_argument("--measured", default="", help="seconds of notebooks measured at this size, e.g. 00=120,01=60")
    ap.add_argument("--steps-main", type=int, default=None, help="project with these TrainConfig.steps")
    ap.add_argument("--ablation-steps", type=int, default=None, help="project with these AblationConfig.steps")
    ap.add_argument("--predict-batch", type=int, default=None, help="project with this predict_batch_size")
    ap.add_argument("--data", default="", help="project another sizing, e.g. n_subjects=12,seconds_per_video=72.5")
    ap.add_argument("--ablation-val-every", type=int, default=None, help="project with this AblationConfig.val_every")
    ap.add_argument("--costs", default="", help="skip measuring these models: NAME=STEP_S/PREDICT_S_PER_SAMPLE,...")
    ap.add_argument("--no-softnet", action="store_true", help="leave SOFTNet (profile.softnet) out of notebook 04")
    ap.add_argument("--softnet-steps", type=int, default=None, help="project with these SOFTNet steps")
    run(ap.parse_args(argv))


if __name__ == "__main__":
    main()
