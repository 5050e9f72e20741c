"""Data layer: one interface for every data set, readers, and the synthetic benchmark.

>>> from slswin_lib.data import load_dataset          # doctest: +SKIP
>>> ds = load_dataset("synthetic", profile="smoke")    # builds the embedded benchmark once
>>> ds.select("me").compute_k("me")

Kinds: ``synthetic`` | ``casme2`` | ``samm_lv`` | ``megc2022_cas`` | ``megc2022_samm`` | ``video``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .base import (EXPRESSION_TYPES, DataError, Dataset, Event, FileVideo, FramesVideo, Skip, Video, compute_k,
                   mean_half_length, videos_with_type)
from .synthetic import ensure_synthetic, load_motion, true_displacement

__all__ = [
    "KINDS", "load_dataset", "ensure_synthetic", "true_displacement", "load_motion", "Event", "Video",
    "FramesVideo", "FileVideo", "Dataset", "DataError", "Skip", "EXPRESSION_TYPES", "compute_k",
    "mean_half_length", "videos_with_type",
]

KINDS = ("synthetic", "casme2", "samm_lv", "megc2022_cas", "megc2022_samm", "video")


def load_dataset(kind: str, root: str | Path | None = None, **opts: Any) -> Dataset:
    """Load a data set.

    Parameters
    ----------
    kind:
        one of :data:`KINDS`.
    root:
        the data set's folder (for ``video``: a file or folder). For ``synthetic``, None builds or
        locates the benchmark of ``opts["profile"]`` (default ``"quick"``) under ``work_dir``.
    opts:
        reader options: ``sheet``, ``fps``, ``strict``, ``frames_dir`` (casme2, samm_lv); ``fps``
        (video, megc2022_*); ``profile`` and DataConfig overrides (synthetic).
    """
    if kind == "synthetic":
        from .casme2 import load_casme2

        profile = opts.pop("profile", "quick")
        path = ensure_synthetic(profile, root, **opts)
        from ..config import Profile, get_profile

        prof = profile if isinstance(profile, Profile) else get_profile(profile)
        fps = opts.get("fps", prof.data.fps)
        return load_casme2(path, fps=fps, strict=True, dataset="synthetic")
    if root is None:
        raise ValueError(f"data set {kind!r} needs root= (the folder of your licensed copy); "
                         f"only 'synthetic' is embedded")
    if kind == "casme2":
        from .casme2 import load_casme2

        return load_casme2(root, **opts)
    if kind == "samm_lv":
        from .samm import load_samm_lv

        return load_samm_lv(root, **opts)
    if kind in ("megc2022_cas", "megc2022_samm"):
        from .megc2022 import load_megc2022

        return load_megc2022(root, kind, **opts)
    if kind == "video":
        from .video import load_plain

        return load_plain(root, **opts)
    raise ValueError(f"unknown data set kind {kind!r}; choose one of {KINDS}")
