"""`workbench plugins`: what was found, what each adds, and why any was skipped."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plugins", help="list plugins found and those that failed",
                       description="List the plugins found (entry points of group "
                                   "'workbench.plugins', the repository's plugins/ folder and the "
                                   "user plugin folder or $WORKBENCH_PLUGIN_PATH), the node types "
                                   "each adds, and why any was skipped. Exit status 1 if any failed.")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.core.plugins import load_plugins, user_folders

    plugins = load_plugins()
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
    return 0 if all(p.ok for p in plugins) else 1
