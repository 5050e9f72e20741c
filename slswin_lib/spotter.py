"""Spot expressions in any video with deployable checkpoints (issue 8).

Two halves:

* :func:`export_spotter` trains one model on *every* video of an expression set (the MEGC 2022
  way: no held-out subject) and writes ``spotter_<expression>.pt``, a self-describing checkpoint:
  the state dict plus every setting needed to use it (model name, input size, k, the training
  videos' fps, threshold factor t, labelling, the :class:`~slswin_lib.config.FeatureConfig`, a
  description of the training data, slswin version and git commit). :func:`load_spotter` reads
  it back as ``(model, meta)``.
* :func:`spot_video` reads any video file or frame folder and spots ME and/or MaE intervals with
  such checkpoints; without any checkpoint it falls back to the training-free baseline scorer
  (mean ROI optical-flow magnitude) and says so.

**k at another frame rate.** k is a number of frames (half the mean expression length of the
training annotations, SPEC 2.1). A video recorded at another frame rate shows the same
expression over proportionally more or fewer frames, so k is rescaled to keep its duration::

    k_video = max(1, round(k_train * fps_video / fps_train))

e.g. a CAS(ME)^2 MaE checkpoint (k = 18 at 30 fps) on a 24 fps clip uses k = 14, on a 200 fps
recording k = 120. Features, smoothing window (2k) and peak distance (k) all use ``k_video``.

>>> from slswin_lib.spotter import spot_video                  # doctest: +SKIP
>>> spot_video("me.mp4", me="spotter_me.pt", mae="spotter_mae.pt", out_dir="out")  # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .config import FeatureConfig, Profile

__all__ = ["SPOTTER_FORMAT", "BASELINE_K", "BASELINE_FPS", "BASELINE_T", "INTERVAL_COLUMNS", "KNOWN_FPS",
           "SpotterError", "TypeSpotting", "VideoSpotting", "export_spotter", "load_spotter", "rescale_k",
           "spot_video", "spot_report", "plot_video_spotting", "apex_montage", "deploy_t"]

#: the ``format`` field of a spotter checkpoint
SPOTTER_FORMAT = "slswin-spotter"
_FORMAT_VERSION = 1
#: training-free baseline: the paper's CAS(ME)^2 k (SPEC 2.1) at 30 fps, and the paper's t
BASELINE_K: dict[str, int] = {"me": 6, "mae": 18}
BASELINE_FPS = 30.0
BASELINE_T = 0.60
BASELINE_SCORER = "baseline (mean ROI flow magnitude, training-free)"
#: columns of ``intervals.csv`` (and of the table :func:`spot_video` returns)
INTERVAL_COLUMNS = ["vid", "pred_onset", "pred_offset", "type", "apex", "score", "scorer"]
#: frame rates of the data sets (their readers' defaults), for checkpoints of those sets
KNOWN_FPS: dict[str, float] = {"casme2": 30.0, "samm_lv": 200.0, "megc2022_cas": 30.0, "megc2022_samm": 200.0}
_TYPES = ("me", "mae")


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


def _feature_config_to_dict(cfg: FeatureConfig) -> dict[str, Any]:
    out = dataclasses.asdict(cfg)
    out["flow_params"] = [list(p) for p in cfg.flow_params]
    return out


def _feature_config_from_dict(d: Mapping[str, Any], where: str) -> FeatureConfig:
    known = {f.name for f in dataclasses.fields(FeatureConfig)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise SpotterError(f"{where}: feature setting(s) {unknown} are unknown to this slswin version; "
                           "update slswin or re-export the checkpoint with this version")
    d = dict(d)
    d["flow_params"] = tuple(tuple(p) for p in d.get("flow_params", ()))
    return FeatureConfig(**d)


# -- export ----------------------------------------------------------------------------------------
def _find_loso(es, p: Profile, model_name: str, labelling: str) -> Path | None:
    """The newest full-LOSO run folder of this model, expression set, k and feature settings."""
    from .pipeline import run_folder

    root = run_folder(p, es.dataset)
    found = []
    for manifest in root.glob(f"{model_name}-{labelling}*/{es.expression}/manifest.json"):
        try:
            m = json.loads(manifest.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        prof = m.get("profile") or {}
        if (m.get("protocol") == "MEGC 2021 LOSO" and m.get("model") == model_name and m.get("k") == es.k
                and sorted(map(str, m.get("subjects", []))) == sorted(map(str, es.subjects))
                and prof.get("train", {}).get("labelling") == labelling
                and prof.get("features") == json.loads(json.dumps(dataclasses.asdict(p.features)))
                and (manifest.parent / "scores.npz").exists()):
            found.append((str(m.get("written", "")), manifest.parent))
    return max(found)[1] if found else None


def deploy_t(es, profile: str | Profile, model_name: str | None = None) -> tuple[float, str]:
    """Threshold factor t for a model trained on all of ``es``, and where it came from.

    If a full LOSO score set of the same model, expression set, k and features exists (notebook 04/05),
    t is chosen on it the way the nested LOSO selection chooses t for a held-out subject, here with every
    subject as training subject: the grid value (``profile.spot.t_grid``) with the best F1 pooled over all
    held-out scores (``profile.spot.mode`` matching; ties: the smallest t). Otherwise the profile's t.
    """
    from .pipeline import resolve_profile
    from .scores import load_score_set, t_sweep

    p = resolve_profile(profile)
    model_name = model_name or p.model.name
    run = _find_loso(es, p, model_name, p.train.labelling)
    if run is None:
        return float(p.spot.t), f"profile {p.name} (no full LOSO score set of {model_name} {es.expression} found)"
    scores = load_score_set(run / "scores.npz", run / "videos.csv", run / "gt.csv")
    sweep = t_sweep(scores, p.spot.t_grid, p.spot.mode)
    best = sweep.iloc[int(np.argmax(sweep["F1"].to_numpy()))]
    return float(best["t"]), (f"LOSO t: best F1 ({best['F1']:.4f}, {p.spot.mode} matching) over the held-out "
                              f"scores of {run}")


def export_spotter(es, profile: str | Profile, *, model_name: str | None = None, t: float | None = None,
                   out: str | os.PathLike | None = None, fps: float | None = None,
                   progress: bool = True) -> Path:
    """Train one model on every video of ``es`` and write a deployable ``spotter_<expression>.pt``.

    Training is resumable and cached under ``run_folder(profile, es.dataset, "spotter", model_name,
    expression)`` (a finished model is not retrained; an interrupted one resumes at its last epoch).

    Args:
        es: an :class:`~slswin_lib.pipeline.ExpressionSet` (``expression_set(ds, type, profile)``).
        profile: the profile whose ``train``, ``features`` and ``spot`` settings are used; its
            features must be the ones ``es`` was extracted with.
        model_name: registered model (default ``profile.model.name``).
        t: threshold factor; default :func:`deploy_t` (LOSO-selected if a LOSO score set exists, else
            the profile's t). ``meta["t_source"]`` records which.
        out: the checkpoint file (``*.pt``) or its folder; default the run folder.
        fps: frame rate of the training videos; default the data set's (``profile.data.fps`` for the
            synthetic benchmark, :data:`KNOWN_FPS` for the licensed sets).

    Returns:
        The path of the written checkpoint.
    """
    import torch

    from . import __version__
    from .io import atomic_path
    from .pipeline import _check_size, resolve_profile, run_folder
    from .training.protocols import _git_commit, _save_inputs, _train_and_score, _train_cfg, fold_fingerprint
    from .training.trainer import load_checkpoint

    p = resolve_profile(profile)
    model_name = model_name or p.model.name
    expression = es.expression
    if expression not in _TYPES:
        raise ValueError(f"expression must be one of {_TYPES}, got {expression!r}")
    _check_size(es, model_name)
    if es.input_size != 2 * p.features.roi_size:
        raise ValueError(f"the features of {es.dataset} {expression} are {es.input_size} px but profile "
                         f"{p.name} makes {2 * p.features.roi_size} px mosaics; pass the profile the "
                         "features were extracted with (pipeline.sized_profile)")
    if fps is None:
        fps = p.data.fps if es.dataset == "synthetic" else KNOWN_FPS.get(es.dataset)
        if fps is None:
            raise ValueError(f"the frame rate of data set {es.dataset!r} is unknown; pass fps=")
    if t is None:
        t, t_source = deploy_t(es, p, model_name)
    else:
        t, t_source = float(t), "given"
    run = run_folder(p, es.dataset, "spotter", model_name, expression)
    inputs = _save_inputs(run, es.features, [i.key for i in es.infos])
    cfg = _train_cfg(p)
    t0 = time.perf_counter()
    # the trained model's folder is keyed by every setting that decides it, so a changed profile
    # trains a new model instead of reusing (or refusing) a stale one
    setting = hashlib.sha256(json.dumps(
        {"fold": fold_fingerprint(list(es.infos), [], es.k, expression, cfg, model_name),
         "features": _feature_config_to_dict(p.features)}, sort_keys=True, default=str).encode()).hexdigest()[:12]
    model_dir = run / f"model-{setting}"
    info = _train_and_score(str(model_dir), "all", list(es.infos), [], inputs, es.k, expression, cfg,
                            model_name, None, progress)
    state = load_checkpoint(model_dir / "checkpoint.pt")
    meta = {
        "format": SPOTTER_FORMAT, "format_version": _FORMAT_VERSION, "expression": expression,
        "model_name": model_name, "input_size": int(es.input_size), "k": int(es.k), "fps": float(fps),
        "t": float(t), "t_source": t_source, "labelling": cfg["labelling"],
        "features": _feature_config_to_dict(p.features),
        "training": {"dataset": es.dataset, "subjects": [str(s) for s in es.subjects],
                     "n_videos": len(es.infos), "n_events": int(sum(len(i.intervals) for i in es.infos)),
                     "videos": [i.key for i in es.infos], "profile": p.name,
                     "n_samples": int(info["n_train"]), "n_positive": int(info["n_train_positive"]),
                     "epochs": int(state["epoch"]), "loss": [float(x) for x in info["history"]["loss"]],
                     "settings": {k_: v for k_, v in cfg.items() if k_ not in ("device", "fold_workers")},
                     "run_folder": str(model_dir)},
        "slswin": __version__, "git_commit": _git_commit(), "torch": str(torch.__version__),
        "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "export_seconds": time.perf_counter() - t0,
    }
    meta = json.loads(json.dumps(meta))  # plain types only: loadable with torch.load(weights_only=True)
    target = Path(out) if out is not None else run
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

    from .training.trainer import build_model

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
                           "export one with slswin_lib.spotter.export_spotter") from None
    if not isinstance(obj, dict) or obj.get("format") != SPOTTER_FORMAT:
        hint = (" It looks like a training checkpoint (checkpoint.pt of a fold); export a spotter from it with "
                "export_spotter." if isinstance(obj, dict) and "optimizer" in obj else "")
        raise SpotterError(f"{path}: a PyTorch file but not a spotter checkpoint (no format "
                           f"'{SPOTTER_FORMAT}').{hint} Export one with slswin_lib.spotter.export_spotter")
    meta = dict(obj["meta"])
    if int(meta.get("format_version", 0)) > _FORMAT_VERSION:
        raise SpotterError(f"{path}: spotter format {meta.get('format_version')} is newer than this slswin "
                           f"reads ({_FORMAT_VERSION}); update slswin")
    missing = [k for k in ("expression", "model_name", "input_size", "k", "fps", "t", "features") if k not in meta]
    if missing:
        raise SpotterError(f"{path}: spotter checkpoint lacks {missing}; re-export it")
    meta["feature_config"] = _feature_config_from_dict(meta["features"], str(path))
    model = build_model(meta["model_name"], seed=0)
    try:
        model.load_state_dict(obj["state_dict"])
    except RuntimeError as exc:
        raise SpotterError(f"{path}: its weights do not fit model {meta['model_name']} "
                           f"({str(exc).splitlines()[0]}); re-export it") from None
    model.to(device).eval()
    meta["path"] = str(path)
    return model, meta


# -- spotting -------------------------------------------------------------------------------------
@dataclass
class TypeSpotting:
    """One expression type's spotting of one video.

    Attributes:
        expression: ``"me"`` or ``"mae"``.
        scorer: ``"model"`` or ``"baseline"``; ``description`` says which model / checkpoint.
        k: the k used on this video (rescaled, see the module docs); ``k_train``, ``fps_train``: the
            checkpoint's (for the baseline: the paper's CAS(ME)^2 k at 30 fps).
        t: threshold factor.
        scores: ``(n_frames - k,)`` per-sample scores.
        result: the :class:`~slswin_lib.spotting.SpotResult`.
    """

    expression: str
    scorer: str
    description: str
    k: int
    k_train: int
    fps_train: float
    t: float
    scores: np.ndarray
    result: Any
    meta: dict = field(default_factory=dict)


@dataclass
class VideoSpotting:
    """Everything :func:`spot_report` found in one video; ``table`` has :data:`INTERVAL_COLUMNS`."""

    vid: str
    path: str
    fps: float
    n_frames: int
    types: dict[str, TypeSpotting]
    table: pd.DataFrame

    @property
    def scorer(self) -> str:
        return "; ".join(f"{e}: {ts.description}" for e, ts in self.types.items())


def _open_video(video_or_path, fps: float | None):
    """(video object, effective fps, display name, path string)."""
    from .data import load_dataset

    if isinstance(video_or_path, (str, os.PathLike)):
        path = Path(video_or_path)
        if path.is_dir() and fps is None:
            raise ValueError(f"{path}: a frame folder has no frame rate; give it (--fps N / fps=N)")
        ds = load_dataset("video", path, fps=fps)
        if len(ds.videos) != 1:
            raise ValueError(f"{path} holds {len(ds.videos)} videos; pass one video file or one frame folder")
        v = ds.videos[0]
        return v, float(v.fps), str(v.name or path.stem), str(path)
    v = video_or_path
    use_fps = float(fps if fps is not None else getattr(v, "fps", 0) or 0)
    if use_fps <= 0:
        raise ValueError(f"video {getattr(v, 'key', '?')} has no frame rate; pass fps=")
    return v, use_fps, str(getattr(v, "name", None) or v.key), str(getattr(v, "path", "") or "")


def _features(video, k: int, cfg: FeatureConfig, progress: bool) -> np.ndarray:
    from .features import extract_features
    from .io import cache_dir

    return extract_features([video], k, cfg, cache_root=cache_dir("features"), progress=progress)[video.key]


def spot_report(video_or_path, *, me: str | os.PathLike | None = None, mae: str | os.PathLike | None = None,
                fps: float | None = None, profile: str | Profile = "quick", progress: bool = True) -> VideoSpotting:
    """Score and spot one video (no files written); see :func:`spot_video`."""
    from .pipeline import resolve_profile
    from .spotting import spot
    from .training.samples import to_model_input
    from .training.trainer import predict

    video, vfps, vid, path = _open_video(video_or_path, fps)
    checkpoints = {e: c for e, c in (("me", me), ("mae", mae)) if c is not None}
    types: dict[str, TypeSpotting] = {}
    if checkpoints:
        for e, ckpt in checkpoints.items():
            model, meta = load_spotter(ckpt)
            if meta["expression"] != e:
                raise SpotterError(f"{ckpt}: a {meta['expression'].upper()} spotter given as the "
                                   f"{e.upper()} checkpoint; swap the two")
            k = rescale_k(meta["k"], vfps, meta["fps"])
            feats = _features(video, k, meta["feature_config"], progress)
            if feats.shape[1] != meta["input_size"]:
                raise SpotterError(f"{ckpt}: the model takes {meta['input_size']} px inputs but its feature "
                                   f"settings give {feats.shape[1]} px; re-export the checkpoint")
            scores = predict(model, to_model_input(feats))
            desc = f"{meta['model_name']} ({Path(ckpt).name}, trained on {meta['training']['dataset']})"
            types[e] = TypeSpotting(e, "model", desc, k, int(meta["k"]), float(meta["fps"]), float(meta["t"]),
                                    scores, spot(scores, k, meta["t"], video=vid), meta)
    else:
        from .features.preprocess import roi_flow_magnitude

        cfg = resolve_profile(profile).features
        for e in _TYPES:
            k = rescale_k(BASELINE_K[e], vfps, BASELINE_FPS)
            scores = roi_flow_magnitude(_features(video, k, cfg, progress)).astype(np.float64)
            types[e] = TypeSpotting(e, "baseline", BASELINE_SCORER, k, BASELINE_K[e], BASELINE_FPS, BASELINE_T,
                                    scores, spot(scores, k, BASELINE_T, video=vid))
    rows = [{"vid": vid, "pred_onset": int(a), "pred_offset": int(b), "type": e, "apex": int(x),
             "score": float(h), "scorer": ts.scorer if ts.scorer == "baseline" else ts.meta["model_name"]}
            for e, ts in types.items()
            for (a, b), x, h in zip(ts.result.intervals, ts.result.apexes, ts.result.peak_heights)]
    table = pd.DataFrame(rows, columns=INTERVAL_COLUMNS).astype(
        {"pred_onset": "int64", "pred_offset": "int64", "apex": "int64", "score": "float64"})
    table = table.sort_values(["type", "pred_onset"], kind="stable").reset_index(drop=True)
    return VideoSpotting(vid, path, vfps, int(video.n_frames), types, table)


def plot_video_spotting(report: VideoSpotting, *, title: str | None = None):
    """One panel per expression type (scores, smoothed curve, threshold, spotted intervals)."""
    import matplotlib.pyplot as plt

    from .plots import plot_spotting

    fig, axes = plt.subplots(len(report.types), 1, figsize=(11, 3.2 * len(report.types)), squeeze=False)
    for ax, (e, ts) in zip(axes[:, 0], report.types.items()):
        who = "baseline" if ts.scorer == "baseline" else ts.meta["model_name"]
        plot_spotting(ts.result, scores=ts.scores, ax=ax, fps=report.fps,
                      title=f"{report.vid}: {e.upper()} by {who} (k = {ts.k} at {report.fps:g} fps, t = {ts.t:.2f})")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def spot_video(video_or_path, *, me: str | os.PathLike | None = None, mae: str | os.PathLike | None = None,
               fps: float | None = None, out_dir: str | os.PathLike | None = None, profile: str | Profile = "quick",
               progress: bool = True) -> pd.DataFrame:
    """Spot ME/MaE intervals in any video file or frame folder.

    For each given checkpoint (:func:`export_spotter`): k is rescaled to the video's frame rate
    (module docs), features are extracted with the checkpoint's FeatureConfig (cached under
    ``cache_dir("features")``), every sample is scored by the model and spotted with the checkpoint's
    t and the rescaled k. Only the given types are spotted. With **no** checkpoint both types are
    spotted by the training-free baseline (mean ROI flow magnitude, :data:`BASELINE_K` at 30 fps
    rescaled, t = 0.60; features of ``profile``); a line says so and the ``scorer`` column reads
    ``baseline``.

    Args:
        video_or_path: a video file (mp4, avi, ...), a frame folder, or a video object
            (``slswin_lib.data.Video`` / ``ArrayVideo``).
        me, mae: spotter checkpoints (``spotter_me.pt`` / ``spotter_mae.pt``).
        fps: frame rate; overrides the file's; required for a frame folder.
        out_dir: where ``intervals.csv`` and ``scores.png`` go (None: nothing written).
        profile: feature settings of the baseline scorer (unused with checkpoints).

    Returns:
        DataFrame with :data:`INTERVAL_COLUMNS` (frames 0-based, inclusive; ``score`` is the smoothed
        score at the apex). ``attrs`` holds ``fps``, ``n_frames``, per-type ``k``/``t``, the scorer
        and, with ``out_dir``, the paths ``intervals_csv`` and ``scores_png``.
    """
    report = spot_report(video_or_path, me=me, mae=mae, fps=fps, profile=profile, progress=progress)
    if all(ts.scorer == "baseline" for ts in report.types.values()):
        print(f"no checkpoint given: scoring with the {BASELINE_SCORER}, "
              + ", ".join(f"{e.upper()} k = {ts.k}" for e, ts in report.types.items())
              + f" (CAS(ME)^2 k at 30 fps rescaled to {report.fps:g} fps), t = {BASELINE_T}")
    table = report.table
    table.attrs.update(vid=report.vid, fps=report.fps, n_frames=report.n_frames, scorer=report.scorer,
                       k={e: ts.k for e, ts in report.types.items()}, t={e: ts.t for e, ts in report.types.items()})
    if out_dir is not None:
        import matplotlib.pyplot as plt

        from .io import atomic_path

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(out / "intervals.csv") as tmp:
            table.to_csv(tmp, index=False)
        fig = plot_video_spotting(report)
        with atomic_path(out / "scores.png") as tmp:
            fig.savefig(tmp, dpi=110)
        plt.close(fig)
        table.attrs.update(intervals_csv=str(out / "intervals.csv"), scores_png=str(out / "scores.png"))
    return table


def apex_montage(video_or_path, table: pd.DataFrame, *, fps: float | None = None, per_type: int = 6,
                 crop_face: bool = True):
    """Frames at the spotted apexes: one row per type, the ``per_type`` highest-scoring intervals.

    Args:
        video_or_path: the spotted video (as given to :func:`spot_video`).
        table: :func:`spot_video`'s result.
        crop_face: show the face crop (MediaPipe box of the apex frame) instead of the whole frame.

    Returns:
        A matplotlib figure (an empty one saying so when nothing was spotted).
    """
    import matplotlib.pyplot as plt

    video, vfps, vid, _ = _open_video(video_or_path, fps)
    types = [e for e in _TYPES if (table["type"] == e).any()]
    if not types:
        fig, ax = plt.subplots(figsize=(6, 1.5))
        ax.axis("off")
        ax.text(0.5, 0.5, f"{vid}: no interval spotted", ha="center", va="center")
        return fig
    ncol = max(min(per_type, int((table["type"] == e).sum())) for e in types)
    fig, axes = plt.subplots(len(types), ncol, figsize=(2.2 * ncol, 2.9 * len(types)), squeeze=False)
    lm = None
    if crop_face:
        from .features.extract import _landmarker, _model_path
        from .features.crop import crop_face as crop, face_box

        lm = _landmarker(_model_path(None), FeatureConfig())
    for row, e in enumerate(types):
        rows = table[table["type"] == e].nlargest(per_type, "score").sort_values("apex")
        for col, ax in enumerate(axes[row]):
            ax.axis("off")
            if col >= len(rows):
                continue
            r = rows.iloc[col]
            img = video.frame(int(r["apex"]))
            if lm is not None:
                mesh = lm.detect(img)
                if mesh is not None:
                    img = crop(img, face_box(mesh[:468], 1.3), 160, gray=False)
            ax.imshow(img)
            ax.set_title(f"{e.upper()} apex {int(r['apex'])} ({int(r['apex']) / vfps:.1f} s)\n"
                         f"[{int(r['pred_onset'])}, {int(r['pred_offset'])}] score {r['score']:.3g}", fontsize=8)
    fig.suptitle(f"{vid}: frames at the spotted apexes")
    fig.tight_layout()
    return fig
