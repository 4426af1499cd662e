#!/usr/bin/env python3
"""The demo service's management commands: `./manage.py runserver 127.0.0.1:8000 --noreload`."""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
