"""Run folders and what they record: manifests, per-fold records, finding a run again.

Layout under ``work_dir(profile)`` (``$SLSWIN_WORK`` or ``<repo>/runs/<profile>``)::

    runs/<dataset>/<tag>/<expression>/         one protocol run (a score set + manifest.json)
        fold_<subject>/fold.json               one LOSO fold's record (written by experiment.folds)
        fold_<subject>/checkpoint.pt           its training checkpoint (resume; the weights once done;
                                               an ablation fold deletes it once its scores are written)
        fold_<subject>/scores.npz              its held-out scores (written last: the done mark)

The tag names the model, the labels and the :func:`~slswin_lib.config.run_digest` of the settings,
so a changed setting never reuses a stale run.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import Profile, run_digest
from ..io import atomic_write_json, repo_root, work_dir

__all__ = ["run_folder", "git_commit", "run_manifest", "FOLD_RECORD", "write_fold_record", "read_fold_record",
           "read_folds", "fold_times", "notebook_time_split", "time_split_summary", "time_split_markdown", "NOTEBOOK_TIMES", "STAGE_LOG",
           "RUN_FACTS", "run_profile", "find_loso_run"]

#: file name of a fold's record inside its folder
FOLD_RECORD = "fold.json"


def run_folder(profile: Profile, dataset: str, *parts: str) -> Path:
    """``work_dir(profile.name)/runs/<dataset>/<parts...>`` (created) of a resolved profile."""
    return work_dir(profile.name, "runs", dataset, *parts)


def git_commit() -> str | None:
    """The commit of the checkout this package runs from (None outside a git checkout)."""
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo_root(), capture_output=True,
                              text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def run_manifest(**facts: Any) -> dict[str, Any]:
    """Facts that identify a run: versions, git commit, machine, plus the given ones."""
    import timm
    import torch

    from .. import __version__

    return {"slswin": __version__, "git_commit": git_commit(), "torch": torch.__version__,
            "timm": timm.__version__, "numpy": np.__version__, "python": platform.python_version(),
            "machine": platform.machine(), "cuda": torch.cuda.is_available(),
            "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **facts}


def write_fold_record(fold_dir: str | os.PathLike, record: dict[str, Any]) -> Path:
    """Write a fold's record (identity digest, training history, sizes, seconds) atomically."""
    return atomic_write_json(Path(fold_dir) / FOLD_RECORD, record)


def read_fold_record(fold_dir: str | os.PathLike) -> dict[str, Any]:
    """A fold's record as written by :func:`write_fold_record`."""
    return json.loads((Path(fold_dir) / FOLD_RECORD).read_text())


def read_folds(run_dir: str | os.PathLike) -> tuple[pd.DataFrame, dict[str, dict[str, Any]]]:
    """Per-fold facts of a LOSO run folder: sizes, the split of its wall time, losses.

    Returns:
        A DataFrame with one row per fold (fold, n_train, n_train_positive, n_test, steps,
        label_variance, final_loss (mean training loss of the last tenth of the steps), the seconds
        of data preparation, optimiser steps, held-out loss measurement and prediction, and
        ``step_share``, the share of the fold's time spent in optimiser steps) and a dict fold -> its
        training history (``step_loss``, ``val_step``, ``val_loss``, per-epoch ``loss``, ...).
    """
    rows, histories = [], {}
    for path in sorted(Path(run_dir).glob(f"fold_*/{FOLD_RECORD}")):
        info = read_fold_record(path.parent)
        fold = path.parent.name.removeprefix("fold_")
        histories[fold] = info["history"]
        rows.append({"fold": fold, **_fold_facts(info)})
    return pd.DataFrame(rows), histories


def _fold_facts(info: dict[str, Any]) -> dict[str, Any]:
    """One fold record's sizes, final loss and the split of its time (a row of :func:`read_folds`)."""
    history = info["history"]
    steps = history.get("step_loss") or history["loss"]
    tail = steps[-max(1, len(steps) // 10):] if steps else [float("nan")]
    val = float(info.get("val_seconds", 0.0))
    optimiser = info["train_seconds"] - val
    total = info.get("prepare_seconds", 0.0) + info["train_seconds"] + info["predict_seconds"]
    return {"n_train": info["n_train"], "n_train_positive": info["n_train_positive"],
            "n_test": info["n_test"], "steps": info.get("steps", len(steps)),
            "label_variance": info.get("label_variance", float("nan")), "final_loss": float(np.mean(tail)),
            "prepare_seconds": info.get("prepare_seconds", float("nan")), "optimiser_seconds": optimiser,
            "val_seconds": val, "predict_seconds": info["predict_seconds"],
            "step_share": optimiser / total if total > 0 else float("nan")}


#: name of the file in which ``./run_all.sh`` records each notebook's name, seconds and start (epoch s)
NOTEBOOK_TIMES = "notebook_times.tsv"


def fold_times(root: str | os.PathLike) -> pd.DataFrame:
    """Every fold trained under ``root`` (any depth): when it finished and where its time went.

    Returns:
        One row per fold record: ``run`` (its run folder relative to ``root``), ``fold``, ``finished``
        (epoch seconds; the record's modification time for records that lack it) and the columns of
        :func:`read_folds`, plus ``fold_seconds`` (preparation + training + prediction).
    """
    root = Path(root)
    rows = []
    for path in sorted(root.rglob(FOLD_RECORD)):
        info = json.loads(path.read_text())
        facts = _fold_facts(info)
        rows.append({"run": str(path.parent.parent.relative_to(root)), "fold": path.parent.name.removeprefix("fold_"),
                     "finished": float(info.get("finished", path.stat().st_mtime)), **facts,
                     "fold_seconds": facts["prepare_seconds"] + facts["optimiser_seconds"] + facts["val_seconds"]
                     + facts["predict_seconds"]})
    return pd.DataFrame(rows, columns=["run", "fold", "finished", "n_train", "n_train_positive", "n_test", "steps",
                                       "label_variance", "final_loss", "prepare_seconds", "optimiser_seconds",
                                       "val_seconds", "predict_seconds", "step_share", "fold_seconds"])


#: the stage log ``./run_all.sh`` has the notebooks append to (:mod:`slswin_lib.timing`)
STAGE_LOG = "stage_times.jsonl"
#: the file ``./run_all.sh`` writes at the start of a run: its profile, data set and command line
RUN_FACTS = "run_all.json"


def run_profile(work: str | os.PathLike) -> str | None:
    """The profile of the ``./run_all.sh`` run in ``work`` (from its ``run_all.json``), or None."""
    path = Path(work) / RUN_FACTS
    if not path.exists():
        return None
    return json.loads(path.read_text()).get("profile")


def _kernel_seconds(notebook: Path) -> float | None:
    """Seconds papermill spent executing ``notebook`` (kernel launch and every cell), from the executed
    copy's metadata; None when there is no executed copy or it lacks the duration."""
    if not notebook.exists():
        return None
    try:
        meta = json.loads(notebook.read_text()).get("metadata", {}).get("papermill", {})
    except (OSError, ValueError):
        return None
    duration = meta.get("duration")
    return float(duration) if duration is not None else None


def notebook_time_split(work: str | os.PathLike) -> pd.DataFrame:
    """Where each notebook's wall time went in a ``./run_all.sh`` run, by named stage.

    Reads ``work/notebook_times.tsv`` (each notebook's start and wall seconds, written by
    ``./run_all.sh``), ``work/stage_times.jsonl`` (the stages timed inside the notebooks,
    :mod:`slswin_lib.timing`; a line belongs to the notebook that was running when it was written)
    and the executed notebooks in ``work/notebooks/`` (papermill's duration of the kernel's run).

    Returns:
        One row per notebook run: ``seconds`` (its wall time), one column per stage of
        :data:`slswin_lib.timing.STAGES`, ``other`` (the kernel's time outside every named stage:
        the kernel's launch, imports, loading data, printing) and ``notebook start-up`` (papermill's
        own start-up and the executed copy's write-out: wall time outside the kernel's run). The
        columns add up to ``seconds``. ``other`` is negative only if stages were counted twice.

    Raises:
        ValueError: the times file has no start column (written by an older ``./run_all.sh``).
    """
    from ..timing import OTHER, STAGES, START_UP

    work = Path(work)
    # lines of an older ./run_all.sh (name and seconds only, e.g. before a --from rerun) have no start
    table = pd.read_csv(work / NOTEBOOK_TIMES, sep="\t", header=None, names=["notebook", "seconds", "start"])
    table = table.dropna(subset=["start"]).reset_index(drop=True)
    if table.empty:
        raise ValueError(f"{work / NOTEBOOK_TIMES} has no start times (a run of an older ./run_all.sh); "
                         "run the notebooks again with ./run_all.sh")
    log = work / STAGE_LOG
    lines = pd.read_json(log, lines=True) if log.exists() and log.stat().st_size else pd.DataFrame(
        columns=["notebook", "stage", "seconds", "end"])
    rows = []
    for nb in table.itertuples(index=False):
        start, wall = float(nb.start), float(nb.seconds)
        mine = lines[(lines["end"] >= start) & (lines["end"] <= start + wall + 1.0)]
        by_stage = mine.groupby("stage")["seconds"].sum()
        row = {"notebook": nb.notebook, "seconds": wall, **{name: float(by_stage.get(name, 0.0)) for name in STAGES}}
        kernel = _kernel_seconds(work / "notebooks" / f"{nb.notebook}.ipynb")
        kernel = wall if kernel is None else min(kernel, wall)
        row[OTHER] = kernel - sum(row[name] for name in STAGES)
        row[START_UP] = wall - kernel
        rows.append(row)
    return pd.DataFrame(rows).set_index("notebook")


def time_split_summary(split: pd.DataFrame) -> pd.DataFrame:
    """The run's seconds per stage (summed over its notebooks) and each stage's share of the run,
    largest first; ``split`` is :func:`notebook_time_split`'s table."""
    seconds = split.drop(columns="seconds").sum().sort_values(ascending=False)
    total = float(split["seconds"].sum())
    return pd.DataFrame({"seconds": seconds, "share": seconds / total if total else float("nan")})


def time_split_markdown(split: pd.DataFrame, *, top: int = 3) -> str:
    """Two Markdown tables of a run's time split (:func:`notebook_time_split`): each notebook's wall
    time with its ``top`` largest stages, and the run's seconds and share per stage."""
    rows = []
    for notebook, r in split.iterrows():
        stages = r.drop("seconds").sort_values(ascending=False)
        stages = stages[stages >= 0.5].head(top)
        rows.append({"notebook": notebook, "seconds": f"{r['seconds']:,.0f}",
                     "largest stages (s)": ", ".join(f"{name} {s:,.0f}" for name, s in stages.items())})
    total = float(split["seconds"].sum())
    rows.append({"notebook": "**all**", "seconds": f"**{total:,.0f}** ({total / 60:.1f} min)", "largest stages (s)": ""})
    summary = time_split_summary(split)
    summary = summary[summary["seconds"] >= 0.5]
    per_stage = pd.DataFrame({"stage": summary.index, "seconds": [f"{s:,.0f}" for s in summary["seconds"]],
                              "share": [f"{x:.1%}" for x in summary["share"]]})
    return (pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True) + "\n\n"
            + per_stage.to_markdown(index=False, disable_numparse=True))


def find_loso_run(p: Profile, es) -> Path | None:
    """The newest full-LOSO run folder of ``p``'s model and labelling (``p.model.name``,
    ``p.train.labelling``) on this expression set, k and feature settings.

    The feature settings are compared by their :func:`~slswin_lib.config.run_digest`, as everywhere
    else, so a run made with other runtime-only settings (:data:`~slswin_lib.config.RUNTIME_ONLY`:
    workers, devices, batch sizes) is found.

    Args:
        p: the resolved profile (its name gives the run folders, its features the settings to match).
        es: the :class:`~slswin_lib.experiment.ExpressionSet` the run was trained on.

    Returns:
        The run folder (holding ``scores.npz``, ``videos.csv``, ``gt.csv``, ``manifest.json``), or
        None when no finished run matches.
    """
    model_name, labelling = p.model.name, p.train.labelling
    features = run_digest(p.features)
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
                and run_digest(prof.get("features")) == features
                and (manifest.parent / "scores.npz").exists()):
            found.append((str(m.get("written", "")), manifest.parent))
    return max(found)[1] if found else None
