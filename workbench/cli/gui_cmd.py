"""`workbench gui [PROJECT] [--screenshot FILE.png]`: the desktop app (the default command)."""
from __future__ import annotations

import os
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("gui", help="open the desktop app (default)",
                              description="Open the desktop app, optionally with a project.")
    p.add_argument("project", nargs="?", help="a .wbproj file to open")
    p.add_argument("--screenshot", metavar="FILE.png",
                   help="lay out the window at a fixed size, save a screenshot and exit; "
                        "no dialog is shown: an error (a project or data file that cannot be "
                        "read) is printed to stderr and the exit status is 1, with no "
                        "screenshot")
    p.add_argument("--size", default="1400x860", metavar="WxH",
                   help="window size for --screenshot (default 1400x860)")
    theme = p.add_mutually_exclusive_group()
    theme.add_argument("--dark", action="store_true", default=None, help="dark theme")
    theme.add_argument("--light", dest="dark", action="store_false", help="light theme")
    p.set_defaults(func=run)


def no_display_reason() -> str | None:
    """Why Qt cannot open a window here, or None if it can (Linux without X11/Wayland)."""
    if not sys.platform.startswith("linux"):
        return None
    if os.environ.get("QT_QPA_PLATFORM") or os.environ.get("DISPLAY") \
            or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return ("workbench: no display available (DISPLAY/WAYLAND_DISPLAY not set): use the headless "
            "commands `workbench validate|train|export|data`, or set QT_QPA_PLATFORM=offscreen "
            "(e.g. with --screenshot)")


# Libraries Qt's X11 plugin needs that minimal Linux installs lack (Debian/Ubuntu package names).
XCB_PACKAGES = {"libxcb-cursor.so.0": "libxcb-cursor0", "libxcb-icccm.so.4": "libxcb-icccm4",
                "libxcb-keysyms.so.1": "libxcb-keysyms1", "libxcb-image.so.0": "libxcb-image0",
                "libxcb-render-util.so.0": "libxcb-render-util0", "libxcb-shape.so.0": "libxcb-shape0",
                "libxcb-randr.so.0": "libxcb-randr0", "libxcb-xkb.so.1": "libxcb-xkb1",
                "libxkbcommon-x11.so.0": "libxkbcommon-x11-0", "libEGL.so.1": "libegl1",
                "libGL.so.1": "libgl1", "libfontconfig.so.1": "libfontconfig1"}


def missing_x11_libraries() -> list[str]:
    """System libraries Qt's xcb platform plugin cannot find (only checked when it will be used)."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if not sys.platform.startswith("linux") or platform not in ("", "xcb") or not os.environ.get("DISPLAY") \
            or (os.environ.get("WAYLAND_DISPLAY") and not platform):
        return []
    import ctypes

    missing = []
    for name in XCB_PACKAGES:
        try:
            ctypes.CDLL(name)
        except OSError:
            missing.append(name)
    return missing


def run(args) -> int:
    missing = missing_x11_libraries()
    if missing:
        packages = " ".join(XCB_PACKAGES[m] for m in missing)
        print(f"workbench: Qt cannot open a window: missing system libraries {', '.join(missing)} "
              f"(Debian/Ubuntu: sudo apt-get install {packages}); the headless commands work "
              "without them", file=sys.stderr)
        return 2
    reason = no_display_reason()
    if reason:
        print(reason, file=sys.stderr)
        return 2
    try:
        w, h = (int(v) for v in str(args.size).lower().split("x"))
    except ValueError:
        print(f"workbench gui: --size expects WIDTHxHEIGHT, got {args.size!r}", file=sys.stderr)
        return 2
    from workbench.ui.app import run as run_app
    return run_app(args.project, args.screenshot, (w, h), args.dark)
