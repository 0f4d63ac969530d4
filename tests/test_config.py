from pathlib import Path

import pytest

from bci_app.config import AppConfig, LoraConfig, config_from_dict, load_config, resolve_lora
from bci_app.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


def test_default_config_loads_with_guide_lora_section():
    cfg = load_config()
    assert isinstance(cfg, AppConfig)
    assert set(LoraConfig.model_fields) == {"enabled", "rank", "alpha", "target_modules", "dropout"}
    assert cfg.lora.target_modules == "auto"
    assert (cfg.lora.rank, cfg.lora.alpha, cfg.lora.dropout, cfg.lora.enabled) == ("auto", "auto", 0.1, True)
    assert load_config(REPO / "configs" / "default.yaml") == cfg


@pytest.mark.parametrize(
    ("name", "targets", "rank", "alpha"),
    [
        ("conservative", ["dense"], 8, 16),
        ("attention", ["msa"], 8, 16),
        ("recommended", ["dense", "msa"], 8, 16),
        ("high-capacity", ["dense", "msa"], 16, 32),
    ],
)
def test_guide_presets(name, targets, rank, alpha):
    cfg = load_config(REPO / "configs" / "lora" / f"{name}.yaml")
    assert cfg.lora.target_modules == targets
    assert (cfg.lora.rank, cfg.lora.alpha) == (rank, alpha)


def test_unknown_key_names_path_and_value(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("lora:\n  rnak: 4\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert "lora.rnak" in msg and "unknown key" in msg and "4" in msg and str(path) in msg


def test_wrong_type_names_path_and_value(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("finetune:\n  batch_size: many\n")
    with pytest.raises(ConfigError, match=r"finetune\.batch_size.*'many'"):
        load_config(path)


def test_nested_path_in_error():
    with pytest.raises(ConfigError, match=r"online\.smoothing\.method.*'median'"):
        config_from_dict({"online": {"smoothing": {"method": "median"}}})


def test_malformed_yaml(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("lora: [rank: 8\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def test_top_level_not_mapping(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "nope.yaml")


def test_yaml_is_loaded_safely(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("lora: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


@pytest.mark.parametrize(
    ("n_trials", "targets", "rank", "alpha"),
    [
        (0, ("dense",), 8, 16),
        (49, ("dense",), 8, 16),
        (50, ("dense", "msa"), 8, 16),
        (200, ("dense", "msa"), 8, 16),
        (201, ("dense", "msa"), 16, 32),
    ],
)
def test_auto_policy_boundaries(n_trials, targets, rank, alpha):
    resolved = resolve_lora(LoraConfig(), n_trials)
    assert resolved.target_modules == targets
    assert (resolved.rank, resolved.alpha) == (rank, alpha)


def test_a_rank_set_in_the_config_wins_and_auto_alpha_follows_it():
    resolved = resolve_lora(LoraConfig(rank=4), 300)
    assert (resolved.rank, resolved.alpha) == (4, 8.0)
    resolved = resolve_lora(LoraConfig(rank=4, alpha=32), 300)
    assert (resolved.rank, resolved.alpha) == (4, 32.0)
    resolved = resolve_lora(LoraConfig(alpha=5), 300)
    assert (resolved.rank, resolved.alpha) == (16, 5.0)


def test_explicit_targets_win_over_auto():
    resolved = resolve_lora(LoraConfig(target_modules=["msa2"]), 500)
    assert resolved.target_modules == ("msa2",) and (resolved.rank, resolved.alpha) == (16, 32.0)
    assert resolve_lora(LoraConfig(target_modules=["msa2"]), 20).rank == 8
