"""Path traversal in upload names and in backup timestamps: refused, or stored inside its
folder; nothing read or written anywhere else."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from apps.knowledge.models import Document
from apps.research.models import ResearchTaskAttachment
from tests.hostile.conftest import Scratch, World

pytestmark = pytest.mark.hostile

# Relative (POSIX and Windows separators), absolute, and encoded tricks. ``{root}`` is the
# test's own tmp_path, so an absolute name that escaped would land where it is looked for.
HOSTILE_NAMES = [
    "../../etc/passwd.{ext}",
    "../../../../../../../../etc/passwd.{ext}",
    "..\\..\\x.{ext}",
    "/etc/passwd.{ext}",
    "{root}/escaped.{ext}",
    "....//....//escaped.{ext}",
    "%2e%2e%2f%2e%2e%2fescaped.{ext}",
    "./../escaped.{ext}",
]


def _multipart(fields: dict[str, str], filename: str, content: bytes, content_type: str) -> tuple[bytes, str]:
    """A multipart body built by hand: Django's test client would strip the file name's
    directories itself, and the point is to send them."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n".encode()
        + content
        + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _upload(world: World, path: str, fields: dict[str, str], filename: str, content: bytes, kind: str) -> Any:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.key}")
    body, content_type = _multipart(fields, filename, content, kind)
    return client.generic("POST", path, data=body, content_type=content_type)  # type: ignore[arg-type]


def _assert_contained(scratch: Scratch, stored: str, name: str) -> None:
    target = (scratch.media / stored).resolve()
    assert target.is_relative_to(scratch.media.resolve()), stored
    assert target.is_file()
    assert ".." not in Path(stored).parts
    assert scratch.files_outside(scratch.media, scratch.backups, scratch.chroma) == []
    for escaped in (Path(name.replace("\\", "/")), scratch.root / "escaped.md", scratch.root / "escaped.txt"):
        if escaped.is_absolute():
            assert not escaped.exists() or escaped == Path("/etc/passwd"), escaped


@pytest.mark.parametrize("template", HOSTILE_NAMES)
def test_a_research_attachment_name_cannot_leave_media_root(world: World, scratch: Scratch, template: str):
    name = template.format(ext="txt", root=scratch.root)
    path = f"/api/v1/research-tasks/{world.task.pk}/attachments/"
    response = _upload(world, path, {}, name, b"attached notes\n", "text/plain")
    assert response.status_code in (201, 400), response.content
    if response.status_code == 201:
        attachment = ResearchTaskAttachment.objects.get(pk=response.json()["id"])
        _assert_contained(scratch, attachment.file.name, name)
        assert attachment.file.name.startswith(f"research/{world.task.pk}/")
        assert "/" not in attachment.name
        assert "\\" not in attachment.name
    assert scratch.files_outside(scratch.media, scratch.backups, scratch.chroma) == []


@pytest.mark.parametrize("template", HOSTILE_NAMES)
def test_a_knowledge_document_name_cannot_leave_media_root(world: World, scratch: Scratch, template: str):
    name = template.format(ext="md", root=scratch.root)
    content = f"# Notes {uuid.uuid4().hex}\n\nKept inside the media folder.\n".encode()
    response = _upload(world, "/api/v1/knowledge/documents/", {"title": "notes"}, name, content, "text/markdown")
    assert response.status_code in (202, 400), response.content
    if response.status_code == 202:
        document = Document.objects.get(pk=response.json()["document_id"])
        _assert_contained(scratch, document.file.name, name)
        assert document.file.name.startswith("knowledge/")
    assert scratch.files_outside(scratch.media, scratch.backups, scratch.chroma) == []


def test_an_attachment_display_name_is_only_a_name(world: World, scratch: Scratch):
    """``name`` is shown and used as the download's file name: it never picks the path."""
    path = f"/api/v1/research-tasks/{world.task.pk}/attachments/"
    response = _upload(world, path, {"name": "../../etc/passwd"}, "notes.txt", b"notes\n", "text/plain")
    assert response.status_code == 201
    attachment = ResearchTaskAttachment.objects.get(pk=response.json()["id"])
    _assert_contained(scratch, attachment.file.name, "notes.txt")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.key}")
    download: Any = client.get(response.json()["download"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"notes\n"
    assert download["Content-Disposition"].startswith("attachment;")


# --- backup timestamps ----------------------------------------------------------------------

TIMESTAMPS = [
    "../../etc/passwd",
    "../manifests/20260101_020000",
    "/etc/passwd",
    "20260101_020000/../../../etc/passwd",
    "20260101_020000\n",
    "٢٠٢٦٠١٠١_٠٢٠٠٠٠",  # digits, but not ASCII ones
    "20260101_0200000",
    "",
]


@pytest.fixture
def bait(scratch: Scratch) -> Path:
    """A manifest where ``BACKUP_DIR/manifests/../../etc/passwd.json`` points, so that a
    timestamp used as a path would find something to read."""
    target = scratch.backups.parent / "etc" / "passwd.json"
    target.parent.mkdir()
    target.write_text('{"components": {}}')
    return target


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/backups/../../etc/passwd/",
        "/api/v1/backups/..%2F..%2Fetc%2Fpasswd/",
        "/api/v1/backups/%2e%2e%2f%2e%2e%2fetc%2fpasswd/",
        "/api/v1/backups/20260101_020000%0A/",
        "/api/v1/backups/../../etc/passwd",
    ],
)
def test_a_backup_timestamp_in_the_api_is_only_a_timestamp(world: World, scratch: Scratch, bait: Path, path: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.key}")
    response = client.get(path)
    assert response.status_code == 404
    assert "results" not in response.content.decode()
    assert scratch.files_outside(scratch.media, scratch.backups, scratch.chroma, bait) == []


@pytest.mark.parametrize("query", ["status=../../etc/passwd", "trigger=%00", "verification=' OR 1=1 --"])
def test_backup_filters_refuse_what_is_not_a_choice(world: World, query: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.key}")
    response = client.get(f"/api/v1/backups/?{query}")
    assert response.status_code == 400
    assert "results" not in response.json()


@pytest.mark.parametrize("timestamp", TIMESTAMPS)
@pytest.mark.parametrize("command", ["restore", "verify_backup"])
def test_backup_commands_refuse_a_timestamp_that_is_a_path(
    world: World, scratch: Scratch, bait: Path, command: str, timestamp: str
):
    arguments = [timestamp, "--yes", "--no-safety-backup"] if command == "restore" else [timestamp]
    with pytest.raises(CommandError) as refused:
        call_command(command, *arguments)
    message = str(refused.value)
    if timestamp:
        assert "invalid backup timestamp" in message
    else:  # an empty argument means "the latest complete set": there is none in the scratch folder
        assert "no complete backup set" in message
    assert "\n" not in message.replace(repr(timestamp), "")
    assert "Traceback" not in message
    assert scratch.files_outside(scratch.media, scratch.backups, scratch.chroma, bait) == []
    # Nothing beyond the lock file was created in BACKUP_DIR either.
    assert {p.name for p in scratch.backups.rglob("*")} <= {".lock"}
