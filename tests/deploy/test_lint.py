"""Shell scripts under shellcheck, YAML under yamllint (configured by .yamllint.yml)."""

from __future__ import annotations

from pathlib import Path

from .helpers import ROOT, require_tool, run

SKIPPED_DIRS = {".git", ".venv", "var", "node_modules", "htmlcov", "staticfiles", "backups"}
YAML_DIRS = ["deploy", "monitoring", ".github"]


def files(pattern: str, *, under: Path = ROOT) -> list[Path]:
    return sorted(path for path in under.rglob(pattern) if not SKIPPED_DIRS.intersection(path.relative_to(ROOT).parts))


def test_it_finds_the_files_to_lint():
    assert ROOT / "deploy" / "scripts" / "backup.sh" in files("*.sh")
    assert ROOT / "deploy" / "docker-compose.prod.yml" in files("*.yml", under=ROOT / "deploy")


def test_every_shell_script_passes_shellcheck():
    scripts = files("*.sh")
    # -x follows the `source` lines (the wrappers share _manage.sh).
    result = run(require_tool("shellcheck"), "-x", *map(str, scripts))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_yaml_of_deploy_monitoring_and_github_passes_yamllint():
    targets = [name for name in YAML_DIRS if (ROOT / name).is_dir()]
    result = run(require_tool("yamllint"), "--strict", "-c", str(ROOT / ".yamllint.yml"), *targets)
    assert result.returncode == 0, result.stdout + result.stderr
