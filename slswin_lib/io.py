"""Small I/O helpers shared by every stage: atomic writes and the cache root."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

__all__ = [
    "cache_dir", "atomic_path", "atomic_write_text", "atomic_write_json", "save_npz_atomic",
    "repo_root", "work_dir", "figures_dir", "check_free_space", "InsufficientSpaceError",
]


def cache_dir(*parts: str) -> Path:
    """Root of slswin's on-disk cache: ``$SLSWIN_CACHE`` or ``~/.cache/slswin``; created on demand."""
    root = Path(os.environ.get("SLSWIN_CACHE", Path.home() / ".cache" / "slswin")).expanduser()
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it onto ``target`` only on success.

    An interrupted or failing writer therefore never leaves a half-written ``target``.
    The temporary name keeps ``target``'s suffix so that writers keyed on it (``np.savez``,
    ``DataFrame.to_csv``) behave as for the final name.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_text(target: str | os.PathLike, text: str) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_text(text)
    return Path(target)


def atomic_write_json(target: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(target, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def save_npz_atomic(target: str | os.PathLike, **arrays: Any) -> Path:
    """``np.savez_compressed`` to ``target`` atomically."""
    import numpy as np

    with atomic_path(target) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
    return Path(target)


class InsufficientSpaceError(OSError):
    """Too little free disk space for what is about to be written."""


def check_free_space(folder: str | os.PathLike, needed: int, what: str = "the output") -> int:
    """Refuse (before a long job starts) when ``folder``'s file system has fewer than ``needed`` bytes free.

    Returns the free bytes. Raises :class:`InsufficientSpaceError` naming the bytes needed, the
    bytes free and the folder.
    """
    import shutil

    folder = Path(folder)
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free < needed:
        raise InsufficientSpaceError(f"{what} needs {needed / 2**30:.2f} GiB ({needed} bytes) in {folder}, but only "
                                     f"{free / 2**30:.2f} GiB ({free} bytes) are free there; free some space "
                                     "or point the cache elsewhere ($SLSWIN_CACHE)")
    return free


def repo_root() -> Path:
    """The checkout this package runs from (where ``pyproject.toml`` is), else the working dir."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").exists() else Path.cwd()


def work_dir(profile: str, *parts: str) -> Path:
    """Where a profile's run products live: ``$SLSWIN_WORK`` or ``<repo>/runs/<profile>``."""
    root = os.environ.get("SLSWIN_WORK")
    base = Path(root).expanduser() if root else repo_root() / "runs" / profile
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def figures_dir(path: str | os.PathLike | None = None) -> Path:
    """Where notebooks write tables and figures: ``path``, ``$SLSWIN_FIGURES`` or ``<repo>/figures``."""
    chosen = path or os.environ.get("SLSWIN_FIGURES") or repo_root() / "figures"
    out = Path(chosen).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    return out
