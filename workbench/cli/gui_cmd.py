"""`workbench gui [PROJECT] [--screenshot FILE.png]`: the desktop app (the default command)."""
from __future__ import annotations

import os
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("gui", help="open the desktop app (default)",
                              description="Open the desktop app, optionally with a project.")
    p.add_argument("project", nargs="?", help="a .wbproj file to open")
    p.add_argument("--screenshot", metavar="FILE.png",
                   help="lay out the window at a fixed size, save a screenshot and exit")
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


def run(args) -> int:
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
