"""The `workbench` command: one entry point, one module per subcommand.

Each subcommand module exposes `register(subparsers)`, which adds its parser and sets
`func=run` where `run(args) -> int`. Modules are imported only when the command line is
parsed, and the heavy libraries (torch, Qt) only inside `run`, so `workbench --help` is quick.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from workbench import __version__

# (module, what it adds) in the order `--help` lists them.
SUBCOMMANDS = ["gui", "new", "validate", "data", "preflight", "lr-find", "train", "explain", "search",
               "export", "import", "plugins"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Design, train and export neural networks. With no subcommand, opens the app.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module_name = f"workbench.cli.{name.replace('-', '_')}_cmd"
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:  # a subcommand not built yet
            if exc.name != module_name:
                raise
            continue
        module.register(sub)
    return parser


def _load_plugins_quietly() -> None:
    """Plugins add node types that projects may use; failures are listed by `workbench plugins`."""
    from workbench.core.plugins import load_plugins

    failed = [p for p in load_plugins() if not p.ok]
    for p in failed:
        print(f"warning: plugin '{p.name}' skipped: {p.error}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = parser._subparsers._group_actions[0].choices  # noqa: SLF001
    # `workbench` and `workbench PROJECT [--screenshot F]` open the app.
    if "gui" in commands and not (argv and (argv[0] in commands or argv[0] in ("-h", "--help", "--version"))):
        argv = ["gui", *argv]
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        if args.command != "plugins":  # inside the try: a Ctrl-C during a plugin probe is one line
            _load_plugins_quietly()
        return int(args.func(args) or 0)
    except KeyboardInterrupt as exc:  # a second Ctrl-C (or SIGTERM, SIGHUP) while training
        print("interrupted", file=sys.stderr)
        return getattr(exc, "exit_code", 130)
    except BrokenPipeError:  # `workbench validate p.wbproj | head`
        sys.stderr.close()
        return 0
    except OSError as exc:  # a folder that cannot be written, a full disk: one line, no traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
