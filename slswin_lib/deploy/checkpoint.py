"""Deployable spotter checkpoints: train on a whole data set, write one self-describing file.

* :func:`export_spotter` trains one model on *every* video of an expression set (the MEGC 2022
  way, :func:`slswin_lib.experiment.train_all`: no held-out subject) and writes
  ``spotter_<expression>.pt``: the state dict plus every setting needed to use it (model name and
  construction settings, input size, k, the training videos' fps, threshold factor t and where it came from, labelling,
  the :class:`~slswin_lib.config.FeatureConfig`, a description of the training data, slswin
  version and git commit).
* :func:`load_spotter` reads it back as ``(model, meta)``, the model rebuilt from the stored name and
  construction settings (:func:`slswin_lib.models.spotting_model`; e.g. the authors' ViT-B), refusing
  anything else with the reason.
* :func:`deploy_t` chooses t for such a model from a LOSO run of the same settings, if one exists.

**k at another frame rate.** k is a number of frames (half the mean expression length of the
training annotations, paper Section 2.1). A video recorded at another frame rate shows the same
expression over proportionally more or fewer frames, so k is rescaled to keep its duration::

    k_video = max(1, round(k_train * fps_video / fps_train))

e.g. a CAS(ME)^2 MaE checkpoint (k = 18 at 30 fps) on a 24 fps clip uses k = 14, on a 200 fps
recording k = 120 (:func:`rescale_k`).
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any, Mapping


from ..config import KNOWN_FPS, RUNTIME_ONLY, FeatureConfig, Profile, run_digest

__all__ = ["SPOTTER_FORMAT", "EXPRESSION_TYPES", "KNOWN_FPS", "SpotterError", "export_spotter", "load_spotter",
           "rescale_k", "deploy_t", "feature_config_to_dict", "feature_config_from_dict", "spotter_table"]

#: the ``format`` field of a spotter checkpoint
SPOTTER_FORMAT = "slswin-spotter"
#: 2: the model's construction settings (``model_kwargs``) are stored
_FORMAT_VERSION = 2
#: the expression types a spotter is trained for
EXPRESSION_TYPES = ("me", "mae")


class SpotterError(ValueError):
    """A file is not a usable spotter checkpoint, or a video cannot be spotted with it."""


# -- helpers ---------------------------------------------------------------------------------------
def rescale_k(k: int, fps_video: float, fps_train: float) -> int:
    """k of a checkpoint trained at ``fps_train`` for a video at ``fps_video`` (same duration).

    >>> rescale_k(18, 24.0, 30.0), rescale_k(6, 200.0, 30.0), rescale_k(2, 10.0, 30.0)
    (14, 40, 1)
    """
    if not (fps_video > 0 and fps_train > 0):
        raise ValueError(f"frame rates must be positive, got video {fps_video} fps, training {fps_train} fps")
    return max(1, int(round(int(k) * float(fps_video) / float(fps_train))))


def feature_config_to_dict(feature_cfg: FeatureConfig) -> dict[str, Any]:
    """A FeatureConfig as plain JSON-able data (as stored in a checkpoint)."""
    out = dataclasses.asdict(feature_cfg)
    out["flow_params"] = [list(p) for p in feature_cfg.flow_params]
    return out


def feature_config_from_dict(d: Mapping[str, Any], where: str) -> FeatureConfig:
    """The FeatureConfig stored in a checkpoint; settings unknown to this version are refused."""
    known = {f.name for f in dataclasses.fields(FeatureConfig)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise SpotterError(f"{where}: feature setting(s) {unknown} are unknown to this slswin version; "
                           "update slswin or re-export the checkpoint with this version")
    d = dict(d)
    d["flow_params"] = tuple(tuple(p) for p in d.get("flow_params", ()))
    return FeatureConfig(**d)


# -- export ----------------------------------------------------------------------------------------
def deploy_t(es, p: Profile) -> tuple[float, str]:
    """Threshold factor t for a model (``p.model``) trained on all of ``es``, and where it came from.

    If a full LOSO score set of the same model, expression set, k and features exists (notebook 04/05),
    t is chosen on it the way the nested LOSO selection chooses t for a held-out subject, here with every
    subject as training subject: the grid value (``profile.spot.t_grid``) with the best F1 pooled over all
    held-out scores (``profile.spot.mode`` matching; ties: the smallest t). Otherwise the profile's t.
    """
    from ..experiment import find_loso_run
    from ..scores import load_score_set
    from .choice import best_t

    run = find_loso_run(p, es)
    if run is None:
        return float(p.spot.t), f"profile {p.name} (no full LOSO score set of {p.model.name} {es.expression} found)"
    t, f1 = best_t(load_score_set(run / "scores.npz", run / "videos.csv", run / "gt.csv"), p.spot)
    return t, f"LOSO t: best F1 ({f1:.4f}, {p.spot.mode} matching) over the held-out scores of {run}"


def export_spotter(es, profile: Profile, *, t: float | None = None,
                   out: str | os.PathLike | None = None, fps: float | None = None,
                   progress: bool = True) -> Path:
    """Train one model on every video of ``es`` and write a deployable ``spotter_<expression>.pt``.

    Training is :func:`slswin_lib.experiment.train_all`, resumable and cached under ``run_folder(profile,
    es.dataset, "spotter", model_name, expression, "model-<digest>")`` (a finished model is not
    retrained; an interrupted one resumes at its last checkpoint).

    Args:
        es: an :class:`~slswin_lib.experiment.ExpressionSet` (``expression_set(ds, type, profile)``).
        profile: the profile whose ``model`` (the model to train), ``train``, ``features`` and
            ``spot`` settings are used; its features must be the ones ``es`` was extracted with.
        t: threshold factor; default :func:`deploy_t` (LOSO-selected if a LOSO score set exists, else
            the profile's t). ``meta["t_source"]`` records which.
        out: the checkpoint file (``*.pt``) or its folder; default the run's stable spotters folder,
            ``runs/<profile>/spotters/<model name>/spotter_<expression>.pt``
            (:func:`slswin_lib.deploy.choice.spotter_path`), where ``spot`` finds it.
        fps: frame rate of the training videos; default the data set's (``profile.data.fps`` for the
            synthetic benchmark, :data:`KNOWN_FPS` for the licensed sets).

    Returns:
        The path of the written checkpoint.
    """
    import torch

    from .. import __version__
    from ..experiment import check_input_size, fold_identity, git_commit, run_folder, train_all
    from ..io import atomic_path
    from ..training.trainer import load_checkpoint

    p = profile
    model_name = p.model.name
    expression = es.expression
    if expression not in EXPRESSION_TYPES:
        raise ValueError(f"expression must be one of {EXPRESSION_TYPES}, got {expression!r}")
    check_input_size(es, model_name)
    if es.input_size != 2 * p.features.roi_size:
        raise ValueError(f"the features of {es.dataset} {expression} are {es.input_size} px but profile "
                         f"{p.name} makes {2 * p.features.roi_size} px mosaics; pass the profile the "
                         "features were extracted with (experiment.sized_profile)")
    if fps is None:
        fps = p.data.fps if es.dataset == "synthetic" else KNOWN_FPS.get(es.dataset)
        if fps is None:
            raise ValueError(f"the frame rate of data set {es.dataset!r} is unknown; pass fps=")
    if t is None:
        t, t_source = deploy_t(es, p)
    else:
        t, t_source = float(t), "given"
    t0 = time.perf_counter()
    # the trained model's folder is keyed by every setting that decides it, so a changed profile
    # trains a new model instead of reusing (or refusing) a stale one
    identity = run_digest({"fold": fold_identity(es.infos, [], es.k, expression, p.train, model_name),
                           "features": p.features}, length=12)
    model_dir = run_folder(p, es.dataset, "spotter", model_name, expression, f"model-{identity}")
    result = train_all(es, p, model_dir, progress=progress)
    state = load_checkpoint(model_dir / "checkpoint.pt")
    construction = state["run"]["model_kwargs"]  # the settings the trained model was built with
    record = result.record
    meta = {
        "format": SPOTTER_FORMAT, "format_version": _FORMAT_VERSION, "expression": expression,
        "model_name": model_name, "model_kwargs": construction, "input_size": int(es.input_size), "k": int(es.k), "fps": float(fps),
        "t": float(t), "t_source": t_source, "labelling": p.train.labelling,
        "features": feature_config_to_dict(p.features),
        "training": {"dataset": es.dataset, "subjects": [str(s) for s in es.subjects],
                     "n_videos": len(es.infos), "n_events": int(sum(len(i.intervals) for i in es.infos)),
                     "videos": [i.key for i in es.infos], "profile": p.name,
                     "n_samples": int(record["n_train"]), "n_positive": int(record["n_train_positive"]),
                     "epochs": int(state["epoch"]), "loss": [float(x) for x in record["history"]["loss"]],
                     "settings": {k_: v for k_, v in dataclasses.asdict(p.train).items() if k_ not in RUNTIME_ONLY},
                     "run_folder": str(model_dir)},
        "slswin": __version__, "git_commit": git_commit(), "torch": str(torch.__version__),
        "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "export_seconds": time.perf_counter() - t0,
    }
    meta = json.loads(json.dumps(meta))  # plain types only: loadable with torch.load(weights_only=True)
    if out is None:
        from .choice import spotter_path, spotters_dir

        out = spotter_path(spotters_dir(p.name), model_name, expression)
    target = Path(out)
    if target.suffix != ".pt":
        target = target / f"spotter_{expression}.pt"
    with atomic_path(target) as tmp:
        torch.save({"format": SPOTTER_FORMAT, "meta": meta, "state_dict": state["model"]}, tmp)
    return target


def load_spotter(path: str | os.PathLike, device: str = "cpu"):
    """Read a checkpoint written by :func:`export_spotter`: ``(model in eval mode, meta dict)``.

    Raises:
        FileNotFoundError: no such file.
        SpotterError: the file is not a spotter checkpoint (unreadable, another kind of PyTorch file,
            or written by an incompatible version), with the reason and the fix.
    """
    import pickle
    import zipfile

    import torch

    from ..models import spotting_model

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    try:  # weights_only: a checkpoint from elsewhere cannot run code when loaded
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError,
            AttributeError, ImportError) as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()] or [type(exc).__name__]
        first = next((ln for ln in lines if "Unpickler error" in ln), lines[0])
        raise SpotterError(f"{path}: not a spotter checkpoint (PyTorch cannot read it: {first}); "
                           "export one with slswin_lib.deploy.export_spotter") from None
    if not isinstance(obj, dict) or obj.get("format") != SPOTTER_FORMAT:
        hint = (" It looks like a training checkpoint (checkpoint.pt of a fold); export a spotter from it with "
                "export_spotter." if isinstance(obj, dict) and "optimizer" in obj else "")
        raise SpotterError(f"{path}: a PyTorch file but not a spotter checkpoint (no format "
                           f"'{SPOTTER_FORMAT}').{hint} Export one with slswin_lib.deploy.export_spotter")
    meta = dict(obj["meta"])
    version = int(meta.get("format_version", 0))
    if version > _FORMAT_VERSION:
        raise SpotterError(f"{path}: spotter format {version} is newer than this slswin "
                           f"reads ({_FORMAT_VERSION}); update slswin")
    if version < _FORMAT_VERSION:
        raise SpotterError(f"{path}: spotter format {version} does not record how its model was built "
                           f"(format {_FORMAT_VERSION} does); re-export it with this slswin version")
    missing = [k for k in ("expression", "model_name", "model_kwargs", "input_size", "k", "fps", "t", "features")
               if k not in meta]
    if missing:
        raise SpotterError(f"{path}: spotter checkpoint lacks {missing}; re-export it")
    meta["feature_config"] = feature_config_from_dict(meta["features"], str(path))
    try:
        model = spotting_model(meta["model_name"], meta["model_kwargs"])
    except (ValueError, TypeError) as exc:
        raise SpotterError(f"{path}: its model {meta['model_name']} with settings {meta['model_kwargs']} cannot "
                           f"be built by this slswin version ({exc}); update slswin or re-export it") from None
    try:
        model.load_state_dict(obj["state_dict"])
    except RuntimeError as exc:
        raise SpotterError(f"{path}: its weights do not fit model {meta['model_name']} "
                           f"({str(exc).splitlines()[0]}); re-export it") from None
    model.to(device).eval()
    meta["path"] = str(path)
    return model, meta


def spotter_table(checkpoints: Mapping[str, str | os.PathLike]):
    """What each spotter checkpoint holds: model, k, fps, t and where t came from, training data.

    Args:
        checkpoints: expression type -> checkpoint path (:func:`export_spotter`).

    Returns:
        A DataFrame with one column per checkpoint.
    """
    import pandas as pd

    rows = {}
    for e, path in checkpoints.items():
        meta = load_spotter(path)[1]
        tr = meta["training"]
        rows[e] = {"checkpoint": str(path), "model": meta["model_name"], "k": meta["k"], "fps": meta["fps"],
                   "t": meta["t"], "t from": meta["t_source"],
                   "trained on": f"{tr['dataset']} ({tr['n_videos']} videos, {len(tr['subjects'])} subjects, "
                                 f"profile {tr['profile']})",
                   "epochs": tr["epochs"]}
    return pd.DataFrame(rows)
