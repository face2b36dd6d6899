"""Local development: `make run` on embedded defaults (SQLite, filesystem broker)."""

from .base import *  # noqa: F403

DEBUG = True
