"""Keep LSL on this machine unless the user explicitly widens it.

EEG is health data, and liblsl's default configuration multicasts and broadcasts outlets to the
whole network. liblsl reads its configuration once per process, at its first use, so the scope is a
property of the process, applied before any other pylsl call.

The rule, one for every caller:

- **The process entry applies the scope from its configuration**: :func:`bci_app.cli.main` for every
  command (the desktop app and the demo included), from the command's ``--config``; a benchmark
  script or ``tests/conftest.py`` (machine) for its own process. ``configure_lsl(config.lsl.scope)``.
- **Every component only requires it**: sources, players, outlets, the recorder, discovery,
  ``sys-info`` call ``configure_lsl()`` with no scope before their first pylsl call. That returns the
  scope in effect and never changes it; only when nothing applied one yet (library use, a script of
  one's own) it applies ``machine``, the safe default, never anything wider.
- A component that holds a configuration (``Session``, ``StreamLSL.from_config``) passes its scope:
  it is applied when nothing was yet, and a different scope already in effect raises
  :class:`~bci_app.errors.ConfigError` (liblsl cannot change it within a process).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Literal

from bci_app.errors import ConfigError

LslScope = Literal["machine", "link", "site", "organization", "global"]

_MACHINE_CONFIG = """[ports]
IPv6 = disable
[multicast]
ResolveScope = machine
[lab]
KnownPeers = {127.0.0.1}
[log]
level = -3
"""

_NETWORK_CONFIG = """[ports]
IPv6 = disable
[multicast]
ResolveScope = {scope}
[log]
level = -3
"""

_applied: LslScope | None = None


def lsl_config_text(scope: LslScope = "machine") -> str:
    """Return the liblsl configuration file text for ``scope``."""
    if scope == "machine":
        return _MACHINE_CONFIG
    return _NETWORK_CONFIG.replace("{scope}", scope)


def applied_lsl_scope() -> LslScope | None:
    """The scope applied in this process, or None when no pylsl user has run yet."""
    return _applied


def configure_lsl(scope: LslScope | None = None) -> LslScope:
    """Apply (entry point, ``scope`` from the config) or require (component, no ``scope``) the LSL
    configuration of this process; see the module docstring for the rule. Returns the scope in effect.

    An ``LSLAPICFG`` environment variable set by the user wins over the text written here (their
    explicit choice); the scope is still recorded. Raises :class:`ConfigError` when ``scope`` differs
    from the one already applied.
    """
    global _applied
    if _applied is not None:
        if scope is not None and scope != _applied:
            raise ConfigError(
                f"LSL is already configured with scope {_applied!r} in this process; "
                f"{scope!r} cannot be applied now. Restart the app with the scope you need."
            )
        return _applied
    scope = scope or "machine"
    if not os.environ.get("LSLAPICFG"):
        import pylsl

        pylsl.set_config_content(lsl_config_text(scope))
    _applied = scope
    return scope


def lsl_clock(scope: LslScope | None = None) -> Callable[[], float]:
    """The default clock of every stream, paradigm and recorder: ``pylsl.local_clock`` (seconds),
    after :func:`configure_lsl` (``scope`` as there)."""
    configure_lsl(scope)
    import pylsl

    return pylsl.local_clock
