"""Model and adapter files: safetensors + JSON round trips, hashes, and every failure mode."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import bci_app
from bci_app.errors import ModelError
from bci_app.models import load_model, model_hash, save_model
from bci_app.models.adapters import load_adapter, save_adapter
from bci_app.models.lora import LinearWithLoRA, add_lora, lora_parameters, merge_lora

META = {
    "classes": ["left_hand", "right_hand", "feet"],
    "ch_names": ["C3", "Cz", "C4", "Pz"],
    "sfreq": 128.0,
    "window": {"tmin_s": 0.5, "n_times": 320},
}


def _adapted(model, targets=("dense", "msa"), rank=4):
    add_lora(model, list(targets), rank=rank, alpha=2 * rank, dropout=0.1)
    with torch.no_grad():
        for p in lora_parameters(model):
            p.add_(0.05 * torch.randn_like(p))  # stands in for a trained adapter: B != 0
    return model.eval()


# ---------------------------------------------------------------------------- base models


def test_model_round_trip(small_model, batch, tmp_path):
    x, _ = batch
    small_model.eval()
    st_path = save_model(small_model, tmp_path / "base", META)
    assert st_path == tmp_path / "base.safetensors"
    assert (tmp_path / "base.json").is_file()
    info = json.loads((tmp_path / "base.json").read_text())
    assert info["hparams"] == small_model.hparams
    assert info["package_version"] == bci_app.__version__
    loaded, meta = load_model(tmp_path / "base.safetensors")
    assert meta == META
    assert model_hash(loaded) == model_hash(small_model) == info["model_hash"]
    assert not loaded.training
    with torch.no_grad():
        assert torch.equal(loaded(x), small_model(x))


def test_hash_ignores_adapters_but_sees_base_changes(small_model):
    h0 = model_hash(small_model)
    assert h0.startswith("sha256:") and len(h0) == 7 + 64
    _adapted(small_model)
    assert model_hash(small_model) == h0
    merge_lora(small_model)
    assert model_hash(small_model) != h0


def test_save_model_refuses_unmerged_adapters(small_model, tmp_path):
    _adapted(small_model, ["dense"])
    with pytest.raises(ModelError, match="merge_lora"):
        save_model(small_model, tmp_path / "m", {})


def test_load_model_missing_json(small_model, tmp_path):
    save_model(small_model, tmp_path / "m", {})
    (tmp_path / "m.json").unlink()
    with pytest.raises(ModelError, match=r"m\.json is missing.*copy them together"):
        load_model(tmp_path / "m")


def test_load_model_missing_weights(tmp_path):
    with pytest.raises(ModelError, match=r"nope\.safetensors not found"):
        load_model(tmp_path / "nope")


def test_load_model_truncated_weights(small_model, tmp_path):
    st = save_model(small_model, tmp_path / "m", {})
    st.write_bytes(st.read_bytes()[: st.stat().st_size // 2])
    with pytest.raises(ModelError, match=r"m\.safetensors is truncated or corrupt.*re-run pretraining"):
        load_model(tmp_path / "m")


def test_load_model_corrupt_json(small_model, tmp_path):
    save_model(small_model, tmp_path / "m", {})
    (tmp_path / "m.json").write_text("{not json")
    with pytest.raises(ModelError, match=r"m\.json is unreadable"):
        load_model(tmp_path / "m")


def _legacy(json_path, **changes):
    """Drop the weights hash from a sidecar (a file written before pairs carried it), so the deeper
    checks behind the hash are reached."""
    import json

    info = json.loads(json_path.read_text())
    info.pop("weights_sha256")
    json_path.write_text(json.dumps({**info, **changes}))


def test_load_model_weights_from_another_model_fail_the_hash(make_model, tmp_path):
    save_model(make_model(seed=0), tmp_path / "a", {})
    save_model(make_model(seed=1), tmp_path / "b", {})
    (tmp_path / "a.safetensors").write_bytes((tmp_path / "b.safetensors").read_bytes())
    with pytest.raises(ModelError, match=r"a\.safetensors does not match its metadata a\.json"):
        load_model(tmp_path / "a")
    _legacy(tmp_path / "a.json")  # b's header still carries b's metadata digest
    with pytest.raises(ModelError, match=r"a\.json was edited after a\.safetensors"):
        load_model(tmp_path / "a")


def test_load_model_wrong_architecture_shape(make_model, tmp_path):
    save_model(make_model(), tmp_path / "m", {})
    other = make_model(n_outputs=2)
    save_file({k: v.contiguous() for k, v in other.state_dict().items()}, str(tmp_path / "m.safetensors"))
    _legacy(tmp_path / "m.json")
    with pytest.raises(ModelError, match=r"dense\d\.(weight|bias) has shape \(2,.*expects \(3,"):
        load_model(tmp_path / "m")


# ---------------------------------------------------------------------------------- adapters


def test_adapter_round_trip_with_metadata(make_model, batch, tmp_path):
    x, _ = batch
    save_model(make_model(), tmp_path / "base", {})
    tuned = _adapted(make_model())
    alignment = np.eye(4) * 2.0
    meta = {**META, "preprocessing": {"alignment": alignment.tolist()}}
    save_adapter(tuned, tmp_path / "subj01", meta)
    assert (tmp_path / "subj01.safetensors").stat().st_size < 50_000

    fresh, _ = load_model(tmp_path / "base")
    assert not any(isinstance(m, LinearWithLoRA) for m in fresh.modules())
    info = load_adapter(fresh, tmp_path / "subj01.safetensors")
    assert info["base_model_hash"] == model_hash(fresh)
    assert info["target_modules"] == ["dense", "msa"]
    assert (info["rank"], info["alpha"], info["dropout"]) == (4, 8.0, 0.1)
    assert info["package_version"] == bci_app.__version__
    assert info["classes"] == META["classes"] and info["ch_names"] == META["ch_names"]
    assert info["sfreq"] == 128.0 and info["window"] == META["window"]
    np.testing.assert_array_equal(np.asarray(info["preprocessing"]["alignment"]), alignment)
    assert len([m for m in fresh.modules() if isinstance(m, LinearWithLoRA)]) == 6
    fresh.eval()
    with torch.no_grad():
        torch.testing.assert_close(fresh(x), tuned(x), rtol=0, atol=0)
    # loading again into the already-wrapped model works too
    load_adapter(fresh, tmp_path / "subj01")


def test_adapter_for_another_base_names_both_hashes(make_model, tmp_path):
    tuned = _adapted(make_model(seed=0))
    save_adapter(tuned, tmp_path / "a", META)
    other = make_model(seed=1)
    with pytest.raises(ModelError) as err:
        load_adapter(other, tmp_path / "a")
    assert model_hash(tuned) in str(err.value) and model_hash(other) in str(err.value)
    assert not any(isinstance(m, LinearWithLoRA) for m in other.modules())


def test_adapter_wrong_shape(make_model, tmp_path):
    save_adapter(_adapted(make_model(), rank=4), tmp_path / "a", {})
    tensors = load_file(str(tmp_path / "a.safetensors"))
    bad = {k: (v[:2] if k.endswith("lora_A") else v[:, :2]).contiguous() for k, v in tensors.items()}
    save_file(bad, str(tmp_path / "a.safetensors"))
    with pytest.raises(ModelError, match=r"does not match its metadata"):
        load_adapter(make_model(), tmp_path / "a")
    _legacy(tmp_path / "a.json", format_version=1)
    with pytest.raises(ModelError, match=r"lora_[AB] has shape .* the model expects"):
        load_adapter(make_model(), tmp_path / "a")


def test_adapter_truncated_file(make_model, tmp_path):
    st = save_adapter(_adapted(make_model()), tmp_path / "a", {})
    st.write_bytes(st.read_bytes()[:100])
    with pytest.raises(ModelError, match=r"a\.safetensors is truncated or corrupt.*re-run calibration"):
        load_adapter(make_model(), tmp_path / "a")


def test_adapter_missing_or_corrupt_json(make_model, tmp_path):
    save_adapter(_adapted(make_model()), tmp_path / "a", {})
    (tmp_path / "a.json").write_text('{"format": "something else"}')
    with pytest.raises(ModelError, match=r"a\.json is not a bci-app LoRA adapter"):
        load_adapter(make_model(), tmp_path / "a")
    (tmp_path / "a.json").unlink()
    with pytest.raises(ModelError, match=r"a\.json is missing next to .*a\.safetensors"):
        load_adapter(make_model(), tmp_path / "a")


def test_save_adapter_errors(small_model, tmp_path):
    with pytest.raises(ModelError, match="no LoRA adapters"):
        save_adapter(small_model, tmp_path / "a", {})
    _adapted(small_model)
    with pytest.raises(ModelError, match="not JSON-serialisable"):
        save_adapter(small_model, tmp_path / "a", {"alignment": np.eye(2)})
    with pytest.raises(ModelError, match=r"\['rank'\]"):
        save_adapter(small_model, tmp_path / "a", {"rank": 99})
