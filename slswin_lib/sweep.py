"""Papermill sweeps: run one notebook over a parameter grid and gather the tables it wrote.

Each grid point runs the notebook with papermill into its own folder (the executed notebook and
the notebook's figures/tables, written there through its ``figures`` parameter), named by every
value the point sets (the grid's and the fixed ``parameters``', e.g. ``t-0.5_profile-smoke``) and
holding them in ``sweep_point.json``; a point whose executed notebook already exists is reused only
when that file holds the same notebook and values (else the sweep is refused, naming the folder), so an
interrupted sweep resumes and a sweep with other settings never picks up another's results. The
gathered table has one row per (grid point, table row).

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
import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from .io import atomic_path, atomic_write_text

__all__ = ["grid_points", "run_sweep", "parse_values", "setting_path", "notebook_parameters", "point_label",
           "POINT_FILE"]

#: the file in a grid point's folder that records the notebook and the values it ran with
POINT_FILE = "sweep_point.json"


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


def point_label(values: Mapping[str, Any]) -> str:
    """A grid point's folder name: every value it sets, ``name-value`` joined by ``_`` (``/`` as ``-``).

    >>> point_label({"t": 0.5, "profile": "smoke"}), point_label({})
    ('t-0.5_profile-smoke', 'default')
    """
    return "_".join(f"{k}-{v}" for k, v in values.items()).replace("/", "-") or "default"


def _point_record(notebook: Path, values: Mapping[str, Any]) -> dict[str, Any]:
    """What ``sweep_point.json`` holds: the notebook's name and the point's values, as JSON gives them back."""
    return json.loads(json.dumps({"notebook": notebook.name, "values": dict(values)}, default=str))


def _check_reuse(folder: Path, record: Mapping[str, Any]) -> None:
    """Refuse to use ``folder`` (which holds an executed notebook or a point record) unless its record
    is ``record``: the same notebook and values."""
    path = folder / POINT_FILE
    fix = "delete the folder or give the sweep another --out"
    if not path.exists():
        raise ValueError(f"{folder} holds an executed notebook but no {POINT_FILE}, so its settings are unknown; {fix}")
    try:
        stored = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); {fix}") from None
    if stored != record:
        raise ValueError(f"{folder} holds a run made with other settings: its {POINT_FILE} says {stored}, this grid "
                         f"point is {record}; {fix}")


def run_sweep(notebook: str | os.PathLike, grid: Mapping[str, Sequence[Any]], out_dir: str | os.PathLike, *,
              tables: Sequence[str], parameters: Mapping[str, Any] | None = None, progress: bool = True
              ) -> pd.DataFrame:
    """Run ``notebook`` at every grid point and gather the named tables (``<stem>.csv``).

    Args:
        notebook: the notebook to run (its ``parameters`` cell takes the grid's names).
        grid: parameter -> values.
        out_dir: one sub-folder per grid point holds the executed notebook and its tables.
        tables: stems of the CSV tables to gather (e.g. ``"09_released_counts"``).
        parameters: fixed parameters for every point (e.g. ``{"profile": "smoke"}``); they are part of
            each point's folder name and record, like the grid's values.

    Returns:
        The gathered tables, with the grid's parameters and the table stem as leading columns.

    Raises:
        ValueError: a name is both in ``grid`` and in ``parameters``; a point's folder holds an executed
            notebook (or a point record) made with another notebook or other values, or an executed
            notebook without a record.
    """
    import papermill as pm
    from tqdm.auto import tqdm

    notebook = Path(notebook).resolve()
    accepted = notebook_parameters(notebook)
    both = sorted(set(grid) & set(parameters or {}))
    if both:
        raise ValueError(f"{both} both swept (--param) and fixed (--set); give each name once")
    for name in [*grid, *(parameters or {})]:
        if name not in accepted:
            setting_path(name)  # refuse an unknown name before running anything
    out = Path(out_dir)
    frames = []
    for point in tqdm(grid_points(grid), desc=f"sweep {notebook.stem}", unit="run", disable=not progress):
        values = {**point, **(parameters or {})}
        folder = (out / point_label(values)).resolve()
        executed = folder / notebook.name
        record = _point_record(notebook, values)
        if executed.exists() or (folder / POINT_FILE).exists():
            _check_reuse(folder, record)
        if not executed.exists():
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write_text(folder / POINT_FILE, json.dumps(record, indent=1) + "\n")
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
