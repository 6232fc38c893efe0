#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    if sys.argv[1:2] == ["copy_registry"]:
        # A copy writes nothing to the database: skip Django's set-up (settings, apps, checks), seconds on a busy host.
        # httpx imports its own command line (click, rich) when they are installed: a copy never runs it.
        sys.modules.setdefault("httpx._main", None)
        from replication.oci.cli import main

        sys.exit(main(sys.argv[2:]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
