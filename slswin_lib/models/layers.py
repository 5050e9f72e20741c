"""SL-Swin building blocks: Shifted Patch Tokenization (SPT) and Locality Self-Attention (LSA).

Both come from Lee, Lee & Song, "Vision Transformer for Small-Size Datasets" (2021) and are used
by SL-Swin (He, Chen & Zhong 2023, paper Section 2.3) inside timm's Swin Transformer and ViT:

* :class:`ShiftedPatchTokenization` is a drop-in ``embed_layer`` for
  :class:`timm.models.swin_transformer.SwinTransformer` and
  :class:`timm.models.vision_transformer.VisionTransformer`.
* :class:`LocalityWindowAttention` is a drop-in for timm's ``WindowAttention`` (W-MSA / SW-MSA with
  relative position bias) and :class:`LocalitySelfAttention` for timm's global ``Attention``.

LSA as the authors implement it **[code]**: logits ``R = (Q K^T) * tau`` with a learnable per-head
``tau`` (initialised to ``head_dim ** -0.5``, i.e. the usual ``1 / sqrt(d)`` scaling), the diagonal
(each token with itself) masked out, then relative position bias and the SW-MSA shift mask are
added before the softmax. Here everything additive is folded into one float mask and handed to
:func:`torch.nn.functional.scaled_dot_product_attention`, with ``tau`` folded into ``q`` (exact, as
``(q * tau) k^T == (q k^T) * tau``), so that LSA costs no more than plain attention.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import Format, to_2tuple, trunc_normal_
from timm.layers.attention import Attention
from timm.models.swin_transformer import WindowAttention

from ..config import check_choice

__all__ = [
    "POS_EMBED_STD",
    "init_pos_embed",
    "check_input",
    "diagonal_shifts",
    "ShiftedPatchTokenization",
    "LocalityWindowAttention",
    "LocalitySelfAttention",
    "diagonal_mask",
]


#: standard deviation of each initialisation of a learnable position embedding: ``"trunc_normal"``
#: (timm's ViT, values truncated to [-2, 2]) and ``"normal"`` (a standard normal, the authors'
#: ``torch.randn`` **[code]**).
POS_EMBED_STD: dict[str, float] = {"trunc_normal": 0.02, "normal": 1.0}


@torch.no_grad()
def init_pos_embed(param: torch.Tensor, how: str = "trunc_normal") -> None:
    """Initialise a position embedding in place, as :data:`POS_EMBED_STD` names it.

    Args:
        param: the embedding, any shape (e.g. (1, 1 + N, D) for ViT, (1, h, w, D) for SPT).
        how: ``"trunc_normal"`` or ``"normal"``.

    Raises:
        ValueError: ``how`` is not a key of :data:`POS_EMBED_STD`.
    """
    check_choice("pos_embed_init", how, tuple(POS_EMBED_STD))
    if how == "trunc_normal":
        trunc_normal_(param, std=POS_EMBED_STD[how])
    else:
        nn.init.normal_(param, std=POS_EMBED_STD[how])


def check_input(x: torch.Tensor, in_chans: int, img_size: Tuple[int, int], what: str = "model") -> None:
    """Raise a ValueError naming the expected ``(B, in_chans, H, W)`` shape when ``x`` does not fit.

    Args:
        x: input batch, expected shape (B, in_chans, H, W).
        in_chans: expected channel count (3 for the (u, v, |e|) optical-flow features).
        img_size: expected (H, W) in pixels.
        what: name used in the message (e.g. the model name).
    """
    h, w = img_size
    if x.ndim != 4 or x.shape[1] != in_chans or tuple(x.shape[-2:]) != (h, w):
        raise ValueError(
            f"{what} expects an input batch of shape (B, {in_chans}, {h}, {w}); got {tuple(x.shape)}. "
            f"Resize the ROI mosaics to {h} x {w} with {in_chans} channels (u, v, strain), or create "
            f"the model variant for your input size (e.g. the '_{h}' model name)."
        )


def diagonal_shifts(x: torch.Tensor, shift: int) -> torch.Tensor:
    """Stack ``x`` with its four diagonal shifts by ``shift`` pixels (zero fill, cropped to size).

    Args:
        x: images, shape (B, C, H, W).
        shift: shift in pixels (half a patch in SPT).

    Returns:
        Tensor of shape (B, 5 C, H, W): ``[x, x moved down-right, x moved down-left,
        x moved up-right, x moved up-left]``, where "moved down-right" means
        ``out[..., i, j] = x[..., i - shift, j - shift]`` (0 outside the image).
    """
    s = shift
    if s == 0:
        return torch.cat([x] * 5, dim=1)
    xp = F.pad(x, (s, s, s, s))
    return torch.cat([
        x,
        xp[..., : -2 * s, : -2 * s],  # content moves down-right
        xp[..., : -2 * s, 2 * s:],    # down-left
        xp[..., 2 * s:, : -2 * s],    # up-right
        xp[..., 2 * s:, 2 * s:],      # up-left
    ], dim=1)


class ShiftedPatchTokenization(nn.Module):
    """Shifted Patch Tokenization, usable as timm's ``embed_layer``.

    ``x`` (B, C, H, W) -> concatenate ``x`` with its 4 diagonal half-patch shifts (B, 5C, H, W) ->
    split into non-overlapping p x p patches, flatten each to ``p * p * 5C`` values in
    (row, column, channel) order -> LayerNorm -> Linear to ``embed_dim`` -> (optionally) add a
    learnable absolute position embedding.

    Args:
        img_size: input size in pixels (int or (H, W)); must be a multiple of ``patch_size``.
        patch_size: patch size p in pixels.
        in_chans: input channels C.
        embed_dim: token dimension.
        norm_layer: ignored (timm passes its post-embedding norm; SPT normalises before the
            projection instead, as the SPT paper does).
        flatten: for the ViT convention, return (B, N, D) tokens (ignored when ``output_fmt``).
        output_fmt: ``"NHWC"`` (Swin) returns (B, H/p, W/p, D).
        pos_embed: add SPT's own learnable position embedding (True for Swin, which has none;
            False inside ViT, which adds its own).
        strict_img_size: raise a ValueError for any other input size.
    """

    def __init__(
            self,
            img_size: Union[int, Tuple[int, int]] = 42,
            patch_size: Union[int, Tuple[int, int]] = 6,
            in_chans: int = 3,
            embed_dim: int = 96,
            norm_layer: Optional[type] = None,
            flatten: bool = True,
            output_fmt: Optional[str] = None,
            bias: bool = True,
            strict_img_size: bool = True,
            dynamic_img_pad: bool = False,
            pos_embed: bool = True,
            device=None,
            dtype=None,
            **kwargs,
    ):
        super().__init__()
        dd = {"device": device, "dtype": dtype}
        self.patch_size = to_2tuple(patch_size)
        if self.patch_size[0] != self.patch_size[1]:
            raise ValueError(f"SPT needs a square patch, got patch_size={patch_size}")
        self.img_size = to_2tuple(img_size)
        if any(s % p for s, p in zip(self.img_size, self.patch_size)):
            raise ValueError(f"img_size {self.img_size} must be a multiple of patch_size {self.patch_size}")
        self.grid_size = tuple(s // p for s, p in zip(self.img_size, self.patch_size))
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.in_chans = in_chans
        self.embed_dim = embed_dim
        self.shift = self.patch_size[0] // 2
        self.strict_img_size = strict_img_size
        if output_fmt is not None:
            self.flatten = False
            self.output_fmt = Format(output_fmt)
        else:
            self.flatten = flatten
            self.output_fmt = Format.NCHW
        self.patch_dim = 5 * in_chans * self.patch_size[0] * self.patch_size[1]
        self.norm = nn.LayerNorm(self.patch_dim, **dd)
        self.proj = nn.Linear(self.patch_dim, embed_dim, bias=bias, **dd)
        self.pos_embed = nn.Parameter(torch.zeros(1, *self.grid_size, embed_dim, **dd)) if pos_embed else None
        self.init_weights()

    def init_weights(self) -> None:
        """Position embedding ~ truncated normal (std 0.02), as timm's ViT; LayerNorm to identity."""
        if self.pos_embed is not None:
            init_pos_embed(self.pos_embed, "trunc_normal")
        nn.init.ones_(self.norm.weight)
        nn.init.zeros_(self.norm.bias)

    def feat_ratio(self, as_scalar: bool = True) -> Union[Tuple[int, int], int]:
        return max(self.patch_size) if as_scalar else self.patch_size

    def dynamic_feat_size(self, img_size: Tuple[int, int]) -> Tuple[int, int]:
        return img_size[0] // self.patch_size[0], img_size[1] // self.patch_size[1]

    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        """Shift, concatenate and cut into flat patches (no normalisation, no projection).

        Args:
            x: images, shape (B, C, H, W).

        Returns:
            (B, H/p, W/p, p * p * 5C); within a patch the values are ordered by
            (row in patch, column in patch, channel of the 5C stack).
        """
        B, _, H, W = x.shape
        p = self.patch_size[0]
        x = diagonal_shifts(x, self.shift)  # B, 5C, H, W
        C5 = x.shape[1]
        x = x.reshape(B, C5, H // p, p, W // p, p).permute(0, 2, 4, 3, 5, 1)  # B, gh, gw, p, p, 5C
        return x.reshape(B, H // p, W // p, p * p * C5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) images -> tokens (B, H/p, W/p, D) for NHWC or (B, N, D) flattened."""
        if self.strict_img_size:
            check_input(x, self.in_chans, self.img_size, what="ShiftedPatchTokenization")
        x = self.proj(self.norm(self.patchify(x)))  # B, gh, gw, D
        if self.pos_embed is not None:
            x = x + self.pos_embed
        if self.output_fmt == Format.NHWC:
            return x
        if self.flatten:
            return x.flatten(1, 2)
        return x.permute(0, 3, 1, 2)


def diagonal_mask(n: int, dtype: torch.dtype, device=None) -> torch.Tensor:
    """(n, n) additive mask: ``-finfo(dtype).max`` on the diagonal, 0 elsewhere.

    A finite value rather than ``-inf`` keeps rows NaN-free even where every other entry is masked
    too; after the softmax the diagonal weights are exactly 0.
    """
    m = torch.zeros(n, n, dtype=dtype, device=device)
    m.fill_diagonal_(-torch.finfo(dtype).max)
    return m


class LocalityWindowAttention(WindowAttention):
    """Window attention (W-MSA / SW-MSA) with relative position bias and optional LSA.

    Same parameters and call signature as timm's ``WindowAttention`` (so it can replace it inside
    timm's ``SwinTransformerBlock``), plus ``lsa``. With ``lsa=True`` it adds the per-head learnable
    ``temperature`` (shape (num_heads,), initial value ``head_dim ** -0.5``, multiplying ``Q K^T``)
    and masks the diagonal; with ``lsa=False`` it is standard Swin attention with fixed scaling.
    """

    def __init__(
            self,
            dim: int,
            num_heads: int,
            head_dim: Optional[int] = None,
            window_size: Union[int, Tuple[int, int]] = 7,
            qkv_bias: bool = True,
            attn_drop: float = 0.,
            proj_drop: float = 0.,
            lsa: bool = True,
            device=None,
            dtype=None,
    ):
        self.lsa = lsa
        self.head_dim = head_dim or dim // num_heads
        super().__init__(dim, num_heads, head_dim=head_dim, window_size=window_size, qkv_bias=qkv_bias,
                         attn_drop=attn_drop, proj_drop=proj_drop, device=device, dtype=dtype)
        if lsa:
            self.temperature = nn.Parameter(torch.full((num_heads,), self.head_dim ** -0.5, device=device,
                                                       dtype=dtype))
        else:
            self.register_parameter("temperature", None)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if getattr(self, "temperature", None) is not None:
            with torch.no_grad():
                self.temperature.fill_(self.head_dim ** -0.5)

    def _scaled_q(self, q: torch.Tensor) -> torch.Tensor:
        if self.temperature is not None:
            return q * self.temperature.to(q.dtype).view(-1, 1, 1)
        return q * self.scale

    def attention_bias(self, mask: Optional[torch.Tensor], dtype: torch.dtype) -> torch.Tensor:
        """The additive float mask: relative position bias + shift mask + LSA diagonal mask.

        Args:
            mask: SW-MSA shift mask (num_windows, N, N) with 0 / -100 entries, or None.
            dtype: dtype of the attention logits.

        Returns:
            (1, nH, N, N) without ``mask`` or (nW, nH, N, N) with it.
        """
        bias = self._get_rel_pos_bias().to(dtype)  # 1, nH, N, N
        if mask is not None:
            bias = bias + mask.to(dtype).unsqueeze(1)  # nW, nH, N, N
        if self.lsa:
            bias = bias + diagonal_mask(self.window_area, dtype, bias.device)
        return bias

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
               mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Attention of windowed q, k, v.

        Args:
            q, k, v: queries, keys and values (B*nW, nH, N, hd).
            mask: SW-MSA shift mask (nW, N, N) or None.

        Returns:
            (B*nW, N, nH*hd).
        """
        B_, nH, Q, hd = q.shape
        bias = self.attention_bias(mask, q.dtype)
        q = self._scaled_q(q)
        drop = self.attn_drop.p if self.training else 0.
        nW = bias.shape[0]
        if nW == 1:
            x = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=drop, scale=1.0)
        else:
            B = B_ // nW
            x = F.scaled_dot_product_attention(q.view(B, nW, nH, Q, hd), k.view(B, nW, nH, -1, hd),
                                               v.view(B, nW, nH, -1, hd), attn_mask=bias, dropout_p=drop,
                                               scale=1.0)
        return x.reshape(B_, nH, Q, hd).transpose(1, 2).reshape(B_, Q, nH * hd)

    def split_qkv(self, qkv: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B_, N, 3 nH hd) projections -> q, k, v each (B_, nH, N, hd)."""
        B_, N, _ = qkv.shape
        return qkv.reshape(B_, N, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4).unbind(0)

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(B*nW, N, C) window tokens -> (B*nW, N, C); ``mask`` as timm's (nW, N, N) shift mask."""
        q, k, v = self.split_qkv(self.qkv(x))
        x = self.attend(q, k, v, mask)
        return self.proj_drop(self.proj(x))

    @torch.no_grad()
    def attention_weights(self, q: torch.Tensor, k: torch.Tensor,
                          mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Explicit softmax weights for inspection: q, k (B*nW, nH, N, hd) -> (B*nW, nH, N, N)."""
        logits = self._scaled_q(q) @ k.transpose(-2, -1)
        bias = self.attention_bias(mask, logits.dtype)
        if bias.shape[0] > 1:
            B_, nH, N, _ = logits.shape
            logits = (logits.view(B_ // bias.shape[0], bias.shape[0], nH, N, N) + bias).view(B_, nH, N, N)
        else:
            logits = logits + bias
        return logits.softmax(dim=-1)

    def extra_repr(self) -> str:
        return f"window_size={self.window_size}, num_heads={self.num_heads}, lsa={self.lsa}"


class LocalitySelfAttention(Attention):
    """Global multi-head self-attention with LSA, a drop-in for timm's ViT ``attn_layer``.

    Same constructor as :class:`timm.layers.attention.Attention`, plus a per-head learnable
    ``temperature`` (initial value ``head_dim ** -0.5``) and the diagonal masked with
    ``-finfo.max`` (the class token included, as the authors do **[code]**).
    """

    def __init__(self, dim: int, num_heads: int = 8, **kwargs):
        super().__init__(dim, num_heads=num_heads, **kwargs)
        dd = {"device": kwargs.get("device"), "dtype": kwargs.get("dtype")}
        self.temperature = nn.Parameter(torch.full((num_heads,), self.head_dim ** -0.5, **dd))

    def _qkv(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        B, N, _ = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        q, k = self.q_norm(q), self.k_norm(k)
        return q * self.temperature.to(q.dtype).view(-1, 1, 1), k, v

    def _bias(self, N: int, dtype: torch.dtype, device, attn_mask: Optional[torch.Tensor]) -> torch.Tensor:
        bias = diagonal_mask(N, dtype, device)
        if attn_mask is not None:
            if attn_mask.dtype == torch.bool:
                attn_mask = torch.zeros_like(attn_mask, dtype=dtype).masked_fill(~attn_mask, -torch.finfo(dtype).max)
            bias = bias + attn_mask.to(dtype)
        return bias

    def forward(self, x: torch.Tensor, attn_mask: Optional[torch.Tensor] = None,
                is_causal: bool = False) -> torch.Tensor:
        """(B, N, C) tokens -> (B, N, C)."""
        if is_causal:
            raise ValueError("LocalitySelfAttention does not support is_causal")
        B, N, _ = x.shape
        gate = self.gate(x).sigmoid() if self.gate is not None else None
        q, k, v = self._qkv(x)
        bias = self._bias(N, q.dtype, q.device, attn_mask)
        x = F.scaled_dot_product_attention(q, k, v, attn_mask=bias,
                                           dropout_p=self.attn_drop.p if self.training else 0., scale=1.0)
        x = self.norm(x.transpose(1, 2).reshape(B, N, self.attn_dim))
        if gate is not None:
            x = x * gate
        return self.proj_drop(self.proj(x))

    @torch.no_grad()
    def attention_weights(self, x: torch.Tensor) -> torch.Tensor:
        """Softmax weights for normalised tokens x (B, N, C) -> (B, nH, N, N)."""
        q, k, _ = self._qkv(x)
        logits = q @ k.transpose(-2, -1) + self._bias(x.shape[1], q.dtype, q.device, None)
        return logits.softmax(dim=-1)
