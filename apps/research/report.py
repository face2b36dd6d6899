"""The Markdown of a research run: the report people read and the prompt a model reads.

Evidence is numbered once (technology, then repositories, then passages) and the same
numbers appear in the report, in the prompt and in the run's ``sources``, so that a model's
citations ("[3]") point at the right source.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from apps.research.choices import SourceKind

PASSAGE_CHARS = 1200
EXTRACTIVE_PASSAGES = 3
EXTRACTIVE_CHARS = 500
EXTRACTIVE_LABEL = "Summary (extractive: top passages, no language model)"


@dataclass
class Evidence:
    question: str
    technology: dict[str, Any] | None = None
    repositories: list[dict[str, Any]] = field(default_factory=list)
    passages: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def sources(self) -> list[dict[str, Any]]:
        """``[{kind, title, url, score}]`` in citation order (score: similarity of a passage)."""
        found: list[dict[str, Any]] = []
        if self.technology is not None:
            found.append(_source(SourceKind.TECHNOLOGY, self.technology["title"], self.technology["url"]))
        found += [_source(SourceKind.REPOSITORY, r["full_name"], r["url"]) for r in self.repositories]
        found += [_source(SourceKind.KNOWLEDGE, _passage_title(p), p["url"], p["score"]) for p in self.passages]
        return found


def _source(kind: SourceKind, title: str, url: str, score: float | None = None) -> dict[str, Any]:
    return {"kind": kind.value, "title": title, "url": url, "score": score}


def _passage_title(passage: dict[str, Any]) -> str:
    heading = str(passage.get("heading") or "").strip()
    return f"{passage['title']} > {heading}" if heading and heading != passage["title"] else str(passage["title"])


def _cell(value: object) -> str:
    """A value safe inside a Markdown table cell."""
    return " ".join(str(value).split()).replace("|", "\\|") or "—"


def _when(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "never"


def _link(title: str, url: str) -> str:
    return f"[{title}]({url})" if url else title


def _quote(text: str, limit: int) -> str:
    text = text.strip()
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + " …"
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.splitlines())


def evidence_markdown(evidence: Evidence) -> str:
    """The evidence sections, numbered like the run's sources."""
    number = 0
    parts: list[str] = ["### Technology", ""]
    tech = evidence.technology
    if tech is None:
        parts += ["No technology is linked to the task.", ""]
    else:
        number += 1
        facts = ", ".join(
            f"{label} {tech[key]}"
            for label, key in (("domain", "domain"), ("ring", "ring"), ("status", "status"))
            if tech.get(key)
        )
        parts += [
            f"[{number}] **{_link(tech['title'], tech['url'])}**"
            + (f" ({tech['vendor']})" if tech.get("vendor") else "")
            + f" — {facts}, relevance {tech['relevance_score']}/100, priority {tech['priority']}.",
            "",
        ]
        for label, key in (("Description", "description"), ("Use cases", "use_cases")):
            if tech.get(key):
                parts += [f"{label}: {' '.join(str(tech[key]).split())}", ""]

    parts += ["### Repositories", ""]
    if not evidence.repositories:
        parts += ["No repository is linked to the task or its technology.", ""]
    else:
        parts += [
            "| # | repository | stars | forks | open issues | language | last commit | latest release | sync |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for repo in evidence.repositories:
            number += 1
            commit = "—"
            if repo.get("last_commit_sha"):
                message = str(repo.get("last_commit_message") or "").strip().splitlines()
                commit = f"`{repo['last_commit_sha'][:7]}` {_when(repo.get('last_commit_date'))[:10]}"
                commit += f" {message[0][:80]}" if message else ""
            sync = f"{repo['sync_status']}, {_when(repo.get('last_synced_at'))}"
            if repo.get("synced_now"):
                sync += " (synced by this run)"
            if repo.get("sync_error"):
                sync += f"; error: {repo['sync_error'][:120]}"
            row = [
                f"[{number}]",
                _link(repo["full_name"], repo["url"]),
                repo["stars"],
                repo["forks"],
                repo["open_issues"],
                repo.get("language") or "—",
                commit,
                repo.get("latest_release") or "—",
                sync,
            ]
            parts.append("| " + " | ".join(_cell(v) for v in row) + " |")
        parts.append("")

    parts += ["### Knowledge base passages", ""]
    if not evidence.passages:
        parts += ["No knowledge-base passage matched the question.", ""]
    for passage in evidence.passages:
        number += 1
        parts += [
            f"[{number}] **{_passage_title(passage)}** — score {passage['score']:.2f}"
            f" — {_link('source', passage['url'])}",
            "",
            _quote(str(passage["chunk"]), PASSAGE_CHARS),
            "",
        ]
    return "\n".join(parts).rstrip() + "\n"


def extractive_summary(evidence: Evidence) -> str:
    """The best passages, quoted: what a run writes without a language model."""
    if not evidence.passages:
        return (
            "No knowledge-base passage matched the question, so there is nothing to quote: "
            "the evidence below is what the run found.\n"
        )
    first = 1 + (evidence.technology is not None) + len(evidence.repositories)
    lines = [f"The {min(EXTRACTIVE_PASSAGES, len(evidence.passages))} passages closest to the question:", ""]
    for offset, passage in enumerate(evidence.passages[:EXTRACTIVE_PASSAGES]):
        text = " ".join(str(passage["chunk"]).split())
        if len(text) > EXTRACTIVE_CHARS:
            text = text[:EXTRACTIVE_CHARS].rsplit(" ", 1)[0] + " …"
        lines.append(f"- **{_passage_title(passage)}** (score {passage['score']:.2f}) [{first + offset}]: {text}")
    return "\n".join(lines) + "\n"


def prompt(evidence: Evidence) -> str:
    """What the language model is asked."""
    return f"Research question:\n\n{evidence.question}\n\nEvidence:\n\n{evidence_markdown(evidence)}"


def render(
    *,
    title: str,
    task_id: int,
    task_status: str,
    job_id: str,
    trigger: str,
    started_at: dt.datetime,
    evidence: Evidence,
    summary_heading: str,
    summary: str,
) -> str:
    lines = [
        f"# Research report: {title}",
        "",
        f"- Task: #{task_id}, status {task_status}",
        f"- Run: job `{job_id}`, started {_when(started_at)} (trigger: {trigger})",
        "",
        "## Question",
        "",
        evidence.question,
        "",
        f"## {summary_heading}",
        "",
        summary.strip(),
        "",
        "## Evidence",
        "",
        evidence_markdown(evidence).rstrip(),
        "",
    ]
    if evidence.notes:
        lines += ["## Notes", "", *[f"- {note}" for note in evidence.notes], ""]
    lines += ["## Sources", ""]
    for number, source in enumerate(evidence.sources(), start=1):
        score = f" (score {source['score']:.2f})" if source["score"] is not None else ""
        lines.append(f"{number}. {source['kind']}: {_link(source['title'], source['url'])}{score}")
    if not evidence.sources():
        lines.append("None.")
    return "\n".join(lines).rstrip() + "\n"
