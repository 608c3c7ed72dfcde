"""Entry point of the PyInstaller build: the same `workbench` command as the wheel's."""
import sys

from workbench.cli import main

if __name__ == "__main__":
    from workbench.core.plugin_probe import PROBE_FLAG, main as probe_main

    if sys.argv[1:2] == [PROBE_FLAG]:  # the build's own child process trying a plugin
        sys.exit(probe_main(sys.argv[2:]))
    sys.exit(main())
