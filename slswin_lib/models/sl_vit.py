"""ViT-B and SL-ViT-B (Table 4) on timm's :class:`~timm.models.vision_transformer.VisionTransformer`.

ViT-B/6: 768-d tokens, 12 blocks, 12 heads, MLP ratio 4, class-token pooling, drop-path 0.1, one
regression output. A 42 x 42 input gives 7 x 7 = 49 patch tokens (+ the class token), 84 x 84
gives 196. SL-ViT-B swaps in :class:`ShiftedPatchTokenization` (ViT keeps its own position
embedding) and :class:`LocalitySelfAttention` in every block.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Dict

import torch
from timm.layers.attention import Attention
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from timm.models.vision_transformer import VisionTransformer

from .layers import LocalitySelfAttention, ShiftedPatchTokenization, check_input

__all__ = ["SLVisionTransformer", "VIT_VARIANTS"]

#: registered name prefix -> (spt, lsa)
VIT_VARIANTS: Dict[str, tuple[bool, bool]] = {"vit": (False, False), "sl_vit": (True, True)}


class SLVisionTransformer(VisionTransformer):
    """ViT with optional SPT embedding and LSA attention.

    Args:
        spt: use :class:`ShiftedPatchTokenization` instead of the conv patch embedding.
        lsa: use :class:`LocalitySelfAttention` in every block.
        **kwargs: passed to :class:`timm.models.vision_transformer.VisionTransformer`.
    """

    def __init__(self, spt: bool = False, lsa: bool = False, img_size: int = 42, patch_size: int = 6,
                 num_classes: int = 1, **kwargs):
        if spt:
            kwargs["embed_layer"] = partial(ShiftedPatchTokenization, pos_embed=False)
        kwargs["attn_layer"] = LocalitySelfAttention if lsa else Attention
        super().__init__(img_size=img_size, patch_size=patch_size, num_classes=num_classes, **kwargs)
        self.spt, self.lsa = spt, lsa

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
        raise ValueError(f"{variant} has no pretrained weights (models are trained from scratch, SPEC 3)")
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
