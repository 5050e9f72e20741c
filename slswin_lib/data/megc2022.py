"""The unseen MEGC 2022 test set (no ground truth).

* ``megc2022_cas``: 5 clips from CAS(ME)^3, 30 fps;
* ``megc2022_samm``: 5 SAMM Challenge videos, 200 fps.

``ROOT`` holds one entry per test video: a folder of jpg/png frames (e.g. ``CAS_Test/<vid>/``)
or a video file. The entry name is the video's ``name`` (the ``vid`` column of the submission
files ``cas_pred.csv`` / ``samm_pred.csv``); ``subject`` is the part before the first ``_``.
An unreadable entry is skipped with a warning naming it.
"""
from __future__ import annotations

from pathlib import Path

from .base import Dataset
from .video import load_plain

__all__ = ["MEGC2022_FPS", "load_megc2022"]

MEGC2022_FPS = {"megc2022_cas": 30.0, "megc2022_samm": 200.0}


def load_megc2022(root: str | Path, kind: str = "megc2022_cas", fps: float | None = None) -> Dataset:
    """Read one half of the MEGC 2022 test set; ``kind`` is ``megc2022_cas`` or ``megc2022_samm``."""
    if kind not in MEGC2022_FPS:
        raise ValueError(f"unknown MEGC 2022 part {kind!r}; choose one of {sorted(MEGC2022_FPS)}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a folder of MEGC 2022 test videos")
    ds = load_plain(root, fps=fps or MEGC2022_FPS[kind], dataset=kind)
    for v in ds.videos:
        vid = v.name
        subject, _, rest = vid.partition("_")
        v.subject, v.video_id = subject, rest or "1"
        v.name = vid
        v.events = []
    return ds
