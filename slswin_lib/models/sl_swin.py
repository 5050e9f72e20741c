"""SL-Swin and its Table 4 siblings on timm's :class:`~timm.models.swin_transformer.SwinTransformer`.

One implementation, variants by arguments (paper Section 2.3):

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
keys and values all equal the qkv bias; :class:`SLSwinBlock` computes exactly the same result on
the real tokens only (see :meth:`SLSwinBlock._attn_padded`), so that the 1 x 1 grid of stage 4
costs one query and two keys instead of 49 x 49.
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

from ..config import check_choice
from .layers import (POS_EMBED_STD, LocalityWindowAttention, ShiftedPatchTokenization, check_input,
                     init_pos_embed)

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

    def token_layout(self, H: int, W: int, device: torch.device) -> Optional[Dict[str, torch.Tensor]]:
        """Where the real tokens of an H x W grid sit in the zero-padded, shifted 7 x 7 windows.

        Returns None when H and W are multiples of the window (nothing padded). Otherwise a dict
        (cached per grid) with, for nW windows holding at most R real tokens each:

        * ``tok`` (nW, R): row-major token index of each window's real tokens (0 where a window
          has fewer than R; those entries are masked out),
        * ``slot`` (nW, R): their position inside the window (0 .. N-1),
        * ``valid`` (nW, R): which entries are real,
        * ``pad`` (nW, N): which window positions are padding,
        * ``back`` (H*W,): where each token lands in the flattened (nW * R) list.
        """
        wh, ww = self.window_size
        Hp, Wp = -(-H // wh) * wh, -(-W // ww) * ww
        if (Hp, Wp) == (H, W):
            return None
        key = (H, W, str(device), tuple(self.shift_size))
        cache = self.__dict__.setdefault("_layout_cache", {})
        if key not in cache:
            ids = torch.full((1, Hp, Wp, 1), -1, dtype=torch.long)
            ids[0, :H, :W, 0] = torch.arange(H * W).view(H, W)
            if any(self.shift_size):
                ids = torch.roll(ids, shifts=(-self.shift_size[0], -self.shift_size[1]), dims=(1, 2))
            ids = window_partition(ids, self.window_size).reshape(-1, self.window_area)  # nW, N
            nW = ids.shape[0]
            slots = [torch.nonzero(row >= 0).flatten() for row in ids]
            R = max(len(sl) for sl in slots)
            out = dict(tok=torch.zeros(nW, R, dtype=torch.long), slot=torch.zeros(nW, R, dtype=torch.long),
                       valid=torch.zeros(nW, R, dtype=torch.bool), pad=ids < 0,
                       back=torch.empty(H * W, dtype=torch.long))
            for w, sl in enumerate(slots):
                n = len(sl)
                out["tok"][w, :n] = ids[w, sl]
                out["slot"][w, :n] = sl
                out["valid"][w, :n] = True
                out["back"][ids[w, sl]] = w * R + torch.arange(n)
            cache[key] = {k: v.to(device) for k, v in out.items()}
        return cache[key]

    def _attn_padded(self, x: torch.Tensor, layout: Dict[str, torch.Tensor], mask: Optional[torch.Tensor]
                     ) -> torch.Tensor:
        """Exact padded-window attention computed on the real tokens only.

        Padded tokens are zero after LayerNorm, so all their keys equal the key bias b_k and all
        their values the value bias b_v; they differ only in the additive bias (relative position,
        shift mask). Softmax over them therefore collapses exactly into one virtual key (b_k, b_v)
        whose additive bias is the log-sum-exp of the padded positions' biases. Padded queries are
        dropped by the block anyway, so only real queries are computed.
        """
        B, H, W, C = x.shape
        attn = self.attn
        nH = attn.num_heads
        tok, slot, valid, pad, back = (layout[k] for k in ("tok", "slot", "valid", "pad", "back"))
        nW, R = tok.shape
        qkv = attn.qkv(x).reshape(B, H * W, -1).index_select(1, tok.view(-1))  # B, nW*R, 3A
        A = qkv.shape[-1] // 3
        q, k, v = attn.split_qkv(qkv.reshape(B * nW, R, 3 * A))  # each B*nW, nH, R, hd
        if attn.qkv.bias is not None:
            bk, bv = attn.qkv.bias[A:2 * A], attn.qkv.bias[2 * A:]
        else:
            bk = bv = qkv.new_zeros(A)
        hd = A // nH
        k = torch.cat([k, bk.view(1, nH, 1, hd).expand(B * nW, -1, -1, -1)], dim=2)
        v = torch.cat([v, bv.view(1, nH, 1, hd).expand(B * nW, -1, -1, -1)], dim=2)

        neg = -torch.finfo(q.dtype).max
        full = attn.attention_bias(mask, q.dtype).expand(nW, -1, -1, -1)  # nW, nH, N, N
        rows = torch.gather(full, 2, slot.view(nW, 1, R, 1).expand(-1, nH, -1, full.shape[-1]))  # nW, nH, R, N
        real = torch.gather(rows, 3, slot.view(nW, 1, 1, R).expand(-1, nH, R, -1))  # nW, nH, R, R
        real = real.masked_fill(~valid.view(nW, 1, 1, R), neg)
        virtual = rows.masked_fill(~pad.view(nW, 1, 1, -1), float("-inf")).logsumexp(-1, keepdim=True)
        virtual = virtual.clamp(min=neg)  # windows without padding: weight 0
        bias = torch.cat([real, virtual], dim=-1)  # nW, nH, R, R + 1

        q = attn._scaled_q(q)
        drop = attn.attn_drop.p if self.training else 0.
        shape = (B, nW, nH, -1, hd)
        out = F.scaled_dot_product_attention(q.view(shape), k.view(shape), v.view(shape), attn_mask=bias,
                                             dropout_p=drop, scale=1.0)  # B, nW, nH, R, hd
        out = out.permute(0, 1, 3, 2, 4).reshape(B, nW * R, A).index_select(1, back).view(B, H, W, A)
        return attn.proj_drop(attn.proj(out))

    def _attn(self, x: torch.Tensor) -> torch.Tensor:
        B, H, W, C = x.shape
        wh, ww = self.window_size
        Hp, Wp = -(-H // wh) * wh, -(-W // ww) * ww
        mask = self._shift_mask(Hp, Wp, x)
        layout = self.token_layout(H, W, x.device)
        if layout is not None:
            return self._attn_padded(x, layout, mask)
        windows, _ = self._windows_qkv(x)  # B*nW, N, 3A
        q, k, v = self.attn.split_qkv(windows)
        out = self.attn.attend(q, k, v, mask)  # B*nW, N, A
        out = window_reverse(out.view(-1, wh, ww, out.shape[-1]), self.window_size, Hp, Wp)
        if any(self.shift_size):
            out = torch.roll(out, shifts=self.shift_size, dims=(1, 2))
        return self.attn.proj_drop(self.attn.proj(out))

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
        pos_embed_init: initialisation of SPT's learnable position embedding (1, h, w, C),
            ``"trunc_normal"`` (std 0.02, timm) or ``"normal"`` (std 1, **[code]**); drawn after
            every other weight, so the other weights do not depend on it. Without SPT the model
            has no position embedding and the setting changes nothing.
        **kwargs: passed to :class:`timm.models.swin_transformer.SwinTransformer`.
    """

    def __init__(self, spt: bool = False, lsa: bool = False, img_size: int = 42, patch_size: int = 6,
                 window_size: int = 7, always_partition: bool = True, num_classes: int = 1,
                 pos_embed_init: str = "trunc_normal", **kwargs):
        check_choice("SLSwinTransformer pos_embed_init", pos_embed_init, tuple(POS_EMBED_STD))
        if spt:
            kwargs["embed_layer"] = partial(ShiftedPatchTokenization, pos_embed=True)
        super().__init__(img_size=img_size, patch_size=patch_size, window_size=window_size,
                         always_partition=always_partition, num_classes=num_classes, **kwargs)
        self.spt, self.lsa = spt, lsa
        dd = {"device": kwargs.get("device"), "dtype": kwargs.get("dtype")}
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
                    **dd,
                )
        self.pos_embed_init = pos_embed_init
        if kwargs.get("weight_init", "") != "skip":
            self.init_weights(needs_reset=False)

    def _init_pos_embed(self) -> None:
        how = getattr(self, "pos_embed_init", "trunc_normal")  # unset while timm's __init__ runs
        pos_embed = getattr(self.patch_embed, "pos_embed", None)
        if how != "trunc_normal" and pos_embed is not None:
            init_pos_embed(pos_embed, how)

    def init_weights(self, mode: str = "", needs_reset: bool = True) -> None:
        """timm's initialisation, then SPT's position embedding as ``pos_embed_init`` says."""
        super().init_weights(mode, needs_reset=needs_reset)
        self._init_pos_embed()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) -> normalised last-stage tokens (B, h, w, 8C)."""
        check_input(x, self.in_chans, tuple(self.patch_embed.img_size),
                    what=getattr(self, "pretrained_cfg", {}).get("architecture", type(self).__name__))
        return super().forward_features(x)

    def token_grids(self) -> list[dict[str, Any]]:
        """Per stage: token grid, window, shift (of every second block) and the padded grid the windows tile."""
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
        raise ValueError(f"{variant} has no pretrained weights (SL-Swin is trained from scratch, paper Section 3.3)")
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
