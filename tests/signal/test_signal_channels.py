import pytest

from bci_app.errors import CalibrationError, StreamError
from bci_app.signal.channels import match_channels
from bci_app.vocabulary import EEGMMIDB_64, SENSORIMOTOR_8, SENSORIMOTOR_16, normalize_ch_name


def test_normalize():
    assert normalize_ch_name("C3..") == "c3"
    assert normalize_ch_name(" Fc 5. ") == "fc5"
    assert normalize_ch_name("AFz") == "afz"


def test_montages_are_subsets_of_eegmmidb():
    assert len(EEGMMIDB_64) == 64 and len(set(EEGMMIDB_64)) == 64
    assert len(SENSORIMOTOR_16) == 16 and len(SENSORIMOTOR_8) == 8
    idx16 = match_channels(EEGMMIDB_64, SENSORIMOTOR_16)
    assert [EEGMMIDB_64[i] for i in idx16] == list(SENSORIMOTOR_16)
    assert set(SENSORIMOTOR_8) <= set(SENSORIMOTOR_16)


def test_match_real_eegmmidb_labels(eegmmidb_dir):
    from bci_app.io.recording import read_recording

    rec = read_recording(eegmmidb_dir / "S001" / "S001R04.edf")
    assert match_channels(rec.ch_names, EEGMMIDB_64) == list(range(64))
    assert rec.ch_names[match_channels(rec.ch_names, ["cz"])[0]] == "Cz.."


def test_missing_channels_all_named():
    with pytest.raises(CalibrationError) as exc:
        match_channels(["C3", "Cz"], ["C3", "C4", "Pz"])
    assert "C4" in str(exc.value) and "Pz" in str(exc.value)
    with pytest.raises(StreamError, match="C4"):
        match_channels(["C3"], ["C4"], error=StreamError)


def test_duplicate_names_rejected():
    with pytest.raises(CalibrationError, match="several"):
        match_channels(["C3", "c3.."], ["C3"])
