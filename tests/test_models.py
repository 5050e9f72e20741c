"""Tests of the SL-Swin / Table 4 models, in the style of timm's model tests."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import timm
import torch
import torch.nn.functional as F
from timm.models.swin_transformer import SwinTransformerBlock, window_partition, window_reverse

import slswin_lib.models as M
from slswin_lib.config import ModelConfig
from slswin_lib.models import (LocalitySelfAttention, LocalityWindowAttention, ShiftedPatchTokenization,
                               SLSwinBlock)

SWIN42 = [f"{p}_42" for p in ("swin_tiny_patch6_window7", "s_swin_tiny_patch6_window7",
                              "l_swin_tiny_patch6_window7", "sl_swin_tiny_patch6_window7")]


@pytest.fixture(scope="session")
def models42() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {name: timm.create_model(name) for name in SWIN42 + ["vit_base_patch6_42", "sl_vit_base_patch6_42"]}


def test_registered_names_and_input_sizes():
    assert len(M.MODEL_NAMES) == 12 + len(M.PEERS)
    listed = set(timm.list_models("*patch6*"))
    for name in M.MODEL_NAMES[:12]:
        assert name in listed
        assert M.model_input_size(name) == int(name[-2:])
        assert timm.models.get_pretrained_cfg(name).input_size == (3, int(name[-2:]), int(name[-2:]))
    assert set(timm.list_models("softnet")) == {"softnet"}
    assert M.model_input_size("softnet") == 42
    with pytest.raises(ValueError, match="unknown model"):
        M.model_input_size("resnet50")


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n.endswith("_84") else n
                                  for n in M.MODEL_NAMES])
def test_every_model_trains_one_step(models42, name):
    """Shape (B, 1), finite output, a gradient for every parameter, and one SGD step changes the output."""
    torch.manual_seed(0)
    model = copy.deepcopy(models42[name]) if name in models42 else timm.create_model(name)
    size = M.model_input_size(name)
    x, y = torch.rand(2, 3, size, size), torch.rand(2, 1)
    model.train()
    out = model(x)
    assert out.shape == (2, 1)
    assert torch.isfinite(out).all()
    loss = F.mse_loss(out, y)
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"no gradient for {missing[:5]}"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    model.eval()
    with torch.no_grad():
        before = model(x)
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    with torch.no_grad():
        after = model(x)
    assert not torch.equal(before, after)
    feats = model.forward_features(x)
    torch.testing.assert_close(model.forward_head(feats), after)


def test_parameter_counts(models42):
    counts = {n: M.count_params(m) for n, m in models42.items()}
    swin = counts["swin_tiny_patch6_window7_42"]
    assert 27_400_000 < swin < 27_600_000  # "about 27.5 M" (paper Section 2.3)
    # SPT (LN 540 + Linear 540->96 + pos 49x96) replaces conv 3*36->96 + LN 96
    spt = (2 * 540) + (540 * 96 + 96) + 49 * 96
    conv = (108 * 96 + 96) + 2 * 96
    temperatures = 2 * 3 + 2 * 6 + 6 * 12 + 2 * 24  # one per head and block
    assert counts["s_swin_tiny_patch6_window7_42"] - swin == spt - conv == 47_064
    assert counts["l_swin_tiny_patch6_window7_42"] - swin == temperatures == 138
    assert counts["sl_swin_tiny_patch6_window7_42"] - swin == spt - conv + temperatures
    vit = counts["vit_base_patch6_42"]
    assert 85_000_000 < vit < 85_300_000
    assert counts["sl_vit_base_patch6_42"] - vit == (2 * 540 + 540 * 768 + 768) - (108 * 768 + 768) + 12 * 12
    assert 0.3 < swin / vit < 0.35


def test_token_grids_and_windows(models42):
    model = models42["sl_swin_tiny_patch6_window7_42"]
    shapes = []
    hooks = [stage.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape))) for stage in model.layers]
    with torch.no_grad():
        model.forward_features(torch.rand(1, 3, 42, 42))
    for h in hooks:
        h.remove()
    assert shapes == [(1, 7, 7, 96), (1, 4, 4, 192), (1, 2, 2, 384), (1, 1, 1, 768)]
    for stage in model.layers:
        for i, blk in enumerate(stage.blocks):
            assert isinstance(blk, SLSwinBlock)
            assert blk.window_size == (7, 7)
            assert blk.shift_size == ((3, 3) if i % 2 else (0, 0))
    grids = [g["grid"] for g in timm.create_model("swin_tiny_patch6_window7_84").token_grids()]
    assert grids == [(14, 14), (7, 7), (4, 4), (2, 2)]


def _reference_block_attention(blk: SwinTransformerBlock, xn: torch.Tensor) -> torch.Tensor:
    """Straightforward padded-window attention (pad, shift, full 49 x 49 attention, unshift, crop)."""
    B, H, W, C = xn.shape
    ws, N, a = blk.window_size, blk.window_area, blk.attn
    ph, pw = (ws[0] - H % ws[0]) % ws[0], (ws[1] - W % ws[1]) % ws[1]
    x = F.pad(xn, (0, 0, 0, pw, 0, ph))
    Hp, Wp = H + ph, W + pw
    if any(blk.shift_size):
        x = torch.roll(x, (-blk.shift_size[0], -blk.shift_size[1]), (1, 2))
    win = window_partition(x, ws).view(-1, N, C)
    q, k, v = a.qkv(win).reshape(win.shape[0], N, 3, a.num_heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
    logits = q @ k.transpose(-2, -1)
    if getattr(a, "lsa", False):
        logits = logits * a.temperature.view(-1, 1, 1)
        logits[:, :, torch.arange(N), torch.arange(N)] = -1e30
    else:
        logits = logits * a.scale
    logits = logits + a._get_rel_pos_bias()
    if any(blk.shift_size):
        m = blk.get_attn_mask(x.new_zeros(1, Hp, Wp, 1))
        logits = (logits.view(-1, m.shape[0], a.num_heads, N, N) + m[None, :, None]).view(-1, a.num_heads, N, N)
    out = a.proj((logits.softmax(-1) @ v).transpose(1, 2).reshape(-1, N, C)).view(-1, ws[0], ws[1], C)
    out = window_reverse(out, ws, Hp, Wp)
    if any(blk.shift_size):
        out = torch.roll(out, blk.shift_size, (1, 2))
    return out[:, :H, :W]


@pytest.mark.parametrize("grid", [(7, 7), (4, 4), (2, 2), (1, 1), (10, 10), (9, 14)])
@pytest.mark.parametrize("shift", [0, 3])
@pytest.mark.parametrize("lsa", [False, True])
def test_block_attention_matches_padded_reference(grid, shift, lsa):
    """The real-token-only computation equals pad -> shift -> 49 x 49 window attention exactly."""
    torch.manual_seed(1)
    blk = SLSwinBlock(dim=64, input_resolution=grid, num_heads=2, window_size=7, shift_size=shift,
                      always_partition=True, lsa=lsa).eval()
    with torch.no_grad():
        for p in blk.attn.parameters():
            p.add_(0.2 * torch.randn_like(p))
        xn = torch.randn(3, *grid, 64)
        torch.testing.assert_close(blk._attn(xn), _reference_block_attention(blk, xn), atol=2e-5, rtol=1e-4)


def test_locality_window_attention_in_timm_block():
    """LocalityWindowAttention is a drop-in for timm's WindowAttention in timm's own block."""
    torch.manual_seed(0)
    blk = SwinTransformerBlock(dim=64, input_resolution=(14, 14), num_heads=2, window_size=7, shift_size=3).eval()
    lsa = LocalityWindowAttention(64, num_heads=2, window_size=7, lsa=True)
    lsa.load_state_dict(blk.attn.state_dict(), strict=False)
    blk.attn = lsa
    xn = torch.randn(2, 14, 14, 64)
    with torch.no_grad():
        torch.testing.assert_close(blk._attn(xn), _reference_block_attention(blk, xn), atol=2e-5, rtol=1e-4)


def test_temperature_is_a_parameter_with_standard_init(models42):
    names = dict(models42["l_swin_tiny_patch6_window7_42"].named_parameters())
    temps = {n: p for n, p in names.items() if n.endswith("attn.temperature")}
    assert len(temps) == 12
    for n, p in temps.items():
        assert p.requires_grad and p.shape == (p.numel(),)
        torch.testing.assert_close(p.detach(), torch.full_like(p, 32 ** -0.5))  # head dim 32 everywhere
    assert not any(n.endswith("temperature") for n, _ in models42["swin_tiny_patch6_window7_42"].named_parameters())
    vit = models42["sl_vit_base_patch6_42"]
    assert isinstance(vit.blocks[0].attn, LocalitySelfAttention)
    torch.testing.assert_close(vit.blocks[0].attn.temperature.detach(), torch.full((12,), 64 ** -0.5))


@pytest.mark.parametrize("name", ["l_swin_tiny_patch6_window7_42", "sl_swin_tiny_patch6_window7_42",
                                  "sl_vit_base_patch6_42"])
def test_lsa_diagonal_weights_are_exactly_zero(models42, name):
    x = torch.rand(2, 3, 42, 42)
    for kwargs in ([dict(stage=0, block=1), dict(stage=3, block=0)] if "swin" in name else [dict(block=5)]):
        w = M.attention_maps(models42[name], x, **kwargs)
        assert torch.all(torch.diagonal(w, dim1=-2, dim2=-1) == 0)
        torch.testing.assert_close(w.sum(-1), torch.ones_like(w.sum(-1)))
    plain = M.attention_maps(models42["swin_tiny_patch6_window7_42"], x, stage=0, block=0)
    assert plain.shape == (2, 1, 3, 49, 49)
    assert torch.all(torch.diagonal(plain, dim1=-2, dim2=-1) > 0)
    assert M.attention_maps(models42["vit_base_patch6_42"], x, block=0).shape == (2, 12, 50, 50)


def test_spt_against_hand_built_tensor():
    """4 x 4 single-channel image, patch 2 (shift 1): patches built by hand."""
    spt = ShiftedPatchTokenization(img_size=4, patch_size=2, in_chans=1, embed_dim=5)
    img = np.arange(1, 17, dtype=np.float32).reshape(4, 4)

    def shifted(dy, dx):  # out[i, j] = img[i - dy, j - dx], zero outside
        out = np.zeros_like(img)
        for i in range(4):
            for j in range(4):
                if 0 <= i - dy < 4 and 0 <= j - dx < 4:
                    out[i, j] = img[i - dy, j - dx]
        return out

    stack = [img, shifted(1, 1), shifted(1, -1), shifted(-1, 1), shifted(-1, -1)]
    expected = np.zeros((2, 2, 20), np.float32)
    for gi in range(2):
        for gj in range(2):
            expected[gi, gj] = [stack[c][2 * gi + r, 2 * gj + s] for r in range(2) for s in range(2) for c in range(5)]
    # e.g. top-left patch, first pixel: image 1, then the 4 shifted images at (0, 0): 0, 0, 0, 6
    assert expected[0, 0, :5].tolist() == [1, 0, 0, 0, 6]
    x = torch.from_numpy(img)[None, None]
    torch.testing.assert_close(spt.patchify(x)[0], torch.from_numpy(expected))
    with torch.no_grad():
        spt.pos_embed.normal_()
        want = spt.proj(F.layer_norm(torch.from_numpy(expected), (20,))) + spt.pos_embed[0]
        torch.testing.assert_close(spt(x)[0], want.flatten(0, 1))
    assert ShiftedPatchTokenization(img_size=4, patch_size=2, in_chans=1, embed_dim=5,
                                    output_fmt="NHWC")(x).shape == (1, 2, 2, 5)


def test_seed_determinism():
    def run():
        torch.manual_seed(123)
        model = timm.create_model("sl_swin_tiny_patch6_window7_42")
        x = torch.rand(2, 3, 42, 42)
        model.train()
        return model(x), model.state_dict()

    (a, sa), (b, sb) = run(), run()
    assert torch.equal(a, b)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("shape", [(2, 3, 84, 84), (2, 1, 42, 42), (3, 42, 42), (2, 42, 42, 3)])
@pytest.mark.parametrize("name", ["sl_swin_tiny_patch6_window7_42", "swin_tiny_patch6_window7_42",
                                  "vit_base_patch6_42"])
def test_bad_input_names_expected_shape(models42, name, shape):
    with pytest.raises(ValueError, match=r"\(B, 3, 42, 42\)"):
        models42[name](torch.rand(*shape))


def test_create_model_from_config():
    model = M.create_model(ModelConfig())
    assert model.pretrained_cfg["architecture"] == "sl_swin_tiny_patch6_window7_42"
    assert model.spt and model.lsa and model.num_classes == 1
    # the input size has one source, the registered name
    assert not hasattr(ModelConfig(), "input_size")
    big = M.create_model(ModelConfig(name="sl_swin_tiny_patch6_window7_84"), device="meta")
    assert big.pretrained_cfg["input_size"] == (3, 84, 84)
    with pytest.raises(ValueError, match="pretrained"):
        timm.create_model("sl_swin_tiny_patch6_window7_42", pretrained=True)


def test_flops_against_hand_count(models42):
    """Forward FLOPs (2 per multiply-add) against the linear layers counted by hand."""
    swin = M.count_flops(models42["sl_swin_tiny_patch6_window7_42"])
    vit = M.count_flops(models42["vit_base_patch6_42"])
    # ViT-B: 12 blocks x 50 tokens x (4 D^2 attention projections + 8 D^2 MLP), plus attention itself
    vit_linear = 12 * 50 * 12 * 768 ** 2 * 2
    assert vit_linear < vit < vit_linear * 1.05
    # SL-Swin-T: only real tokens are computed: 49, 16, 4, 1 tokens in stages 1-4 (dims 96 .. 768)
    blocks = sum(n * d * 12 * dim ** 2 * 2 for n, d, dim in [(49, 2, 96), (16, 2, 192), (4, 6, 384), (1, 2, 768)])
    merges = sum(n * 4 * dim * 2 * dim * 2 for n, dim in [(16, 96), (4, 192), (1, 384)])
    spt = 49 * 540 * 96 * 2
    swin_linear = blocks + merges + spt
    assert swin_linear < swin < swin_linear * 1.03
    assert 0.015 < swin / vit < 0.025  # the window model needs ~2% of ViT-B's compute at 42 x 42


def test_size_table_and_markdown(tmp_path):
    from slswin_lib.models.report import markdown_table, size_table, write_table

    df = size_table((42,), cache=tmp_path / "sizes.csv")
    assert list(df["model"]) == list(M.TABLE4)
    swin = df.set_index("model").loc["Swin-T"]
    assert swin["params_M"] == pytest.approx(27.525883)
    assert swin["token_grids"] == "7x7 -> 4x4 -> 2x2 -> 1x1"
    assert df.set_index("model").loc["ViT-B", "params_vs_vit"] == 1.0
    assert (tmp_path / "sizes.csv").exists() and size_table((42,), cache=tmp_path / "sizes.csv").equals(df)
    csv, md = write_table(df.head(1)[["model", "params_M"]], tmp_path / "03_model_sizes")
    assert md.read_text() == "| model | params_M |\n|---|---|\n| ViT-B | 85.180 |\n"
    assert csv.read_text().splitlines()[0] == "model,params_M"


def test_bf16_autocast_forward_backward(models42):
    model = copy.deepcopy(models42["sl_swin_tiny_patch6_window7_42"])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(torch.rand(2, 3, 42, 42))
    assert out.dtype == torch.bfloat16 and torch.isfinite(out).all()
    out.float().sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


# -- fidelity settings: the authors' ViT-B and position-embedding initialisation ----------------------
def test_authors_vit_parameter_counts_and_layers():
    """ViT-B as the authors build it, counted by hand: D = 768, 12 heads of 16 (qkv 768 -> 3 x 192, no bias)."""
    cfg = ModelConfig(vit_variant="authors")
    vit = M.create_model("vit_base_patch6_42", **M.model_kwargs("vit_base_patch6_42", cfg))
    D, inner, hidden = 768, 12 * 16, 4 * 768
    block = 2 * D + D * 3 * inner + (inner * D + D) + 2 * D + (D * hidden + hidden) + (hidden * D + D)
    assert block == 5_316_096
    embed = (3 * 6 * 6 * D + D) + D + 50 * D  # conv patch embedding, class token, position embedding
    assert M.count_params(vit) == embed + 12 * block + 2 * D + (D + 1) == 63_918_337
    attn = vit.blocks[0].attn
    assert attn.qkv.weight.shape == (576, 768) and attn.qkv.bias is None
    assert attn.proj.weight.shape == (768, 192) and attn.head_dim == 16 and attn.num_heads == 12
    assert all(isinstance(b.drop_path1, torch.nn.Identity) and isinstance(b.drop_path2, torch.nn.Identity)
               for b in vit.blocks)
    assert attn.proj_drop.p == vit.blocks[11].mlp.drop1.p == vit.blocks[11].mlp.drop2.p == 0.1
    sl = M.create_model(ModelConfig(name="sl_vit_base_patch6_42", vit_variant="authors"))
    spt_minus_conv = (2 * 540 + 540 * D + D) - (3 * 6 * 6 * D + D)
    assert M.count_params(sl) - M.count_params(vit) == spt_minus_conv + 12 * 12
    assert sl.blocks[5].attn.temperature.detach().tolist() == [16 ** -0.5] * 12
    x = torch.rand(2, 3, 42, 42)
    assert vit(x).shape == sl(x).shape == (2, 1)


def test_model_kwargs_per_setting():
    authors = ModelConfig(vit_variant="authors", pos_embed_init="normal")
    assert M.model_kwargs("swin_tiny_patch6_window7_84", authors) == {"pos_embed_init": "normal"}
    assert M.model_kwargs("sl_vit_base_patch6_84", authors) == {"pos_embed_init": "normal", "head_dim": 16,
                                                                 "qkv_bias": False, "proj_drop_rate": 0.1,
                                                                 "drop_path_rate": 0.0}
    assert M.model_kwargs("vit_base_patch6_42", ModelConfig()) == {"pos_embed_init": "trunc_normal"}
    with pytest.raises(ValueError, match="unknown model"):
        M.model_kwargs("vit_base_patch16_224", authors)
    with pytest.raises(ValueError, match=r"pos_embed_init = 'randn'.*\['trunc_normal', 'normal'\]"):
        timm.create_model("swin_tiny_patch6_window7_42", pos_embed_init="randn")
    with pytest.raises(ValueError, match=r"ModelConfig.vit_variant = 'big'.*\['timm', 'authors'\]"):
        ModelConfig(vit_variant="big")


@pytest.mark.parametrize("name,key", [("sl_swin_tiny_patch6_window7_42", "patch_embed.pos_embed"),
                                      ("s_swin_tiny_patch6_window7_42", "patch_embed.pos_embed"),
                                      ("vit_base_patch6_42", "pos_embed"),
                                      ("sl_vit_base_patch6_42", "pos_embed"),
                                      ("swin_tiny_patch6_window7_42", None)])
def test_pos_embed_init_changes_only_the_position_embedding(name, key):
    """Same seed: every weight equal except the position embedding (std 1 instead of 0.02), and
    the forward is the same function (the default model's weights give the default's output)."""
    def build(**kw):
        torch.manual_seed(7)
        return timm.create_model(name, **kw)

    default, explicit, normal = build(), build(pos_embed_init="trunc_normal"), build(pos_embed_init="normal")
    sd, se, sn = default.state_dict(), explicit.state_dict(), normal.state_dict()
    assert all(torch.equal(sd[k], se[k]) for k in sd)
    assert [k for k in sd if not torch.equal(sd[k], sn[k])] == ([key] if key else [])
    if key:
        n_values = sd[key].numel()
        assert n_values == (49 * 96 if "swin" in name else 50 * 768)
        assert abs(float(sd[key].std()) - 0.02) < 0.002 and float(sd[key].abs().max()) <= 2.0
        assert abs(float(sn[key].std()) - 1.0) < 0.05 and abs(float(sn[key].mean())) < 0.05
        assert float((sn[key].abs() > 2).float().mean()) > 0.03  # untruncated tails (4.6 % expected)
        normal.init_weights()  # a later re-initialisation keeps the setting
        assert abs(float(normal.state_dict()[key].std()) - 1.0) < 0.05
    normal.load_state_dict(sd)
    default.eval(), normal.eval()
    x = torch.rand(2, 3, 42, 42)
    with torch.no_grad():
        assert torch.equal(default(x), normal(x))


def test_create_model_from_config_applies_settings():
    torch.manual_seed(3)
    a = M.create_model(ModelConfig(name="s_swin_tiny_patch6_window7_42", pos_embed_init="normal"))
    torch.manual_seed(3)
    b = timm.create_model("s_swin_tiny_patch6_window7_42", pos_embed_init="normal")
    assert torch.equal(a.patch_embed.pos_embed, b.patch_embed.pos_embed)
    torch.manual_seed(3)
    c = M.create_model(ModelConfig(name="s_swin_tiny_patch6_window7_42"))
    torch.manual_seed(3)
    d = timm.create_model("s_swin_tiny_patch6_window7_42")
    assert all(torch.equal(p, q) for p, q in zip(c.state_dict().values(), d.state_dict().values()))


def test_size_table_of_the_authors_vit(tmp_path):
    from slswin_lib.models.report import size_table

    cache = tmp_path / "sizes.csv"
    timm_df = size_table((42,), cache=cache).set_index("model")
    authors = size_table((42,), cache=cache, model_cfg=ModelConfig(vit_variant="authors")).set_index("model")
    assert set(timm_df["vit_variant"]) == {"timm"} and set(authors["vit_variant"]) == {"authors"}
    assert authors.loc["ViT-B", "params_M"] == pytest.approx(63.918337)  # counted by hand above
    assert authors.loc["SL-ViT-B", "params_M"] == pytest.approx(64.251337)
    assert authors.loc["Swin-T", "params_M"] == timm_df.loc["Swin-T", "params_M"]
    assert authors.loc["Swin-T", "params_vs_vit"] == pytest.approx(27.525883 / 63.918337)


def test_spotting_model_is_the_trained_construction():
    """The authors' ViT-B (12 heads of dim 16, no qkv bias) has fewer parameters than timm's; the
    construction the protocols train is what spotting_model builds and counts."""
    from slswin_lib.training.trainer import build_model

    cfg = ModelConfig(vit_variant="authors")
    authors = M.spotting_model("vit_base_patch6_42", M.model_kwargs("vit_base_patch6_42", cfg), device="meta")
    timm_vit = M.spotting_model("vit_base_patch6_42", device="meta")
    assert M.count_params(authors) == 63_918_337 and M.count_params(timm_vit) == 85_179_649
    trained = build_model("vit_base_patch6_42", 0, **M.model_kwargs("vit_base_patch6_42", cfg))
    assert M.count_params(trained) == M.count_params(authors) and trained.num_classes == M.NUM_OUTPUTS


def test_removed_dead_code_stays_removed():
    """The query-row selection of window attention and the one-off flow helper had no caller."""
    import inspect

    from slswin_lib.features import flow

    assert list(inspect.signature(M.LocalityWindowAttention.attend).parameters) == ["self", "q", "k", "v", "mask"]
    assert not hasattr(flow, "compute_flow")


def test_softnet_shapes_and_parameter_count():
    """SOFTNet (Liong et al. 2021): (B, 3, 42, 42) -> (B, 1), the parameter count worked out by hand."""
    torch.manual_seed(0)
    model = timm.create_model("softnet", num_classes=1)
    assert isinstance(model, M.SOFTNet)
    # streams: 5 x 5 conv of one channel with 3, 5 and 8 filters (weights + biases)
    streams = sum(f * (5 * 5 * 1 + 1) for f in (3, 5, 8))
    assert streams == 78 + 130 + 208 == 416
    # 42 -> 3 x 3 pool stride 3 -> 14 -> 2 x 2 pool -> 7; 16 channels: 16 * 7 * 7 = 784 features
    dense = 784 * 400 + 400
    head = 400 * 1 + 1
    assert M.count_params(model) == streams + dense + head == 314_817
    x = torch.rand(5, 3, 42, 42)
    feats = model.forward_features(x)
    assert feats.shape == (5, 16, 7, 7)
    assert model.forward_head(feats, pre_logits=True).shape == (5, 400)
    out = model(x)
    assert out.shape == (5, 1)
    torch.testing.assert_close(model.forward_head(feats), out)
    # stream i sees channel i only: changing |e| moves the output but not the u and v streams' maps
    x2 = x.clone()
    x2[:, 2] = torch.rand(5, 42, 42)
    f2 = model.forward_features(x2)
    torch.testing.assert_close(f2[:, :8], feats[:, :8])
    assert not torch.equal(f2[:, 8:], feats[:, 8:])
    # Keras' initialisation: zero biases, Glorot-uniform weights bounded by sqrt(6 / (fan_in + fan_out))
    assert all(float(m.bias.detach().abs().max()) == 0.0 for m in model.modules() if isinstance(m, torch.nn.Linear))
    bound = (6 / (784 + 400)) ** 0.5
    assert float(model.fc.weight.detach().abs().max()) <= bound
    # the block-diagonal convolution is the three streams' convolutions, one channel each
    streams = torch.cat([F.conv2d(x[:, i:i + 1], c.weight, c.bias, padding=2) for i, c in enumerate(model.convs)], 1)
    torch.testing.assert_close(F.max_pool2d(F.max_pool2d(streams.relu(), 3), 2), feats)
    with pytest.raises(ValueError, match=r"\(B, 3, 42, 42\)"):
        model(torch.rand(2, 3, 84, 84))
    assert M.model_kwargs("softnet", ModelConfig(name="softnet", pos_embed_init="normal")) == {}
    assert isinstance(M.create_model(ModelConfig(name="softnet")), M.SOFTNet)
