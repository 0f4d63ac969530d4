"""``bci-app gui`` (and ``bci-app`` alone): the desktop app."""

from __future__ import annotations

import argparse

NAME = "gui"
HELP = "open the desktop app (the default when no command is given)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML config file (default: the built-in defaults)")
    parser.add_argument("--log-dir", dest="log_dir", help="folder for bci-app.log (default ~/.bci-app/logs)")
    parser.add_argument("--cue-stream", dest="cue_stream", default=None, metavar="NAME",
                        help="take the cues of calibration and cued online trials from this LSL Markers stream (a "
                             "stimulus program: PsychoPy, Psychtoolbox, your own code) instead of the app's own; "
                             "chosen in the source panel, which can change it")
    parser.add_argument("--cue-events", dest="cue_events", default=None, metavar="MAP",
                        help="with --cue-stream: which marker means which class, e.g. T1=left_hand,T2=right_hand")


def cue_source(args: argparse.Namespace):
    """The :class:`~bci_app.paradigm.external_cues.ExternalCueSource` of ``--cue-stream``/``--cue-events``
    (None without them); :class:`~bci_app.errors.ConfigError` when one is given without the other or
    the mapping is wrong, before any window opens."""
    from bci_app.errors import ConfigError
    from bci_app.paradigm.external_cues import ExternalCueSource

    stream, events = getattr(args, "cue_stream", None), getattr(args, "cue_events", None)
    if stream is None and events is None:
        return None
    if stream is None or not events:
        raise ConfigError("--cue-stream and --cue-events go together: the Markers stream and which marker means "
                          "which class (e.g. --cue-stream psychopy --cue-events T1=left_hand,T2=right_hand)")
    return ExternalCueSource(stream, events)


def run(args: argparse.Namespace) -> int:
    args.cue_source = cue_source(args)
    try:
        from bci_app.gui.app import run_gui
    except ImportError as exc:
        from bci_app.errors import BCIError

        raise BCIError(
            f"the desktop app needs the GUI extra ({exc.name} is missing): pip install 'bci-app[gui]'"
        ) from exc
    return run_gui(args)
