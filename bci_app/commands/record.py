"""``bci-app record``: record an LSL stream, a BrainFlow board or the simulated headset to XDF."""

from __future__ import annotations

import argparse
import time

from bci_app.commands._arguments import guard_outputs, number, output_file, seconds, seed, sfreq

NAME = "record"
HELP = "record EEG and markers from LSL, a BrainFlow board or the simulated headset into an XDF file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--lsl", metavar="NAME", help="name of the LSL EEG stream to record")
    source.add_argument("--brainflow", metavar="BOARD", help="BrainFlow board name or id (e.g. synthetic, -1)")
    source.add_argument("--simulate", action="store_true", help="record the built-in simulated headset")
    parser.add_argument("--markers", default=None, metavar="NAME",
                        help="--lsl: record this Markers stream with it (default: only the stream's own, named "
                             "<NAME>-markers or with source id <source_id>-markers)")
    parser.add_argument("--out", required=True, type=output_file, help="XDF file to write (must not exist unless --overwrite)")
    parser.add_argument("--duration", type=seconds, default=None, help="seconds to record (default: until Ctrl-C)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    parser.add_argument("--config", default=None, help="YAML config (recording.flush_interval_s, lsl.*)")
    bf = parser.add_argument_group("BrainFlow connection (default: the config's brainflow section)")
    bf.add_argument("--serial-port", default=None, help="serial port, e.g. /dev/ttyUSB0 or COM3")
    bf.add_argument("--mac-address", default=None, help="Bluetooth MAC address")
    bf.add_argument("--ip-address", default=None, help="IP address (WiFi shield, streaming board)")
    bf.add_argument("--ip-port", type=number(0, 65535, integer=True), default=None, help="IP port")
    bf.add_argument("--ip-protocol", type=int, default=None, choices=[0, 1, 2], help="0 none, 1 UDP, 2 TCP")
    bf.add_argument("--serial-number", default=None, help="device serial number (e.g. Unicorn, Muse)")
    bf.add_argument("--other-info", default=None, help="BrainFlow other_info")
    bf.add_argument("--board-file", default=None, help="file for the playback_file board")
    bf.add_argument("--timeout", type=number(0, 600, integer=True), default=None, help="seconds to look for the device")
    bf.add_argument("--master-board", default=None, help="playback/streaming board: the board that recorded")
    parser.add_argument("--channels", default=None, metavar="MAP",
                        help="which electrode each source channel is, e.g. Ch1=C3,Ch2=Cz,Ch3=eog (default: the "
                             "config's channels.map); saved in the recording with the source's own labels")
    parser.add_argument("--subject-seed", type=seed, default=0, help="--simulate: the simulated person")
    parser.add_argument("--sfreq", type=sfreq, default=160.0, help="--simulate: sampling rate in Hz")


def _open_source(args: argparse.Namespace, cfg):
    stream = _make_source(args, cfg)
    stream.channel_map = source_channel_map(args.channels, cfg)
    return stream


def source_channel_map(text: str | None, cfg):
    """The channel map of a live source: ``--channels`` (``LABEL=POSITION`` pairs; unlisted channels
    keep their label) or else the config's ``channels.map``; None when neither names any."""
    from bci_app.signal.channels import ChannelMap

    if text:
        return ChannelMap(ChannelMap.parse(text).entries, only_listed=False)
    return ChannelMap.from_mapping(cfg.channels.map) if cfg.channels.map else None


def _make_source(args: argparse.Namespace, cfg):
    from bci_app.acquisition.sources import make_stream

    if args.simulate:
        spec = {"kind": "simulated", "subject_seed": args.subject_seed, "sfreq": args.sfreq}
    elif args.lsl is not None:
        spec = {"kind": "lsl", "name": args.lsl, "markers": getattr(args, "markers", None)}
    else:
        spec = {"kind": "brainflow", "board": args.brainflow, "params": brainflow_params(args, cfg)}
    return make_stream(spec, lsl=cfg.lsl)


def brainflow_params(args: argparse.Namespace, cfg) -> dict:
    """Connection parameters: the config's ``brainflow`` section, each overridden by its option."""
    params = cfg.brainflow.stream_params()
    given = {"serial_port": args.serial_port, "mac_address": args.mac_address, "ip_address": args.ip_address,
             "ip_port": args.ip_port, "ip_protocol": args.ip_protocol, "serial_number": args.serial_number,
             "other_info": args.other_info, "file": args.board_file, "timeout": args.timeout,
             "master_board": args.master_board}
    params.update({k: v for k, v in given.items() if v is not None})
    return params


def run(args: argparse.Namespace) -> int:
    from bci_app.acquisition.base import StreamState
    from bci_app.config import load_config
    from bci_app.errors import ConfigError, RecordingError, StreamError
    from bci_app.io.xdf import XdfRecorder

    guard_outputs(args, {"--out": [args.out]}, [args.config, args.board_file])
    if getattr(args, "markers", None) is not None and args.lsl is None:
        raise ConfigError("--markers names a Markers stream of an LSL source; it goes with --lsl")
    cfg = load_config(args.config)  # its lsl.scope was applied by the CLI entry (bci_app.cli)
    if args.duration is not None and args.duration <= 0:
        raise RecordingError(f"--duration must be > 0 s, got {args.duration}")
    stream = _open_source(args, cfg)
    stream.connect()
    try:
        import yaml

        desc = {"config": yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False), "command": "bci-app record"}
        with XdfRecorder(args.out, file_desc=desc, flush_interval=cfg.recording.flush_interval_s,
                         overwrite=args.overwrite) as recorder:
            tap = recorder.record_stream(stream)
            info = stream.info
            print(f"recording {info.name} ({info.n_chans} ch, {info.sfreq:g} Hz) to {args.out}; Ctrl-C stops", flush=True)
            start = time.monotonic()
            try:
                while args.duration is None or time.monotonic() - start < args.duration:
                    if recorder.failed:
                        break
                    if stream.state is StreamState.FAILED:
                        raise StreamError(f"the source {stream.info.name!r} failed while recording; see the log above")
                    time.sleep(0.1)
            except KeyboardInterrupt:
                print("stopping", flush=True)
    finally:
        stream.disconnect()
    if recorder.error is not None:
        raise recorder.error
    print(f"wrote {args.out}: {tap.eeg.sample_count} samples, {tap.markers.sample_count} markers, "
          f"{recorder.bytes_written} bytes, {tap.n_lost} samples lost", flush=True)
    return 0
