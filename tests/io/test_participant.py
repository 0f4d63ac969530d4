"""The participant's session folder: unique names, nothing overwritten, earlier adapters found."""

from __future__ import annotations

import pytest

from bci_app.errors import ConfigError
from bci_app.io.participant import SessionFolder, check_participant_id, previous_adapters


def test_folders_recordings_and_previous_adapters(tmp_path) -> None:
    first = SessionFolder.create(tmp_path, "P007", when=1_800_000_000)
    again = SessionFolder.create(tmp_path, "P007", when=1_800_000_000)  # same second: its own folder
    assert first.path != again.path and first.path.parent == again.path.parent == tmp_path / "P007"
    rec = first.recording_path()
    rec.write_bytes(b"x")
    assert first.recording_path().name == "calibration-2.xdf" and rec.name == "calibration.xdf"
    assert previous_adapters(tmp_path, "P007") == [] and previous_adapters(tmp_path, "nobody") == []
    for folder in (first, again):
        folder.adapter_path.with_suffix(".json").write_text("{}")
        folder.adapter_path.with_suffix(".safetensors").write_bytes(b"")
    later = SessionFolder.create(tmp_path, "P007", when=1_900_000_000)
    later.adapter_path.with_suffix(".json").write_text("{}")  # weights missing: not offered
    assert previous_adapters(tmp_path, "P007") == [again.adapter_path, first.adapter_path]


@pytest.mark.parametrize("bad", ["", "../etc", "a/b", ".hidden", "x" * 65, "P 7"])
def test_participant_ids_that_cannot_name_a_folder(bad: str) -> None:
    with pytest.raises(ConfigError, match="participant ID"):
        check_participant_id(bad)
