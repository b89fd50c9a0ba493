#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "usage_project.settings")
    # Operator commands are not request handlers: no statement limit, a key of their own when
    # SECRET_KEY is unset (see settings).
    os.environ["USAGE_COMMAND_LINE"] = "1"
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
