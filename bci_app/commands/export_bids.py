"""``bci-app export-bids SESSION_DIR_OR_XDF --bids-root DIR``: a session's recordings as a BIDS EEG dataset.

Thin: parse, call :func:`bci_app.io.bids.export_bids`, print what was written. The XDF stays the
source of truth; the export can be made again at any time.
"""

from __future__ import annotations

import argparse

NAME = "export-bids"
HELP = "export a session folder's recordings (or one recording) to a BIDS EEG dataset (BrainVision, events, channels)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SESSION_DIR_OR_XDF",
                        help="a session folder (<participant>/<date_time>/ with its .xdf files and adapter.json) "
                             "or one recording (.xdf, .edf, .bdf, .gdf, .fif)")
    parser.add_argument("--bids-root", required=True, metavar="DIR", help="the BIDS dataset folder (created if needed)")
    parser.add_argument("--subject", default=None, metavar="ID",
                        help="BIDS subject label (default: the participant ID of the session folder)")
    parser.add_argument("--session", default=None, metavar="N",
                        help="BIDS session label (default: the session folder's date and time)")
    parser.add_argument("--task", default="motorimagery", metavar="NAME", help="BIDS task label (default motorimagery)")
    parser.add_argument("--events", default=None, metavar="MAP",
                        help="which marker means which class when the cues are not GDF 769-772, "
                             "e.g. T1=left_hand,T2=right_hand")
    parser.add_argument("--dataset", default=None, metavar="NAME",
                        help="a dataset preset (configs/datasets/NAME.yaml) for the cue markers, e.g. eegmmidb")
    parser.add_argument("--overwrite", action="store_true", help="replace files of the same subject/session/task/run")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    import json

    from bci_app.io.bids import export_bids
    from bci_app.io.dataset_presets import cue_preset

    preset = cue_preset(args.events, args.dataset)
    result = export_bids(args.source, args.bids_root, subject=args.subject, session=args.session, task=args.task,
                         events=preset.labels_for if preset is not None else None, overwrite=args.overwrite)
    summary = {"bids_root": str(result.bids_root), "subject": result.subject, "session": result.session,
               "task": result.task, "files": [str(p) for p in result.files], "bad_channels": result.bad_channels}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for path in result.files:
            print(f"wrote {path}")
        bads = f"; channels marked bad (repaired by the calibration): {', '.join(result.bad_channels)}" \
            if result.bad_channels else ""
        print(f"BIDS dataset at {result.bids_root}: sub-{result.subject}"
              f"{'' if result.session is None else f' ses-{result.session}'} task-{result.task}{bads}")
    return 0
