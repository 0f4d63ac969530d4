"""Typed, validated configuration.

``configs/default.yaml`` is read with ``yaml.safe_load`` into pydantic models, one per section,
all with ``extra="forbid"`` so a typo fails. Errors name the key path and the bad value::

    ConfigError: configs/x.yaml: lora.rank: Input should be a valid integer (got 'eight'); or 'auto'
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from bci_app.errors import ConfigError
from bci_app.vocabulary import ClassName, check_channel_map

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent / "configs" / "default.yaml"

#: the highest sampling rate bci-app accepts from any source, file or option (Hz)
MAX_SFREQ_HZ = 100_000.0
#: the most torch/BLAS threads a setting may ask for: this machine's CPU count
MAX_THREADS = os.cpu_count() or 1


def _not_a_boolean(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got the boolean {value!r}")
    return value


#: numbers in the config: ``true`` is not 1 (``lora.rank: true``), ``8.0`` not the integer 8 and ``1``
#: not a boolean; a float also takes ``1e-3`` (which YAML reads as a string)
Integer = StrictInt
Number = Annotated[float, BeforeValidator(_not_a_boolean)]
Boolean = StrictBool

#: the largest seed (numpy's generators take 0 <= seed < 2**32; torch takes the same)
MAX_SEED = 2**32 - 1


class _Section(BaseModel):
    # inf/nan would pass ``gt=0`` bounds and fail far from the config (e.g. an infinite buffer)
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class LoraConfig(_Section):
    """The guide's section, exactly: ``enabled, rank, alpha, target_modules, dropout``.

    ``target_modules`` is a list of substrings matched against module names; ``rank`` and ``alpha``
    are numbers. Each may be ``"auto"`` (the default), resolved once per calibration from its number
    of trials by :func:`resolve_lora`, the LoRA guide's table.
    """

    enabled: Boolean = True
    rank: Annotated[Integer, Field(ge=1, le=256)] | Literal["auto"] = "auto"
    alpha: Annotated[Number, Field(gt=0, le=1e4)] | Literal["auto"] = "auto"
    target_modules: list[str] | Literal["auto"] = "auto"
    dropout: Number = Field(0.1, ge=0.0, lt=1.0)


class LslConfig(_Section):
    """LSL discovery scope (``machine`` keeps every outlet on this computer, the default) and how
    :class:`~bci_app.acquisition.lsl.StreamLSL` reads a stream (see ``StreamLSL.from_config``)."""

    scope: Literal["machine", "link", "site", "organization", "global"] = "machine"
    resolve_timeout_s: Number = Field(5.0, gt=0)
    bufsize_s: Number = Field(30.0, gt=0)
    acquisition_delay_s: Number = Field(0.01, gt=0, le=1.0)
    default_unit: Literal["V", "mV", "uV", "microvolts", "nV"] = "microvolts"


class ParadigmConfig(_Section):
    """Graz motor-imagery timeline (defaults from BCI Competition IV 2a), seconds from trial start."""

    classes: list[ClassName] = ["left_hand", "right_hand"]
    trials_per_class: Integer = Field(20, ge=1, le=1000)
    trials_per_run: Integer = Field(20, ge=1, le=1000)
    cue_at_s: Number = Field(2.0, ge=0, le=60)
    cue_duration_s: Number = Field(1.25, gt=0, le=60)
    imagery_end_s: Number = Field(6.0, gt=0, le=60)
    rest_min_s: Number = Field(1.5, ge=0, le=60)
    rest_max_s: Number = Field(3.5, ge=0, le=60)
    break_s: Number = Field(15.0, ge=0, le=3600)
    beep: Boolean = False
    seed: Integer = Field(0, ge=0, le=MAX_SEED)

    @field_validator("classes")
    @classmethod
    def _distinct_classes(cls, value: list[str]) -> list[str]:
        if len(value) < 2 or len(set(value)) != len(value):
            raise ValueError("needs at least two distinct classes")
        return value

    @model_validator(mode="after")
    def _ordered_times(self) -> ParadigmConfig:
        if not self.cue_at_s < self.imagery_end_s:
            raise ValueError("cue_at_s must come before imagery_end_s")
        if self.rest_max_s < self.rest_min_s:
            raise ValueError("rest_max_s must be >= rest_min_s")
        return self


class PreprocessingConfig(_Section):
    """Shared preprocessing (see ``bci_app.signal.preprocess``) and artifact rejection (µV).

    ``l_freq``/``h_freq``: causal Butterworth band-pass edges (Hz), ``filter_order`` per edge;
    ``scale``: factor after per-window demeaning (1e6 = volts → µV). These four are the base model's
    (its JSON): calibration refuses a base trained with others, the live artifact check uses them.
    ``euclidean_alignment``: fit
    the alignment matrix on the calibration windows. Rejection thresholds apply to band-passed
    epochs: amplitude (|demeaned sample|), flat (peak-to-peak), railed (fraction at min/max).
    """

    l_freq: Number = Field(4.0, gt=0, le=MAX_SFREQ_HZ / 2)
    h_freq: Number = Field(40.0, gt=0, le=MAX_SFREQ_HZ / 2)
    filter_order: Integer = Field(4, ge=1, le=8)
    scale: Number = Field(1e6, gt=0, le=1e12)
    euclidean_alignment: Boolean = True
    reject_amplitude_uv: Number = Field(150.0, gt=0, le=1e6)
    reject_flat_uv: Number = Field(0.5, ge=0, le=1e6)
    reject_railed_fraction: Number = Field(0.05, gt=0, le=1)
    #: interpolate (spherical splines) a channel that breaks a rejection rule in at least
    #: ``bad_channel_fraction`` of the calibration trials, at most ``max_repaired_fraction`` of the channels
    repair_bad_channels: Boolean = True
    #: base channels the headset lacks are interpolated from the present ones (else: an error)
    interpolate_missing_channels: Boolean = True
    bad_channel_fraction: Number = Field(0.5, gt=0, le=1)
    max_repaired_fraction: Number = Field(0.25, ge=0, lt=1)

    @model_validator(mode="after")
    def _ordered_band(self) -> PreprocessingConfig:
        if not self.l_freq < self.h_freq:
            raise ValueError("l_freq must be below h_freq")
        return self


class FinetuneConfig(_Section):
    """LoRA fine-tuning job."""

    max_epochs: Integer = Field(30, ge=1, le=10_000)
    batch_size: Integer = Field(64, ge=1, le=4096)
    learning_rate: Number = Field(3e-3, gt=0, le=1.0)
    weight_decay: Number = Field(0.0, ge=0, le=1.0)
    patience: Integer = Field(15, ge=1, le=10_000)
    validation_fraction: Number = Field(0.0, ge=0, lt=1)
    torch_threads: Integer = Field(1, ge=1, le=MAX_THREADS)
    seed: Integer = Field(0, ge=0, le=MAX_SEED)
    min_trials_per_class: Integer = Field(5, ge=1, le=1000)
    #: early stopping criterion on the held-out calibration trials: the loss is continuous, so with
    #: only a few validation trials it tracks progress where accuracy stays flat
    monitor: Literal["val_loss", "val_accuracy"] = "val_loss"
    #: the gate: cross-validate adapter vs unadapted base on the calibration trials
    #: (``gate_repeats`` x stratified ``gate_folds``-fold) and install the better one
    gate: Boolean = True
    gate_folds: Integer = Field(5, ge=2, le=20)
    gate_repeats: Integer = Field(1, ge=1, le=20)
    #: the adapter is installed when its cross-validated accuracy exceeds the base's by more than this
    #: (0: strictly better; negative: ties and deficits up to ``-gate_margin`` go to the adapter)
    gate_margin: Number = Field(-0.10, ge=-1.0, le=1.0)
    #: train (and cross-validate) on the windows the online decoder decides on: windows starting every
    #: ``window_stride_s`` from the model's window start to ``window_span_s`` later (0: one window per trial)
    window_span_s: Number = Field(0.5, ge=0, le=10)
    window_stride_s: Number = Field(0.125, gt=0, le=10)
    #: a prior toward the base: ``l2`` penalises the low-rank update ``||scaling * B @ A||^2`` per adapted
    #: layer, ``kl`` the divergence KL(base || adapted) of the class probabilities on the training windows
    prior: Literal["none", "l2", "kl"] = "l2"
    prior_weight: Number = Field(0.3, ge=0, le=1e6)
    #: install the mean of the gate's fold adapters and the adapter trained on all trials (a low-rank
    #: update per layer, refactored to the configured rank) instead of the all-trials adapter alone
    average_folds: Boolean = True
    #: the fine-tuning loss's label smoothing: the target puts this much probability mass spread evenly
    #: over the classes (0: plain cross-entropy)
    label_smoothing: Number = Field(0.0, ge=0, lt=1)
    #: augmentation of the frozen stages' cached outputs (the windows' features) while fine-tuning, so it
    #: costs no forward pass: Gaussian noise with this many of each feature's standard deviation over the
    #: training windows (0: off) ...
    feature_noise: Number = Field(0.0, ge=0, le=10)
    #: ... and within-class mixup: each training window's features mixed with those of a random training
    #: window of the same class, weight ~ Beta(feature_mixup, feature_mixup) (0: off)
    feature_mixup: Number = Field(0.0, ge=0, le=100)


class SmoothingConfig(_Section):
    method: Literal["exponential", "moving_average", "none"] = "exponential"
    alpha: Number = Field(0.3, gt=0, le=1)
    window: Integer = Field(8, ge=1, le=1000)


class OnlineConfig(_Section):
    """Sliding-window decoder (``bci_app.online``).

    ``step_s``: seconds between decisions (rounded to whole source samples; decisions are tied to
    sample indices, so replay is reproducible). ``gap_threshold_s``: a jump in sample timestamps
    larger than this is a gap: filters restart and decoding resumes after ``settle_s`` plus one
    window. ``fast``: the folded/traced inference path (same outputs within 1e-5).
    ``outlet_name``: LSL name of the probabilities stream (``<name>-markers`` for label changes).
    """

    step_s: Number = Field(0.0625, gt=0, le=10)
    smoothing: SmoothingConfig = SmoothingConfig()
    torch_threads: Integer = Field(1, ge=1, le=MAX_THREADS)
    gap_threshold_s: Number = Field(0.25, gt=0, le=60)
    settle_s: Number = Field(0.5, ge=0, le=60)
    fast: Boolean = True
    poll_interval_s: Number = Field(0.001, gt=0, le=0.05)
    outlet_name: str = "bci-app-predictions"


class RecordingConfig(_Section):
    """Where participant folders go (``directory``; ``~`` is expanded) and how often recordings are
    flushed to disk."""

    directory: str = "~/bci-app-data"
    flush_interval_s: Number = Field(0.5, gt=0, le=1.0)

    @field_validator("directory")
    @classmethod
    def _folder_name(cls, value: str) -> str:
        problem = folder_text_problem(value)
        if problem:
            raise ValueError(problem)
        return value


def folder_text_problem(text: str) -> str | None:
    """Why ``text`` cannot name the participant data folder (empty: it would be the current folder;
    a control character such as NUL), or None."""
    if not str(text).strip():
        return "is empty; give the folder for participant data (e.g. ~/bci-app-data)"
    if any(ord(c) < 32 for c in str(text)):
        return "holds a control character (e.g. NUL); a folder name cannot"
    return None


class BrainFlowConfig(_Section):
    """A BrainFlow board and every connection parameter BrainFlow's ``BrainFlowInputParams`` takes
    (empty: not given). ``board``: a ``BoardIds`` name or id; ``master_board``: the board whose
    descriptor a playback/streaming board uses; ``timeout`` in seconds."""

    board: str = "synthetic"
    serial_port: str = ""
    mac_address: str = ""
    ip_address: str = ""
    ip_port: Integer = Field(0, ge=0, le=65535)
    ip_protocol: Integer = Field(0, ge=0, le=2)  #: 0 none, 1 UDP, 2 TCP (BrainFlow's IpProtocolTypes)
    serial_number: str = ""
    other_info: str = ""
    file: str = ""
    timeout: Integer = Field(0, ge=0, le=600)
    master_board: str = ""

    def stream_params(self) -> dict[str, Any]:
        """The parameters that were given, as :class:`~bci_app.acquisition.brainflow.StreamBrainFlow`
        keyword arguments."""
        return {k: v for k, v in self.model_dump().items() if k != "board" and v not in ("", 0)}


class ChannelsConfig(_Section):
    """Which electrode each channel of the live source is (LSL, BrainFlow): ``map`` takes a source
    channel label (``Ch1``, ``EXG Channel 0``, ``ch1``) to a 10-05 position (``C3``) or to one of
    ``eog``/``emg``/``ecg``/``aux``/``accel``/``misc``, which keeps it out of the model input.
    Channels not listed keep their own label and type; the map is saved in the recording and the adapter."""

    map: dict[str, str] = Field(default_factory=dict)

    @field_validator("map")
    @classmethod
    def _valid_map(cls, value: dict[str, str]) -> dict[str, str]:
        check_channel_map(value.items())  # a bad target or a position used twice; pydantic adds the key path
        return value


class ModelConfig(_Section):
    """Which base model to adapt: a shipped name (see ``bci_app.models.pretrained``) or a path."""

    base: str = "sensorimotor16"


class AppConfig(_Section):
    model: ModelConfig = ModelConfig()
    lora: LoraConfig = LoraConfig()
    lsl: LslConfig = LslConfig()
    paradigm: ParadigmConfig = ParadigmConfig()
    preprocessing: PreprocessingConfig = PreprocessingConfig()
    finetune: FinetuneConfig = FinetuneConfig()
    online: OnlineConfig = OnlineConfig()
    recording: RecordingConfig = RecordingConfig()
    brainflow: BrainFlowConfig = BrainFlowConfig()
    channels: ChannelsConfig = ChannelsConfig()


#: the tags pydantic adds to an error's location for the member of a union (``int | Literal["auto"]``)
_UNION_MEMBER = re.compile(r"^(constrained-)?(int|float|str|bool)$|^(literal|list|function-(before|after|wrap|plain))\[")


def _format_validation_error(exc: ValidationError, origin: str) -> str:
    errors = exc.errors()
    locs = [tuple(err["loc"][:-1]) if err["loc"] and isinstance(err["loc"][-1], str)
            and _UNION_MEMBER.match(err["loc"][-1]) else tuple(err["loc"]) for err in errors]
    lines = []
    for err, loc in zip(errors, locs):
        union_alternative = loc != tuple(err["loc"]) and err["type"] == "literal_error"
        if union_alternative and locs.count(loc) > 1:
            continue  # a value that is neither a number nor 'auto': the number's error says it, with the hint
        # keys that are not plain names (control characters, dots, spaces) are quoted, so the path
        # stays readable and unambiguous
        path = ".".join(p if isinstance(p, str) and p.isidentifier() else repr(p) if isinstance(p, str) else str(p)
                        for p in loc) or "<root>"
        msg = err["msg"]
        also = "; or 'auto'" if loc != tuple(err["loc"]) and not union_alternative and locs.count(loc) > 1 else ""
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see configs/default.yaml for valid keys)"
        elif err["loc"] and err["loc"][-1] == "torch_threads" and err["type"] == "less_than_equal":
            msg += " (the number of CPUs of this machine)"
        lines.append(f"{origin}: {path}: {msg} (got {err.get('input')!r}){also}")
    return "\n".join(lines)


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (instead of keeping the last)."""

    def construct_mapping(self, node, deep=False):  # noqa: ANN001 - PyYAML's signature
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                try:
                    hash(key)
                except TypeError:
                    continue  # PyYAML reports unhashable keys itself
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r} (first on line {seen[key] + 1}); give each key once",
                        key_node.start_mark)
                seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def load_yaml(path: Path) -> Any:
    """Parse the YAML file ``path`` safely (no Python objects), refusing duplicate keys; the one YAML
    reader of bci-app (configs, dataset presets). Raises :class:`ConfigError` naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    except RecursionError as exc:
        raise ConfigError(f"{path}: nested too deeply to be a config") from exc


def config_from_dict(data: dict[str, Any], origin: str = "<config>") -> AppConfig:
    """Validate a mapping (as from YAML) into an :class:`AppConfig`."""
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping of sections at the top level, got {type(data).__name__}")
    try:
        return AppConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, origin)) from exc


def load_config(path: str | Path | None = None) -> AppConfig:
    """Load ``path`` (default: the packaged ``default.yaml``) with ``yaml.safe_load`` and validate it.

    Keys missing from the file take their defaults. Raises :class:`ConfigError` naming the file,
    the key path and the bad value.
    """
    path = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    data = load_yaml(path)
    if data is None:
        data = {}
    return config_from_dict(data, origin=str(path))


#: the LoRA guide's table, by number of calibration trials: targets (``target_modules: auto``) and
#: rank (``rank: auto``); ``alpha: auto`` is twice the rank, the guide's pairs (4/8, 8/16, 16/32)
AUTO_LORA_DENSE_BELOW = 50
AUTO_LORA_HIGH_RANK_ABOVE = 200
AUTO_LORA_RANK, AUTO_LORA_HIGH_RANK = 8, 16


@dataclass(frozen=True)
class ResolvedLora:
    """The LoRA settings of one calibration, every ``auto`` resolved (:func:`resolve_lora`): what is
    trained, saved in the adapter JSON and reported. ``reason`` says how the values were chosen."""

    target_modules: tuple[str, ...]
    rank: int
    alpha: float
    dropout: float
    reason: str

    @property
    def scaling(self) -> float:
        return self.alpha / self.rank

    def as_dict(self) -> dict[str, Any]:
        """The adapter JSON's keys: ``target_modules`` (list), ``rank``, ``alpha``, ``dropout``."""
        return {"target_modules": list(self.target_modules), "rank": self.rank, "alpha": self.alpha,
                "dropout": self.dropout}


def resolve_lora(lora: LoraConfig, n_calibration_trials: int) -> ResolvedLora:
    """Resolve every ``auto`` of ``lora`` for ``n_calibration_trials`` (the trials fine-tuning gets,
    after artifact rejection), per the LoRA guide; a value the config sets always wins.

    ``target_modules: auto``: < 50 trials → ``['dense']``; 50–200 → ``['dense', 'msa']``; > 200 →
    ``['dense', 'msa']``. ``rank: auto``: 8, or 16 above 200 trials (the guide's "higher rank").
    ``alpha: auto``: 2 × rank (scaling 2, as in the guide's pairs), also when the rank is set.
    """
    if n_calibration_trials < 0:
        raise ConfigError(f"n_calibration_trials must be >= 0, got {n_calibration_trials}")
    n = n_calibration_trials
    high = n > AUTO_LORA_HIGH_RANK_ABOVE
    reasons = []
    if lora.target_modules != "auto":
        targets = tuple(lora.target_modules)
    else:
        targets = ("dense",) if n < AUTO_LORA_DENSE_BELOW else ("dense", "msa")
        bounds = (f"{n} trials < {AUTO_LORA_DENSE_BELOW}" if n < AUTO_LORA_DENSE_BELOW
                  else f"{AUTO_LORA_DENSE_BELOW} <= {n} trials <= {AUTO_LORA_HIGH_RANK_ABOVE}" if not high
                  else f"{n} trials > {AUTO_LORA_HIGH_RANK_ABOVE}")
        reasons.append(f"targets auto: {bounds}")
    if lora.rank == "auto":
        rank = AUTO_LORA_HIGH_RANK if high else AUTO_LORA_RANK
        reasons.append(f"rank auto: {'higher rank above' if high else 'up to'} {AUTO_LORA_HIGH_RANK_ABOVE} trials")
    else:
        rank = int(lora.rank)
    alpha = 2.0 * rank if lora.alpha == "auto" else float(lora.alpha)
    return ResolvedLora(targets, rank, alpha, float(lora.dropout), "; ".join(reasons) or "set in config")
