"""Hostile-input fixtures: every write goes to this test's own folders, GitHub is a local
stub, and one object of each kind exists so that detail routes reach real rows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from pytest_httpserver import HTTPServer

from apps.backups.models import BackupRun
from apps.backups.tests.factories import BackupRunFactory
from apps.core.services import issue_api_key
from apps.core.tests.factories import UserFactory
from apps.jobs.models import Job
from apps.jobs.tests.factories import JobFactory
from apps.knowledge import index
from apps.knowledge.models import Document
from apps.knowledge.tests.factories import DocumentFactory
from apps.repositories.models import Repository
from apps.repositories.tests.factories import RepositoryFactory
from apps.research.models import ResearchTask, ResearchTaskAttachment
from apps.research.tests.factories import ResearchTaskFactory
from apps.technologies.models import Technology
from apps.technologies.tests.factories import TechnologyFactory


@dataclass
class Scratch:
    """This test's folders. ``root`` holds them all; ``outside`` is where a path that
    escaped its folder would land (``MEDIA_ROOT/../..``), checked to stay empty."""

    root: Path
    media: Path
    backups: Path
    chroma: Path

    def files_outside(self, *allowed: Path) -> list[Path]:
        """Every file under ``root`` that is not inside one of ``allowed``."""
        return [
            path
            for path in self.root.rglob("*")
            if path.is_file() and not any(path.resolve().is_relative_to(a.resolve()) for a in allowed)
        ]


@pytest.fixture
def scratch(settings, tmp_path: Path, httpserver: HTTPServer) -> Iterator[Scratch]:
    """Scratch MEDIA_ROOT, BACKUP_DIR and Chroma store two levels below ``tmp_path`` (so that
    ``../../x`` from any of them still lands inside ``tmp_path``, where it is looked for);
    GITHUB_API_URL at a local server answering 404 like GitHub for an unknown repository;
    no language model."""
    base = tmp_path / "srv" / "data"
    found = Scratch(root=tmp_path, media=base / "media", backups=base / "backups", chroma=base / "chroma")
    for folder in (found.media, found.backups, found.chroma):
        folder.mkdir(parents=True)
    settings.MEDIA_ROOT = found.media
    settings.BACKUP_DIR = found.backups
    settings.BACKUP_S3_BUCKET = ""
    settings.CHROMA_PATH = found.chroma
    settings.CHROMA_URL = ""
    settings.GITHUB_API_URL = httpserver.url_for("/").rstrip("/")
    settings.GITHUB_TOKEN = ""
    settings.GITHUB_WEBHOOK_SECRET = ""
    settings.LLM_PROVIDER = ""
    settings.ANTHROPIC_API_KEY = ""
    settings.OPENAI_API_KEY = ""
    httpserver.expect_request(re.compile(".*")).respond_with_json({"message": "Not Found"}, status=404)
    index.reset_clients()
    yield found
    index.reset_clients()


@dataclass
class World:
    superuser: User
    key: str
    repository: Repository
    technology: Technology
    task: ResearchTask
    attachment: ResearchTaskAttachment
    document: Document
    backup: BackupRun
    job: Job

    def path_values(self, path: str) -> dict[str, str]:
        """Values for the path parameters of ``path`` (an OpenAPI path template) that name
        existing objects."""
        ids = {
            "/api/v1/repositories/": self.repository.pk,
            "/api/v1/technologies/": self.technology.pk,
            "/api/v1/research-tasks/": self.task.pk,
            "/api/v1/knowledge/documents/": self.document.pk,
        }
        values: dict[str, str] = {"timestamp": self.backup.timestamp, "task_id": self.job.task_id}
        values["attachment_id"] = str(self.attachment.pk)
        for prefix, pk in ids.items():
            if path.startswith(prefix):
                values["id"] = str(pk)
        return values

    def fill(self, path: str) -> str:
        for name, value in self.path_values(path).items():
            path = path.replace("{" + name + "}", value)
        return path


@pytest.fixture
def world(db: None, scratch: Scratch) -> World:
    superuser = UserFactory.create(is_staff=True, is_superuser=True)
    repository = RepositoryFactory.create()
    technology = TechnologyFactory.create(tags=["hostile"])
    task = ResearchTaskFactory.create(technology=technology, repository=repository)
    attachment = ResearchTaskAttachment(task=task, name="notes.txt", uploaded_by=superuser)
    attachment.file.save("notes.txt", ContentFile(b"Findings of the research.\n"), save=True)
    document = DocumentFactory.create(collection="default", technology=technology)
    document.file.save("guide.md", ContentFile(b"# Guide\n\nHow the radar is kept.\n"), save=True)
    return World(
        superuser=superuser,
        key=issue_api_key(superuser).key,
        repository=repository,
        technology=technology,
        task=task,
        attachment=attachment,
        document=document,
        backup=BackupRunFactory.create(),
        job=JobFactory.create(),
    )
