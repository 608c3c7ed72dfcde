#!/usr/bin/env sh
# Qt's X11 plugin needs a few system libraries that minimal Linux installs lack. `make run`
# calls this: it installs the missing ones with apt-get when it can do so without a password,
# and otherwise prints the command to run. It never fails the build.
PY=${1:-.venv/bin/python}
# the check only looks when a window will open (DISPLAY set); installing happens before that
pkgs=$(DISPLAY="${DISPLAY:-:0}" "$PY" -c "from workbench.cli.gui_cmd import XCB_PACKAGES as P, missing_x11_libraries as m; print(' '.join(P[x] for x in m()))" 2>/dev/null)
[ -z "$pkgs" ] && exit 0
echo "Qt needs system libraries that are missing: $pkgs"
if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        apt-get install -y -q $pkgs >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $pkgs >/dev/null; }
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n apt-get install -y -q $pkgs >/dev/null
    else
        echo "install them with: sudo apt-get install $pkgs"
    fi
else
    echo "install your distribution's packages for: $pkgs"
fi
exit 0
