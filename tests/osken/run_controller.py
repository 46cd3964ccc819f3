#!/usr/bin/env python3
"""Run os-ken's OpenFlow controller with some apps, listening on one address.

Usage: run_controller.py HOST PORT APP [APP...]

Each APP is a module name (e.g. os_ken.app.simple_switch_13, where the installed
os-ken still ships it) or the path of a Python file (e.g. learning_switch.py next to
this script). Recent os-ken releases (4.x) ship neither the `osken-manager` command
nor the sample apps, so the end-to-end tests start the controller through this
launcher, which drives os-ken's own AppManager the way osken-manager did: parse the
listen options, load the apps (and the OpenFlow handler they depend on), and run
until killed.
"""

import sys


def main(argv):
    if len(argv) < 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    host, port, apps = argv[1], argv[2], argv[3:]
    from os_ken import cfg, log
    # app_manager first: importing the controller module first is a circular import.
    from os_ken.base.app_manager import AppManager
    import os_ken.controller.controller  # noqa: F401 (registers the --ofp-* options)

    cfg.CONF(
        args=["--ofp-listen-host", host, "--ofp-tcp-listen-port", port],
        project="os_ken",
    )
    log.init_log()
    print("os-ken: listening on %s:%s with %s" % (host, port, ", ".join(apps)),
          file=sys.stderr, flush=True)
    AppManager.run_apps(apps)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
