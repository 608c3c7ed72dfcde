"""The child side of a plugin probe (`plugin_probe`): import one plugin and run its
`register(api)` in a throw-away interpreter, reporting each phase on a private copy of stdout."""
from __future__ import annotations

import json
import os
import sys

from workbench.core import plugins
from workbench.core.plugin_probe import PHASES

def main(argv: list[str]) -> int:
    """In the child: import the plugin and run its `register(api)` with the checks that the
    in-process load makes, saying each phase before it starts."""
    kind, target, name = argv
    result = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)              # whatever the plugin prints, even from C, is not the result
    sys.stdout = sys.stderr

    def say(**message) -> None:
        result.write(json.dumps(message) + "\n")
        result.flush()

    plugin = plugins.Plugin(name, target)
    say(phase="import")
    try:
        register = plugins.import_target(kind, target)
    except BaseException as exc:  # noqa: BLE001 - the verdict is what we are here for
        say(error=plugins.describe_failure(exc, PHASES["import"]))
        os._exit(0)
    say(phase="register")
    try:
        plugins.install(plugin, register)
    except BaseException as exc:  # noqa: BLE001
        say(error=plugins.describe_failure(exc, PHASES["register"]))
        os._exit(0)
    say(ok=True, nodes=plugin.nodes, readers=plugin.readers)
    os._exit(0)                # no atexit hooks or threads of the plugin's to wait for
