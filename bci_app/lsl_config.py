"""Keep LSL on this machine unless the user explicitly widens it.

EEG is health data, and liblsl's default configuration multicasts and broadcasts outlets to the
whole network. :func:`configure_lsl` must run before any other pylsl call; :mod:`bci_app` sources,
tests and commands call it first.
"""

from __future__ import annotations

import os
from typing import Literal

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


def configure_lsl(scope: LslScope = "machine") -> LslScope:
    """Apply the LSL configuration once per process, before pylsl opens any socket.

    An ``LSLAPICFG`` environment variable set by the user wins (their explicit choice).
    Returns the scope in effect. Calling again with another scope raises, because liblsl reads its
    configuration only once.
    """
    global _applied
    if _applied is not None:
        if scope != _applied:
            from bci_app.errors import ConfigError

            raise ConfigError(
                f"LSL is already configured with scope {_applied!r} in this process; "
                f"{scope!r} cannot be applied now. Restart the app with the scope you need."
            )
        return _applied
    if not os.environ.get("LSLAPICFG"):
        import pylsl

        pylsl.set_config_content(lsl_config_text(scope))
    _applied = scope
    return scope
