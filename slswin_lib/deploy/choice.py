"""Which method ``spot`` uses for each expression type: the best it has, by the benchmark's nested-LOSO F1.

A run keeps what ``spot`` needs in one stable folder, ``work_dir(profile)/spotters`` (``runs/<profile>/spotters``,
or ``$SLSWIN_WORK/spotters``):

* ``ranking.csv``: written by notebook 05 (:func:`write_ranking`): per method of Table 2 and type, its
  F1 with t (or, for the optical-flow spotter, its sensitivity) chosen by nested leave-one-subject-out
  selection, with the 95 % interval, and for the training-free methods the setting to deploy (chosen the
  same way on every subject);
* ``<scorer>/spotter_me.pt``, ``<scorer>/spotter_mae.pt``: the trained spotters, exported by notebook 11
  (:func:`spotter_path`; ``<scorer>`` is the model's name, e.g. ``sl_swin_tiny_patch6_window7_42``,
  ``softnet``).

For each type, :func:`choose` ranks every method it has (the training-free ones always, a trained one
when its spotter file exists) by that F1 and takes the best; a trained spotter whose F1 is below the
training-free baseline's is never chosen, and ties go to a training-free method. Without a ranking
(no run yet) it takes the optical-flow spotter at its source's settings. ``spot --scorer NAME`` forces
one. The choice and its reason go into ``intervals.json``.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import pandas as pd

__all__ = ["SPOTTERS", "RANKING", "TRAINING_FREE", "best_t", "spotters_dir", "spotter_path", "write_ranking", "read_ranking",
           "last_run_spotters", "available_scorers", "Choice", "choose", "choice_table"]

#: the folder of a run's spotters and ranking, under its work dir
SPOTTERS = "spotters"
#: the ranking's file name in that folder
RANKING = "ranking.csv"
#: the training-free scorers, in the order ties are broken
TRAINING_FREE = ("of_spotter", "baseline")
_COLUMNS = ["method", "scorer", "kind", "type", "F1", "F1 low", "F1 high", "matching", "threshold", "setting",
            "deploy", "profile", "written"]


def best_t(scores, spot_cfg) -> tuple[float, float]:
    """``(t, F1)``: the t of ``spot_cfg.t_grid`` with the best F1 pooled over every video of a score set
    (``spot_cfg.mode`` matching; ties: the smallest t): the nested selection with every subject a training
    subject, the t to deploy."""
    import numpy as np

    from ..scores import t_sweep

    sweep = t_sweep(scores, spot_cfg.t_grid, spot_cfg.mode)
    best = sweep.iloc[int(np.argmax(sweep["F1"].to_numpy()))]
    return float(best["t"]), float(best["F1"])


def spotters_dir(profile: str) -> Path:
    """``work_dir(profile)/spotters`` (created): where a run's ranking and exported spotters live."""
    from ..io import work_dir

    return work_dir(profile, SPOTTERS)


def spotter_path(folder: str | os.PathLike, scorer: str, expression: str) -> Path:
    """``<folder>/<scorer>/spotter_<expression>.pt``: where notebook 11 exports a trained spotter."""
    return Path(folder) / scorer / f"spotter_{expression}.pt"


def write_ranking(table: pd.DataFrame, profile, scorers: Mapping[str, str], *,
                  deploy: Mapping[tuple[str, str], float] | None = None, folder: str | os.PathLike | None = None
                  ) -> Path:
    """Write ``ranking.csv`` from Table 2 (notebook 05).

    Args:
        table: Table 2 (:func:`slswin_lib.report.megc2021_table` rows, and the optical-flow spotter's of
            :func:`slswin_lib.trainfree.benchmark.of_table`), indexed by (method, threshold, matching, type).
        profile: the run's :class:`~slswin_lib.config.Profile` (its ``spot.mode``: the nested rows' matching).
        scorers: Table 2 method label -> scorer name (``"baseline"``, ``"of_spotter"``, a model name).
        deploy: (scorer, type) -> the setting a training-free scorer deploys with (t, sensitivity).
        folder: default :func:`spotters_dir` of the profile.

    Returns:
        The written file.
    """
    from ..io import atomic_path

    rows = []
    for (method, threshold, matching, e), row in table.iterrows():
        if e == "overall" or method not in scorers or matching != profile.spot.mode or not threshold.startswith(
                "nested LOSO"):
            continue
        scorer = scorers[method]
        rows.append({"method": method, "scorer": scorer, "kind": "training-free" if scorer in TRAINING_FREE
                     else "trained", "type": e, "F1": row["F1"], "F1 low": row["F1 low"], "F1 high": row["F1 high"],
                     "matching": matching, "threshold": threshold,
                     "setting": "sensitivity" if scorer == "of_spotter" else "t",
                     "deploy": (deploy or {}).get((scorer, e)), "profile": profile.name,
                     "written": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    target = Path(folder) if folder is not None else spotters_dir(profile.name)
    target.mkdir(parents=True, exist_ok=True)
    with atomic_path(target / RANKING) as tmp:
        pd.DataFrame(rows, columns=_COLUMNS).to_csv(tmp, index=False)
    return target / RANKING


def read_ranking(folder: str | os.PathLike | None) -> pd.DataFrame | None:
    """The ranking of a spotters folder, or None when it has none."""
    if folder is None or not (Path(folder) / RANKING).is_file():
        return None
    return pd.read_csv(Path(folder) / RANKING)


def last_run_spotters() -> Path | None:
    """The spotters folder of the most recent run: ``$SLSWIN_WORK/spotters`` when that variable is set,
    else the newest ``runs/<profile>/spotters`` of this checkout (by its ranking's or spotters' time);
    None when no run has written one."""
    from ..io import repo_root

    if os.environ.get("SLSWIN_WORK"):
        folders = [Path(os.environ["SLSWIN_WORK"]).expanduser() / SPOTTERS]
    else:
        folders = sorted((repo_root() / "runs").glob(f"*/{SPOTTERS}"))

    def written(folder: Path) -> float:
        files = [folder / RANKING, *folder.glob("*/spotter_*.pt")]
        return max((f.stat().st_mtime for f in files if f.is_file()), default=-1.0)

    folders = [f for f in folders if written(f) >= 0]
    return max(folders, key=written) if folders else None


def available_scorers(folder: str | os.PathLike | None, expression: str) -> list[str]:
    """The scorers ``spot`` has for ``expression``: the training-free ones and every exported spotter."""
    trained = []
    if folder is not None:
        trained = sorted(p.parent.name for p in Path(folder).glob(f"*/spotter_{expression}.pt"))
    return [*TRAINING_FREE, *trained]


@dataclass
class Choice:
    """The scorer of one type and why (the ``choice`` entry of ``intervals.json``).

    Attributes:
        scorer: a training-free name (:data:`TRAINING_FREE`) or a model name.
        checkpoint: the spotter file of a trained scorer (None for a training-free one).
        deploy: a training-free scorer's setting (t of the baseline, sensitivity of the optical-flow
            spotter) from the ranking; None: its default.
        reason: one sentence.
        candidates: every scorer considered, with its F1 and interval when ranked.
    """

    expression: str
    scorer: str
    checkpoint: Path | None
    deploy: float | None
    reason: str
    candidates: list[dict] = field(default_factory=list)
    folder: str | None = None

    def as_dict(self) -> dict:
        return {"scorer": self.scorer, "checkpoint": None if self.checkpoint is None else str(self.checkpoint),
                "deploy": self.deploy, "reason": self.reason, "candidates": self.candidates, "spotters": self.folder}


def _f1(row) -> str:
    return f"{row['F1']:.3f} [{row['F1 low']:.3f}, {row['F1 high']:.3f}]"


def choose(expression: str, folder: str | os.PathLike | None, forced: str | None = None) -> Choice:
    """The scorer ``spot`` uses for ``expression`` (module docs).

    Args:
        folder: a spotters folder (:func:`last_run_spotters`, :func:`spotters_dir`); None: no run.
        forced: a scorer name that overrides the ranking (``spot --scorer``).

    Raises:
        ValueError: ``forced`` is not among the scorers available for the type (the message lists them).
    """
    names = available_scorers(folder, expression)
    ranking = read_ranking(folder)
    ranked = {}
    if ranking is not None:
        for _, row in ranking[ranking["type"] == expression].iterrows():
            if row["scorer"] in names:
                ranked[row["scorer"]] = row
    candidates = [{"scorer": s, "kind": "training-free" if s in TRAINING_FREE else "trained",
                   **({"method": ranked[s]["method"], "F1": float(ranked[s]["F1"]), "F1 low": float(ranked[s]["F1 low"]),
                       "F1 high": float(ranked[s]["F1 high"])} if s in ranked else {})} for s in names]
    where = str(folder) if folder is not None else None

    def made(scorer: str, reason: str) -> Choice:
        checkpoint = None if scorer in TRAINING_FREE else spotter_path(folder, scorer, expression)
        row = ranked.get(scorer)
        deploy = None if row is None or pd.isna(row["deploy"]) else float(row["deploy"])
        return Choice(expression, scorer, checkpoint, deploy, reason, candidates, where)

    if forced is not None:
        if forced not in names:
            raise ValueError(f"--scorer {forced!r} is not available for {expression.upper()}; choose one of {names} "
                             f"(trained spotters from {folder or 'no run'}: notebook 11 exports them)")
        return made(forced, f"forced (--scorer {forced})")
    if not ranked:
        why = (f"no benchmark ranking in {folder}" if folder is not None else "no run found (runs/<profile>/spotters)")
        return made("of_spotter", f"{why}: the training-free optical-flow spotter at its source's settings "
                                  "(notebook 05 ranks the methods, notebook 11 exports trained spotters)")
    floor = ranked.get("baseline")
    below = [s for s in ranked if s not in TRAINING_FREE and floor is not None and ranked[s]["F1"] < floor["F1"]]
    eligible = [s for s in names if s in ranked and s not in below]
    order = {s: i for i, s in enumerate(names)}
    best = max(eligible, key=lambda s: (ranked[s]["F1"], -order[s]))
    row = ranked[best]
    others = "; ".join(f"{s} {_f1(ranked[s])}" for s in eligible if s != best)
    reason = (f"the best nested-LOSO {expression.upper()} F1 on the benchmark ({row['method']}: {_f1(row)}, "
              f"{row['matching']} matching, profile {row['profile']})" + (f" ahead of {others}" if others else ""))
    if below:
        reason += "; below the training-free baseline and never the default: " + ", ".join(
            f"{s} {_f1(ranked[s])}" for s in below)
    unranked = [s for s in names if s not in ranked]
    if unranked:
        reason += f"; not ranked (no Table 2 row): {', '.join(unranked)}"
    return made(best, reason)


def choice_table(folder: str | os.PathLike | None) -> pd.DataFrame:
    """Per type, every candidate with its F1 and whether ``spot`` takes it by default (for notebook 11)."""
    rows = []
    for e in ("me", "mae"):
        c = choose(e, folder)
        for cand in c.candidates:
            rows.append({"type": e, **cand, "default": cand["scorer"] == c.scorer})
    return pd.DataFrame(rows)
