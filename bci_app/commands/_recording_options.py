"""Options shared by the commands that calibrate from recordings (``calibrate``, ``evaluate``):
which base, which channels of the recordings, and what their cue markers mean."""

from __future__ import annotations

import argparse
from typing import Any


def add_recording_options(parser: argparse.ArgumentParser) -> None:
    """``--base``, ``--events``, ``--dataset`` and ``--channels``."""
    parser.add_argument("--base", default=None, metavar="MODEL",
                        help="shipped base name or path (default: model.base, or the shipped base that fits the "
                             "recording's channels best when it has fewer than 3 of model.base's)")
    parser.add_argument("--events", default=None, metavar="MAP",
                        help="which marker means which class, e.g. T1=left_hand,T2=right_hand (any recording)")
    parser.add_argument("--dataset", default=None, metavar="NAME",
                        help="a dataset preset (configs/datasets/NAME.yaml or a YAML path) for the cue markers")
    parser.add_argument("--channels", default=None, metavar="MAP",
                        help="use only these channels, as if the headset had only them: comma-separated 10-10 names "
                             "(C3,Cz,C4) or LABEL=POSITION pairs for channels labelled otherwise "
                             "(Ch1=C3,Ch2=Cz,Ch3=eog; eog/emg/ecg/aux/accel/misc stay out of the model input)")


def recording_options(args: argparse.Namespace) -> tuple[Any, Any]:
    """``(channel map or None, cue preset or None)`` from the parsed options."""
    from bci_app.io.dataset_presets import cue_preset
    from bci_app.signal.channels import ChannelMap

    channels = ChannelMap.parse(args.channels) if args.channels is not None else None
    return channels, cue_preset(args.events, args.dataset)


def require_recordings(option: str, paths) -> list:
    """Every file of ``option`` (e.g. ``--test``) exists and has a supported format, checked before
    any work starts (RecordingError naming the option and the file). Returns them without repeats: a
    file given twice (by any name or link) would count its trials twice, so it is used once, with a
    warning."""
    import logging
    import os
    from pathlib import Path

    from bci_app.errors import RecordingError
    from bci_app.io.recording import check_recording_path

    seen: dict[tuple[int, int], str] = {}
    distinct = []
    for path in paths:
        try:
            check_recording_path(Path(path))
        except RecordingError as exc:
            raise RecordingError(f"{option}: {exc}") from exc
        st = os.stat(path)
        key = (st.st_dev, st.st_ino)
        if key in seen:
            logging.getLogger(__name__).warning("%s %s is %s given already; using it once", option, path,
                                                "the file" if str(seen[key]) == str(path) else f"{seen[key]},")
            continue
        seen[key] = path
        distinct.append(path)
    return distinct
