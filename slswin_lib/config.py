"""Run profiles: the one place where every size, count and setting of a run is defined.

Three profiles share one schema:

* ``smoke``: tests and CI; every stage runs in seconds to minutes on a 2-core CPU.
* ``quick``: the default of ``./run_all.sh`` on a laptop CPU (whole pipeline within ~40 min).
* ``paper``: the paper's exact settings (He, Chen & Zhong 2023, SPEC.md); a GPU is expected.

Each stage owns one frozen dataclass section; a :class:`Profile` bundles them.
Notebooks take a ``profile`` parameter and call :func:`get_profile`; individual values can be
overridden with :func:`Profile.replace` (``profile.replace(train={"epochs": 2})``).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "SpotConfig",
    "DataConfig",
    "FeatureConfig",
    "ModelConfig",
    "TrainConfig",
    "AblationConfig",
    "Profile",
    "PROFILES",
    "get_profile",
    "check_choice",
]


def check_choice(where: str, value: Any, options: "tuple | list | set | dict") -> None:
    """Refuse a setting value outside ``options``, naming the setting and the valid values.

    >>> check_choice("FeatureConfig.flow", "dis", ("tvl1", "dis"))
    >>> check_choice("FeatureConfig.flow", "lk", ("tvl1", "dis"))
    Traceback (most recent call last):
    ...
    ValueError: FeatureConfig.flow = 'lk' is not a valid choice; choose one of ['tvl1', 'dis']
    """
    if value not in options:
        raise ValueError(f"{where} = {value!r} is not a valid choice; choose one of {list(options)}")


#: valid values of the named settings (each refused otherwise, with this list)
SPOT_MODES = ("authors", "megc")
#: optical-flow methods (slswin_lib.features.flow.FLOW_METHODS)
FLOWS = ("tvl1", "tvl1_torch", "dis", "farneback")
K_FROM = ("all_subjects", "training_subjects")
ROI_LAYOUTS = ("paper", "one_box")
PX_SCALING = ("with_crop", "fixed")
POS_EMBED_INITS = ("trunc_normal", "normal")
VIT_VARIANTS = ("timm", "authors")
RECIPES = ("paper", "adamw")
SCHEDULES = ("pooled", "per_subject")
AUGMENT_STAGES = ("normalised", "raw")
PSEUDO_WINDOWS = ("k_plus_one", "k_frames")


@dataclass(frozen=True)
class SpotConfig:
    """Spotting (SPEC 2.5) and evaluation (SPEC 5)."""

    #: threshold factor t in T = mean + t (max - mean); the paper's value.
    t: float = 0.60
    #: grid of t searched when t is selected on training subjects only (nested selection).
    t_grid: tuple[float, ...] = tuple(round(0.01 * i, 2) for i in range(1, 100))
    #: IoU rule: "authors" reproduces the published counts, "megc" is the MEGC rule.
    mode: str = "authors"
    #: whose annotations give k (half the mean expression length): "all_subjects" (the authors'
    #: code: the test subject's included) or "training_subjects" (each LOSO fold's own)
    k_from: str = "all_subjects"

    def __post_init__(self) -> None:
        check_choice("SpotConfig.mode", self.mode, SPOT_MODES)
        check_choice("SpotConfig.k_from", self.k_from, K_FROM)


@dataclass(frozen=True)
class DataConfig:
    """Synthetic benchmark (issue 3): sizes per profile, and the generator's event/distractor ranges.

    Pixel sizes ``*_px`` are at the 128 px face crop (scaled to the face size in the frame);
    ranges are ``(low, high)`` drawn uniformly (MaE durations log-uniformly).
    """

    fps: float = 30.0
    n_subjects: int = 4
    videos_per_subject: int = 1
    seconds_per_video: float = 20.0
    frame_size: int = 256
    seed: int = 0
    #: face box (landmark extent) as a fraction of the frame side, per subject
    face_fraction: tuple[float, float] = (0.42, 0.55)
    #: in-plane head pose of a subject, +- degrees
    pose_degrees: float = 8.0
    me_fraction: float = 0.4
    me_seconds: tuple[float, float] = (0.2, 0.5)
    me_px: tuple[float, float] = (0.3, 1.0)
    mae_seconds: tuple[float, float] = (0.5, 4.0)
    mae_px: tuple[float, float] = (1.5, 6.0)
    #: pause between consecutive expressions
    gap_seconds: tuple[float, float] = (1.0, 3.5)
    blink_every_seconds: tuple[float, float] = (2.0, 6.0)
    #: slow head drift: peak translation (px at the 128 crop) and rotation (degrees)
    drift_px: float = 3.0
    drift_degrees: float = 1.5
    #: sudden head movements: mean interval (s), size ranges
    head_move_every_seconds: float = 8.0
    head_move_px: tuple[float, float] = (2.0, 8.0)
    head_move_degrees: tuple[float, float] = (0.5, 3.0)
    #: per-frame lighting jitter (relative gain s.d.), sensor noise s.d. (grey levels), JPEG quality
    flicker: float = 0.004
    noise_sigma: tuple[float, float] = (0.8, 2.0)
    jpeg_quality: tuple[int, int] = (80, 95)


@dataclass(frozen=True)
class FeatureConfig:
    """Feature extraction and preprocessing (SPEC 2.1-2.2, issue 4).

    Defaults are the paper's text; ``abs_uv`` and ``roi_layout="one_box"`` are the authors'
    code variants. Pixel sizes (``nose_box``, ``eye_grow``, ``roi_margin``) are given for the
    128 px crop and scale with ``face_size``.
    """

    #: face crop side in pixels (128; 256 for the Table 6 variant)
    face_size: int = 128
    #: ROI side in the mosaic (21 -> 42 x 42 input; 42 -> 84 x 84)
    roi_size: int = 21
    #: flow method: "tvl1" (OpenCV) | "tvl1_torch" (the same, batched torch) | "dis" | "farneback"
    #: (slswin_lib.features.flow)
    flow: str = "tvl1"
    #: overrides of the flow method's OpenCV parameters as (name, value) pairs; () = defaults
    flow_params: tuple[tuple[str, Any], ...] = ()
    #: torch device of "tvl1_torch" ("cpu", "cuda", "cuda:1", ...); not part of the cache key
    flow_device: str = "cpu"
    #: frame pairs per device call of "tvl1_torch"; not part of the cache key
    flow_batch: int = 64
    #: run "tvl1_torch"'s inner iteration through torch.compile (1.2-2x the eager pairs/s at batch
    #: 4-64 on a CPU core, benchmarks/bench_features.py --tvl1-torch --compile); not in the cache key
    flow_compile: bool = False
    #: [code] variant: abs() of u and v after head-motion removal
    abs_uv: bool = False
    #: "paper": two eye/brow ROIs + mouth; "one_box": [code] one box over both brows/eyes
    roi_layout: str = "paper"
    #: pixel sizes (nose box, eye growth, ROI margin) at a larger crop (Table 6): "with_crop" scales
    #: them with ``face_size``; "fixed" keeps the 128 px values ([code])
    px_scaling: str = "with_crop"
    nose_box: int = 11
    eye_grow: int = 15
    roi_margin: int = 12
    #: face box = landmarks' bounding square times this factor
    crop_margin: float = 1.0
    #: "image": detect landmarks on every frame; "video": MediaPipe tracking (re-detect when lost)
    landmark_mode: str = "image"
    min_confidence: float = 0.5
    #: frame pairs per parallel task
    chunk: int = 64
    workers: int = 0  # 0: one process per CPU core

    def __post_init__(self) -> None:
        check_choice("FeatureConfig.flow", self.flow, FLOWS)
        check_choice("FeatureConfig.roi_layout", self.roi_layout, ROI_LAYOUTS)
        if int(self.flow_batch) < 1:
            raise ValueError(f"FeatureConfig.flow_batch = {self.flow_batch} must be >= 1")
        check_choice("FeatureConfig.px_scaling", self.px_scaling, PX_SCALING)


@dataclass(frozen=True)
class ModelConfig:
    """Model choice (SPEC 2.3, issue 5)."""

    name: str = "sl_swin_tiny_patch6_window7_42"
    input_size: int = 42
    #: input sizes whose Table 4 models notebook 03 sizes up (params, FLOPs).
    summary_sizes: tuple[int, ...] = (42, 84)
    #: initialisation of the learnable position embedding: "trunc_normal" (std 0.02, timm) or
    #: "normal" (std 1, [code])
    pos_embed_init: str = "trunc_normal"
    #: ViT-B / SL-ViT-B of Table 4: "timm" (head dim 64, qkv bias, drop-path 0.1) or "authors"
    #: ([code]: 12 heads of dim 16, no qkv bias, dropout 0.1, no drop-path)
    vit_variant: str = "timm"

    def __post_init__(self) -> None:
        check_choice("ModelConfig.pos_embed_init", self.pos_embed_init, POS_EMBED_INITS)
        check_choice("ModelConfig.vit_variant", self.vit_variant, VIT_VARIANTS)


@dataclass(frozen=True)
class TrainConfig:
    """Training (SPEC 3, issue 6)."""

    epochs: int = 25
    batch_size: int = 48
    lr: float = 5e-4
    #: "pseudo" (the paper) or "original" labels (Table 5)
    labelling: str = "pseudo"
    seed: int = 0
    #: fraction of the non-expression samples kept in each training set (paper: 1/2)
    keep_negatives: float = 0.5
    #: three augmented copies (flip, blur, noise) of each positive sample, ME training only
    augment: bool = True
    blur_ksize: int = 7
    noise_std: float = 0.1
    #: cap on the training samples of one fold (None: all, the paper); a CPU-budget knob
    max_train_samples: int | None = None
    predict_batch_size: int = 256
    #: "auto" (CUDA when available), "cpu" or "cuda"
    device: str = "auto"
    #: folds trained at once on a local Dask cluster (1: in this process)
    fold_workers: int = 1
    #: optimisation recipe: "paper" (plain SGD, MSE, ``epochs`` over the data) or a CPU-practical one
    recipe: str = "paper"
    #: "pooled": all training subjects shuffled together; "per_subject" ([code]): the training subjects
    #: one after another, ``epochs`` each with a fresh optimiser, the model carried over
    schedule: str = "pooled"
    #: where the ME augmentation is applied: "normalised" (after the per-sample min-max normalisation)
    #: or "raw" ([code]: on the raw features, then normalised)
    augment_stage: str = "normalised"
    #: pseudo-label window of sample i: "k_plus_one" (frames i .. i + k, the paper's text) or
    #: "k_frames" ([code]: frames i .. i + k - 1)
    pseudo_window: str = "k_plus_one"

    def __post_init__(self) -> None:
        check_choice("TrainConfig.recipe", self.recipe, RECIPES)
        check_choice("TrainConfig.schedule", self.schedule, SCHEDULES)
        check_choice("TrainConfig.augment_stage", self.augment_stage, AUGMENT_STAGES)
        check_choice("TrainConfig.pseudo_window", self.pseudo_window, PSEUDO_WINDOWS)


@dataclass(frozen=True)
class AblationConfig:
    """Budget of the ablation runs (Tables 4-6, issue 7); the paper profile runs the full LOSO."""

    #: held-out subjects per ablation run: None = every subject (the full LOSO), n = the first n
    folds: int | None = None
    #: cap on the training samples of one fold (None: all)
    max_train_samples: int | None = None
    #: Table 4 rows trained in this profile (display names of ``slswin_lib.models.TABLE4``)
    table4_models: tuple[str, ...] = ("ViT-B", "SL-ViT-B", "Swin-T", "L-Swin-T", "S-Swin-T", "SL-Swin-T")


@dataclass(frozen=True)
class Profile:
    name: str
    spot: SpotConfig = field(default_factory=SpotConfig)
    data: DataConfig = field(default_factory=DataConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    ablation: AblationConfig = field(default_factory=AblationConfig)

    def replace(self, **sections: dict[str, Any]) -> "Profile":
        """Return a copy with some values of some sections replaced.

        >>> get_profile("smoke").replace(train={"epochs": 1}).train.epochs
        1
        """
        changes = {}
        for section, values in sections.items():
            current = getattr(self, section)
            changes[section] = dataclasses.replace(current, **values)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        data=DataConfig(n_subjects=3, videos_per_subject=1, seconds_per_video=8.0, frame_size=192),
        features=FeatureConfig(flow="dis"),
        train=TrainConfig(epochs=1, batch_size=16, max_train_samples=64, predict_batch_size=128),
        ablation=AblationConfig(folds=1, max_train_samples=32),
        model=ModelConfig(summary_sizes=(42,)),
    ),
    "quick": Profile(
        name="quick",
        data=DataConfig(n_subjects=6, videos_per_subject=1, seconds_per_video=30.0),
        # DIS: 10x the frames/s of OpenCV's default TV-L1 here, with a lower end-point error
        # on the synthetic benchmark (benchmarks/bench_features.py); the paper profile keeps TV-L1
        features=FeatureConfig(flow="dis"),
        # CPU budget: <= 1200 training samples per fold, 3 epochs, two folds at a time
        train=TrainConfig(epochs=3, max_train_samples=1200, fold_workers=2),
        # ViT-B costs ~50x the FLOPs of Swin-T at 42 x 42 (~18 min per fold here): its two
        # Table 4 rows run in the smoke (to test them) and paper profiles, not in quick
        ablation=AblationConfig(folds=2, max_train_samples=600,
                                table4_models=("Swin-T", "L-Swin-T", "S-Swin-T", "SL-Swin-T")),
    ),
    "paper": Profile(
        name="paper",
        data=DataConfig(n_subjects=22, videos_per_subject=4, seconds_per_video=90.0),
        # flow: OpenCV's TV-L1 ("tvl1"), the paper's. The batched torch TV-L1 ("tvl1_torch") meets
        # the agreement bound (EPE within 0.01 px of OpenCV's on the synthetic benchmark,
        # benchmarks/bench_features.py --tvl1-torch) but is not OpenCV's flow bit for bit (mean
        # |difference| 0.007 px), so this profile keeps OpenCV's; for speed (a GPU, or a CPU with
        # flow_compile) use .replace(features={"flow": "tvl1_torch", "flow_device": "cuda"})
        features=FeatureConfig(),
        train=TrainConfig(epochs=25, batch_size=48, lr=5e-4),
    ),
}


def get_profile(name: str) -> Profile:
    """Return the named profile (``smoke``, ``quick`` or ``paper``)."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}") from None
