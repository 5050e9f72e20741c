"""SOFTNet (Liong et al., ICIP 2021), the shallow three-stream CNN whose spotting pipeline SL-Swin ports.

SOFTNet takes the same 42 x 42 x 3 optical-flow features as SL-Swin (u, v and the optical strain
|e|, each min-max normalised per sample) and regresses the same pseudo label. Architecture, as
read from the authors' public code (genbing99/SoftNet-SpotME, ``training.py``, ``SOFTNet()``;
facts only, this is an independent implementation):

* one stream per input channel: a 5 x 5 convolution with "same" padding and 3 (u), 5 (v) and
  8 (|e|) filters, ReLU, then a 3 x 3 max-pool with stride 3 (42 -> 14);
* the three streams concatenated along the channels (3 + 5 + 8 = 16), a 2 x 2 max-pool with
  stride 2 (14 -> 7), flattened (16 * 7 * 7 = 784);
* a dense layer of 400 units with ReLU, and a linear dense output.

Keras initialises its convolutions and dense layers with Glorot-uniform weights and zero biases;
so does :class:`SOFTNet` (``weight_init="glorot"``; ``"torch"`` keeps PyTorch's defaults).
The authors train it with plain SGD (lr 5e-4), batch 12, 10 epochs, MSE, all training subjects
pooled and shuffled, and spot with p = 0.55 (``training.py``, ``training()``); these are the
``softnet_published`` recipe of :data:`slswin_lib.config.SOFTNET_RECIPES`.

    import slswin_lib.models
    model = timm.create_model("softnet", num_classes=1)   # (B, 3, 42, 42) -> (B, 1)
"""
from __future__ import annotations

from typing import Any, Dict

import torch
import torch.nn as nn
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model

from ..config import check_choice
from .layers import check_input

__all__ = ["SOFTNet", "SOFTNET_FILTERS"]

#: filters of the (u, v, |e|) streams [code]
SOFTNET_FILTERS: tuple[int, int, int] = (3, 5, 8)
SOFTNET_INIT = ("glorot", "torch")


class SOFTNet(nn.Module):
    """Three single-channel convolution streams, merged, pooled and regressed by two dense layers.

    Args:
        img_size: input side S (42: the spotting features), or a square (S, S) (timm passes its
            ``pretrained_cfg`` input size so).
        in_chans: input channels, one stream each (3: u, v, |e|).
        num_classes: outputs of the linear head (1: the regression score).
        filters: filters of each stream's convolution, in channel order.
        kernel_size: side of the streams' convolutions ("same" padding).
        stream_pool: side and stride of each stream's max-pool.
        merge_pool: side and stride of the max-pool after the concatenation.
        hidden: units of the dense ReLU layer.
        weight_init: ``"glorot"`` (Keras' defaults: Glorot-uniform weights, zero biases) or
            ``"torch"`` (PyTorch's default initialisation).
    """

    def __init__(self, img_size: int | tuple[int, int] = 42, in_chans: int = 3, num_classes: int = 1,
                 filters: tuple[int, ...] = SOFTNET_FILTERS, kernel_size: int = 5, stream_pool: int = 3,
                 merge_pool: int = 2, hidden: int = 400, weight_init: str = "glorot", **kwargs: Any):
        super().__init__()
        check_choice("SOFTNet weight_init", weight_init, SOFTNET_INIT)
        if len(filters) != in_chans:
            raise ValueError(f"SOFTNet has one stream per input channel: got {len(filters)} filter counts "
                             f"{tuple(filters)} for {in_chans} channels")
        if not isinstance(img_size, int):
            if len(set(img_size)) != 1:
                raise ValueError(f"SOFTNet takes square inputs; got img_size={tuple(img_size)}")
            img_size = int(img_size[0])
        if kwargs:
            raise TypeError(f"SOFTNet got unexpected arguments {sorted(kwargs)}")
        self.img_size, self.in_chans, self.num_classes = img_size, in_chans, num_classes
        self.streams = nn.ModuleList(
            nn.Sequential(nn.Conv2d(1, f, kernel_size, padding="same"), nn.ReLU(inplace=True),
                          nn.MaxPool2d(stream_pool, stride=stream_pool))
            for f in filters)
        self.merge_pool = nn.MaxPool2d(merge_pool, stride=merge_pool)
        side = img_size // stream_pool // merge_pool
        self.num_features = sum(filters) * side * side
        self.fc = nn.Linear(self.num_features, hidden)
        self.act = nn.ReLU(inplace=True)
        self.head = nn.Linear(hidden, num_classes) if num_classes > 0 else nn.Identity()
        self.weight_init = weight_init
        if weight_init == "glorot":
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.xavier_uniform_(m.weight)
                    nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) -> merged, pooled stream maps (B, 16, S/6, S/6) (16 x 7 x 7 at S = 42)."""
        check_input(x, self.in_chans, (self.img_size, self.img_size),
                    what=getattr(self, "pretrained_cfg", {}).get("architecture", type(self).__name__))
        maps = [stream(x[:, i:i + 1]) for i, stream in enumerate(self.streams)]
        return self.merge_pool(torch.cat(maps, dim=1))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """(B, 16, 7, 7) -> (B, num_classes); ``pre_logits``: the dense layer's (B, 400) output."""
        x = self.act(self.fc(x.flatten(1)))
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) -> (B, num_classes)."""
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.head = nn.Linear(self.fc.out_features, num_classes) if num_classes > 0 else nn.Identity()


default_cfgs = generate_default_cfgs({
    "softnet": {
        "url": "", "num_classes": 1, "input_size": (3, 42, 42), "pool_size": None, "crop_pct": 1.0,
        "interpolation": "bilinear", "fixed_input_size": True, "mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0),
        "first_conv": "streams.0.0", "classifier": "head", "license": "mit",
    },
})


@register_model
def softnet(pretrained: bool = False, **kwargs) -> SOFTNet:
    """SOFTNet (Liong et al. 2021): three conv streams (3, 5, 8 filters) + dense 400, 42 x 42 input."""
    if pretrained:
        raise ValueError("softnet has no pretrained weights here (trained from scratch in every LOSO fold)")
    return build_model_with_cfg(SOFTNet, "softnet", pretrained=False, **kwargs)
