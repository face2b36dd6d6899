"""``NAME_FILE`` secrets (Docker secrets, mounted files) for django-environ.

django-environ's ``FileAwareEnv`` reads ``NAME`` from the file that ``NAME_FILE`` names, but
keeps the file's final newline, which ``echo`` and most editors write: a webhook secret, a
token sent in a header or a ``user:password`` would then never match. This reads the file
the same way without the line ending.
"""

from __future__ import annotations

import environ
from environ.fileaware_mapping import FileAwareMapping


class SecretFileMapping(FileAwareMapping):
    def __getitem__(self, key: str) -> str:
        value: str = super().__getitem__(key)
        if self.env.get(key + "_FILE"):
            return value.rstrip("\r\n")
        return value


def file_aware_env() -> environ.FileAwareEnv:
    env = environ.FileAwareEnv()
    env.ENVIRON = SecretFileMapping()
    return env
