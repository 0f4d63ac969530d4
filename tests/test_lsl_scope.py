"""``lsl.scope``: the process entry applies it once; every component only requires it.

No test here opens an outlet or inlet under a scope wider than machine: liblsl's real configuration
is the machine one ``tests/conftest.py`` applied before pylsl was first used (liblsl reads it once per
process). The tests that run components under ``site`` set only bci-app's record of the applied
scope and make ``pylsl.set_config_content`` fail, so any component applying a scope of its own shows
as an error while the traffic stays on loopback.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import bci_app.lsl_config as lsl_config
from bci_app.cli import main
from bci_app.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent

#: the only places that pass a scope to configure_lsl: the process entry (the CLI) and components
#: holding a configuration, which pass their config's scope (applied only when nothing was yet,
#: else checked against the scope in effect)
SCOPE_PASSERS = {
    "bci_app/cli.py": "load_config(getattr(args, 'config', None)).lsl.scope",
    "bci_app/session/machine.py": "self.config.lsl.scope",
    "bci_app/acquisition/lsl.py": "config.scope",
    "bci_app/commands/demo.py": "config.lsl.scope",
    "bci_app/session/demo.py": "config.lsl.scope",  # the demo set-up, from the config it is given
    "bci_app/lsl_config.py": "scope",  # lsl_clock(scope) hands its caller's scope on
}


@pytest.fixture
def site_config(tmp_path) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text("lsl:\n  scope: site\n", encoding="utf-8")
    return path


@pytest.fixture
def applied(monkeypatch):
    """Record every configuration text bci-app would hand to liblsl, without handing it over."""
    import pylsl

    texts: list[str] = []
    monkeypatch.setattr(pylsl, "set_config_content", texts.append)
    return texts


def test_site_configuration_text():
    machine, site = lsl_config.lsl_config_text("machine"), lsl_config.lsl_config_text("site")
    assert "ResolveScope = machine" in machine and "KnownPeers = {127.0.0.1}" in machine
    assert "ResolveScope = site" in site and "KnownPeers" not in site  # the lab network is reachable
    assert "IPv6 = disable" in site and "level = -3" in site


def test_components_only_require_the_scope():
    """Outside the entry and the config holders, ``configure_lsl()`` (and ``lsl_clock()``, the default
    clock, which applies it) is called without a scope."""
    calls: dict[str, list[str]] = {}
    for path in [*ROOT.glob("bci_app/**/*.py"), *ROOT.glob("calibration/*.py"), *ROOT.glob("pretraining/*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("configure_lsl", "lsl_clock"):
                rel = path.relative_to(ROOT).as_posix()
                calls.setdefault(rel, []).extend(ast.unparse(a).replace('"', "'") for a in node.args)
    assert set(calls) >= {"bci_app/acquisition/lsl.py", "bci_app/online/outputs.py", "bci_app/io/xdf.py",
                          "bci_app/acquisition/sources.py", "bci_app/acquisition/brainflow.py"}
    for rel, args in calls.items():
        assert all(a == SCOPE_PASSERS.get(rel) for a in args), f"{rel} applies a scope of its own: {args}"


def test_requiring_keeps_the_scope_in_effect(monkeypatch, applied):
    monkeypatch.setattr(lsl_config, "_applied", None)
    assert lsl_config.configure_lsl("site") == "site"
    assert lsl_config.configure_lsl() == "site"  # a component: no scope of its own
    assert lsl_config.configure_lsl("site") == "site"  # a config holder with the same scope
    with pytest.raises(ConfigError, match="already configured with scope 'site'"):
        lsl_config.configure_lsl("machine")
    assert applied == [lsl_config.lsl_config_text("site")]


def test_nothing_applied_means_machine(monkeypatch, applied):
    monkeypatch.setattr(lsl_config, "_applied", None)
    assert lsl_config.configure_lsl() == "machine"
    assert applied == [lsl_config.lsl_config_text("machine")]


def test_the_cli_entry_applies_the_config_scope_once(monkeypatch, applied, site_config, capsys):
    monkeypatch.setattr(lsl_config, "_applied", None)
    assert main(["sys-info", "--json"]) == 0  # sys-info has no --config: the packaged one, machine
    assert applied == [lsl_config.lsl_config_text("machine")]
    assert '"scope": "machine"' in capsys.readouterr().out
    monkeypatch.setattr(lsl_config, "_applied", None)
    applied.clear()
    # a command with a config file: the entry applies its scope before the command runs
    assert main(["replay", str(ROOT / "missing.xdf"), "--config", str(site_config)]) == 2  # bad input
    assert applied == [lsl_config.lsl_config_text("site")]
    assert lsl_config.applied_lsl_scope() == "site"


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_record_play_simulate_under_site(monkeypatch, site_config, tmp_path, unique_name, capsys):
    """Commands and components run under ``site`` without applying a scope of their own."""
    import pylsl

    from bci_app.acquisition.lsl import LslPlayer
    from bci_app.acquisition.simulated import StreamSimulated
    from bci_app.commands.sys_info import collect
    from bci_app.online.outputs import PredictionOutlet

    lsl_config.configure_lsl()  # liblsl keeps conftest's machine configuration
    monkeypatch.setattr(lsl_config, "_applied", "site")

    def refuse(text: str) -> None:
        raise AssertionError("a component applied an LSL configuration of its own")

    monkeypatch.setattr(pylsl, "set_config_content", refuse)
    player = LslPlayer(StreamSimulated(ch_names=("C3", "Cz", "C4"), sfreq=100.0), name=unique_name).open()
    player.start()
    out = tmp_path / "site.xdf"
    try:
        assert main(["record", "--lsl", unique_name, "--config", str(site_config), "--duration", "1.0",
                     "--out", str(out)]) == 0, capsys.readouterr().err
    finally:
        player.stop()
    assert "wrote" in capsys.readouterr().out
    assert main(["play", str(out), "--config", str(site_config), "--speed", "max",
                 "--name", f"{unique_name}-play"]) == 0, capsys.readouterr().err
    assert main(["simulate", "--config", str(site_config), "--duration", "0.3",
                 "--name", f"{unique_name}-sim"]) == 0, capsys.readouterr().err
    PredictionOutlet(["left_hand", "right_hand"], name=f"{unique_name}-pred").close()
    assert collect()["pylsl"]["scope"] == "site"
    # the machine-scope default of a component never overrides: a different scope is refused
    assert main(["sys-info"]) == 2  # bad input: the config asks for another scope
    assert "already configured with scope 'site'" in capsys.readouterr().err
