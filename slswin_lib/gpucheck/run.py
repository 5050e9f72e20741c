"""``python -m slswin_lib gpu-check``: the stages checked and the rates measured, in one table.

:func:`run_gpu_check` builds the tiny set, runs every stage's device path
(:mod:`~slswin_lib.gpucheck.stages`), measures the rates side by side
(:mod:`~slswin_lib.gpucheck.speed`) and projects a paper run's hours; the sizes of each part are
those of :data:`SIZES` (``"cuda"``: about 5 minutes on one GPU; ``"cpu"``: the same code at a tiny
size, the CI test). ``--device cuda`` where no CUDA device is visible prints one line and runs what
can run, on the CPU at the tiny size.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

__all__ = ["CheckSize", "SIZES", "run_gpu_check", "EXIT_NO_CUDA"]

#: exit status of a check that was asked for CUDA where there is none (what could run ran on the CPU)
EXIT_NO_CUDA = 3


@dataclass(frozen=True)
class CheckSize:
    """How much work each part of the check does.

    Attributes:
        subjects, seconds: the tiny set (one video a subject, at the paper profile's 30 fps).
        flow_params: TV-L1 parameters of the feature stage and of the TV-L1 rates (``()``: OpenCV's
            defaults, the paper's).
        flow_batch: pairs a device call in the feature stage.
        epochs: epochs a subject of the checked LOSO fold and spotter.
        tvl1_pairs: at most this many pairs (and four calls) timed per torch TV-L1 rate; ``tvl1_batches``:
            the batches of the float32 rates (the bfloat16 rate uses the last); ``opencv_pairs``: pairs each
            OpenCV process times.
        train_steps: batches of the timed epoch of each training rate.
        predict_samples: samples timed per prediction rate.
        roi_pairs: pairs timed by the ROI features rate.
        train_models: labels (:data:`TRAIN_MODELS`) of the models whose training (and prediction) is timed.
        compile: measure ``torch.compile``.
        budget_s: seconds after which the optional rows (compiled training) are skipped.
    """

    subjects: int
    seconds: float
    flow_params: tuple[tuple[str, Any], ...]
    flow_batch: int
    epochs: int
    tvl1_pairs: int
    tvl1_batches: tuple[int, ...]
    opencv_pairs: int
    train_steps: int
    predict_samples: int
    roi_pairs: int
    train_models: tuple[str, ...]
    compile: bool
    budget_s: float


#: the training rates: (label, model's display name, model name, input side, the profile section of its
#: recipe: "train", SL-Swin-T's paper recipe at batch 48, or "softnet", SOFTNet's published one at batch 12)
TRAIN_MODELS = (("SL-Swin-T 42", "SL-Swin-T 42", "sl_swin_tiny_patch6_window7_42", 42, "train"),
                ("SL-Swin-T 84", "SL-Swin-T 84", "sl_swin_tiny_patch6_window7_84", 84, "train"),
                ("SOFTNet", "SOFTNet", "softnet", 42, "train"),
                ("SOFTNet published", "SOFTNet", "softnet", 42, "softnet"))
#: the check's sizes per device kind. "cpu" keeps the CI test short: two-scale, one-warp TV-L1 with 10
#: iterations (the feature stage and the TV-L1 rates), one training step a rate, no SL-Swin-T 84 (the code
#: of SL-Swin-T 42 at 4x the cost), no torch.compile (minutes on a CPU)
SIZES: dict[str, CheckSize] = {
    "cuda": CheckSize(subjects=3, seconds=6.0, flow_params=(), flow_batch=512, epochs=1, tvl1_pairs=1024,
                      tvl1_batches=(64, 1024), opencv_pairs=4, train_steps=30, predict_samples=4096,
                      roi_pairs=256, train_models=tuple(m[0] for m in TRAIN_MODELS), compile=True,
                      budget_s=240.0),
    "cpu": CheckSize(subjects=3, seconds=2.5, flow_params=(("scales", 2), ("warps", 1), ("outer_iterations", 1),
                                                            ("inner_iterations", 10), ("median_filtering", 1)),
                     flow_batch=64, epochs=1, tvl1_pairs=4, tvl1_batches=(4,), opencv_pairs=2, train_steps=1,
                     predict_samples=64, roi_pairs=32,
                     train_models=("SL-Swin-T 42", "SOFTNet", "SOFTNet published"), compile=False,
                     budget_s=600.0),
}
#: the model whose rates a paper run is projected with
PROJECTED_MODEL = "SL-Swin-T 42"
#: seconds a compiled training row is assumed to need at most (compile included), for the budget
COMPILE_RESERVE_S = 75.0


@contextlib.contextmanager
def _work_folder(work: str | os.PathLike | None) -> Iterator[Path]:
    """The scratch folder (given, or a temporary one removed afterwards), set as ``$SLSWIN_WORK`` so
    that the run folders of the stages (the spotter's) land in it."""
    folder = Path(work) if work else Path(tempfile.mkdtemp(prefix="slswin-gpu-check-"))
    folder.mkdir(parents=True, exist_ok=True)
    before = os.environ.get("SLSWIN_WORK")
    os.environ["SLSWIN_WORK"] = str(folder)
    try:
        yield folder
    finally:
        if before is None:
            os.environ.pop("SLSWIN_WORK", None)
        else:
            os.environ["SLSWIN_WORK"] = before
        if not work:
            shutil.rmtree(folder, ignore_errors=True)


def _device(asked: str):
    """``(torch device, sizes name, the line printed when CUDA is missing)``.

    Raises:
        DeviceError: a device torch does not know (e.g. ``"gpu"``).
    """
    import torch

    from ..training.trainer import DeviceError, cuda_summary, select_device

    try:
        dev = select_device(asked)
    except DeviceError:
        if asked.split(":")[0] != "cuda":
            raise
        return torch.device("cpu"), "cpu", (f"gpu-check: --device {asked} was asked for, but {cuda_summary()}; "
                                              "running what can run on the CPU at the tiny size (as --device cpu); "
                                              "for the GPU figures run it on a machine with an NVIDIA GPU and a "
                                              "CUDA build of torch")
    return dev, ("cuda" if dev.type == "cuda" else "cpu"), ""


def _header(dev, size_name: str, asked: str, missing: str) -> dict[str, Any]:
    import platform

    import torch

    card = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"CPU ({platform.processor() or platform.machine()})"
    return {"device": str(dev), "asked": asked, "card": card, "torch": torch.__version__,
            "cuda": torch.version.cuda, "python": platform.python_version(), "cpus": os.cpu_count(),
            "size_name": size_name, "size": dataclasses.asdict(SIZES[size_name]), "note": missing,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def _profile(dev, size: CheckSize):
    """The paper profile with the check's sizes: flow ``tvl1_torch`` on the device, the check's epochs."""
    from ..config import get_profile

    return get_profile("paper").replace(
        features={"flow": "tvl1_torch", "flow_device": str(dev), "flow_batch": size.flow_batch,
                  "chunk": size.flow_batch, "flow_params": size.flow_params},
        train={"epochs": size.epochs, "device": str(dev)},
        softnet={"epochs": size.epochs, "device": str(dev)})


def _stage_rows(table, ctx) -> None:
    from ..config import peer_profile
    from . import stages

    dev = ctx.device
    table.attempt("check", f"features: tvl1_torch on {dev} (tiny set)", lambda: stages.check_features(ctx),
                  fix="the stages after it need its features")
    if ctx.es is None:
        return
    p = ctx.profile
    for label, prof in (("SL-Swin-T", p), ("SOFTNet", peer_profile(p))):
        row = table.attempt("check", f"one LOSO fold of {label} on {dev} (train + predict)",
                            lambda prof=prof: stages.check_fold(ctx, prof))
        if row.status == "ok" and label == "SL-Swin-T":
            table.attempt("check", f"spotting + evaluation of the {label} fold (t = {p.spot.t:.2f})",
                          lambda: stages.check_spotting(ctx, p.model.name))
    table.attempt("check", f"spotter: export, reload on {dev}, score a held-out video", lambda: stages.check_spotter(ctx))


def _precision(autocast: bool) -> str:
    return "bfloat16 autocast" if autocast else "float32"


def _flow_rows(table, ctx, size: CheckSize) -> dict[str, float | None]:
    """The TV-L1 rows; returns ``{"float32, batch B": pairs/s, ..., "opencv": ..., "roi": ...}``."""
    from . import speed

    dev = ctx.device
    k = ctx.es.k if ctx.es is not None else 1
    prev, nxt = speed.crop_pairs(ctx.videos, k, size.tvl1_pairs)
    params = dict(size.flow_params)
    which = f" ({params})" if params else ""
    rates = {}
    runs = [("float32", b) for b in size.tvl1_batches] + [("bfloat16", size.tvl1_batches[-1])]
    for dtype, batch in runs:
        n = min(len(prev), 4 * batch)
        row = table.attempt("speed", f"TV-L1{which} tvl1_torch on {dev}, {dtype}, batch {batch}",
                            lambda dtype=dtype, batch=batch, n=n: speed.tvl1_torch_rate(
                                prev[:n], nxt[:n], dev, batch, dtype, params),
                            fix="lower FeatureConfig.flow_batch")
        rates[f"{dtype}, batch {batch}"] = row.value if row.status == "ok" else None
    cores = os.cpu_count() or 1
    row = table.attempt("speed", f"TV-L1{which} OpenCV on {cores} CPU core(s)",
                        lambda: speed.opencv_tvl1_rate(prev[:size.opencv_pairs], nxt[:size.opencv_pairs], cores,
                                                       params))
    # a paper run's flow is OpenCV's TV-L1 with its defaults: measured here, else the development machine's figure
    rates["opencv"] = row.value if row.status == "ok" and not params else speed.opencv_reference_rate(cores)
    rates["opencv_measured"] = row.status == "ok" and not params and row.facts.get("measured", False)
    row = table.attempt("speed", "ROI features (strain, head motion, mosaic) on the CPU",
                        lambda: speed.roi_features_rate(ctx.videos, ctx.profile.features, size.roi_pairs))
    rates["roi"] = row.value if row.status == "ok" else None
    return rates


def _training_rows(table, ctx, size: CheckSize, compile_: bool, deadline: float) -> tuple[dict, dict]:
    """The training and prediction rows: every model in float32 and bfloat16 autocast (and its
    prediction), then compiled where ``compile_`` (while the time budget lasts).

    Returns:
        ``{(label, autocast, compiled): samples/s}`` of training, ``{(label, autocast): samples/s}`` of
        prediction (None where a row failed).
    """
    from ..config import peer_profile
    from ..models import model_kwargs
    from . import speed

    dev, p = ctx.device, ctx.profile
    sections = {"train": p.train, "softnet": peer_profile(p).train}
    train, predict = {}, {}
    models = [m for m in TRAIN_MODELS if m[0] in size.train_models]
    plan = [(m, a, False) for m in models for a in (False, True)]
    if compile_:   # bfloat16 first: the likelier gain, measured first when the budget runs short
        plan += [(m, a, True) for m in models if m[4] == "train" for a in (True, False)]
    for (label, shown, name, side, section), autocast, compiled in plan:
        cfg = dataclasses.replace(sections[section], autocast=autocast, compile=compiled)
        recipe = "paper recipe" if section == "train" else "its published recipe"
        what = (f"training {shown} on {dev}: {recipe} (SGD), batch {cfg.batch_size}, {_precision(autocast)}"
                f"{', torch.compile' if compiled else ''}")
        if compiled and time.monotonic() > deadline - COMPILE_RESERVE_S:
            table.skip("speed", what, "the check's time budget is spent")
            continue
        kwargs = model_kwargs(name, p.replace(model={"name": name}).model)
        trained = {}

        def work_(cfg=cfg, name=name, kwargs=kwargs, side=side, trained=trained):
            fields, trained["model"] = speed.training_rate(name, kwargs, cfg, side, size.train_steps, ctx.work,
                                                           f"{name}_{cfg.batch_size}_{cfg.autocast}_{cfg.compile}")
            return fields

        row = table.attempt("speed", what, work_, fix="lower TrainConfig.batch_size")
        train[(label, autocast, compiled)] = row.value if row.status == "ok" else None
        if "model" in trained and not compiled and section == "train":
            batch = p.train.predict_batch_size
            row = table.attempt("speed", f"prediction {shown} on {dev}: batch {batch}, {_precision(autocast)}",
                                lambda model=trained["model"], side=side, autocast=autocast: speed.prediction_rate(
                                    model, side, size.predict_samples, batch, autocast, ctx.work),
                                fix="lower TrainConfig.predict_batch_size")
            predict[(label, autocast)] = row.value if row.status == "ok" else None
    return train, predict


def _projection_rows(table, ctx, flow: dict, train: dict, predict: dict) -> None:
    """A paper run's hours on CAS(ME)^2 and SAMM-LV: with the default settings, with the fastest measured
    training, and with OpenCV's TV-L1 (the paper profile's flow) on this machine's cores."""
    from . import speed

    dev, cores, model = ctx.device, os.cpu_count() or 1, PROJECTED_MODEL
    roi = flow["roi"] * cores if flow["roi"] else None
    torch_flows = {k_: v for k_, v in flow.items() if k_.startswith("float32") and v}
    best_flow = max(torch_flows, key=torch_flows.get) if torch_flows else None
    default = train.get((model, False, False))
    opencv = "OpenCV TV-L1" if flow["opencv_measured"] else "OpenCV TV-L1 (the development machine's rate a core)"
    plans = [(f"flow {opencv} on {cores} cores, training float32 on {dev}", flow["opencv"], default,
              predict.get((model, False)))]
    if dev.type != "cpu":
        plans.append((f"flow tvl1_torch {best_flow} on {dev}, training float32", torch_flows.get(best_flow), default,
                      predict.get((model, False))))
        ok = {key: v for key, v in train.items() if key[0] == model and v}
        if ok and max(ok, key=ok.get) != (model, False, False):
            _, autocast, compiled = best = max(ok, key=ok.get)
            plans.append((f"flow tvl1_torch {best_flow} on {dev}, training {_precision(autocast)}"
                          f"{' compiled' if compiled else ''} (the fastest measured)", torch_flows.get(best_flow),
                          ok[best], predict.get((model, autocast)) or predict.get((model, False))))
    for label, flow_rate, train_rate, predict_rate in plans:
        rates = {"flow": flow_rate, "roi": roi, "train": train_rate, "predict": predict_rate}

        def work_(rates=rates):
            hours = speed.paper_hours(ctx.profile.train, rates)
            totals = "; ".join(f"{speed.PROJECTED_SETS[s]} {h['total']:,.1f} h" for s, h in hours.items())
            stages = "; ".join(f"{speed.PROJECTED_SETS[s]}: " + ", ".join(
                f"{stage} {v:,.1f}" for stage, v in h.items() if stage != "total") for s, h in hours.items())
            missing = [stage for stage, r in rates.items() if not r]
            note = (f"h by stage: {stages}; ROI features on {cores} cores; face tracking (MediaPipe, CPU) not "
                    "included" + (f"; no rate for {missing}" if missing else ""))
            return {"result": totals, "value": hours["casme2"]["total"], "unit": "h (CAS(ME)^2)", "note": note,
                    "facts": {"hours": hours, "rates": rates}}

        table.attempt("projection", f"a paper run ({model}, 25 epochs LOSO + the MEGC 2022 model): {label}", work_)


def run_gpu_check(device: str = "cuda", out: str | os.PathLike | None = None, *, work: str | os.PathLike | None = None,
                  compile: bool | None = None, progress: bool = True) -> tuple[Any, int]:
    """Check every stage's device path and measure the rates; write ``out/gpu_check.json`` and ``.md``.

    Args:
        device: ``"cuda"`` (``"cuda:1"``, ...), ``"cpu"`` or ``"auto"``.
        out: the output folder (created; None: nothing written).
        work: scratch folder kept afterwards (default: a temporary folder, removed).
        compile: measure ``torch.compile`` (default: the sizes' setting, on for CUDA).
        progress: print a line a row as it is done, and the table at the end.

    Returns:
        The :class:`~slswin_lib.gpucheck.table.Table` and the exit status: 0 every row ran, 1 a row
        failed, :data:`EXIT_NO_CUDA` CUDA was asked for and is absent (the CPU ran what it could).
    """
    from .stages import CheckContext
    from .table import Table

    t0 = time.monotonic()
    dev, size_name, missing = _device(device)
    if missing:
        print(missing, file=sys.stderr)
    sizes = SIZES[size_name]
    compile_ = sizes.compile if compile is None else compile
    out_dir = Path(out) if out is not None else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    table = Table(out_dir, _header(dev, size_name, device, missing), dev, echo=progress)
    with _work_folder(work) as folder:
        p = _profile(dev, sizes)
        videos = []
        table.attempt("check", f"tiny set: {sizes.subjects} subjects x {sizes.seconds:g} s, no MediaPipe",
                      lambda: _tiny(videos, sizes, p))
        ctx = CheckContext(videos, p, dev, folder)
        if videos:
            _stage_rows(table, ctx)
            flow = _flow_rows(table, ctx, sizes)
            train, predict = _training_rows(table, ctx, sizes, compile_, t0 + sizes.budget_s)
            _projection_rows(table, ctx, flow, train, predict)
    table.header["seconds"] = time.monotonic() - t0
    table.write()
    if progress:
        print(table.markdown())
    status = EXIT_NO_CUDA if missing else (1 if table.failed else 0)
    return table, status


def _tiny(videos: list, sizes: CheckSize, p) -> dict[str, Any]:
    from .tinyset import tiny_set

    videos.extend(tiny_set(sizes.subjects, sizes.seconds, size=p.features.face_size, cfg=p.data))
    n_events = sum(len(v.events) for v in videos)
    return {"result": f"ok: {len(videos)} videos of {videos[0].n_frames} frames, {n_events} expressions",
            "value": float(sum(v.n_frames for v in videos)), "unit": "frames",
            "note": "schematic faces with known landmarks and motion (slswin_lib.gpucheck.tinyset)"}
