#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import gc
import os
import sys


def main() -> None:
    # Start-up (the settings, then every app's models) creates some million long-lived objects
    # and no garbage worth collecting: the cyclic collector, left on, would walk that growing
    # heap again and again. It is off until Django is set up; then everything loaded is frozen
    # (left out of later collections, the one at exit included) and it is on again. About
    # 0.3 s of every command, which operational commands such as backup and restore pay on
    # each run.
    gc.disable()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django
    from django.core.management import execute_from_command_line

    setup = django.setup

    def setup_then_collect(set_prefix: bool = True) -> None:
        try:
            setup(set_prefix)
        finally:
            gc.freeze()
            gc.enable()

    django.setup = setup_then_collect
    try:
        execute_from_command_line(sys.argv)
    finally:
        gc.enable()  # a command that never set Django up (help, a settings error)


if __name__ == "__main__":
    main()
