"""Short clips cut from a data set's videos: how well :func:`~slswin_lib.deploy.spot_report` spots them.

A user's own clip is often a few seconds long and its expression may start in the first frames or
run past the end. :func:`cut_clips` cuts such clips (:data:`CLIP_SECONDS` long) around the annotated
events of a data set, in three placements per event:

* ``middle``: the event centred in the clip;
* ``start``: the event's onset within the clip's first k frames (k of the event's type: the paper's
  CAS(ME)^2 k, :data:`~slswin_lib.deploy.BASELINE_K`, rescaled to the video's frame rate);
* ``end``: the clip ends inside the event (it runs past the end; 25-50 % of it is cut off).

Every event of the source video that overlaps a clip is a ground truth of that clip, clipped to the
clip's frames. :func:`short_clip_table` scores each clip once and spots it under the four
combinations of the short-clip rules (:data:`CLIP_SETTINGS`, see :mod:`slswin_lib.deploy.spot`),
then matches the reported intervals per type with :func:`slswin_lib.evaluation.match_video`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import Profile, check_choice, resolve_profile
from .checkpoint import EXPRESSION_TYPES, rescale_k
from .spot import BASELINE_FPS, BASELINE_K, respot, spot_report

__all__ = ["CLIP_SECONDS", "PLACEMENTS", "CLIP_SETTINGS", "Clip", "cut_clips", "short_clip_table"]

#: shortest and longest clip, seconds
CLIP_SECONDS = (2.0, 4.0)
#: where the event lies in its clip (module docs)
PLACEMENTS = ("middle", "start", "end")
#: fraction of an ``end`` clip's event that lies past the clip's end: drawn from this range
END_CUT = (0.25, 0.5)
#: setting name -> (edges, keep_overlaps) of :func:`~slswin_lib.deploy.spot_report`
CLIP_SETTINGS: dict[str, tuple[str, bool]] = {
    "paper rules (no edge maxima, both labels)": ("paper", True),
    "edge maxima": ("include", True),
    "one label": ("paper", False),
    "edge maxima + one label (spot default)": ("include", False),
}


@dataclass
class Clip:
    """One cut clip.

    Attributes:
        video: an :class:`~slswin_lib.features.tracking.ArrayVideo` of the clip's frames.
        source: key of the source video; ``start``, ``stop``: its frames ``[start, stop)``.
        placement: one of :data:`PLACEMENTS`; ``expression``: the type of the event it was cut around.
        gt: DataFrame (type, onset, offset) of the events overlapping the clip, in clip frames (inclusive,
            clipped to ``[0, stop - start - 1]``).
    """

    video: object
    source: str
    start: int
    stop: int
    placement: str
    expression: str
    gt: pd.DataFrame


def _window(placement: str, onset: int, offset: int, length: int, k: int, rng) -> int:
    """First frame of a clip of ``length`` frames placing event ``[onset, offset]`` as ``placement`` says."""
    if placement == "middle":
        return (onset + offset + 1) // 2 - length // 2
    if placement == "start":
        return onset - int(rng.integers(0, k))
    cut = int(round(rng.uniform(*END_CUT) * (offset - onset + 1)))
    return offset - cut + 1 - length


def cut_clips(ds, *, per_placement: int = 4, seed: int = 0) -> list[Clip]:
    """Cut short clips around the events of ``ds`` (module docs).

    For each type and placement, events are drawn in a seeded random order and the first
    ``per_placement`` whose clip fits inside its video are cut (an event may serve several placements).

    Args:
        ds: a :mod:`slswin_lib.data` data set (videos with ``fps``, ``n_frames``, ``frames(a, b)`` and
            ``events`` with onset/offset/type).
        per_placement: clips per type and placement.
        seed: seed of the event order, the clip lengths and offsets.

    Returns:
        ``2 * len(PLACEMENTS) * per_placement`` clips at most (fewer when a type has too few events).
    """
    from ..features.tracking import ArrayVideo

    rng = np.random.default_rng(seed)
    clips: list[Clip] = []
    for e in EXPRESSION_TYPES:
        events = [(v, ev) for v in ds.videos for ev in v.events if ev.type == e]
        for placement in PLACEMENTS:
            taken = 0
            for i in rng.permutation(len(events)):
                if taken == per_placement:
                    break
                v, ev = events[i]
                fps = float(v.fps)
                length = int(round(rng.uniform(*CLIP_SECONDS) * fps))
                k = rescale_k(BASELINE_K[e], fps, BASELINE_FPS)
                start = _window(placement, ev.onset, ev.offset, length, k, rng)
                if start < 0 or start + length > v.n_frames or ev.onset >= start + length:
                    continue
                stop = start + length
                gt = pd.DataFrame([{"type": o.type, "onset": max(o.onset, start) - start,
                                    "offset": min(o.offset, stop - 1) - start}
                                   for o in v.events if o.offset >= start and o.onset < stop],
                                  columns=["type", "onset", "offset"])
                key = f"clip_{v.key}_{start}_{stop}"
                clips.append(Clip(ArrayVideo(key, list(v.frames(start, stop)), fps), v.key, start, stop,
                                  placement, e, gt))
                taken += 1
    return clips


def short_clip_table(ds, profile: str | Profile = "quick", *, me: str | os.PathLike | None = None,
                     mae: str | os.PathLike | None = None, scorer: str | dict[str, str] | None = None,
                     spotters: str | os.PathLike | None = None, per_placement: int = 4, seed: int = 0,
                     mode: str = "megc", progress: bool = False) -> pd.DataFrame:
    """Recall, precision and F1 of :func:`spot_report` on short clips, with and without the short-clip rules.

    Each clip of :func:`cut_clips` is scored once (features cached under the slswin cache) and spotted
    under every setting of :data:`CLIP_SETTINGS`; per type the reported intervals are matched with the
    clip's ground truths of that type (:func:`slswin_lib.evaluation.match_video`, ``mode`` matching:
    ``"megc"`` = IoU >= 0.5, maximum matching; a clip without a spotted interval adds no false positive).

    Args:
        ds: the data set to cut from (e.g. ``experiment.open_dataset("quick")``).
        profile: feature settings of the training-free scorers.
        me, mae: spotter checkpoints (:func:`~slswin_lib.deploy.export_spotter`); when given, only their
            types are spotted, with them.
        scorer, spotters: without checkpoints, each type's scorer is :func:`spot_report`'s choice from the
            spotters folder ``spotters`` (default the last run's; ``scorer`` forces one).
        per_placement, seed: see :func:`cut_clips`.
        mode: ``"megc"`` or ``"authors"`` matching.

    Returns:
        One row per setting and type (``me``, ``mae``, ``overall``) with columns setting, edges,
        keep_overlaps, type, scorer, clips, TP, FP, FN, precision, recall, F1 and the recall on the clips of
        each placement (``recall <placement>``).

    Raises:
        ValueError: ``mode`` is not a matching mode, or the data set yields no clip.
    """
    from ..evaluation import MODES, Counts, match_video

    check_choice("short_clip_table mode", mode, MODES)
    profile = resolve_profile(profile)
    clips = cut_clips(ds, per_placement=per_placement, seed=seed)
    if not clips:
        raise ValueError("no clip could be cut from the data set: its videos are shorter than "
                         f"{CLIP_SECONDS[0]} s or hold no events")
    counts: dict[tuple[str, str, str], Counts] = {}
    who: dict[str, str] = {}
    for clip in clips:
        report = spot_report(clip.video, me=me, mae=mae, scorer=scorer, spotters=spotters, profile=profile,
                             progress=progress)
        who.update({e: ts.who for e, ts in report.types.items()})
        for name, (edges, keep) in CLIP_SETTINGS.items():
            table = respot(report, edges=edges, keep_overlaps=keep).table
            for e in report.types:
                pred = table.loc[table["type"] == e, ["pred_onset", "pred_offset"]].to_numpy(np.int64)
                gt = clip.gt.loc[clip.gt["type"] == e, ["onset", "offset"]].to_numpy(np.int64)
                c, _ = match_video(pred, gt, mode, video=clip.video.key)
                for key in ((name, e, clip.placement), (name, e, "all")):
                    counts[key] = counts.get(key, Counts()) + c
    rows = []
    for name, (edges, keep) in CLIP_SETTINGS.items():
        for e in [*who, "overall"]:
            types = list(who) if e == "overall" else [e]

            def pooled(placement: str) -> Counts:
                return sum((counts.get((name, x, placement), Counts()) for x in types), Counts())

            total = pooled("all")
            row = {"setting": name, "edges": edges, "keep_overlaps": keep, "type": e,
                   "scorer": ", ".join(sorted({who[x] for x in types})), "clips": len(clips),
                   "TP": total.tp, "FP": total.fp, "FN": total.fn, "precision": total.precision,
                   "recall": total.recall, "F1": total.f1}
            row.update({f"recall {p}": pooled(p).recall for p in PLACEMENTS})
            rows.append(row)
    table = pd.DataFrame(rows)
    table.attrs.update(mode=mode, n_clips=len(clips), profile=profile.name,
                       placements={p: sum(c.placement == p for c in clips) for p in PLACEMENTS})
    return table
