"""A model prepared on a worker thread is installed without building it again on the caller's thread."""

from __future__ import annotations

import threading

import torch

from bci_app.models import ATCNet
from bci_app.online import Decoder, DecoderModel
from bci_app.signal.preprocess import PreprocessingSpec
from bci_app.vocabulary import SENSORIMOTOR_16


def test_prepared_runnable_is_handed_over_once() -> None:
    torch.manual_seed(0)
    dm = DecoderModel(ATCNet(16, 2, 160.0, 480).eval(), PreprocessingSpec(SENSORIMOTOR_16, 160.0), ("left_hand", "right_hand"))
    worker = threading.Thread(target=dm.prepare)
    worker.start()
    worker.join()
    prepared = dm.__dict__["_prepared"][True]
    first = Decoder(dm, 160.0, SENSORIMOTOR_16)
    assert first._active.fast is prepared  # noqa: SLF001 - built on the worker, not here
    second = Decoder(dm, 160.0, SENSORIMOTOR_16)
    assert second._active.fast is not prepared  # noqa: SLF001 - its own buffers
    first.install(dm.prepare())
    assert first._pending.fast is not second._active.fast  # noqa: SLF001
