"""The one volts/microvolts rule: EEG is in **volts** inside the core; files and LSL outlets carry
voltage channels in **microvolts** as float32 (the XDF/LSL convention); every declared voltage unit
is converted to volts by multiplying with :data:`VOLT_SCALES` ``[unit.lower()]``.
"""

from __future__ import annotations

import numpy as np

VOLT_SCALES: dict[str, float] = {
    "v": 1.0, "volt": 1.0, "volts": 1.0,
    "mv": 1e-3, "millivolt": 1e-3, "millivolts": 1e-3,
    "uv": 1e-6, "µv": 1e-6, "μv": 1e-6, "microvolt": 1e-6, "microvolts": 1e-6,
    "nv": 1e-9, "nanovolt": 1e-9, "nanovolts": 1e-9,
}
"""Recognised voltage units (lower case) and their factor to volts."""

VOLTAGE_TYPES = frozenset({"eeg", "eog", "emg", "ecg", "seeg", "ecog", "exg"})
"""Channel types whose samples are voltages."""

VOLTS_PER_MICROVOLT = VOLT_SCALES["microvolts"]
MICROVOLTS_PER_VOLT = 1e6
MICROVOLTS = "microvolts"
"""The unit written for voltage channels in files and LSL outlets."""


def volt_scale(unit: str) -> float | None:
    """Factor from ``unit`` to volts, or ``None`` when ``unit`` is not a voltage unit."""
    return VOLT_SCALES.get(str(unit).strip().lower())


def as_float32_microvolts(volts: np.ndarray) -> np.ndarray:
    """``volts`` as float32 microvolts (what files and LSL outlets carry)."""
    return (np.asarray(volts) * MICROVOLTS_PER_VOLT).astype(np.float32)


def from_microvolts(microvolts: np.ndarray) -> np.ndarray:
    """Microvolts (any float dtype) as float64 volts, the way every reader converts them."""
    return np.asarray(microvolts, dtype=np.float64) * VOLTS_PER_MICROVOLT
