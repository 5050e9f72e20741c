"""The fidelity settings: one registry entry per difference between the paper's text and the
authors' code, the profiles built from it, the paper-text variants and the generated table."""
from __future__ import annotations

import dataclasses

import pytest

from slswin_lib.config import (AUTHORS_CODE, FIDELITY, PAPER_TEXT, PROFILES, FeatureConfig, Profile,
                               fidelity_markdown, fidelity_table, fidelity_variants, get_profile, paper_text)

SETTINGS = ["features.abs_uv", "features.roi_layout", "features.px_scaling", "train.schedule",
            "train.augment_stage", "train.pseudo_window", "model.pos_embed_init", "model.vit_variant",
            "spot.k_from"]


def _flat(profile: Profile) -> dict[str, object]:
    return {f"{sec}.{k}": v for sec, vals in profile.to_dict().items() if isinstance(vals, dict)
            for k, v in vals.items()}


def test_registry_names_existing_settings_with_valid_values():
    assert [row.setting for row in FIDELITY] == SETTINGS  # one row per setting, none twice
    for row in FIDELITY:
        cls = type(getattr(Profile(name="x"), row.section))
        assert row.field in {f.name for f in dataclasses.fields(cls)}, row.setting
        assert row.paper_value != row.authors_value
        for value in (row.paper_value, row.authors_value):
            assert getattr(cls(**{row.field: value}), row.field) == value
        with pytest.raises(ValueError, match=rf"{cls.__name__}\.{row.field} = 'bogus' is not a valid choice; "
                                             rf"choose one of \[.*{row.paper_value!r}.*\]") as err:
            cls(**{row.field: "bogus"})
        assert repr(row.authors_value) in str(err.value)
        assert row.detail and row.paper_text and row.authors_code
    assert AUTHORS_CODE["features"] == {"abs_uv": True, "roi_layout": "one_box", "px_scaling": "fixed"}
    assert PAPER_TEXT["train"] == {"schedule": "pooled", "augment_stage": "normalised", "pseudo_window": "k_plus_one"}
    with pytest.raises(ValueError, match=r"FeatureConfig.abs_uv = 'yes'.*\[False, True\]"):
        FeatureConfig(abs_uv="yes")


def test_profiles_take_the_authors_code():
    for name, profile in PROFILES.items():
        for row in FIDELITY:
            expected = "pooled" if (row.setting == "train.schedule" and name != "paper") else row.authors_value
            assert row.value(profile) == expected, (name, row.setting)
    # only the fidelity rows differ from the section defaults' paper-text values where set
    quick = get_profile("quick")
    assert quick.features.flow == "dis" and quick.train.recipe == "adamw" and quick.train.fold_workers == 2
    assert get_profile("paper").features.flow == "tvl1" and get_profile("smoke").data.frame_size == 192


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_paper_text_variant(name):
    base = get_profile(name)
    text = paper_text(name)
    assert text.name == f"{name}-paper_text" and get_profile(f"{name}-paper_text") == text
    assert all(row.value(text) == row.paper_value for row in FIDELITY)
    flat_base, flat_text = _flat(base), _flat(text)
    changed = {k for k in flat_base if flat_base[k] != flat_text[k]}
    assert changed == set(SETTINGS) - ({"train.schedule"} if name != "paper" else set())


@pytest.mark.parametrize("name,n_rows", [("paper", 9), ("quick", 8), ("smoke", 8)])
def test_fidelity_variants_switch_one_row_each(name, n_rows):
    base = get_profile(name)
    variants = fidelity_variants(name)
    assert list(variants)[0] == "authors_code" and list(variants)[-1] == "paper_text"
    assert variants["authors_code"] == base and len(variants) == n_rows + 2
    flat_base = _flat(base)
    for setting, variant in list(variants.items())[1:-1]:
        flat = _flat(variant)
        assert {k for k in flat if flat[k] != flat_base[k]} == {setting}
        assert variant.name == f"{name}-paper_text-{setting.split('.')[1]}"
        assert get_profile(variant.name) == variant
    if name != "paper":
        assert "train.schedule" not in variants  # quick/smoke already pool
        with pytest.raises(ValueError, match=rf"unknown profile '{name}-paper_text-schedule'.*"
                                             rf"'{name}-paper_text-abs_uv'"):
            get_profile(f"{name}-paper_text-schedule")
    with pytest.raises(ValueError, match=r"unknown profile 'laptop'; choose one of \['paper', 'quick', 'smoke'\]"):
        get_profile("laptop")


def test_fidelity_table_from_the_settings():
    df = fidelity_table()
    assert list(df.columns) == ["detail", "paper text", "authors' code", "smoke", "quick", "paper", "setting"]
    assert df["setting"].tolist() == SETTINGS and len(df) == len(FIDELITY) == 9
    row = df.set_index("setting")
    assert row.loc["features.abs_uv", "quick"] == "True (code)"
    assert row.loc["train.schedule", "paper"] == "per_subject (code)"
    assert row.loc["train.schedule", "smoke"] == "pooled (text)"
    assert row.loc["model.vit_variant", "detail"] == "ViT-B / SL-ViT-B (Table 4)"
    # a changed profile value shows up; Profile objects give their own column
    mine = get_profile("quick").replace(features={"abs_uv": False}, spot={"k_from": "training_subjects"})
    mine = dataclasses.replace(mine, name="mine")
    custom = fidelity_table(("paper", mine)).set_index("setting")
    assert list(custom.columns) == ["detail", "paper text", "authors' code", "paper", "mine"]
    assert custom.loc["features.abs_uv", "mine"] == "False (text)"
    assert custom.loc["spot.k_from", "mine"] == "training_subjects (text)"
    assert custom.loc["spot.k_from", "paper"] == "all_subjects (code)"
    md = fidelity_markdown()
    lines = md.splitlines()
    assert len(lines) == 2 + 9 and lines[0].startswith("| detail") and "| features.abs_uv" in lines[2]
    assert "per_subject (code)" in md


def test_method_page_table_is_generated(tmp_path):
    """docs/method.md's fidelity block is fidelity_markdown() (regenerate with
    ``update_readme("docs/method.md", fidelity_markdown(), block="fidelity")``), and only that block changes."""
    from pathlib import Path

    from slswin_lib.results import readme_block, update_readme

    page = Path(__file__).resolve().parents[1] / "docs" / "method.md"
    assert readme_block(page, "fidelity").strip() == fidelity_markdown().strip(), (
        "docs/method.md's fidelity table is stale: run python -c \"from slswin_lib.config import fidelity_markdown; "
        "from slswin_lib.results import update_readme; update_readme('docs/method.md', fidelity_markdown(), "
        "block='fidelity')\"")
    doc = tmp_path / "README.md"
    doc.write_text("a\n<!-- results:start -->\nold\n<!-- results:end -->\n<!-- fidelity:start -->\nx\n"
                   "<!-- fidelity:end -->\nb\n")
    assert update_readme(doc, "| t |", block="fidelity")
    assert doc.read_text() == ("a\n<!-- results:start -->\nold\n<!-- results:end -->\n<!-- fidelity:start -->\n"
                               "| t |\n<!-- fidelity:end -->\nb\n")
    assert readme_block(doc, "results") == "old\n" and readme_block(doc, "other") is None
    assert not update_readme(doc, "y", block="other")


def test_result_changing_constants_live_in_config():
    """One source: the modules that use these settings take them from config (the same objects)."""
    import inspect

    from slswin_lib import config, deploy, report, scores, spotting
    from slswin_lib.experiment import folds
    from slswin_lib.training import trainer

    assert config.PAPER_T == 0.60 and config.SpotConfig().t == config.PAPER_T == config.BASELINE_T
    assert deploy.BASELINE_K is config.BASELINE_K and config.BASELINE_K == {"me": 6, "mae": 18}
    assert deploy.BASELINE_FPS == config.BASELINE_FPS == 30.0 and deploy.BASELINE_T == config.BASELINE_T
    assert deploy.KNOWN_FPS is config.KNOWN_FPS and config.KNOWN_FPS["samm_lv"] == 200.0
    assert folds.VAL_SAMPLES == config.VAL_SAMPLES == 128 and trainer.VAL_POINTS == config.VAL_POINTS == 10
    assert report.INTERVAL_RESAMPLES == config.INTERVAL_RESAMPLES == 2000
    for fn in (spotting.spot, spotting.spot_smoothed, scores.spot_score_set):
        assert inspect.signature(fn).parameters["t"].default == config.PAPER_T, fn.__name__
    for module in (deploy.spot, deploy.checkpoint, folds, trainer, report):
        for name in ("BASELINE_K", "BASELINE_FPS", "BASELINE_T", "KNOWN_FPS", "VAL_SAMPLES", "VAL_POINTS",
                     "INTERVAL_RESAMPLES"):
            assert f"\n{name} =" not in inspect.getsource(module) and f"\n{name}:" not in inspect.getsource(module)


def test_functions_below_the_entry_points_take_the_resolved_profile():
    """One road: a notebook or command resolves its profile once; these take the Profile, not a name."""
    import inspect

    from slswin_lib import deploy, experiment, report

    for fn, arg in [(report.k_from_tables, "profile"), (report.fidelity_ablation, "profile"),
                    (experiment.loso, "profile"), (experiment.ablation_loso, "profile"),
                    (experiment.train_all, "profile"), (experiment.megc2022, "profile"),
                    (experiment.run_folder, "profile"), (experiment.find_loso_run, "p"),
                    (experiment.sized_profile, "profile"), (experiment.ExpressionSet.with_k, "profile"),
                    (deploy.deploy_t, "p"), (deploy.export_spotter, "profile")]:
        assert inspect.signature(fn).parameters[arg].annotation == "Profile", fn.__qualname__
    assert inspect.signature(experiment.baseline).parameters["profile"].annotation == "Profile | None"


def test_softnet_runs_under_its_own_resolved_profile():
    """SOFTNet's settings road: model.name "softnet", train = the profile's softnet section, t = 0.55."""
    from slswin_lib.config import SOFTNET_RECIPES, SOFTNET_T, get_profile, peer_profile

    published = SOFTNET_RECIPES["softnet_published"]
    # genbing99/SoftNet-SpotME training.py: plain SGD lr 5e-4, batch 12, 10 epochs, all subjects pooled
    assert (published["recipe"], published["lr"], published["momentum"], published["batch_size"],
            published["epochs"], published["schedule"]) == ("paper", 5e-4, 0.0, 12, 10, "pooled")
    assert SOFTNET_T == 0.55
    paper = peer_profile("paper")
    assert (paper.model.name, paper.spot.t) == ("softnet", 0.55)
    assert {k: getattr(paper.train, k) for k in published} == published
    for name in ("smoke", "quick"):
        base, soft = get_profile(name), peer_profile(name)
        assert soft.train == base.softnet and soft.train.recipe == "adamw"
        # the same samples as SL-Swin: every setting outside the recipe is the profile's own
        recipe_keys = set(SOFTNET_RECIPES["softnet_cpu"]) | {"steps"}
        same = {f.name for f in dataclasses.fields(base.train)} - recipe_keys
        assert all(getattr(soft.train, k) == getattr(base.train, k) for k in same if k != "batch_size")
        assert soft.features == base.features and soft.data == base.data
        assert base.model.name != "softnet" and base.spot.t == 0.60
    with pytest.raises(ValueError, match="peer"):
        peer_profile("quick", "lgsnet")
