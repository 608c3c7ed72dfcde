"""Entry point of the PyInstaller build: the same `workbench` command as the wheel's."""
import sys

from workbench.cli import main

if __name__ == "__main__":
    sys.exit(main())
