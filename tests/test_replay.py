"""``bci-app replay`` on a recording made by the session (no LSL; manual clock): replaying with the
same adapter reproduces every live decision bit for bit. The simulated headset delivers float32 µV
samples, as an amplifier over LSL does, so the recording (float32 µV) holds exactly what the live
decoder read."""

from __future__ import annotations

import json

import torch

from bci_app.acquisition import StreamSimulated
from bci_app.cli import main
from bci_app.clocks import ManualClock
from bci_app.config import AppConfig
from bci_app.models import ATCNet, save_model
from bci_app.models.adapters import save_adapter
from bci_app.models.lora import add_lora
from bci_app.online import DecoderModel
from bci_app.session import Session
from bci_app.signal.preprocess import PreprocessingSpec
from bci_app.vocabulary import SENSORIMOTOR_16


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
    for _ in range(100):  # 5 s before going online: the replay must start where the decoder did
        clock.advance(0.05)
        session.update()
    session.set_model(DecoderModel(base, spec, ("left_hand", "right_hand"), name="s"))
    session.start_online(runner=False, outlet=False)
    for _ in range(200):
        clock.advance(0.05)
        session.update()
    n_live = session.decoder.counters.decisions
    live_start, n_recorded = session.decoder.start_index, sim.buffer.n_written
    assert live_start > 0  # the decoder started on the buffered warm-up, after the recording's start
    session.disconnect()
    out = tmp_path / "r.json"
    assert main(["replay", str(tmp_path / "s.xdf"), "--compare", "--json", str(out)]) == 0
    cmp = json.loads(out.read_text())["compare"]
    assert cmp["n_live"] == n_live > 50
    assert cmp["n_matched"] == n_live and cmp["agreement"] == 1.0 and cmp["max_probability_difference"] == 0.0
    err = capsys.readouterr().err
    total = (n_recorded - live_start) / 160.0  # from the live start to the end
    assert f"bci-app replay: 0 of {total:.0f} s decoded" in err and f"{total:.0f} of {total:.0f} s decoded" in err


def test_a_recording_started_late_replays_bit_for_bit(tmp_path):
    """The recording starts when the stream's buffer has already dropped its first samples (as the
    participant's online.xdf does after a calibration): decisions and the decoder start are counted
    from the file's own first sample, so the replay still matches the live decisions exactly."""
    from bci_app.online.calibrate import adapted_decoder_model
    from bci_app.online.replay import Replay, compare_predictions, live_predictions

    torch.manual_seed(1)
    base = ATCNet(16, 2, 160.0, 480).eval()
    spec = PreprocessingSpec(SENSORIMOTOR_16, 160.0)
    save_model(base, tmp_path / "base", {"classes": ["left_hand", "right_hand"], "preprocessing": spec.to_dict()})
    add_lora(base, ["dense"], 4, 8.0, 0.0)
    save_adapter(base, tmp_path / "a", {"classes": ["left_hand", "right_hand"], "preprocessing": spec.to_dict(),
                                        "base_model": str(tmp_path / "base")})
    clock = ManualClock(10.0)
    sim = StreamSimulated(ch_names=SENSORIMOTOR_16, sfreq=160.0, clock=clock, sample_format="float32", bufsize=10.0)
    session = Session(AppConfig(), clock=clock)
    session.connect(sim)
    for _ in range(300):  # 15 s: the 10 s buffer has dropped its first 5 s
        clock.advance(0.05)
        session.update()
    assert session.start_recording(tmp_path / "late.xdf")
    session.set_model(DecoderModel(base, spec, ("left_hand", "right_hand"), name="late"))
    session.start_online(runner=False, outlet=False)
    for _ in range(120):
        clock.advance(0.05)
        session.update()
        session.recorder.poll()  # the manual clock runs faster than the recorder's real-time flushes
    assert session.recorder.first_index(sim) > 0
    session.disconnect()
    model, _ = adapted_decoder_model(tmp_path / "a")
    driver = Replay(tmp_path / "late.xdf", model, AppConfig().online)
    preds = driver.run()
    driver.close()
    cmp = compare_predictions(preds, live_predictions(driver.recording))
    assert cmp["n_live"] > 50 and cmp["n_matched"] == cmp["n_live"]
    assert cmp["agreement"] == 1.0 and cmp["max_probability_difference"] == 0.0
