"""Papermill sweeps: run one notebook over a parameter grid and gather the tables it wrote.

Each grid point runs the notebook with papermill into its own folder (the executed notebook and
the notebook's figures/tables, written there through its ``figures`` parameter); a point whose
executed notebook already exists is skipped, so an interrupted sweep resumes. The gathered table
has one row per (grid point, table row).

A swept name is either a parameter of the notebook's ``parameters`` cell or a profile setting
(``spot.t``, or just ``t`` when one section has it), which reaches the notebook through its
``settings`` parameter (:func:`slswin_lib.config.resolve_profile`), the one path by which profile
values are overridden.

Example (t sweep of the released-predictions notebook)::

    python -m slswin_lib sweep notebooks/09_released_predictions.ipynb --param t=0.5,0.6,0.7 \\
        --table 09_released_counts --out runs/sweeps/t
"""
from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from .io import atomic_path

__all__ = ["grid_points", "run_sweep", "parse_values", "setting_path", "notebook_parameters"]


def parse_values(text: str) -> list[Any]:
    """``"0.5,0.6"`` -> ``[0.5, 0.6]``; integers, floats, ``None``, ``true/false`` and strings."""
    out: list[Any] = []
    for item in text.split(","):
        item = item.strip()
        low = item.lower()
        if low in ("none", "null"):
            out.append(None)
        elif low in ("true", "false"):
            out.append(low == "true")
        else:
            for cast in (int, float):
                try:
                    out.append(cast(item))
                    break
                except ValueError:
                    continue
            else:
                out.append(item)
    return out


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, in order (the last parameter varies fastest)."""
    names = list(grid)
    return [dict(zip(names, values)) for values in itertools.product(*(grid[n] for n in names))]


def setting_path(name: str) -> tuple[str, str]:
    """``(section, field)`` of a profile setting named ``"section.field"`` or just ``"field"``.

    >>> setting_path("t"), setting_path("train.lr")
    (('spot', 't'), ('train', 'lr'))
    """
    import dataclasses

    from .config import Profile

    sections = {f.name: f.type for f in dataclasses.fields(Profile) if f.name != "name"}
    fields = {sec: {f.name for f in dataclasses.fields(getattr(Profile("x"), sec))} for sec in sections}
    section, _, field = name.rpartition(".")
    candidates = [sec for sec in fields if field in fields[sec] and (not section or sec == section)]
    if len(candidates) != 1:
        where = "no section" if not candidates else f"sections {candidates} (write section.{field})"
        raise ValueError(f"{name!r} is neither a notebook parameter nor a unique profile setting: {where} "
                         f"has it; profile sections: {sorted(fields)}")
    return candidates[0], field


def notebook_parameters(notebook: str | os.PathLike) -> set[str]:
    """Names assigned in the notebook's ``parameters`` cell."""
    import papermill as pm

    return set(pm.inspect_notebook(str(notebook)))


def _as_notebook_parameters(values: Mapping[str, Any], accepted: set[str]) -> dict[str, Any]:
    """Notebook parameters as they are; profile settings gathered into ``settings``."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name in accepted:
            out[name] = value
            continue
        section, field = setting_path(name)
        if "settings" not in accepted:
            raise ValueError(f"the notebook has no parameter {name!r} and no 'settings' parameter for profile values")
        out.setdefault("settings", {}).setdefault(section, {})[field] = value
    return out


def _label(point: Mapping[str, Any]) -> str:
    return "_".join(f"{k}-{v}" for k, v in point.items()).replace("/", "-") or "default"


def run_sweep(notebook: str | os.PathLike, grid: Mapping[str, Sequence[Any]], out_dir: str | os.PathLike, *,
              tables: Sequence[str], parameters: Mapping[str, Any] | None = None, progress: bool = True
              ) -> pd.DataFrame:
    """Run ``notebook`` at every grid point and gather the named tables (``<stem>.csv``).

    Args:
        notebook: the notebook to run (its ``parameters`` cell takes the grid's names).
        grid: parameter -> values.
        out_dir: one sub-folder per grid point holds the executed notebook and its tables.
        tables: stems of the CSV tables to gather (e.g. ``"09_released_counts"``).
        parameters: fixed parameters for every point (e.g. ``{"profile": "smoke"}``).

    Returns:
        The gathered tables, with the grid's parameters and the table stem as leading columns.
    """
    import papermill as pm
    from tqdm.auto import tqdm

    notebook = Path(notebook).resolve()
    accepted = notebook_parameters(notebook)
    for name in [*grid, *(parameters or {})]:
        if name not in accepted:
            setting_path(name)  # refuse an unknown name before running anything
    out = Path(out_dir)
    frames = []
    for point in tqdm(grid_points(grid), desc=f"sweep {notebook.stem}", unit="run", disable=not progress):
        folder = (out / _label(point)).resolve()
        executed = folder / notebook.name
        if not executed.exists():
            folder.mkdir(parents=True, exist_ok=True)
            with atomic_path(executed) as tmp:
                pm.execute_notebook(str(notebook), str(tmp), cwd=str(notebook.parent), progress_bar=False,
                                    parameters={**_as_notebook_parameters({**(parameters or {}), **point}, accepted),
                                                "figures": str(folder)})
        for stem in tables:
            path = folder / f"{stem}.csv"
            if not path.exists():
                raise FileNotFoundError(f"{notebook.name} at {point} wrote no table {stem}.csv into {folder}")
            df = pd.read_csv(path)
            frames.append(df.assign(**{k: [v] * len(df) for k, v in point.items()}, table=stem))
    gathered = pd.concat(frames, ignore_index=True)
    lead = [*grid, "table"]
    return gathered[lead + [c for c in gathered.columns if c not in lead]]
