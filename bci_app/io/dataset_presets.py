"""Dataset presets: which marker value of a recording means which class.

A preset (``configs/datasets/<name>.yaml``, validated by :class:`DatasetPreset`) maps each file's
marker values to class names (EEGMMIDB: the run number in the file name decides what T1/T2 mean);
``--events "T1=left_hand,T2=right_hand"`` is a preset given on the command line. Read by the epocher
(:mod:`calibration.epochs`), the external cues of a live session and the commands' options.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bci_app.config import load_yaml
from bci_app.errors import CalibrationError, ConfigError
from bci_app.vocabulary import CLASSES

#: the packaged dataset presets (``<name>.yaml``)
DATASET_PRESETS_DIR = Path(__file__).resolve().parent.parent / "configs" / "datasets"


def preset_for(path: str | Path) -> str:
    """The dataset preset of a recording by its file name: ``eegmmidb`` for ``SxxxRyy.edf``, else ``gdf``
    (the app's own cue codes)."""
    return "eegmmidb" if re.match(r"^S\d{3}R\d{2}\.edf$", Path(path).name, re.IGNORECASE) else "gdf"


class LabelRule(BaseModel):
    """``labels`` (marker value → class) applying to ``runs`` (None: every file)."""

    model_config = ConfigDict(extra="forbid")
    runs: list[int] | None = None
    labels: dict[str, str] = Field(min_length=1)


class DatasetPreset(BaseModel):
    """How a dataset's marker values map to classes."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    run_pattern: str | None = None  #: regex with a ``run`` group, searched in the file name
    rules: list[LabelRule] = Field(min_length=1)
    ignore: list[str] = []  #: marker values that are not cues (no warning, no epoch)
    trial_start: str | None = None  #: marker value that starts a trial (to attribute ``rejected``)
    rejected: str | None = None  #: marker value that marks the enclosing trial as rejected

    def run_of(self, path: str | Path | None) -> int | None:
        if self.run_pattern is None or path is None:
            return None
        m = re.search(self.run_pattern, Path(path).name, flags=re.IGNORECASE)
        return int(m.group("run")) if m else None

    def labels_for(self, path: str | Path | None) -> dict[str, str]:
        """Marker value → class name for the file at ``path``. Raises :class:`CalibrationError`
        when no rule applies (e.g. a motor-execution run)."""
        run = self.run_of(path)
        for rule in self.rules:
            if rule.runs is None or (run is not None and run in rule.runs):
                return dict(rule.labels)
        runs = sorted({r for rule in self.rules for r in (rule.runs or [])})
        raise CalibrationError(
            f"dataset preset {self.name!r} has no labels for {Path(str(path)).name if path else 'this file'} "
            f"(run {run}); it covers runs {runs}. Use imagery runs, or another preset."
        )


def load_dataset_preset(name_or_path: str | Path) -> DatasetPreset:
    """Load ``configs/datasets/<name>.yaml`` (or a YAML path) with :func:`bci_app.config.load_yaml`."""
    path = Path(name_or_path)
    if path.suffix.lower() not in (".yaml", ".yml"):
        path = DATASET_PRESETS_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        available = ", ".join(sorted(p.stem for p in DATASET_PRESETS_DIR.glob("*.yaml"))) or "none"
        raise ConfigError(f"dataset preset {name_or_path!r} not found ({path}); available: {available}")
    data = load_yaml(path)
    try:
        return DatasetPreset.model_validate(data)
    except ValidationError as exc:
        details = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path}: {details}") from exc


def parse_event_mapping(text: str) -> DatasetPreset:
    """``--events "T1=left_hand,T2=right_hand"``: which marker or annotation means which class, for a
    recording of any dataset. Raises :class:`ConfigError` naming a malformed pair or an unknown class."""
    known = set(CLASSES)
    labels: dict[str, str] = {}
    for pair in (p.strip() for p in str(text).split(",") if p.strip()):
        marker, sep, cls = (part.strip() for part in pair.partition("="))
        if not sep or not marker or not cls:
            raise ConfigError(f"--events: {pair!r} is not MARKER=CLASS (e.g. T1=left_hand,T2=right_hand)")
        if cls not in known:
            raise ConfigError(f"--events: unknown class {cls!r} in {pair!r}; use one of {', '.join(sorted(known))}")
        if marker in labels:
            same = "again" if labels[marker] == cls else f"to {labels[marker]} and to {cls}"
            raise ConfigError(f"--events maps the marker {marker!r} {same}; give each marker once "
                              "(e.g. T1=left_hand,T2=right_hand)")
        labels[marker] = cls
    if not labels:
        raise ConfigError("--events names no MARKER=CLASS pair (e.g. T1=left_hand,T2=right_hand)")
    return DatasetPreset(name="--events", rules=[LabelRule(labels=labels)])


def cue_preset(events: str | None, dataset: str | None) -> DatasetPreset | None:
    """The preset of the ``--events`` / ``--dataset`` options (None: chosen per file by name)."""
    if events and dataset:
        raise ConfigError("give either --events or --dataset, not both")
    if events:
        return parse_event_mapping(events)
    return load_dataset_preset(dataset) if dataset else None
