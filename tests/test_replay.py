"""``bci-app replay`` on a recording made by the session (no LSL; manual clock): replaying with the
same adapter reproduces every live decision bit for bit. The simulated headset delivers float32 µV
samples, as an amplifier over LSL does, so the recording (float32 µV) holds exactly what the live
decoder read."""

from __future__ import annotations

import json

import torch

from bci_app.acquisition import StreamSimulated
from bci_app.cli import main
from bci_app.config import AppConfig
from bci_app.models import ATCNet, save_model
from bci_app.models.adapters import save_adapter
from bci_app.models.lora import add_lora
from bci_app.online import DecoderModel
from bci_app.session import Session
from bci_app.signal.channels import SENSORIMOTOR_16
from bci_app.signal.preprocess import PreprocessingSpec
from calibration.paradigm import ManualClock


def test_replay_compare_reproduces_live_decisions(tmp_path, capsys):
    torch.manual_seed(0)
    base = ATCNet(16, 2, 160.0, 480).eval()
    spec = PreprocessingSpec(SENSORIMOTOR_16, 160.0)
    save_model(base, tmp_path / "base", {"classes": ["left_hand", "right_hand"], "preprocessing": spec.to_dict()})
    add_lora(base, ["dense", "msa"], 4, 8.0, 0.0)
    for name, p in base.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, 0, 0.3)
    save_adapter(base, tmp_path / "s-adapter", {"classes": ["left_hand", "right_hand"], "preprocessing": spec.to_dict(),
                                                "base_model": str(tmp_path / "base")})
    clock = ManualClock(10.0)
    sim = StreamSimulated(ch_names=SENSORIMOTOR_16, sfreq=160.0, clock=clock, sample_format="float32")
    session = Session(AppConfig(), clock=clock)
    session.connect(sim)
    session.start_recording(tmp_path / "s.xdf")
    for _ in range(40):  # 2 s before going online: the replay must start where the decoder did
        clock.advance(0.05)
        session.update()
    session.set_model(DecoderModel(base, spec, ("left_hand", "right_hand"), name="s"))
    session.start_online(runner=False, outlet=False)
    for _ in range(200):
        clock.advance(0.05)
        session.update()
    n_live = session.decoder.counters.decisions
    session.disconnect()
    out = tmp_path / "r.json"
    assert main(["replay", str(tmp_path / "s.xdf"), "--compare", "--json", str(out)]) == 0
    cmp = json.loads(out.read_text())["compare"]
    assert cmp["n_live"] == n_live > 50
    assert cmp["n_matched"] == n_live and cmp["agreement"] == 1.0 and cmp["max_probability_difference"] == 0.0
    err = capsys.readouterr().err
    assert "bci-app replay: 0 of 10 s decoded" in err and "10 of 10 s decoded" in err  # from the live start to the end
