"""The window names the system packages Qt's xcb plugin needs instead of Qt's plugin error."""

from __future__ import annotations

import ctypes.util

from bci_app.gui.app import XCB_LIBRARIES, missing_display_libraries


def test_missing_packages_are_named_only_for_xcb_on_linux() -> None:
    expected = [pkg for lib, pkg in XCB_LIBRARIES.items() if ctypes.util.find_library(lib) is None]
    assert missing_display_libraries("", "linux") == expected
    assert missing_display_libraries("xcb", "linux") == expected
    assert missing_display_libraries("offscreen", "linux") == []
    assert missing_display_libraries("", "darwin") == []
    assert set(XCB_LIBRARIES.values()) >= {"libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1"}
