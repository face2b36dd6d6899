"""A realistic demo data set (``make demo``): idempotent, safe to load twice."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from apps.repositories.models import Repository
from apps.research.choices import ResearchTaskStatus
from apps.research.models import ResearchTask
from apps.technologies.models import Technology
from apps.technologies.services import tags_for

REPOSITORIES = [
    ("django", "django", "Python", "The Web framework for perfectionists with deadlines.", 82000),
    ("encode", "django-rest-framework", "Python", "Web APIs for Django.", 28000),
    ("celery", "celery", "Python", "Distributed Task Queue.", 24000),
    ("chroma-core", "chroma", "Python", "The AI-native open-source embedding database.", 16000),
    ("prometheus", "prometheus", "Go", "The Prometheus monitoring system and time series database.", 55000),
    ("grafana", "grafana", "TypeScript", "The open and composable observability platform.", 64000),
    ("grafana", "loki", "Go", "Like Prometheus, but for logs.", 23000),
    ("traefik", "traefik", "Go", "The Cloud Native Application Proxy.", 51000),
    ("redis", "redis", "C", "An in-memory data store used by millions of developers.", 67000),
    ("postgres", "postgres", "C", "Mirror of the official PostgreSQL GIT repository.", 16000),
    ("hynek", "structlog", "Python", "Simple, powerful, and fast logging for Python.", 3500),
    ("astral-sh", "ruff", "Rust", "An extremely fast Python linter and code formatter.", 35000),
]

# title, vendor, domain, status, ring, score, priority, tags, repositories
TECHNOLOGIES = [
    (
        "Django",
        "Django Software Foundation",
        "backend",
        "integrated",
        "adopt",
        95,
        1,
        ["python", "web"],
        ["django/django"],
    ),
    (
        "Django REST framework",
        "Encode",
        "backend",
        "integrated",
        "adopt",
        90,
        1,
        ["python", "api"],
        ["encode/django-rest-framework"],
    ),
    ("Celery", "Celery Project", "backend", "integrated", "adopt", 85, 2, ["python", "queue"], ["celery/celery"]),
    ("ChromaDB", "Chroma", "ai-ml", "evaluation", "trial", 80, 2, ["vector-db", "rag"], ["chroma-core/chroma"]),
    (
        "Prometheus",
        "CNCF",
        "devops",
        "integrated",
        "adopt",
        88,
        1,
        ["monitoring", "metrics"],
        ["prometheus/prometheus"],
    ),
    (
        "Grafana",
        "Grafana Labs",
        "devops",
        "integrated",
        "adopt",
        85,
        2,
        ["monitoring", "dashboards"],
        ["grafana/grafana"],
    ),
    ("Loki", "Grafana Labs", "devops", "implementation", "trial", 70, 2, ["logging"], ["grafana/loki"]),
    ("Traefik", "Traefik Labs", "infrastructure", "integrated", "adopt", 75, 2, ["proxy", "tls"], ["traefik/traefik"]),
    ("Redis", "Redis Ltd.", "data", "integrated", "adopt", 85, 1, ["cache", "queue"], ["redis/redis"]),
    (
        "PostgreSQL",
        "PostgreSQL Global Development Group",
        "data",
        "integrated",
        "adopt",
        98,
        1,
        ["sql", "database"],
        ["postgres/postgres"],
    ),
    (
        "structlog",
        "Hynek Schlawack",
        "devops",
        "integrated",
        "adopt",
        70,
        3,
        ["python", "logging"],
        ["hynek/structlog"],
    ),
    ("Ruff", "Astral", "devops", "integrated", "adopt", 80, 3, ["python", "lint"], ["astral-sh/ruff"]),
    ("pgvector", "pgvector", "ai-ml", "research", "assess", 65, 3, ["vector-db", "sql"], []),
    ("Qdrant", "Qdrant", "ai-ml", "discovery", "assess", 55, 4, ["vector-db"], []),
    ("ONNX Runtime", "Microsoft", "ai-ml", "evaluation", "trial", 72, 2, ["inference", "ml"], []),
    ("Kubernetes", "CNCF", "infrastructure", "research", "assess", 60, 3, ["containers", "orchestration"], []),
    ("Nomad", "HashiCorp", "infrastructure", "archived", "hold", 30, 5, ["orchestration"], []),
    ("OpenTelemetry", "CNCF", "devops", "evaluation", "trial", 78, 2, ["tracing", "metrics"], []),
    ("Trivy", "Aqua Security", "security", "implementation", "trial", 74, 2, ["scanning", "containers"], []),
    ("Bandit", "PyCQA", "security", "integrated", "adopt", 60, 3, ["python", "scanning"], []),
    ("HTMX", "Big Sky Software", "frontend", "discovery", "assess", 50, 4, ["web"], []),
    ("React", "Meta", "frontend", "archived", "hold", 40, 5, ["web", "javascript"], []),
    ("Tailwind CSS", "Tailwind Labs", "ui-ux", "discovery", "", 35, 5, ["css"], []),
    ("py-spy", "Ben Frederickson", "performance", "integrated", "adopt", 68, 3, ["python", "profiling"], []),
    ("pyinstrument", "Joe Rickerby", "performance", "research", "trial", 55, 4, ["python", "profiling"], []),
    ("Locust", "Locust.io", "performance", "evaluation", "trial", 58, 3, ["load-testing", "python"], []),
    ("Apache Kafka", "Apache", "data", "research", "assess", 45, 4, ["streaming", "queue"], []),
    ("DuckDB", "DuckDB Labs", "data", "evaluation", "trial", 66, 3, ["sql", "analytics"], []),
    ("Anthropic Claude API", "Anthropic", "ai-ml", "implementation", "trial", 82, 2, ["llm"], []),
    ("OpenAI API", "OpenAI", "ai-ml", "evaluation", "assess", 75, 3, ["llm", "embeddings"], []),
]

# title, technology, status, days until due (None: no date), progress
TASKS = [
    ("Compare vector databases for the knowledge base", "ChromaDB", "in_progress", 5, 60),
    ("Benchmark pgvector against ChromaDB at 100k chunks", "pgvector", "pending", 12, 0),
    ("Evaluate Qdrant operational cost", "Qdrant", "pending", 30, 0),
    ("Assess OpenTelemetry tracing overhead in Django", "OpenTelemetry", "in_progress", -3, 40),
    ("Loki retention and compaction settings", "Loki", "completed", -10, 100),
    ("Traefik TLS hardening review", "Traefik", "completed", -20, 100),
    ("Trivy in CI: SARIF upload", "Trivy", "in_progress", 2, 75),
    ("Kubernetes migration feasibility", "Kubernetes", "blocked", -1, 20),
    ("Retire Nomad job definitions", "Nomad", "cancelled", None, 10),
    ("ONNX embedding throughput on 2 cores", "ONNX Runtime", "in_progress", 7, 50),
    ("DuckDB for ad-hoc analytics on backups metadata", "DuckDB", "pending", 21, 0),
    ("Kafka vs Redis streams for events", "Apache Kafka", "pending", None, 0),
    ("Load test the API with Locust", "Locust", "in_progress", 4, 30),
    ("LLM provider comparison for research summaries", "Anthropic Claude API", "in_progress", -5, 55),
    ("HTMX for admin enhancements", "HTMX", "pending", 45, 0),
    ("Profile list endpoints with py-spy", "py-spy", "completed", -2, 100),
    ("Celery visibility timeout tuning", "Celery", "completed", -15, 100),
    ("PostgreSQL 17 upgrade plan", "PostgreSQL", "pending", 60, 0),
]


@dataclass(frozen=True)
class DemoCounts:
    repositories: int
    technologies: int
    research_tasks: int


@transaction.atomic
def load_demo() -> DemoCounts:
    repos: dict[str, Repository] = {}
    for owner, name, language, description, stars in REPOSITORIES:
        repo, _ = Repository.objects.update_or_create(
            full_name=f"{owner}/{name}",
            defaults={"owner": owner, "name": name, "language": language, "description": description, "stars": stars},
        )
        repos[repo.full_name] = repo
    techs: dict[str, Technology] = {}
    for title, vendor, domain, status, ring, score, priority, tags, repo_names in TECHNOLOGIES:
        tech, _ = Technology.objects.update_or_create(
            title=title,
            defaults={
                "vendor": vendor,
                "domain": domain,
                "status": status,
                "ring": ring,
                "relevance_score": score,
                "priority": priority,
                "description": f"{title} by {vendor}.",
            },
        )
        tech.tags.set(tags_for(tags))
        tech.repositories.set([repos[n] for n in repo_names])
        techs[title] = tech
    staff = get_user_model().objects.filter(is_superuser=True).order_by("pk").first()
    today = timezone.localdate()
    for title, tech_title, status, due_in, progress in TASKS:
        tech = techs[tech_title]
        task, _ = ResearchTask.objects.get_or_create(title=title, defaults={"technology": tech})
        task.technology = tech
        task.repository = tech.repositories.first()
        task.status = ResearchTaskStatus(status)
        task.progress = progress
        task.due_date = today + dt.timedelta(days=due_in) if due_in is not None else None
        task.assignee = staff
        task.save()
    return DemoCounts(len(repos), len(techs), len(TASKS))
