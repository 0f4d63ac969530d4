"""One source of defaults: the shipped YAML is ``AppConfig()``, and the LoRA settings are resolved
once per calibration into one typed object (``ResolvedLora``) that the model, the adapter file and
the summaries carry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bci_app.config import DEFAULT_CONFIG_PATH, AppConfig, LoraConfig, ResolvedLora, load_config, load_yaml, resolve_lora

REPO = Path(__file__).resolve().parent.parent


def _leaves(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        out.update(_leaves(v, f"{prefix}{k}.") if isinstance(v, dict) and k != "map" else {f"{prefix}{k}": v})
    return out


def test_the_shipped_yaml_is_appconfig():
    shipped = load_config()
    assert shipped == AppConfig()
    assert shipped.model_dump(mode="json") == AppConfig().model_dump(mode="json")
    assert load_config(REPO / "configs" / "default.yaml") == AppConfig()  # the top-level link


def test_the_shipped_yaml_names_every_key():
    """Every setting is written in default.yaml (so a user reads the defaults there), none unknown."""
    written = _leaves(load_yaml(DEFAULT_CONFIG_PATH))
    assert set(written) == set(_leaves(AppConfig().model_dump(mode="json")))


@pytest.mark.parametrize("config", [AppConfig(), load_config()], ids=["AppConfig()", "default.yaml"])
@pytest.mark.parametrize(("n", "targets", "rank", "alpha"), [
    (15, ("dense",), 8, 16.0), (30, ("dense",), 8, 16.0), (120, ("dense", "msa"), 8, 16.0),
    (200, ("dense", "msa"), 8, 16.0), (250, ("dense", "msa"), 16, 32.0),
])
def test_auto_policy_is_the_same_from_appconfig_and_the_shipped_yaml(config, n, targets, rank, alpha):
    r = resolve_lora(config.lora, n)
    assert (r.target_modules, r.rank, r.alpha) == (targets, rank, alpha)


def test_rank_and_alpha_say_auto_or_a_number():
    with pytest.raises(ValueError, match="auto"):
        LoraConfig(rank="eight")
    assert LoraConfig(rank=4).rank == 4 and LoraConfig(alpha="auto").alpha == "auto"


def test_resolved_settings_are_what_the_model_and_the_adapter_file_carry(tmp_path):
    from bci_app.models import ATCNet
    from bci_app.models.adapters import load_adapter, save_adapter
    from bci_app.models.lora import apply_lora, lora_settings, lora_summary

    resolved = resolve_lora(AppConfig().lora, 250)
    model = ATCNet(8, 2, 160.0, 320)
    base = ATCNet(8, 2, 160.0, 320)
    base.load_state_dict(model.state_dict())
    apply_lora(model, resolved)
    assert lora_settings(model) == resolved and lora_settings(model).reason == resolved.reason
    assert "rank=16 alpha=32 scaling=2" in lora_summary(model)
    path = save_adapter(model, tmp_path / "a")
    info = json.loads(path.with_suffix(".json").read_text())
    assert {k: info[k] for k in ("target_modules", "rank", "alpha", "dropout")} == resolved.as_dict()
    load_adapter(base, path)
    loaded = lora_settings(base)
    assert isinstance(loaded, ResolvedLora) and loaded.as_dict() == resolved.as_dict()


def test_finetune_takes_only_resolved_settings():
    import numpy as np

    from bci_app.models import ATCNet
    from calibration.finetune import finetune, run_to_end

    X, y = np.zeros((10, 8, 320), np.float32), np.arange(10) % 2
    with pytest.raises(TypeError, match="resolved once"):
        run_to_end(finetune(ATCNet(8, 2, 160.0, 320), X, y, lora=LoraConfig()))
