"""Every stage's device path, end to end on the tiny set: features, a LOSO fold of two models, a spotter.

Each function runs one stage the way a run of the paper profile runs it, on the device of the check,
checks what it produced (shapes, finite values, agreement with the same computation on the CPU) and
returns the fields of its table row (:class:`~slswin_lib.gpucheck.table.Row`):

* :func:`check_features`: flow with ``tvl1_torch`` on the device through the feature stage's own
  functions (:func:`~slswin_lib.features.pairs.extract_video` on a known face track), the ROI
  mosaics written as ``.npy`` files that the folds memory-map;
* :func:`check_fold`: one LOSO fold (:func:`~slswin_lib.experiment.train_fold`: streamed samples,
  per-subject SGD, prediction of the held-out subject) of SL-Swin-T or SOFTNet on the device;
* :func:`check_spotting`: the held-out scores spotted at the paper's t and evaluated;
* :func:`check_spotter`: a spotter exported (:func:`~slswin_lib.deploy.export_spotter`), reloaded
  on the device and scoring the held-out video's features.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CheckContext", "check_features", "check_fold", "check_spotting", "check_spotter",
           "DEVICE_ATOL", "FLOW_ATOL"]

#: largest |score difference| between the device and the CPU running the same float32 weights on the
#: same inputs (GPU kernels sum in another order, and cuDNN may use TF32 for convolutions)
DEVICE_ATOL = 0.01
#: largest mean |flow difference| (pixels) between tvl1_torch on the device and on the CPU in float32
#: (the agreement bound of tvl1_torch with OpenCV's TV-L1, benchmarks/bench_features.py --agreement)
FLOW_ATOL = 0.01
#: frame pairs whose device flow is compared with the CPU's and with the true motion
AGREEMENT_PAIRS = 4


@dataclass
class CheckContext:
    """What the stages share: the tiny set, the resolved profile, the device and the scratch folder.

    Attributes:
        videos: :class:`~slswin_lib.gpucheck.tinyset.TinyVideo` of each subject.
        profile: the paper profile with the check's sizes (flow ``tvl1_torch`` on the device, epochs).
        device: the torch device of every stage.
        work: scratch folder (feature files, fold and spotter folders).
        expression: the expression type of the check.
        es: the expression set, once :func:`check_features` has run.
        fold_scores: model name -> held-out scores of its fold, once :func:`check_fold` has run.
    """

    videos: list
    profile: Any
    device: Any
    work: Path
    expression: str = "mae"
    es: Any = None
    fold_scores: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    @property
    def held_out(self) -> str:
        """The held-out subject of the one LOSO fold: the last."""
        return self.videos[-1].subject


class _VideoRef:
    """What :func:`~slswin_lib.features.pairs.extract_video` reads of a video when its track is given."""

    def __init__(self, key: str, n_frames: int) -> None:
        self.key, self.n_frames = key, n_frames


def check_features(ctx: CheckContext) -> dict[str, Any]:
    """Features of every video with the profile's flow on the device; builds ``ctx.es``.

    Raises:
        RuntimeError: features of the wrong shape or with non-finite values, or a device flow that
            departs from the CPU's by more than :data:`FLOW_ATOL`.
    """
    from ..data.base import compute_k
    from ..experiment import ExpressionSet, VideoInfo
    from ..features.pairs import extract_video
    from ..features.preprocess import config_sizes
    from ..features.tracking import FaceTrack
    from ..features.tvl1_torch import TorchTVL1
    from .tinyset import true_flow

    fcfg = ctx.profile.features
    k = compute_k([e for v in ctx.videos for e in v.events if e.type == ctx.expression])
    side = 2 * config_sizes(fcfg).roi
    folder = ctx.work / "features"
    folder.mkdir(parents=True, exist_ok=True)
    feats, files, infos = {}, {}, []
    for v in ctx.videos:
        size = v.crops.shape[1]
        track = FaceTrack(v.crops, v.pts68, np.tile([0.0, 0.0, float(size)], (v.n_frames, 1)),
                          np.zeros(v.n_frames, bool))
        x, _ = extract_video(_VideoRef(v.key, v.n_frames), k, fcfg, track=track)
        if x.shape != (v.n_frames - k, side, side, 3) or not np.all(np.isfinite(x)):
            raise RuntimeError(f"{v.key}: features of shape {x.shape} (finite: {bool(np.all(np.isfinite(x)))}), "
                               f"expected ({v.n_frames - k}, {side}, {side}, 3) finite")
        files[v.key] = str(folder / f"{v.key}.npy")
        np.save(files[v.key], x)
        feats[v.key] = np.load(files[v.key], mmap_mode="r")
        infos.append(VideoInfo(v.key, v.subject, v.video_code, v.n_frames,
                               tuple((e.onset, e.offset) for e in v.events if e.type == ctx.expression)))
    ctx.es = ExpressionSet(ctx.expression, k, infos, feats, "gpucheck", files)
    # a few pairs around the first expression's apex: device against CPU, and against the true motion
    v = ctx.videos[0]
    apex = next(e.apex for e in v.events if e.type == ctx.expression)
    first = np.clip(np.arange(apex - k, apex - k + AGREEMENT_PAIRS), 0, v.n_frames - k - 1)
    prev, nxt = v.crops[first], v.crops[first + k]
    params = dict(fcfg.flow_params)
    flow = TorchTVL1(params, device=str(ctx.device), batch=fcfg.flow_batch)(prev, nxt)
    truth = np.stack([true_flow(v, int(i), int(i) + k) for i in first])
    epe = float(np.linalg.norm(flow - truth, axis=-1).mean())
    pairs = sum(len(f) for f in feats.values())
    facts = {"k": k, "pairs": pairs, "epe_vs_truth_px": epe}
    note = f"mean end-point error against the true motion {epe:.3f} px ({AGREEMENT_PAIRS} pairs)"
    if ctx.device.type != "cpu":
        on_cpu = TorchTVL1(params, device="cpu", batch=AGREEMENT_PAIRS)(prev, nxt)
        diff = float(np.abs(flow - on_cpu).mean())
        facts["mean_abs_flow_diff_vs_cpu_px"] = diff
        if not diff <= FLOW_ATOL:
            raise RuntimeError(f"tvl1_torch on {ctx.device} departs from the CPU by {diff:.4f} px on average "
                               f"(bound {FLOW_ATOL} px)")
        note += f"; |device - CPU| flow {diff:.5f} px on average"
    params_text = "OpenCV's TV-L1 defaults" if not params else f"TV-L1 {params}"
    return {"result": f"ok: {pairs} pairs at k = {k} -> ({side}, {side}, 3) mosaics, finite",
            "value": float(pairs), "unit": "pairs", "note": f"{params_text}; {note}", "facts": facts}


def _max_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) if len(a) else 0.0


def check_fold(ctx: CheckContext, profile) -> dict[str, Any]:
    """One LOSO fold of ``profile.model`` (trained with ``profile.train``) on the device.

    Raises:
        RuntimeError: missing or non-finite held-out scores, a non-finite training loss, or device
            scores that depart from the CPU's (same weights) by more than :data:`DEVICE_ATOL`.
    """
    from ..experiment import train_fold
    from ..experiment.folds import FoldJob
    from ..features.preprocess import to_model_input
    from ..models import model_kwargs, spotting_model
    from ..training.trainer import load_checkpoint, predict

    es, name = ctx.es, profile.model.name
    test = tuple(i for i in es.infos if i.subject == ctx.held_out)
    train = tuple(i for i in es.infos if i.subject != ctx.held_out)
    kwargs = model_kwargs(name, profile.model)
    fold = ctx.work / "loso" / name / f"fold_{ctx.held_out}"
    job = FoldJob(str(fold), ctx.held_out, train, test, es.inputs(), es.k, es.expression, profile.train, name,
                  model_kwargs=kwargs, signed_u=not profile.features.abs_uv)
    result = train_fold(job, progress=False)
    history = result.record["history"]
    for i in test:
        s = result.scores.get(i.key)
        if s is None or len(s) != i.n_frames - es.k or not np.all(np.isfinite(s)):
            raise RuntimeError(f"fold {ctx.held_out}: the scores of {i.key} are missing, of the wrong length or "
                               "not finite")
    if not np.all(np.isfinite(history["loss"])):
        raise RuntimeError(f"fold {ctx.held_out}: training losses {history['loss']}")
    ctx.fold_scores[name] = result.scores
    facts = {"steps": result.record["steps"], "n_train": result.record["n_train"],
             "train_seconds": result.record["train_seconds"], "loss": history["loss"]}
    t = profile.train
    note = (f"per-subject SGD, {t.epochs} epoch(s) a subject" if t.schedule == "per_subject" else
            f"pooled SGD, {t.epochs} epoch(s)") + f", batch {t.batch_size}, lr {t.lr:g}"
    if ctx.device.type != "cpu":
        model = spotting_model(name, kwargs)
        model.load_state_dict(load_checkpoint(fold / "checkpoint.pt")["model"])
        diff = max(_max_abs(predict(model.to("cpu"), es.features[i.key], batch_size=profile.train.predict_batch_size,
                                    transform=to_model_input), result.scores[i.key]) for i in test)
        facts["max_abs_score_diff_vs_cpu"] = diff
        if not diff <= DEVICE_ATOL:
            raise RuntimeError(f"fold {ctx.held_out}: scores on {ctx.device} depart from the CPU's by {diff:.4f} "
                               f"(bound {DEVICE_ATOL})")
        note += f"; |device - CPU| scores <= {diff:.2e}"
    return {"result": f"ok: {result.record['n_train']} samples, {result.record['steps']} steps (loss "
                      f"{history['loss'][0]:.4f} -> {history['loss'][-1]:.4f}), "
                      f"{result.record['n_test']} held-out samples scored",
            "value": float(result.record["n_test"]), "unit": "samples", "note": note, "facts": facts}


def check_spotting(ctx: CheckContext, model_name: str) -> dict[str, Any]:
    """The fold's held-out scores written as a score set, spotted at the profile's t and evaluated."""
    from ..scores import spot_score_set, write_score_set

    es, spot = ctx.es, ctx.profile.spot
    tested = [i for i in es.infos if i.key in ctx.fold_scores[model_name]]
    scores = write_score_set(ctx.work / "loso" / model_name / "scores", tested, ctx.fold_scores[model_name], es.k,
                             name=f"{model_name} {es.expression}")
    counts, per_video, _ = spot_score_set(scores, spot.t, spot.mode)
    if len(per_video) != len(tested):
        raise RuntimeError(f"{len(per_video)} videos evaluated, {len(tested)} scored")
    return {"result": f"ok: TP {counts.tp}, FP {counts.fp}, FN {counts.fn} over {len(tested)} held-out video(s)",
            "value": float(counts.tp), "unit": "TP",
            "note": f"t = {spot.t:.2f}, {spot.mode} matching (a tiny set: the counts check the stage, not the model)",
            "facts": counts.as_dict()}


def check_spotter(ctx: CheckContext) -> dict[str, Any]:
    """A spotter trained on every video, exported, reloaded on the device, scoring the held-out video."""
    from ..deploy import export_spotter, load_spotter
    from ..features.preprocess import to_model_input
    from ..spotting import spot
    from ..training.trainer import predict

    p, es = ctx.profile, ctx.es
    path = export_spotter(es, p, t=p.spot.t, out=ctx.work / f"spotter_{es.expression}.pt", fps=ctx.videos[0].fps,
                          progress=False)
    model, meta = load_spotter(path, device=str(ctx.device))
    if (meta["k"], meta["input_size"], meta["expression"]) != (es.k, es.input_size, es.expression):
        raise RuntimeError(f"{path}: k {meta['k']}, input {meta['input_size']}, type {meta['expression']}; "
                           f"expected {es.k}, {es.input_size}, {es.expression}")
    key = next(i.key for i in es.infos if i.subject == ctx.held_out)
    feats = es.features[key]
    scores = predict(model, feats, batch_size=p.train.predict_batch_size, transform=to_model_input)
    if len(scores) != len(feats) or not np.all(np.isfinite(scores)):
        raise RuntimeError(f"{path}: {len(scores)} scores for {len(feats)} samples of {key}, or not finite")
    found = spot(scores, meta["k"], meta["t"], video=key)
    facts = {"path_bytes": path.stat().st_size, "n_intervals": len(found.intervals)}
    note = f"{path.stat().st_size / 2**20:.0f} MiB checkpoint; {len(found.intervals)} interval(s) spotted at t = {meta['t']:.2f}"
    if ctx.device.type != "cpu":
        on_cpu, _ = load_spotter(path, device="cpu")
        diff = _max_abs(predict(on_cpu, feats, batch_size=p.train.predict_batch_size, transform=to_model_input),
                        scores)
        facts["max_abs_score_diff_vs_cpu"] = diff
        if not diff <= DEVICE_ATOL:
            raise RuntimeError(f"{path}: scores on {ctx.device} depart from the CPU's by {diff:.4f} (bound {DEVICE_ATOL})")
        note += f"; |device - CPU| scores <= {diff:.2e}"
    return {"result": f"ok: exported, reloaded on {ctx.device}, {len(scores)} samples of {key} scored",
            "value": float(len(scores)), "unit": "samples", "note": note, "facts": facts}
