"""Cross-subject pretraining of the ATCNet base model on EEGMMIDB, with leave-subjects-out validation.

Runs unchanged as one process or under ``torchrun --nproc_per_node N`` (DistributedDataParallel:
gloo on CPU, NCCL on GPUs; a :class:`DistributedSampler` shards every epoch; rank 0 evaluates and
writes). One process gives the same result as before: with ``WORLD_SIZE`` unset or 1 no process
group is created.

Recipe (measured in the README): per-subject Euclidean alignment (unlabeled, the same
``R^{-1/2}`` the calibration fits on a user's trials), random time crops around the cue, amplitude
scaling and Gaussian noise, optionally the hands/feet runs (6/10/14) as two extra classes whose
head rows are dropped when the model is shipped (left/right only).
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from bci_app.errors import TrainingError
from bci_app.models import ATCNet, save_model
from bci_app.models.atcnet import select_outputs
from bci_app.signal.preprocess import final_step
from bci_app.vocabulary import EEGMMIDB_CLASSES as ALL_CLASSES
from bci_app.vocabulary import EEGMMIDB_LR_RUNS as LR_RUNS
from bci_app.vocabulary import MONTAGES, WINDOW_TMIN_S
from pretraining.eegmmidb import LongEpochs, alignment_for, base_spec, load_eegmmidb

logger = logging.getLogger(__name__)

SHIPPED_CLASSES = ("left_hand", "right_hand")


@dataclass
class PretrainOptions:
    """Pretraining recipe. Times in seconds after the cue; ``jitter_s``: half-width of the random
    crop offset; ``extra_runs``: add runs 6/10/14 (both_hands, feet) as extra classes."""

    montage: str = "eegmmidb64"  #: a key of :data:`bci_app.vocabulary.MONTAGES`
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 3e-3
    weight_decay: float = 1e-2
    label_smoothing: float = 0.1
    seed: int = 0
    tmin: float = WINDOW_TMIN_S
    window_s: float = 3.0
    sfreq: float = 160.0
    euclidean_alignment: bool = True
    augment: bool = True
    jitter_s: float = 0.25
    noise_std: float = 0.1
    scale_range: float = 0.2
    extra_runs: bool = False
    #: ship all four classes (left hand, right hand, both hands, feet; runs 4-14) instead of left/right
    four_class: bool = False
    folds: int = 0
    exclude_subjects: list[str] = field(default_factory=list)
    #: pretraining for adaptation: one low-rank adapter per training person on every ``dense{i}`` head
    #: beside the shared weights, trained jointly, so that the shared weights learn what people have in
    #: common and a low-rank update of ``dense`` what differs; the shipped heads hold the shared weights
    #: plus the people's mean update, from which a new person's adapter starts (B = 0)
    person_adapters: bool = False
    adapter_rank: int = 8
    adapter_alpha: float = 16.0

    @property
    def ch_names(self) -> tuple[str, ...]:
        if self.montage not in MONTAGES:
            raise TrainingError(f"unknown montage {self.montage!r}; use one of {', '.join(MONTAGES)}")
        return MONTAGES[self.montage]

    @property
    def n_times(self) -> int:
        return int(round(self.window_s * self.sfreq))

    @property
    def start(self) -> int:
        """Crop start (samples) inside the cached long epochs (which begin at the cue)."""
        return int(round(self.tmin * self.sfreq))

    @property
    def classes(self) -> tuple[str, ...]:
        """Classes the network is trained on."""
        return ALL_CLASSES if self.extra_runs or self.four_class else SHIPPED_CLASSES

    @property
    def shipped_classes(self) -> tuple[str, ...]:
        """Classes of the shipped model (its heads keep only these rows)."""
        return ALL_CLASSES if self.four_class else SHIPPED_CLASSES

    @property
    def runs(self) -> tuple[int, ...]:
        return (4, 6, 8, 10, 12, 14) if self.extra_runs or self.four_class else LR_RUNS


# ------------------------------------------------------------------------------------ distributed


@dataclass(frozen=True)
class DistContext:
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed() -> DistContext:
    """Join the torchrun process group when ``WORLD_SIZE > 1`` (gloo on CPU, NCCL with CUDA)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext(0, 1, torch.device("cpu"))
    import torch.distributed as dist

    use_cuda = torch.cuda.is_available()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    rank = dist.get_rank()
    device = torch.device("cpu")
    if use_cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    return DistContext(rank, dist.get_world_size(), device)


def _barrier(ctx: DistContext) -> None:
    if ctx.world_size > 1:
        import torch.distributed as dist

        dist.barrier()


# ------------------------------------------------------------------------------------------ data


def prepare_subjects(ep: LongEpochs, opts: PretrainOptions) -> dict[str, np.ndarray]:
    """Per subject, the long epochs through the one :func:`~bci_app.signal.preprocess.final_step`
    (demean, ``* scale``, ``R @ x``; float32, µV): ``R`` is that subject's Euclidean alignment from its
    own trials (unlabeled), none when alignment is off. The step is linear per window, so demeaning a
    crop of these again (:func:`_crops`, on the training device) equals the step on the crop itself.
    """
    out: dict[str, np.ndarray] = {}
    spec_scale = 1e6
    for subject in np.unique(ep.subject):
        X = ep.X[ep.subject == subject]
        R = alignment_for(X, opts.start, opts.n_times, spec_scale) if opts.euclidean_alignment else None
        out[str(subject)] = final_step(X, spec_scale, R)
    return out


def _stack(ep: LongEpochs, aligned: dict[str, np.ndarray], classes: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    X = np.empty(ep.X.shape, dtype=np.float32)
    for subject, arr in aligned.items():
        X[ep.subject == subject] = arr
    y = np.array([classes.index(c) for c in ep.y], dtype=np.int64)
    return X, y


def _crops(X: torch.Tensor, starts: torch.Tensor, n_times: int) -> torch.Tensor:
    idx = starts[:, None] + torch.arange(n_times)[None, :]
    w = torch.gather(X, 2, idx[:, None, :].expand(-1, X.shape[1], -1))
    return w - w.mean(dim=2, keepdim=True)


# -------------------------------------------------------------------------------------- training


def build_model(opts: PretrainOptions, n_outputs: int) -> ATCNet:
    return ATCNet(len(opts.ch_names), n_outputs, opts.sfreq, opts.n_times)


class PersonAdapted(nn.Module):
    """An ATCNet whose heads ``dense{i}`` carry one low-rank adapter per training person:
    ``logits_i = dense_i(h) + scaling * B[s] @ A[s] @ h`` for person ``s``, averaged over the windows.

    ``A`` (n_windows, n_people, rank, F2) is Kaiming-uniform initialised, ``B`` (n_windows, n_people,
    n_outputs, rank) starts at zero, as a LoRA adapter does; ``forward(x, person)`` with x (batch,
    n_chans, n_times) and person (batch,) int indices returns logits (batch, n_outputs).
    """

    def __init__(self, model: ATCNet, n_people: int, rank: int, alpha: float) -> None:
        super().__init__()
        self.model, self.scaling = model, alpha / rank
        d = model.dense0.in_features
        self.A = nn.Parameter(torch.empty(model.n_windows, n_people, rank, d))
        self.B = nn.Parameter(torch.zeros(model.n_windows, n_people, model.n_outputs, rank))
        bound = 1 / math.sqrt(d)  # kaiming_uniform_(a=sqrt(5)) on a (rank, d) matrix, as LinearWithLoRA
        nn.init.uniform_(self.A, -bound, bound)

    def forward(self, x: torch.Tensor, person: torch.Tensor) -> torch.Tensor:
        m = self.model
        z = m.encode(x)
        logits = []
        for i in range(m.n_windows):
            h = m.window_features(z, i)
            update = torch.einsum("bor,brd,bd->bo", self.B[i, person], self.A[i, person], h)
            logits.append(getattr(m, f"dense{i}")(h) + self.scaling * update)
        return torch.stack(logits).mean(0)

    @torch.no_grad()
    def merge_mean(self) -> ATCNet:
        """The ATCNet with each head's weight plus the people's mean update ``scaling * mean_s B[s] @ A[s]``."""
        for i in range(self.model.n_windows):
            delta = self.scaling * torch.einsum("sor,srd->od", self.B[i], self.A[i]) / self.B.shape[1]
            getattr(self.model, f"dense{i}").weight.add_(delta)
        return self.model


def train(ep: LongEpochs, opts: PretrainOptions, ctx: DistContext, *, log_prefix: str = "") -> ATCNet:
    """Train an ATCNet on ``ep`` (long epochs of the training subjects). Returns the bare model."""
    from torch.utils.data import DistributedSampler

    classes = opts.classes
    keep = np.isin(ep.y, classes)
    ep = ep.select(keep)
    aligned = prepare_subjects(ep, opts)
    X_np, y_np = _stack(ep, aligned, classes)
    X, y = torch.from_numpy(X_np), torch.from_numpy(y_np)
    n, n_long = X.shape[0], X.shape[2]
    torch.manual_seed(opts.seed)
    model = build_model(opts, len(classes)).to(ctx.device)
    people = sorted(aligned)
    person = torch.from_numpy(np.searchsorted(people, ep.subject).astype(np.int64))
    trained: nn.Module = (PersonAdapted(model, len(people), opts.adapter_rank, opts.adapter_alpha).to(ctx.device)
                          if opts.person_adapters else model)
    net: nn.Module = trained
    if ctx.world_size > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(trained, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)
    opt = torch.optim.AdamW(trained.parameters(), lr=opts.learning_rate, weight_decay=opts.weight_decay)
    per_rank_batch = max(1, opts.batch_size // ctx.world_size)
    steps_per_epoch = math.ceil(math.ceil(n / ctx.world_size) / per_rank_batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=opts.learning_rate, total_steps=opts.epochs * steps_per_epoch, pct_start=0.2
    )
    sampler = DistributedSampler(range(n), num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=opts.seed)
    jitter = int(round(opts.jitter_s * opts.sfreq)) if opts.augment else 0
    lo, hi = max(0, opts.start - jitter), min(n_long - opts.n_times, opts.start + jitter)
    t0 = time.perf_counter()
    for epoch in range(opts.epochs):
        sampler.set_epoch(epoch)
        # augmentation draws for every trial, identical on every rank (sharding does not change them)
        g = torch.Generator().manual_seed(opts.seed * 100_003 + epoch)
        starts_all = torch.randint(lo, hi + 1, (n,), generator=g) if opts.augment else torch.full((n,), opts.start)
        gains_all = 1 + opts.scale_range * (2 * torch.rand(n, generator=g) - 1)
        idx_all = torch.tensor(list(iter(sampler)), dtype=torch.long)
        net.train()
        total, count = 0.0, 0
        for b in range(steps_per_epoch):
            idx = idx_all[b * per_rank_batch:(b + 1) * per_rank_batch]
            if idx.numel() == 0:
                idx = idx_all[:1]
            xb = _crops(X[idx], starts_all[idx], opts.n_times)
            if opts.augment:
                xb = xb * gains_all[idx, None, None]
                noise_g = torch.Generator().manual_seed(opts.seed * 7919 + epoch * 1009 + b * 31 + ctx.rank)
                xb = xb + opts.noise_std * torch.randn(xb.shape, generator=noise_g)
            xb, yb = xb.to(ctx.device), y[idx].to(ctx.device)
            logits = net(xb, person[idx].to(ctx.device)) if opts.person_adapters else net(xb)
            loss = F.cross_entropy(logits, yb, label_smoothing=opts.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            count += len(idx)
        if ctx.is_main:
            logger.info("%sepoch %d/%d loss %.4f (%.0f s)", log_prefix, epoch + 1, opts.epochs, total / max(count, 1),
                        time.perf_counter() - t0)
    if opts.person_adapters:
        model = trained.merge_mean()
    model.eval()
    return model.cpu()


def to_shipped(model: ATCNet, opts: PretrainOptions) -> ATCNet:
    """The shipped model: a copy whose heads keep only the rows of ``opts.shipped_classes`` (the first
    ones: left/right, or all four)."""
    keep = len(opts.shipped_classes)
    return model if model.n_outputs == keep else select_outputs(model, range(keep))


@torch.no_grad()
def evaluate_subjects(model: ATCNet, ep: LongEpochs, opts: PretrainOptions) -> dict[str, float]:
    """Accuracy per subject over the shipped classes (left/right: runs 4/8/12; four classes: every
    imagery run), aligned with its own unlabeled trials."""
    classes = opts.shipped_classes
    ep = ep.select(np.isin(ep.y, classes) & np.isin(ep.run, opts.runs if opts.four_class else LR_RUNS))
    aligned = prepare_subjects(ep, opts)
    out: dict[str, float] = {}
    model.eval()
    for subject, Xs in aligned.items():
        ys = np.array([classes.index(c) for c in ep.y[ep.subject == subject]])
        xb = _crops(torch.from_numpy(Xs), torch.full((len(Xs),), opts.start), opts.n_times)
        logits = model(xb)[:, : len(classes)]
        out[subject] = float((logits.argmax(1).numpy() == ys).mean())
    return out


def subject_folds(subjects: list[str], k: int, seed: int) -> list[list[str]]:
    """Split subjects into ``k`` folds (shuffled by ``seed``, round-robin, each sorted)."""
    if not 2 <= k <= len(subjects):
        raise TrainingError(f"folds must be between 2 and the number of subjects ({len(subjects)}), got {k}")
    order = list(np.random.default_rng(seed).permutation(sorted(subjects)))
    return [sorted(str(s) for s in order[i::k]) for i in range(k)]


def portable_command(argv: list[str]) -> list[str]:
    """``argv`` with absolute paths made relative to the working directory (no machine paths in files)."""
    return [os.path.relpath(a) if os.path.isabs(a) and os.path.exists(a) else a for a in argv]


def model_metadata(opts: PretrainOptions, *, hashes: dict[str, str], subjects: list[str],
                   validation: dict[str, Any], command: list[str], elapsed_s: float,
                   world_size: int, excluded: list[str] | None = None) -> dict[str, Any]:
    spec = base_spec(sfreq=opts.sfreq, ch_names=opts.ch_names)
    return {
        "classes": list(opts.shipped_classes),
        "ch_names": list(opts.ch_names),
        "sfreq": opts.sfreq,
        "n_times": opts.n_times,
        "window": {"tmin_s": opts.tmin, "length_s": opts.window_s, "relative_to": "cue"},
        "preprocessing": spec.to_dict(),
        "euclidean_alignment": opts.euclidean_alignment,
        "options": asdict(opts),
        "command": command,
        "seed": opts.seed,
        "training_subjects": subjects,
        "excluded_subjects": excluded or [],
        "data_sha256": hashes,
        "validation": validation,
        "elapsed_s": round(elapsed_s, 1),
        "world_size": world_size,
        "dataset": "PhysioNet EEGMMIDB 1.0.0 (ODC-By; Schalk et al. 2004, Goldberger et al. 2000)",
    }


def pretrain(data_dirs: list[str | Path], out: str | Path, opts: PretrainOptions, *,
             cache_dir: str | Path | None = None, save_folds: bool = False, only_folds: list[int] | None = None,
             final: bool = True, report: str | Path | None = None,
             command: list[str] | None = None) -> dict[str, Any]:
    """Leave-subjects-out validation (``opts.folds`` > 1) and/or the final model on every subject.

    Writes ``<out>.safetensors/.json`` (rank 0) unless ``final`` is False, ``<out>.fold{i}`` when
    ``save_folds``, and a JSON ``report``. Returns the validation summary.
    """
    ctx = init_distributed()
    command = portable_command(command if command is not None else [Path(sys.argv[0]).name, *sys.argv[1:]])
    t0 = time.perf_counter()
    runs = opts.runs
    ep, hashes = load_eegmmidb(list(data_dirs), runs=runs, spec=base_spec(sfreq=opts.sfreq), cache_dir=cache_dir)
    ep = ep.pick_channels(opts.ch_names)
    excluded = sorted(s.upper() for s in opts.exclude_subjects)
    ep = ep.select(~np.isin(ep.subject, excluded))
    subjects = sorted(str(s) for s in np.unique(ep.subject))
    hashes = {k: v for k, v in hashes.items() if k.split("/")[0] in subjects}
    per_subject: dict[str, float] = {}
    fold_info = []
    if opts.folds:
        folds = subject_folds(subjects, opts.folds, opts.seed)
        for i, held in enumerate(folds):
            if only_folds is not None and i not in only_folds:
                continue
            model = train(ep.select(~np.isin(ep.subject, held)), opts, ctx, log_prefix=f"fold {i} ")
            if ctx.is_main:
                shipped = to_shipped(model, opts)
                acc = evaluate_subjects(shipped, ep.select(np.isin(ep.subject, held)), opts)
                per_subject.update(acc)
                fold_info.append({"fold": i, "held_out": held, "accuracy": acc})
                logger.info("fold %d held out %s: %s", i, held, {k: round(v, 3) for k, v in acc.items()})
                if save_folds:
                    meta = model_metadata(opts, hashes=hashes, subjects=[s for s in subjects if s not in held],
                                          validation={"held_out_accuracy": acc}, command=command,
                                          elapsed_s=time.perf_counter() - t0, world_size=ctx.world_size,
                                          excluded=sorted(set(excluded) | set(held)))
                    save_model(shipped, f"{out}.fold{i}", meta)
            _barrier(ctx)
    validation = {
        "scheme": f"leave-subjects-out, {opts.folds} folds" if opts.folds else "none",
        "held_out_accuracy": per_subject,
        "mean_accuracy": float(np.mean(list(per_subject.values()))) if per_subject else None,
        "folds": fold_info,
    }
    if final:
        model = train(ep, opts, ctx, log_prefix="final ")
        if ctx.is_main:
            meta = model_metadata(opts, hashes=hashes, subjects=subjects, validation=validation, command=command,
                                  elapsed_s=time.perf_counter() - t0, world_size=ctx.world_size, excluded=excluded)
            save_model(to_shipped(model, opts), out, meta)
        _barrier(ctx)
    if ctx.is_main and report is not None:
        from bci_app.outputs import atomic_write_json

        atomic_write_json(report, {"options": asdict(opts), "validation": validation,
                                   "elapsed_s": time.perf_counter() - t0})
    if ctx.world_size > 1:
        import torch.distributed as dist

        dist.destroy_process_group()
    return validation
