"""ViT-B and SL-ViT-B (Table 4) on timm's :class:`~timm.models.vision_transformer.VisionTransformer`.

ViT-B/6: 768-d tokens, 12 blocks, 12 heads, MLP ratio 4, class-token pooling, drop-path 0.1, one
regression output. A 42 x 42 input gives 7 x 7 = 49 patch tokens (+ the class token), 84 x 84
gives 196. SL-ViT-B swaps in :class:`ShiftedPatchTokenization` (ViT keeps its own position
embedding) and :class:`LocalitySelfAttention` in every block.

The authors build their ViT-B differently **[code]** (:data:`AUTHORS_VIT`): 12 heads of dimension 16
(an inner attention dimension of 192 < 768), no qkv bias, dropout 0.1 after the attention output
projection and in the MLP, no drop-path; their position embedding starts from a standard normal
(``pos_embed_init="normal"``). :func:`slswin_lib.models.model_kwargs` turns the
``ModelConfig.vit_variant`` / ``pos_embed_init`` settings into these constructor arguments.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Dict, Optional

import torch
from timm.layers.attention import Attention
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from timm.models.vision_transformer import VisionTransformer

from ..config import check_choice
from .layers import (POS_EMBED_STD, LocalitySelfAttention, ShiftedPatchTokenization, check_input,
                     init_pos_embed)

__all__ = ["SLVisionTransformer", "VIT_VARIANTS", "AUTHORS_VIT"]

#: registered name prefix -> (spt, lsa)
VIT_VARIANTS: Dict[str, tuple[bool, bool]] = {"vit": (False, False), "sl_vit": (True, True)}

#: constructor arguments of the authors' ViT-B / SL-ViT-B (Table 4) **[code]**, over timm's ViT-B
AUTHORS_VIT: Dict[str, Any] = dict(head_dim=16, qkv_bias=False, proj_drop_rate=0.1, drop_path_rate=0.0)


class SLVisionTransformer(VisionTransformer):
    """ViT with optional SPT embedding and LSA attention.

    Args:
        spt: use :class:`ShiftedPatchTokenization` instead of the conv patch embedding.
        lsa: use :class:`LocalitySelfAttention` in every block.
        head_dim: dimension of one attention head; None: ``embed_dim // num_heads`` (timm).
        pos_embed_init: initialisation of the learnable position embedding (1, 1 + N, D),
            ``"trunc_normal"`` (std 0.02, timm) or ``"normal"`` (std 1, **[code]**); drawn after
            every other weight, so the other weights do not depend on it.
        **kwargs: passed to :class:`timm.models.vision_transformer.VisionTransformer`.
    """

    def __init__(self, spt: bool = False, lsa: bool = False, img_size: int = 42, patch_size: int = 6,
                 num_classes: int = 1, head_dim: Optional[int] = None, pos_embed_init: str = "trunc_normal",
                 **kwargs):
        check_choice("SLVisionTransformer pos_embed_init", pos_embed_init, tuple(POS_EMBED_STD))
        if spt:
            kwargs["embed_layer"] = partial(ShiftedPatchTokenization, pos_embed=False)
        attn_layer = LocalitySelfAttention if lsa else Attention
        kwargs["attn_layer"] = attn_layer
        super().__init__(img_size=img_size, patch_size=patch_size, num_classes=num_classes, **kwargs)
        self.spt, self.lsa = spt, lsa
        self.pos_embed_init = pos_embed_init
        if head_dim is not None:  # timm's blocks take no head dimension: rebuild their attention
            dd = {"device": kwargs.get("device"), "dtype": kwargs.get("dtype")}
            for blk in self.blocks:
                old = blk.attn
                blk.attn = attn_layer(self.embed_dim, num_heads=old.num_heads, attn_head_dim=head_dim,
                                      qkv_bias=old.qkv.bias is not None, proj_bias=old.proj.bias is not None,
                                      attn_drop=old.attn_drop.p, proj_drop=old.proj_drop.p, **dd)
        if kwargs.get("weight_init", "") != "skip":
            if head_dim is not None:
                self.init_weights(needs_reset=False)
            else:
                self._init_pos_embed()

    def _init_pos_embed(self) -> None:
        how = getattr(self, "pos_embed_init", "trunc_normal")  # unset while timm's __init__ runs
        if how != "trunc_normal" and self.pos_embed is not None:
            init_pos_embed(self.pos_embed, how)

    def init_weights(self, mode: str = "", needs_reset: bool = True) -> None:
        """timm's initialisation, then the position embedding as ``pos_embed_init`` says."""
        super().init_weights(mode, needs_reset=needs_reset)
        self._init_pos_embed()

    def forward_features(self, x: torch.Tensor, **kwargs) -> torch.Tensor:
        """(B, 3, S, S) -> normalised tokens (B, 1 + N, D); ``kwargs`` as timm's (attn_mask, is_causal)."""
        check_input(x, self.in_chans, tuple(self.patch_embed.img_size),
                    what=getattr(self, "pretrained_cfg", {}).get("architecture", type(self).__name__))
        return super().forward_features(x, **kwargs)

    def token_grids(self) -> list[dict[str, Any]]:
        """One global stage: the patch grid (plus the class token), attention over all tokens."""
        h, w = self.patch_embed.grid_size
        blk = self.blocks[0]
        return [dict(stage=1, grid=(h, w), dim=self.embed_dim, heads=blk.attn.num_heads,
                     window=(h, w), shift=(0, 0), padded_grid=(h, w))]


def _cfg(size: int, **kwargs) -> Dict[str, Any]:
    return {
        "url": "", "num_classes": 1, "input_size": (3, size, size), "pool_size": None,
        "crop_pct": 1.0, "interpolation": "bilinear", "fixed_input_size": True,
        "mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0),
        "first_conv": "patch_embed.proj", "classifier": "head", "license": "mit", **kwargs,
    }


default_cfgs = generate_default_cfgs({
    f"{prefix}_base_patch6_{size}": _cfg(size) for prefix in VIT_VARIANTS for size in (42, 84)
})


def _create(variant: str, pretrained: bool = False, **kwargs) -> SLVisionTransformer:
    if pretrained:
        raise ValueError(f"{variant} has no pretrained weights (models are trained from scratch, paper Section 3.3)")
    spt, lsa = VIT_VARIANTS[variant.split("_base_")[0]]
    args = dict(patch_size=6, embed_dim=768, depth=12, num_heads=12, mlp_ratio=4.0, drop_path_rate=0.1,
                spt=spt, lsa=lsa)
    args.update(kwargs)
    return build_model_with_cfg(SLVisionTransformer, variant, pretrained=False, **args)


@register_model
def vit_base_patch6_42(pretrained: bool = False, **kwargs) -> SLVisionTransformer:
    """ViT-B/6, 42 x 42 input (Table 4 baseline)."""
    return _create("vit_base_patch6_42", pretrained, **kwargs)


@register_model
def sl_vit_base_patch6_42(pretrained: bool = False, **kwargs) -> SLVisionTransformer:
    """SL-ViT-B/6: ViT-B with SPT and LSA, 42 x 42 input."""
    return _create("sl_vit_base_patch6_42", pretrained, **kwargs)


@register_model
def vit_base_patch6_84(pretrained: bool = False, **kwargs) -> SLVisionTransformer:
    """ViT-B/6, 84 x 84 input."""
    return _create("vit_base_patch6_84", pretrained, **kwargs)


@register_model
def sl_vit_base_patch6_84(pretrained: bool = False, **kwargs) -> SLVisionTransformer:
    """SL-ViT-B/6, 84 x 84 input."""
    return _create("sl_vit_base_patch6_84", pretrained, **kwargs)
