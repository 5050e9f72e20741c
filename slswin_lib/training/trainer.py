"""The training loop (paper Sec. 3.3): MSE regression, fixed seeds, a checkpoint after every epoch, resume.

Two recipes (:class:`~slswin_lib.config.TrainConfig` ``recipe``):

* ``"paper"``: plain SGD at ``lr`` (5e-4, batch 48) for ``epochs`` passes over the data, as in
  the paper;
* ``"adamw"``: a CPU-practical one that converges in a few hundred steps: AdamW (timm's
  parameter groups: no weight decay on biases, norms and embeddings) with a linear warm-up and a
  cosine (timm's ``CosineLRScheduler``) or one-cycle (torch's ``OneCycleLR``) decay, for a budget
  of ``steps`` optimiser steps (``benchmarks/bench_recipes.py`` compares them).

Two schedules: ``"pooled"`` shuffles all training samples together; ``"per_subject"`` (the
authors' code) trains on one subject after another, each with a fresh optimiser (and learning-rate
schedule), the model carried over.

A checkpoint holds the model, the optimiser and scheduler, the position in the schedule, the
loss history, the torch RNG and a fingerprint of the run (model name, data, settings); once the
run has ended it keeps the weights without the optimiser's state (a third of the size under
AdamW, which keeps two moments a weight), since only a resume needs it. :func:`fit`
resumes from the checkpoint when its fingerprint matches, so an interrupted fold continues at its
first unfinished epoch and ends bit-identical to an uninterrupted run; a mismatching checkpoint is
refused with a clear error instead of being silently reused.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..config import RUNTIME_ONLY, VAL_POINTS, TrainConfig, run_digest
from ..io import atomic_path
from .stream import TrainingSamples, batch_loader, loader_workers

__all__ = ["TrainingError", "DeviceError", "History", "fit", "predict", "load_checkpoint", "select_device",
           "cuda_summary", "build_model", "plan_stages"]



class TrainingError(RuntimeError):
    """Training cannot go on (e.g. the loss became NaN); the last good checkpoint is kept."""


@dataclass
class History:
    """Learning curves of one run.

    Attributes:
        loss: mean training loss of each epoch (of each stage, in order).
        seconds: wall seconds of each epoch.
        step_loss: training loss of each optimiser step (the batch's MSE).
        step_lr: learning rate of each optimiser step.
        val_step: optimiser steps (0: before training) at which the held-out loss was measured.
        val_loss: held-out MSE at those steps.
        val_seconds: wall seconds spent measuring the held-out loss (not training).
        resumed_from: the epoch a run resumed at (None: it started from scratch).
        n_samples: training samples.
    """

    loss: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    step_lr: list[float] = field(default_factory=list)
    val_step: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_seconds: float = 0.0
    resumed_from: int | None = None
    n_samples: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Stage:
    """One part of a schedule: a fresh optimiser trained for ``steps`` steps on ``indices``.

    Attributes:
        indices: ``(n,)`` sample indices of the stage.
        steps: optimiser steps of the stage.
        batches_per_epoch: ``ceil(n / batch_size)``; the last epoch may be cut short.
        group: the subject of a ``per_subject`` stage (None when pooled).
    """

    indices: np.ndarray
    steps: int
    batches_per_epoch: int
    group: Any = None

    @property
    def epochs(self) -> int:
        return math.ceil(self.steps / self.batches_per_epoch)


def plan_stages(cfg: TrainConfig, n_samples: int, groups: np.ndarray | None = None) -> list[Stage]:
    """The stages of a run: one (pooled) or one per subject (``per_subject``), with their budgets.

    Args:
        cfg: ``recipe``, ``schedule``, ``epochs``, ``steps`` and ``batch_size`` are read.
        n_samples: training samples.
        groups: ``(n_samples,)`` subject of each sample (required by ``per_subject``); subjects
            are trained in the order of their first sample.

    Returns:
        The stages. The "paper" recipe gives each stage ``epochs`` epochs over its samples; the
        "adamw" recipe spends ``steps`` steps, split evenly (at least one each) over the stages.

    Raises:
        ValueError: ``per_subject`` without ``groups``, or ``groups`` of the wrong length.
    """
    if cfg.schedule == "pooled":
        parts = [(np.arange(n_samples), None)]
    else:
        if groups is None:
            raise ValueError("TrainConfig.schedule = 'per_subject' needs groups (the subject of each training "
                             "sample); pass fit(..., groups=...) or use schedule='pooled'")
        groups = np.asarray(groups)
        if len(groups) != n_samples:
            raise ValueError(f"{len(groups)} groups for {n_samples} training samples; give one per sample")
        _, first = np.unique(groups, return_index=True)
        parts = [(np.flatnonzero(groups == groups[i]), groups[i].item()) for i in sorted(first)]
    stages = []
    for indices, group in parts:
        per_epoch = math.ceil(len(indices) / cfg.batch_size)
        steps = cfg.epochs * per_epoch if cfg.recipe == "paper" else max(1, cfg.steps // len(parts))
        stages.append(Stage(indices, steps, per_epoch, group))
    return stages


class DeviceError(ValueError):
    """The device asked for is not on this machine (e.g. ``"cuda"`` where torch sees no GPU)."""


def cuda_summary() -> str:
    """What torch sees of CUDA here, in words: the devices, or why there are none.

    >>> cuda_summary().startswith("torch ")
    True
    """
    build = torch.version.cuda
    if not build:
        return f"torch {torch.__version__} is a build without CUDA"
    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if n == 0:
        return f"torch {torch.__version__} (CUDA {build}) sees no CUDA device (no NVIDIA driver or no visible GPU)"
    names = ", ".join(torch.cuda.get_device_name(i) for i in range(n))
    return f"torch {torch.__version__} (CUDA {build}) sees {n} CUDA device(s): {names}"


def select_device(device: str = "auto") -> torch.device:
    """The torch device of a setting: ``"auto"`` is CUDA when available, else the CPU; ``"cpu"``,
    ``"cuda"``, ``"cuda:1"``, ... are checked to exist here.

    Raises:
        DeviceError: a device torch does not know, or a CUDA device this machine does not have (the
            message says what torch sees and what to do).
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise DeviceError(f"device {device!r} is not a torch device ({err}); use 'cpu', 'cuda' or 'auto'") from None
    if dev.type == "cuda" and (dev.index or 0) >= (torch.cuda.device_count() if torch.cuda.is_available() else 0):
        raise DeviceError(f"device {device!r} was asked for, but {cuda_summary()}; use device 'cpu' (or 'auto') "
                          "here, or run on a machine with an NVIDIA GPU and a CUDA build of torch")
    return dev


def build_model(name: str, seed: int, **model_kwargs: Any) -> nn.Module:
    """A freshly initialised registered model (:func:`slswin_lib.models.spotting_model`), seeded.

    ``model_kwargs``: its construction settings (:func:`slswin_lib.models.model_kwargs`), stored in
    the checkpoint's ``run`` record so the model can be rebuilt from the checkpoint alone.
    """
    from ..models import spotting_model

    torch.manual_seed(seed)
    return spotting_model(name, model_kwargs)


def _optimiser(cfg: TrainConfig, model: nn.Module, steps: int):
    """The optimiser and learning-rate scheduler (None: constant) of one stage of ``steps`` steps."""
    if cfg.recipe == "paper":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum), None
    from timm.optim import create_optimizer_v2

    # fused: one kernel for the whole update (torch >= 2.4 on CPU and CUDA), 4x faster than the
    # per-tensor loop here and ~12 % of an optimiser step of SL-Swin-T at batch 48 on one CPU thread
    optimiser = create_optimizer_v2(model, opt="adamw", lr=cfg.adamw_lr, weight_decay=cfg.weight_decay,
                                    fused=True)
    warmup = int(round(cfg.warmup_fraction * steps))
    if cfg.lr_decay == "one_cycle":
        return optimiser, torch.optim.lr_scheduler.OneCycleLR(
            optimiser, max_lr=cfg.adamw_lr, total_steps=steps, pct_start=max(warmup, 1) / steps,
            anneal_strategy="cos", cycle_momentum=False)
    from timm.scheduler import CosineLRScheduler

    return optimiser, CosineLRScheduler(optimiser, t_initial=max(1, steps - warmup), warmup_t=warmup,
                                        warmup_prefix=True, t_in_epochs=False)


def _scheduler_step(scheduler, step: int) -> None:
    """Advance the scheduler to ``step`` optimiser steps into its stage."""
    if scheduler is None:
        return
    if isinstance(scheduler, torch.optim.lr_scheduler.LRScheduler):
        scheduler.step()
    else:
        scheduler.step_update(num_updates=step)


def _digest(a: np.ndarray | None) -> str | None:
    return None if a is None else hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by :func:`fit` (on the CPU)."""
    return torch.load(path, map_location="cpu", weights_only=False)


def _save_checkpoint(path: Path, **state: Any) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


@torch.no_grad()
def _val_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int, dev: torch.device) -> float:
    """Mean squared error of the model (in eval mode) on held-out inputs (one host sync)."""
    model.eval()
    sums = [nn.functional.mse_loss(model(x[start:start + batch_size].to(dev, non_blocking=True)),
                                   y[start:start + batch_size].to(dev, non_blocking=True), reduction="sum")
            for start in range(0, len(y), batch_size)]
    total = 0.0
    for value in (torch.stack(sums).tolist() if sums else []):   # summed in float64, batch after batch
        total += value
    model.train()
    return total / max(1, len(y))


def _record_val(history: History, model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int,
                dev: torch.device) -> None:
    t0 = time.perf_counter()
    history.val_loss.append(_val_loss(model, x, y, batch_size, dev))
    history.val_seconds += time.perf_counter() - t0


def _epoch_plan(stages: Sequence[Stage], done_epochs: int):
    """``(stage index, epoch within the stage, epoch of the run)`` of every epoch after the first
    ``done_epochs`` of the run."""
    epoch = 0
    for s, stage in enumerate(stages):
        for e in range(stage.epochs):
            if epoch >= done_epochs:
                yield s, e, epoch
            epoch += 1


def _epoch_batches(stage: Stage, e: int, epoch: int, cfg: TrainConfig) -> list[np.ndarray]:
    """The index batches of epoch ``e`` of ``stage`` (epoch ``epoch`` of the run): its samples shuffled
    with ``cfg.seed + epoch``, cut into ``cfg.batch_size``; the stage's last epoch may be cut short."""
    order = stage.indices[torch.randperm(len(stage.indices),
                                         generator=torch.Generator().manual_seed(cfg.seed + epoch)).numpy()]
    n_batches = min(stage.batches_per_epoch, stage.steps - e * stage.batches_per_epoch)
    return [order[b * cfg.batch_size:(b + 1) * cfg.batch_size] for b in range(n_batches)]


def _run_batches(x: torch.Tensor | TrainingSamples, y: torch.Tensor, stages: Sequence[Stage], plan: list,
                 cfg: TrainConfig, dev: torch.device):
    """One iterator of the ``(x, y)`` batches of every epoch of ``plan``, in order: streamed samples
    through :func:`~slswin_lib.training.stream.batch_loader` (loader workers and pinned memory on a
    GPU, kept for the whole run), in-memory arrays indexed here (pinned on a GPU)."""
    batches = (b for s, e, epoch in plan for b in _epoch_batches(stages[s], e, epoch, cfg))
    pin = dev.type == "cuda"
    if isinstance(x, TrainingSamples):
        return batch_loader(x, batches, workers=loader_workers(cfg.loader_workers, dev.type), pin_memory=pin)

    def rows(i: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        xb, yb = x[torch.from_numpy(i)], y[torch.from_numpy(i)]
        return (xb.pin_memory(), yb.pin_memory()) if pin else (xb, yb)

    return (rows(i) for i in batches)


def fit(model_name: str, x: np.ndarray | TrainingSamples, y: np.ndarray, cfg: TrainConfig, *,
        checkpoint: str | os.PathLike,
        groups: np.ndarray | None = None, val: tuple[np.ndarray, np.ndarray] | None = None,
        progress: bool = True, desc: str = "", meta: dict | None = None,
        model_kwargs: dict[str, Any] | None = None) -> tuple[nn.Module, History]:
    """Train ``model_name`` from scratch on ``(x, y)`` with MSE, resuming if possible.

    Args:
        x: ``(N, 3, S, S)`` float32 inputs in [0, 1], or :class:`~slswin_lib.training.stream.TrainingSamples`
            (read batch by batch, ``cfg.loader_workers`` processes ahead, pinned on a GPU; one loader
            for the whole run, so its workers start once).
        y: ``(N,)`` float32 targets (0/1 labels).
        cfg: the recipe (``recipe``, ``lr``/``momentum``/``epochs`` or ``adamw_lr``/
            ``weight_decay``/``warmup_fraction``/``lr_decay``/``steps``), ``batch_size``,
            ``schedule``, ``seed``, ``device``, ``val_every`` and the runtime settings ``loader_workers``,
            ``autocast`` (forward pass and loss in bfloat16) and ``compile`` (``torch.compile``).
        checkpoint: file written atomically after every epoch (and read to resume).
        groups: ``(N,)`` subject of each sample; required by ``cfg.schedule="per_subject"``.
        val: held-out ``(x_val, y_val)`` (shapes as ``x``, ``y``): their loss is measured before
            training, every ``cfg.val_every`` steps (default: :data:`~slswin_lib.config.VAL_POINTS` points over the
            budget) and after the last step, into :attr:`History.val_loss`.
        meta: extra facts stored in the checkpoint (e.g. k, fps, labelling, fold).
        model_kwargs: extra ``create_model`` keyword arguments (e.g. ``drop_path_rate``).

    ``cfg.seed`` seeds the initialisation and the shuffles (the ``e``-th epoch of the run shuffles
    its stage's samples with ``seed + e``), so a resumed run sees the same batches as an
    uninterrupted one.

    The device is kept busy: batches are copied to it asynchronously from pinned memory, and the
    host waits for it only where a value is logged: the step losses are read once per epoch (a
    non-finite loss is reported then, with its epoch and batch, and the epoch's checkpoint is not
    written), the held-out loss at its measuring points. On the CPU the arithmetic is the same as a
    loop that reads every loss at once, so the weights and losses are too.

    Returns:
        The trained model (in eval mode) and its :class:`History`.

    Raises:
        TrainingError: the loss became non-finite, or the checkpoint belongs to another run.
        ValueError: ``per_subject`` without ``groups``.
    """
    from tqdm.auto import tqdm

    checkpoint = Path(checkpoint)
    dev = select_device(cfg.device)
    model_kwargs = dict(model_kwargs or {})
    stages = plan_stages(cfg, len(y), groups)
    total_steps = sum(st.steps for st in stages)
    val_every = cfg.val_every or max(1, total_steps // VAL_POINTS)
    settings = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in RUNTIME_ONLY}
    run = {"model": model_name, "n": int(len(y)), "shape": list(x.shape[1:]), "train": settings,
           "model_kwargs": model_kwargs, "data": _digest(y), "groups": _digest(groups),
           "val": None if val is None else _digest(val[1])}
    fingerprint = run_digest(run)
    model = build_model(model_name, cfg.seed, **model_kwargs).to(dev)
    history = History(n_samples=int(len(y)))
    state = None
    if checkpoint.exists():
        state = load_checkpoint(checkpoint)
        if state.get("fingerprint") != fingerprint:
            raise TrainingError(f"{checkpoint} belongs to another run (different model, data or "
                                f"settings); delete it or choose another run folder")
        model.load_state_dict(state["model"])
        history = History(**{**state["history"], "resumed_from": state["epoch"]})
        torch.set_rng_state(state["rng"])  # drop-path draws continue as in an uninterrupted run
    done_epochs = state["epoch"] if state else 0
    step = state["step"] if state else 0
    yt = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32)).view(-1, 1)
    samples = x if isinstance(x, TrainingSamples) else None
    if samples is None:
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    if val is not None:
        xv = torch.from_numpy(np.ascontiguousarray(val[0], dtype=np.float32))
        yv = torch.from_numpy(np.ascontiguousarray(val[1], dtype=np.float32)).view(-1, 1)
        if state is None:
            history.val_step.append(0)
            _record_val(history, model, xv, yv, cfg.predict_batch_size, dev)
    loss_fn = nn.MSELoss()
    # the checkpoint keeps the plain model's weights (a compiled wrapper prefixes their names)
    step_model = torch.compile(model) if cfg.compile else model
    plan = list(_epoch_plan(stages, done_epochs))
    batches = _run_batches(x if samples is not None else xt, yt, stages, plan, cfg, dev)
    first_epoch = np.cumsum([0] + [st.epochs for st in stages])   # of each stage, in epochs of the run
    bar = tqdm(total=total_steps, initial=step, desc=desc or model_name, unit="step", leave=False,
               disable=not progress)
    optimiser, scheduler, current = None, None, None
    for s, e, epoch in plan:
        stage = stages[s]
        if s != current:
            optimiser, scheduler = _optimiser(cfg, model, stage.steps)
            if state is not None and state["stage"] == s and done_epochs > first_epoch[s]:
                optimiser.load_state_dict(state["optimizer"])
                if scheduler is not None:
                    scheduler.load_state_dict(state["scheduler"])
            current = s
        model.train()
        n_batches = min(stage.batches_per_epoch, stage.steps - e * stage.batches_per_epoch)
        losses, sizes, t0 = [], [], time.perf_counter()
        for b in range(n_batches):
            xb, yb = next(batches)
            xb, yb = xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cfg.autocast):
                loss = loss_fn(step_model(xb), yb)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            history.step_lr.append(optimiser.param_groups[0]["lr"])
            optimiser.step()
            step += 1
            _scheduler_step(scheduler, e * stage.batches_per_epoch + b + 1)
            losses.append(loss.detach())
            sizes.append(len(yb))
            if val is not None and (step % val_every == 0 or step == total_steps):
                history.val_step.append(step)
                _record_val(history, model, xv, yv, cfg.predict_batch_size, dev)
            bar.update(1)
        values = torch.stack(losses).tolist()                   # the epoch's one wait for the device
        bad = next((b for b, value in enumerate(values) if not math.isfinite(value)), None)
        if bad is not None:
            last = f"the last good checkpoint (epoch {epoch}) is {checkpoint}" if checkpoint.exists() \
                else "no epoch finished, so there is no checkpoint"
            raise TrainingError(f"{desc or model_name}: the loss became {values[bad]} at epoch {epoch + 1}, "
                                f"batch {bad + 1}; {last}. Lower the learning rate or check the features for "
                                "NaN/inf")
        history.step_loss.extend(values)
        total = 0.0
        for value, n in zip(values, sizes):
            total += value * n
        history.loss.append(total / sum(sizes))
        history.seconds.append(time.perf_counter() - t0)
        bar.set_postfix(loss=f"{history.loss[-1]:.4f}")
        # the optimiser's state only serves a resume: a finished run keeps the weights
        finished = step == total_steps
        _save_checkpoint(checkpoint, model=model.state_dict(),
                         optimizer=None if finished else optimiser.state_dict(),
                         scheduler=None if finished or scheduler is None else scheduler.state_dict(),
                         stage=s, epoch=epoch + 1, step=step, history=history.as_dict(),
                         fingerprint=fingerprint, rng=torch.get_rng_state(), run=run, meta=meta or {})
    bar.close()
    model.eval()
    return model, history


@torch.no_grad()
def predict(model: nn.Module, x: np.ndarray, *, batch_size: int = 256, device: str | None = None,
            transform: Callable[[np.ndarray], np.ndarray] | None = None, progress: bool = False,
            desc: str = "predict", autocast: bool = False) -> np.ndarray:
    """Scores of ``(N, 3, S, S)`` inputs -> ``(N,)`` float64 (the regression output).

    With ``transform``, ``x`` is read in batches of ``batch_size`` (e.g. memory-mapped ``(N, S, S, 3)``
    features) and each batch is turned into model input by ``transform`` (e.g. ``to_model_input``),
    so the inputs are never held in memory whole; ``progress`` shows a bar with an ETA.

    On a GPU each batch is copied from pinned memory without waiting, and the scores stay on the
    device until the last batch (one wait), so the next batch is prepared while the device works.
    ``autocast``: the forward pass in bfloat16 (``torch.autocast``).
    """
    from tqdm.auto import tqdm

    dev = next(model.parameters()).device if device is None else select_device(device)
    model.eval()
    out = []
    for start in tqdm(range(0, len(x), batch_size), desc=desc, unit="batch", leave=False, disable=not progress):
        xb = x[start:start + batch_size]
        xb = torch.from_numpy(np.ascontiguousarray(transform(xb) if transform else xb, dtype=np.float32))
        if dev.type == "cuda":
            xb = xb.pin_memory()
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=autocast):
            out.append(model(xb.to(dev, non_blocking=True)).float().view(-1))
    return torch.cat(out).cpu().numpy().astype(np.float64) if out else np.zeros(0)
