"""A session's paradigm set-up on disk: ``paradigm.yaml`` in the participant's session folder, and
the whole configuration in each recording's XDF header (written when the recording starts). Either
reloads a set-up, validated as the config is (errors name the key and the bad value)."""

from __future__ import annotations

from pathlib import Path

import yaml

from bci_app.config import ParadigmConfig, config_from_dict
from bci_app.errors import ConfigError, RecordingError
from bci_app.io.xdf import read_file_desc

__all__ = ["PARADIGM_FILE", "load_paradigm", "save_paradigm"]

#: the paradigm set-up of a session folder
PARADIGM_FILE = "paradigm.yaml"


def save_paradigm(folder: str | Path, paradigm: ParadigmConfig) -> Path:
    """Write ``paradigm`` as ``<folder>/paradigm.yaml`` (the ``paradigm:`` section of a config file, so
    ``--config`` takes it too); returns the path."""
    path = Path(folder) / PARADIGM_FILE
    text = yaml.safe_dump({"paradigm": paradigm.model_dump(mode="json")}, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def load_paradigm(path: str | Path) -> ParadigmConfig:
    """The paradigm set-up of ``path``: a YAML file (a config, or its ``paradigm`` section), a session
    folder (its ``paradigm.yaml``, else its newest recording's header) or an XDF recording (the
    config in its header). Raises :class:`ConfigError` naming what is missing or invalid."""
    path = Path(path).expanduser()
    if path.is_dir():
        if (path / PARADIGM_FILE).is_file():
            return load_paradigm(path / PARADIGM_FILE)
        recordings = sorted(path.glob("*.xdf"), key=lambda p: p.stat().st_mtime)
        if not recordings:
            raise ConfigError(f"{path} holds neither {PARADIGM_FILE} nor a recording; choose a session folder")
        return load_paradigm(recordings[-1])
    if not path.is_file():
        raise ConfigError(f"{path} does not exist; choose a session folder, a recording (.xdf) or a YAML file")
    if path.suffix.lower() == ".xdf":
        try:
            text = read_file_desc(path).get("config")
        except (OSError, RecordingError) as exc:
            raise ConfigError(f"cannot read the header of {path.name}: {exc}") from exc
        if not text:
            raise ConfigError(f"{path.name} was not recorded by a bci-app session: its header holds no configuration")
    elif path.suffix.lower() in (".yaml", ".yml"):
        text = path.read_text(encoding="utf-8")
    else:
        raise ConfigError(f"{path.name}: a paradigm set-up comes from a session folder, a .xdf recording or a .yaml file")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path.name} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("paradigm", data), dict):
        raise ConfigError(f"{path.name}: expected a config with a 'paradigm' section")
    section = data["paradigm"] if "paradigm" in data else data
    return config_from_dict({"paradigm": section}, origin=path.name).paradigm
