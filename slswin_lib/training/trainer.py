"""The training loop (SPEC 3): SGD, MSE, fixed seeds, a checkpoint after every epoch, resume.

A checkpoint holds the model, the optimiser, the epoch, the loss history and a fingerprint of
the run (model name, data shape, hyper-parameters). :func:`fit` resumes from the checkpoint
when its fingerprint matches, so an interrupted fold continues at its first unfinished epoch;
a mismatching checkpoint is refused with a clear error instead of being silently reused.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..io import atomic_path

__all__ = ["TrainingError", "History", "fit", "predict", "load_checkpoint", "select_device", "build_model"]


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. the loss became NaN); the last good checkpoint is kept."""


@dataclass
class History:
    """Per-epoch mean training loss and seconds; ``resumed_from`` is the epoch a run resumed at."""

    loss: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    resumed_from: int | None = None
    n_samples: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"loss": self.loss, "seconds": self.seconds, "resumed_from": self.resumed_from,
                "n_samples": self.n_samples}


def select_device(device: str = "auto") -> torch.device:
    """``"auto"``: CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def build_model(name: str, seed: int, drop_path_rate: float | None = None) -> nn.Module:
    """A freshly initialised registered model (``slswin_lib.models``) with one regression output."""
    from .. import models

    torch.manual_seed(seed)
    kwargs = {} if drop_path_rate is None else {"drop_path_rate": drop_path_rate}
    return models.create_model(name, num_classes=1, **kwargs)


def _fingerprint(meta: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(meta, sort_keys=True, default=str).encode()).hexdigest()[:16]


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by :func:`fit` (on the CPU)."""
    return torch.load(path, map_location="cpu", weights_only=False)


def _save_checkpoint(path: Path, **state: Any) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def fit(model_name: str, x: np.ndarray, y: np.ndarray, *, epochs: int, batch_size: int, lr: float,
        seed: int, checkpoint: str | os.PathLike, drop_path_rate: float | None = None,
        device: str = "auto", progress: bool = True, desc: str = "", meta: dict | None = None
        ) -> tuple[nn.Module, History]:
    """Train ``model_name`` from scratch on ``(x, y)`` with SGD and MSE, resuming if possible.

    Args:
        x: ``(N, 3, S, S)`` float32 inputs in [0, 1].
        y: ``(N,)`` float32 targets (0/1 labels).
        epochs, batch_size, lr: SPEC 3 (25, 48, 5e-4; SGD without momentum or weight decay).
        seed: seeds the initialisation and the per-epoch shuffles (epoch ``e`` shuffles with
            ``seed + e``, so a resumed run sees the same batches as an uninterrupted one).
        checkpoint: file written atomically after every epoch (and read to resume).
        meta: extra facts stored in the checkpoint (e.g. k, fps, labelling, fold).

    Returns:
        The trained model (in eval mode) and its :class:`History`.

    Raises:
        TrainingError: the loss became non-finite, or the checkpoint belongs to another run.
    """
    from tqdm.auto import tqdm

    checkpoint = Path(checkpoint)
    dev = select_device(device)
    run = {"model": model_name, "n": int(len(y)), "shape": list(x.shape[1:]), "epochs": epochs,
           "batch_size": batch_size, "lr": lr, "seed": seed, "drop_path_rate": drop_path_rate,
           "data": hashlib.sha256(np.ascontiguousarray(y).tobytes()).hexdigest()[:16]}
    fingerprint = _fingerprint(run)
    model = build_model(model_name, seed, drop_path_rate).to(dev)
    optimiser = torch.optim.SGD(model.parameters(), lr=lr)
    history = History(n_samples=int(len(y)))
    start = 0
    if checkpoint.exists():
        state = load_checkpoint(checkpoint)
        if state.get("fingerprint") != fingerprint:
            raise TrainingError(f"{checkpoint} belongs to another run (different model, data or "
                                f"hyper-parameters); delete it or choose another run folder")
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimizer"])
        history = History(**{**state["history"], "resumed_from": state["epoch"]})
        start = state["epoch"]
        torch.set_rng_state(state["rng"])  # drop-path draws continue as in an uninterrupted run
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    yt = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32)).view(-1, 1)
    loss_fn = nn.MSELoss()
    n_batches = math.ceil(len(yt) / batch_size)
    for epoch in range(start, epochs):
        model.train()
        order = torch.randperm(len(yt), generator=torch.Generator().manual_seed(seed + epoch))
        total, t0 = 0.0, time.perf_counter()
        bar = tqdm(range(n_batches), desc=f"{desc} epoch {epoch + 1}/{epochs}".strip(), unit="batch",
                   leave=False, disable=not progress)
        for b in bar:
            idx = order[b * batch_size:(b + 1) * batch_size]
            xb, yb = xt[idx].to(dev, non_blocking=True), yt[idx].to(dev, non_blocking=True)
            loss = loss_fn(model(xb), yb)
            if not torch.isfinite(loss):
                last = f"the last good checkpoint (epoch {epoch}) is {checkpoint}" if checkpoint.exists() \
                    else "no epoch finished, so there is no checkpoint"
                raise TrainingError(f"{desc or model_name}: the loss became {loss.item()} at epoch "
                                    f"{epoch + 1}, batch {b + 1}; {last}. Lower the learning rate or "
                                    "check the features for NaN/inf")
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            total += loss.item() * len(idx)
            bar.set_postfix(loss=f"{loss.item():.4f}")
        history.loss.append(total / len(yt))
        history.seconds.append(time.perf_counter() - t0)
        _save_checkpoint(checkpoint, model=model.state_dict(), optimizer=optimiser.state_dict(),
                         epoch=epoch + 1, history=history.as_dict(), fingerprint=fingerprint,
                         rng=torch.get_rng_state(),
                         run=run, meta=meta or {})
    model.eval()
    return model, history


@torch.no_grad()
def predict(model: nn.Module, x: np.ndarray, *, batch_size: int = 256, device: str | None = None) -> np.ndarray:
    """Scores of ``(N, 3, S, S)`` inputs -> ``(N,)`` float64 (the regression output)."""
    dev = next(model.parameters()).device if device is None else select_device(device)
    model.eval()
    out = []
    for start in range(0, len(x), batch_size):
        xb = torch.from_numpy(np.ascontiguousarray(x[start:start + batch_size], dtype=np.float32)).to(dev)
        out.append(model(xb).float().view(-1).cpu().numpy())
    return np.concatenate(out).astype(np.float64) if out else np.zeros(0)
