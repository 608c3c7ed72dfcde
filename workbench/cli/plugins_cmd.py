"""`workbench plugins`: what was found, what each adds, and why any was skipped."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plugins", help="list plugins found and those that failed",
                       description="List the plugins found (entry points of group "
                                   "'workbench.plugins', the repository's plugins/ folder and the "
                                   "user plugin folder or $WORKBENCH_PLUGIN_PATH), the node types "
                                   "each adds, and why any was skipped. Exit status 1 if any failed. "
                                   "Each plugin is first tried in a separate process (at most "
                                   "$WORKBENCH_PLUGIN_TIMEOUT seconds, default 10, to import and "
                                   "to register); the verdict is kept until the plugin's files "
                                   "change.")
    p.add_argument("--recheck", action="store_true",
                   help="try every plugin again instead of trusting the kept verdicts "
                        "(after installing what a plugin needs, or on a slow machine)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.core.plugins import load_plugins, user_folders

    plugins = load_plugins(recheck=args.recheck)
    if not plugins:
        print("no plugins found (looked in: "
              + ", ".join(str(f) for f in user_folders()) + " and the 'workbench.plugins' entry points)")
        return 0
    for p in plugins:
        if p.ok:
            adds = ", ".join(p.nodes + [f"reader {r}" for r in p.readers]) or "nothing"
            print(f"ok      {p.name:<20} {adds}   [{p.source}]")
        else:
            print(f"FAILED  {p.name:<20} {p.error}   [{p.source}]")
    if all(p.ok for p in plugins):
        return 0
    if not args.recheck:
        print("(verdicts are kept until a plugin's files change; `workbench plugins --recheck` "
              "tries them again)")
    return 1
