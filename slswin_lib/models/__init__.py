"""SL-Swin, the Table 4 models and SOFTNet (Table 2) as timm models (paper Section 2.3).

Importing this package registers the models with timm, so ::

    import slswin_lib.models
    model = timm.create_model("sl_swin_tiny_patch6_window7_42")   # (B, 3, 42, 42) -> (B, 1)

works for every name in :data:`MODEL_NAMES`. Helpers for training and the notebooks:
:func:`model_input_size`, :func:`model_kwargs` (the constructor arguments a
:class:`~slswin_lib.config.ModelConfig` implies), :func:`create_model` (by name or from a config),
:func:`spotting_model` (the one construction of a model that is trained, counted and loaded),
:func:`attention_maps`, :func:`count_flops`, :func:`model_summary`.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Union

import timm
import torch
import torch.nn as nn

from .layers import (POS_EMBED_STD, LocalitySelfAttention, LocalityWindowAttention, ShiftedPatchTokenization,
                     check_input, diagonal_mask, diagonal_shifts, init_pos_embed)
from .sl_swin import SWIN_VARIANTS, SLSwinBlock, SLSwinTransformer
from .sl_vit import AUTHORS_VIT, VIT_VARIANTS, SLVisionTransformer
from .softnet import SOFTNet

__all__ = [
    "ShiftedPatchTokenization", "LocalityWindowAttention", "LocalitySelfAttention", "SLSwinBlock",
    "SLSwinTransformer", "SLVisionTransformer", "SOFTNet", "MODEL_NAMES", "TABLE4", "PEERS", "display_name",
    "model_input_size",
    "model_kwargs", "create_model", "spotting_model", "NUM_OUTPUTS", "AUTHORS_VIT", "POS_EMBED_STD", "init_pos_embed",
    "attention_maps", "count_flops", "count_params", "model_summary", "check_input", "diagonal_mask",
    "diagonal_shifts",
]

#: Table 4 display name -> registered name prefix (append "_42" or "_84").
TABLE4: dict[str, str] = {
    "ViT-B": "vit_base_patch6",
    "SL-ViT-B": "sl_vit_base_patch6",
    "Swin-T": "swin_tiny_patch6_window7",
    "L-Swin-T": "l_swin_tiny_patch6_window7",
    "S-Swin-T": "s_swin_tiny_patch6_window7",
    "SL-Swin-T": "sl_swin_tiny_patch6_window7",
}

#: Table 2 peer display name -> registered name (42 x 42 input): the spotters trained beside SL-Swin
PEERS: dict[str, str] = {"SOFTNet": "softnet"}

#: every registered name: the Table 4 models at both input sizes, then the peers.
MODEL_NAMES: tuple[str, ...] = (tuple(f"{p}_{s}" for s in (42, 84) for p in TABLE4.values())
                                + tuple(PEERS.values()))


def display_name(name: str) -> str:
    """A registered model's name as the paper writes it (the 42 x 42 input is the paper's).

    >>> display_name("sl_swin_tiny_patch6_window7_42"), display_name("swin_tiny_patch6_window7_84"), display_name("softnet")
    ('SL-Swin-T', 'Swin-T (84 x 84)', 'SOFTNet')
    """
    for display, registered in PEERS.items():
        if name == registered:
            return display
    for display, prefix in TABLE4.items():
        for size in (42, 84):
            if name == f"{prefix}_{size}":
                return display if size == 42 else f"{display} ({size} x {size})"
    raise ValueError(f"unknown model {name!r}; choose one of {list(MODEL_NAMES)}")


def model_input_size(name: str) -> int:
    """Input side length in pixels of a registered model (42 or 84), from its pretrained_cfg."""
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown model {name!r}; choose one of {list(MODEL_NAMES)}")
    return int(timm.models.get_pretrained_cfg(name).input_size[-1])


def model_kwargs(name: str, model_cfg: Any) -> dict[str, Any]:
    """Constructor arguments of registered model ``name`` that a ``ModelConfig`` implies.

    ``pos_embed_init`` for every Table 4 model (it initialises the position embedding of the ViTs
    and of SPT; Swin-T and L-Swin-T have none; the peers, e.g. SOFTNet, take no settings of a
    ``ModelConfig``: ``{}``), and for the two ViTs with ``vit_variant="authors"``
    the authors' ViT-B (:data:`AUTHORS_VIT`: 12 heads of dimension 16, no qkv bias, dropout 0.1,
    no drop-path) **[code]**. Use as ``create_model(name, **model_kwargs(name, cfg))``.

    Args:
        name: a registered name (:data:`MODEL_NAMES`), e.g. a Table 4 row's, not necessarily
            ``model_cfg.name``.
        model_cfg: a :class:`~slswin_lib.config.ModelConfig` (its ``pos_embed_init`` and
            ``vit_variant`` are read).

    Returns:
        Keyword arguments for :func:`create_model` / :func:`timm.create_model`.

    Raises:
        ValueError: ``name`` is not registered.
    """
    model_input_size(name)  # validates the name
    if name in PEERS.values():
        return {}
    out: dict[str, Any] = {"pos_embed_init": model_cfg.pos_embed_init}
    if model_cfg.vit_variant == "authors" and name.split("_base_")[0] in VIT_VARIANTS:
        out.update(AUTHORS_VIT)
    return out


def create_model(model: Union[str, Any], **kwargs) -> nn.Module:
    """Build a model by registered name or from a :class:`~slswin_lib.config.ModelConfig`.

    A config's settings become constructor arguments (:func:`model_kwargs`); the input size is the
    name's (``_42`` / ``_84``). Extra ``kwargs`` (e.g. ``drop_path_rate``) go to
    :func:`timm.create_model` and take precedence.
    """
    if isinstance(model, str):
        name = model
    else:
        name = model.name
        kwargs = {**model_kwargs(name, model), **kwargs}
    model_input_size(name)  # validates the name
    return timm.create_model(name, **kwargs)


#: outputs of a spotting model: one regression score per sample (paper Section 2.4)
NUM_OUTPUTS = 1


def spotting_model(name: str, construction: Optional[Mapping[str, Any]] = None, **kwargs) -> nn.Module:
    """The model the protocols train, the tables count and the spotters load: ``(B, 3, S, S) -> (B, 1)``.

    Args:
        name: a registered name (:data:`MODEL_NAMES`).
        construction: its constructor arguments, as :func:`model_kwargs` gives them for a
            ``ModelConfig`` and as training checkpoints and spotters store them.
        kwargs: further :func:`timm.create_model` arguments that change no weight shape (e.g.
            ``device="meta"`` to count parameters without memory).
    """
    return create_model(name, num_classes=NUM_OUTPUTS, **dict(construction or {}), **kwargs)


def count_params(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_flops(model: nn.Module, input_size: Optional[int] = None, batch: int = 1) -> int:
    """Forward FLOPs (multiply-add = 2 FLOPs) for one batch, by :class:`torch.utils.flop_counter.FlopCounterMode`.

    Counts matmuls, linears, convolutions and attention (the operations that dominate);
    element-wise ops are not counted.
    """
    from torch.utils.flop_counter import FlopCounterMode

    size = input_size or model.pretrained_cfg["input_size"][-1]
    param = next(model.parameters())
    x = torch.zeros(batch, 3, size, size, device=param.device, dtype=param.dtype)  # "meta" works too
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())


def _blocks(model: nn.Module) -> list[nn.Module]:
    if isinstance(model, SLSwinTransformer):
        return [blk for stage in model.layers for blk in stage.blocks]
    if isinstance(model, SLVisionTransformer):
        return list(model.blocks)
    raise TypeError(f"attention_maps needs an SL-Swin or SL-ViT model, got {type(model).__name__}")


@torch.no_grad()
def attention_maps(model: nn.Module, x: torch.Tensor, stage: int = 0, block: int = 0) -> torch.Tensor:
    """Attention weights of one block for input images ``x``.

    Args:
        model: a model from this package.
        x: images (B, 3, S, S).
        stage: 0-based Swin stage (ignored for ViT).
        block: 0-based block within the stage (within the model for ViT).

    Returns:
        Swin: (B, nW, nH, N, N), windows row-major over the padded (shifted for odd blocks) grid,
        N = 49 tokens per 7 x 7 window. ViT: (B, nH, 1 + P, 1 + P), class token first.
        Rows sum to 1; with LSA the diagonal is exactly 0.
    """
    if isinstance(model, SLSwinTransformer):
        target = model.layers[stage].blocks[block]
    else:
        _blocks(model)
        target = model.blocks[block]
    captured: dict[str, torch.Tensor] = {}

    def hook(module, args):
        captured["x"] = args[0]
        raise _Captured

    handle = target.register_forward_pre_hook(hook)
    was_training = model.training
    model.eval()
    try:
        model.forward_features(x)
    except _Captured:
        pass
    finally:
        handle.remove()
        model.train(was_training)
    tokens = captured["x"]
    if isinstance(target, SLSwinBlock):
        return target.attention_weights(tokens)
    normed = target.norm1(tokens)
    if isinstance(target.attn, LocalitySelfAttention):
        return target.attn.attention_weights(normed)
    attn = target.attn  # timm Attention
    B, N, _ = normed.shape
    q, k, _ = attn.qkv(normed).reshape(B, N, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
    q, k = attn.q_norm(q), attn.k_norm(k)
    return ((q * attn.scale) @ k.transpose(-2, -1)).softmax(-1)


class _Captured(Exception):
    """Internal: stops the forward pass once the block input is captured."""


def model_summary(name: str, flops: bool = True) -> dict[str, Any]:
    """Parameters, forward GFLOPs per sample and token grids of a registered model."""
    model = create_model(name)
    size = model_input_size(name)
    grids = model.token_grids()
    row: dict[str, Any] = dict(
        model=name, input_size=size, spt=model.spt, lsa=model.lsa, params=count_params(model),
        token_grids=" -> ".join(f"{g['grid'][0]}x{g['grid'][1]}" for g in grids),
    )
    if flops:
        row["gflops"] = count_flops(model, size) / 1e9
    return row
