"""SL-Swin and its Table 4 siblings on timm's :class:`~timm.models.swin_transformer.SwinTransformer`.

One implementation, variants by arguments (SPEC 2.3):

=================================  =====  =====
registered name                     spt    lsa
=================================  =====  =====
``swin_tiny_patch6_window7_{S}``    no     no
``s_swin_tiny_patch6_window7_{S}``  yes    no
``l_swin_tiny_patch6_window7_{S}``  no     yes
``sl_swin_tiny_patch6_window7_{S}`` yes    yes
=================================  =====  =====

for input sizes S = 42 and 84 (7 x 7 resp. 14 x 14 tokens of 6 x 6 pixels). Swin-T: C = 96,
depths (2, 2, 6, 2), heads (3, 6, 12, 24), window 7, MLP ratio 4, drop-path 0.1, one regression
output (no sigmoid).

Windows and padding, as in the authors' code **[code]**: every stage keeps the 7 x 7 window and
shifts by 3 in every second block, also where the token grid (4 x 4, 2 x 2, 1 x 1 for S = 42) is
smaller than the window: the normalised tokens are zero-padded on the bottom/right up to a multiple
of 7 *before* the cyclic shift, the SW-MSA mask is built on the padded grid, and the padded
outputs are dropped. (timm's own block shifts before padding and shrinks the window to the grid,
so it is replaced by :class:`SLSwinBlock`.) Padded tokens are zero after LayerNorm, so their
q/k/v equal the qkv bias; :class:`SLSwinBlock` projects only the real tokens and pads q/k/v with
that bias, and projects back only the real outputs, which is exact and saves the qkv/proj work on
up to 48 of 49 tokens per window.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import DropPath, PatchEmbed
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from timm.models.swin_transformer import SwinTransformer, SwinTransformerBlock, window_partition, window_reverse

from .layers import LocalityWindowAttention, ShiftedPatchTokenization, check_input

__all__ = ["SLSwinBlock", "SLSwinTransformer", "SWIN_VARIANTS"]

#: registered name prefix -> (spt, lsa)
SWIN_VARIANTS: Dict[str, Tuple[bool, bool]] = {
    "swin": (False, False),
    "s_swin": (True, False),
    "l_swin": (False, True),
    "sl_swin": (True, True),
}


class SLSwinBlock(SwinTransformerBlock):
    """Swin block that pads the token grid to whole windows before shifting (see module doc).

    Same constructor as timm's ``SwinTransformerBlock`` plus ``lsa``; its attention is a
    :class:`LocalityWindowAttention`.
    """

    def __init__(self, *args, lsa: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        old = self.attn
        dd = {"device": old.qkv.weight.device, "dtype": old.qkv.weight.dtype}
        self.attn = LocalityWindowAttention(
            self.dim,
            num_heads=old.num_heads,
            head_dim=old.qkv.out_features // 3 // old.num_heads,
            window_size=self.window_size,
            qkv_bias=old.qkv.bias is not None,
            attn_drop=old.attn_drop.p,
            proj_drop=old.proj_drop.p,
            lsa=lsa,
            **dd,
        )

    def _windows_qkv(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        """Normalised tokens (B, H, W, C) -> windowed q|k|v projections (B*nW, N, 3A), padded size."""
        B, H, W, C = x.shape
        wh, ww = self.window_size
        pad_h, pad_w = (wh - H % wh) % wh, (ww - W % ww) % ww
        qkv = self.attn.qkv(x)  # B, H, W, 3A
        if pad_h or pad_w:
            bias = self.attn.qkv.bias
            if bias is None:
                qkv = F.pad(qkv, (0, 0, 0, pad_w, 0, pad_h))
            else:  # zero tokens project to the qkv bias
                qkv = F.pad(qkv - bias, (0, 0, 0, pad_w, 0, pad_h)) + bias
        Hp, Wp = H + pad_h, W + pad_w
        if any(self.shift_size):
            qkv = torch.roll(qkv, shifts=(-self.shift_size[0], -self.shift_size[1]), dims=(1, 2))
        return window_partition(qkv, self.window_size).view(-1, self.window_area, qkv.shape[-1]), (Hp, Wp)

    def _shift_mask(self, Hp: int, Wp: int, like: torch.Tensor) -> Optional[torch.Tensor]:
        if not any(self.shift_size):
            return None
        if self.dynamic_mask or self.attn_mask is None:
            return self.get_attn_mask(like.new_zeros(1, Hp, Wp, 1))
        return self.attn_mask

    def query_index(self, H: int, W: int, device: torch.device) -> Optional[Tuple[torch.Tensor, torch.Tensor]]:
        """Where the real tokens of an H x W grid sit in the padded, shifted windows.

        Returns None when H and W are multiples of the window (no padding). Otherwise
        ``(rows, back)``: ``rows`` (nW, Q) the in-window indices of each window's real tokens
        (Q = the most real tokens in any window; shorter lists repeat their first index) and
        ``back`` (H*W,) the position of each real token (row-major) in the flattened (nW * Q)
        query list. Only these queries are computed: padded queries' outputs are dropped anyway.
        """
        wh, ww = self.window_size
        Hp, Wp = -(-H // wh) * wh, -(-W // ww) * ww
        if (Hp, Wp) == (H, W):
            return None
        key = (H, W, str(device), tuple(self.shift_size))
        cache = self.__dict__.setdefault("_query_index_cache", {})
        if key not in cache:
            ids = torch.full((1, Hp, Wp, 1), -1, dtype=torch.long)
            ids[0, :H, :W, 0] = torch.arange(H * W).view(H, W)
            if any(self.shift_size):
                ids = torch.roll(ids, shifts=(-self.shift_size[0], -self.shift_size[1]), dims=(1, 2))
            ids = window_partition(ids, self.window_size).view(-1, self.window_area)  # nW, N
            slots = [torch.nonzero(row >= 0).flatten() for row in ids]
            Q = max(len(s) for s in slots)
            rows = torch.stack([torch.cat([s, s[:1].expand(Q - len(s))]) for s in slots])
            back = torch.empty(H * W, dtype=torch.long)
            for w, s in enumerate(slots):
                back[ids[w, s]] = w * Q + torch.arange(len(s))
            cache[key] = (rows.to(device), back.to(device))
        return cache[key]

    def _attn(self, x: torch.Tensor) -> torch.Tensor:
        B, H, W, C = x.shape
        windows, (Hp, Wp) = self._windows_qkv(x)  # B*nW, N, 3A
        mask = self._shift_mask(Hp, Wp, x)
        A = windows.shape[-1] // 3
        index = self.query_index(H, W, x.device)
        if index is None:
            q, k, v = self.attn.split_qkv(windows)
            out = self.attn.attend(q, k, v, mask)  # B*nW, N, A
            out = window_reverse(out.view(-1, self.window_size[0], self.window_size[1], A),
                                 self.window_size, Hp, Wp)
            if any(self.shift_size):
                out = torch.roll(out, shifts=self.shift_size, dims=(1, 2))
        else:
            rows, back = index
            nW, Q = rows.shape
            nH = self.attn.num_heads
            _, k, v = self.attn.split_qkv(windows)
            flat = (torch.arange(nW, device=rows.device)[:, None] * self.window_area + rows).view(-1)
            q = windows.view(B, nW * self.window_area, 3 * A)[:, flat, :A]  # B, nW*Q, A
            q = q.reshape(B * nW, Q, nH, -1).transpose(1, 2)  # B*nW, nH, Q, hd
            out = self.attn.attend(q, k, v, mask, rows=rows)  # B*nW, Q, A
            out = out.reshape(B, nW * Q, A)[:, back].view(B, H, W, A)
        return self.attn.proj_drop(self.attn.proj(out[:, :H, :W, :]))

    @torch.no_grad()
    def attention_weights(self, x: torch.Tensor) -> torch.Tensor:
        """Attention weights of this block for its input ``x`` (B, H, W, C).

        Returns:
            (B, nW, nH, N, N) softmax weights, windows in row-major order over the padded (and,
            for SW-MSA, shifted) grid, N = window area (49), tokens row-major within a window.
        """
        B = x.shape[0]
        windows, (Hp, Wp) = self._windows_qkv(self.norm1(x))
        q, k, _ = self.attn.split_qkv(windows)
        w = self.attn.attention_weights(q, k, self._shift_mask(Hp, Wp, x))
        return w.view(B, -1, *w.shape[1:])


class SLSwinTransformer(SwinTransformer):
    """Swin Transformer with optional SPT embedding and LSA attention, for 3-channel flow maps.

    Args:
        spt: use :class:`ShiftedPatchTokenization` (with its position embedding) instead of the
            conv patch embedding.
        lsa: use Locality Self-Attention in every W-MSA / SW-MSA.
        img_size: input size in pixels (42 or 84 in the paper).
        **kwargs: passed to :class:`timm.models.swin_transformer.SwinTransformer`.
    """

    def __init__(self, spt: bool = False, lsa: bool = False, img_size: int = 42, patch_size: int = 6,
                 window_size: int = 7, always_partition: bool = True, num_classes: int = 1, **kwargs):
        if spt:
            kwargs["embed_layer"] = partial(ShiftedPatchTokenization, pos_embed=True)
        super().__init__(img_size=img_size, patch_size=patch_size, window_size=window_size,
                         always_partition=always_partition, num_classes=num_classes, **kwargs)
        self.spt, self.lsa = spt, lsa
        for stage in self.layers:
            for i, old in enumerate(stage.blocks):
                stage.blocks[i] = SLSwinBlock(
                    dim=old.dim,
                    input_resolution=old.input_resolution,
                    num_heads=old.attn.num_heads,
                    head_dim=old.attn.qkv.out_features // 3 // old.attn.num_heads,
                    window_size=old.window_size,
                    shift_size=old.target_shift_size,
                    always_partition=old.always_partition,
                    dynamic_mask=old.dynamic_mask,
                    mlp_ratio=old.mlp_ratio,
                    qkv_bias=old.attn.qkv.bias is not None,
                    proj_drop=old.attn.proj_drop.p,
                    attn_drop=old.attn.attn_drop.p,
                    drop_path=old.drop_path1.drop_prob if isinstance(old.drop_path1, DropPath) else 0.,
                    act_layer=type(old.mlp.act),
                    norm_layer=type(old.norm1),
                    lsa=lsa,
                )
        if kwargs.get("weight_init", "") != "skip":
            self.init_weights(needs_reset=False)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) -> normalised last-stage tokens (B, h, w, 8C)."""
        check_input(x, self.in_chans, tuple(self.patch_embed.img_size),
                    what=getattr(self, "pretrained_cfg", {}).get("architecture", type(self).__name__))
        return super().forward_features(x)

    def token_grids(self) -> list[dict[str, Any]]:
        """Per stage: token grid, window, shift and the padded grid the windows tile."""
        out = []
        for i, stage in enumerate(self.layers):
            blk = stage.blocks[-1]
            h, w = stage.output_resolution
            wh, ww = blk.window_size
            out.append(dict(stage=i + 1, grid=(h, w), dim=blk.dim, heads=blk.attn.num_heads,
                            window=(wh, ww), shift=tuple(blk.shift_size),
                            padded_grid=(-(-h // wh) * wh, -(-w // ww) * ww)))
        return out


def _cfg(size: int, **kwargs) -> Dict[str, Any]:
    return {
        "url": "", "num_classes": 1, "input_size": (3, size, size), "pool_size": None,
        "crop_pct": 1.0, "interpolation": "bilinear", "fixed_input_size": True,
        "mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0),
        "first_conv": "patch_embed.proj", "classifier": "head.fc", "license": "mit", **kwargs,
    }


default_cfgs = generate_default_cfgs({
    f"{prefix}_tiny_patch6_window7_{size}": _cfg(size)
    for prefix in SWIN_VARIANTS for size in (42, 84)
})


def _create(variant: str, pretrained: bool = False, **kwargs) -> SLSwinTransformer:
    if pretrained:
        raise ValueError(f"{variant} has no pretrained weights (SL-Swin is trained from scratch, SPEC 3)")
    prefix = variant.split("_tiny_")[0]
    spt, lsa = SWIN_VARIANTS[prefix]
    args = dict(patch_size=6, window_size=7, embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24),
                mlp_ratio=4.0, drop_path_rate=0.1, spt=spt, lsa=lsa)
    args.update(kwargs)
    return build_model_with_cfg(SLSwinTransformer, variant, pretrained=False, **args)


@register_model
def swin_tiny_patch6_window7_42(pretrained: bool = False, **kwargs) -> SLSwinTransformer:
    """Swin-T, 42 x 42 input, conv patch embedding, standard attention (Table 4 baseline)."""
    return _create("swin_tiny_patch6_window7_42", pretrained, **kwargs)


@register_model
def s_swin_tiny_patch6_window7_42(pretrained: bool = False, **kwargs) -> SLSwinTransformer:
    """S-Swin-T: Swin-T with Shifted Patch Tokenization, 42 x 42 input."""
    return _create("s_swin_tiny_patch6_window7_42", pretrained, **kwargs)


@register_model
def l_swin_tiny_patch6_window7_42(pretrained: bool = False, **kwargs) -> SLSwinTransformer:
    """L-Swin-T: Swin-T with Locality Self-Attention, 42 x 42 input."""
    return _create("l_swin_tiny_patch6_window7_42", pretrained, **kwargs)


@register_model
def sl_swin_tiny_patch6_window7_42(pretrained: bool = False, **kwargs) -> SLSwinTransformer:
    """SL-Swin-T: Swin-T with SPT and LSA, 42 x 42 input (the paper's model)."""
    return _create("sl_swin_tiny_patch6_window7_42", pretrained, **kwargs)


@register_model
def swin_tiny_patch6_window7_84(pretrained: bool = False, **kwargs) -> SLSwinTransformer:
    """Swin-T, 84 x 84 input (Table 6 size)."""
    return _create("swin_tiny_patch6_window7_84", pretrained, **kwargs)


@register_model
def s_swin_tiny_patch6_window7_84(pretrained: bool = False, **kwargs) -> SLSwinTransformer:
    """S-Swin-T, 84 x 84 input."""
    return _create("s_swin_tiny_patch6_window7_84", pretrained, **kwargs)


@register_model
def l_swin_tiny_patch6_window7_84(pretrained: bool = False, **kwargs) -> SLSwinTransformer:
    """L-Swin-T, 84 x 84 input."""
    return _create("l_swin_tiny_patch6_window7_84", pretrained, **kwargs)


@register_model
def sl_swin_tiny_patch6_window7_84(pretrained: bool = False, **kwargs) -> SLSwinTransformer:
    """SL-Swin-T, 84 x 84 input (Table 6)."""
    return _create("sl_swin_tiny_patch6_window7_84", pretrained, **kwargs)
