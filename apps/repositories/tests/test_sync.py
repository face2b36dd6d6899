"""Repository sync against a local GitHub: 200, 304 with ETag, cache, rate limit, 404/401, 5xx retried."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY
from werkzeug import Response

from apps.jobs.models import Job
from apps.repositories import github as gh
from apps.repositories import sync, tasks
from apps.repositories.models import Repository
from apps.repositories.tests.factories import RepositoryFactory
from apps.repositories.tests.github_stub import commit_json, paths, rate_limited, repository_json, serve_repository

pytestmark = pytest.mark.django_db


def operations(status: str) -> float:
    labels = {"operation": "sync", "status": status}
    return REGISTRY.get_sample_value("commandcenter_repository_operations_total", labels) or 0.0


def cache_results(result: str) -> float:
    labels = {"operation": "get", "result": result}
    return REGISTRY.get_sample_value("commandcenter_cache_operations_total", labels) or 0.0


def test_it_syncs_metadata_latest_commit_and_release(github):
    repository = RepositoryFactory.create(owner="octo", name="app", stars=0, description="")
    serve_repository(github, "octo/app")
    before = operations("success")

    outcome = sync.sync_repository(repository)

    assert outcome.ok
    assert outcome.changed
    repository.refresh_from_db()
    assert (repository.stars, repository.forks, repository.open_issues) == (80, 9, 3)
    assert repository.description == "The project that is synced"
    assert repository.topics == ["django", "devops"]
    assert repository.github_id == 1296269
    assert repository.last_commit_sha.startswith("6dcb09b5")
    assert repository.last_commit_author == "Monalisa Octocat"
    assert repository.last_commit_date == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert (repository.latest_release_tag, repository.latest_release_name) == ("v2.1.0", "Version 2.1")
    assert repository.sync_status == "ok"
    assert repository.sync_error == ""
    assert repository.last_synced_at is not None
    assert repository.github_etags == {"repository": '"r1"', "commit": '"c1"', "release": '"l1"'}
    assert operations("success") == before + 1
    sent = github.log[0][0]
    assert sent.headers["Authorization"].startswith("Bearer ghp_test")
    assert sent.headers["X-GitHub-Api-Version"] == gh.API_VERSION


def test_the_stored_etag_turns_an_unchanged_repository_into_304s(github):
    repository = RepositoryFactory.create(owner="octo", name="app")
    serve_repository(github, "octo/app")
    sync.sync_repository(repository)
    github.clear_log()

    outcome = sync.sync_repository(repository)

    assert outcome.ok
    assert not outcome.changed
    assert [response.status_code for _, response in github.log] == [304, 304, 304]
    assert [request.headers["If-None-Match"] for request, _ in github.log] == ['"r1"', '"c1"', '"l1"']
    repository.refresh_from_db()
    assert repository.stars == 80
    assert repository.sync_status == "ok"


def test_a_fresh_cached_answer_costs_no_request(github, settings):
    settings.GITHUB_CACHE_SECONDS = 300
    repository = RepositoryFactory.create(owner="octo", name="app")
    serve_repository(github, "octo/app")
    sync.sync_repository(repository)
    hits = cache_results("hit")
    github.clear_log()

    assert sync.sync_repository(repository).ok
    assert github.log == []
    assert cache_results("hit") >= hits + 3

    assert sync.sync_repository(repository, force=True).ok  # a webhook: ask again, with the ETags
    assert [response.status_code for _, response in github.log] == [304, 304, 304]


def test_a_repository_without_releases_syncs(github):
    repository = RepositoryFactory.create(owner="octo", name="app", latest_release_tag="v0")
    serve_repository(github, "octo/app", release=False)
    assert sync.sync_repository(repository).ok
    repository.refresh_from_db()
    assert repository.latest_release_tag == ""
    assert repository.sync_status == "ok"


def test_a_rename_on_github_follows_the_redirect(github):
    repository = RepositoryFactory.create(owner="octo", name="old-name")
    github.expect_request("/repos/octo/old-name").respond_with_data(
        "", status=301, headers={"Location": github.url_for("/repos/octo/new-name")}
    )
    serve_repository(github, "octo/new-name")
    assert sync.sync_repository(repository).ok
    repository.refresh_from_db()
    assert repository.full_name == "octo/new-name"


def test_an_exhausted_rate_limit_is_recorded_and_then_not_hammered(github):
    repository = RepositoryFactory.create(owner="octo", name="app")
    github.expect_request("/repos/octo/app").respond_with_handler(lambda request: rate_limited(reset_in=1800))
    failures = operations("failure")

    with pytest.raises(gh.RateLimited) as raised:
        sync.sync_repository(repository)

    reset_at = raised.value.reset_at
    assert timedelta(minutes=29) < reset_at - timezone.now() <= timedelta(minutes=30)
    repository.refresh_from_db()
    assert repository.sync_status == "pending"
    assert "rate limit exhausted until" in repository.sync_error
    assert operations("failure") == failures + 1
    assert len(github.log) == 1
    with pytest.raises(gh.RateLimited):  # known exhausted: no second request before the reset
        sync.sync_repository(repository)
    assert len(github.log) == 1


def test_the_last_request_of_the_window_stops_the_next_ones(github):
    repository = RepositoryFactory.create(owner="octo", name="app")
    github.expect_request("/repos/octo/app").respond_with_json(
        repository_json("octo/app"),
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(timezone.now().timestamp()) + 600)},
    )
    with pytest.raises(gh.RateLimited):
        sync.sync_repository(repository)
    assert paths(github) == ["/repos/octo/app"]


def test_a_secondary_rate_limit_waits_for_retry_after(github):
    repository = RepositoryFactory.create(owner="octo", name="app")
    github.expect_request("/repos/octo/app").respond_with_json(
        {"message": "You have exceeded a secondary rate limit."}, status=403, headers={"Retry-After": "120"}
    )
    with pytest.raises(gh.RateLimited) as raised:
        sync.sync_repository(repository)
    assert timedelta(seconds=100) < raised.value.reset_at - timezone.now() <= timedelta(seconds=121)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (404, {"message": "Not Found"}, "GitHub answered 404 for /repos/octo/app: the repository does not exist"),
        (401, {"message": "Bad credentials"}, "GitHub rejected the credentials (401 Bad credentials)"),
        (403, {"message": "Resource not accessible by integration"}, "GitHub refused access (403)"),
    ],
)
def test_permanent_errors_are_recorded_readably_and_not_raised(github, status, body, expected):
    repository = RepositoryFactory.create(owner="octo", name="app", stars=5)
    github.expect_request("/repos/octo/app").respond_with_json(body, status=status)

    outcome = sync.sync_repository(repository)

    assert not outcome.ok
    assert expected in outcome.error
    repository.refresh_from_db()
    assert repository.sync_status == "failed"
    assert expected in repository.sync_error
    assert repository.stars == 5  # nothing else touched


def test_a_server_error_then_success_is_retried_by_the_task(github):
    repository = RepositoryFactory.create(owner="octo", name="app")
    github.expect_oneshot_request("/repos/octo/app").respond_with_json({"message": "Server Error"}, status=502)
    serve_repository(github, "octo/app")

    result = tasks.sync_repository.apply(args=(repository.pk,))

    assert result.successful(), result.traceback
    assert result.get()["ok"] is True
    assert [response.status_code for _, response in github.log][:2] == [502, 200]
    repository.refresh_from_db()
    assert repository.sync_status == "ok"
    assert repository.sync_error == ""


def test_a_timeout_is_a_transient_error(github, settings):
    settings.GITHUB_TIMEOUT = 0.2
    repository = RepositoryFactory.create(owner="octo", name="app")

    def slow(request):
        time.sleep(0.6)
        return Response("{}", content_type="application/json")

    github.expect_request("/repos/octo/app").respond_with_handler(slow)
    with pytest.raises(gh.TransientGitHubError, match=r"did not answer within 0\.2 s"):
        sync.sync_repository(repository)
    repository.refresh_from_db()
    assert repository.sync_status == "pending"
    assert "did not answer" in repository.sync_error
    deadline = time.monotonic() + 5
    while not github.log and time.monotonic() < deadline:  # let the slow answer finish inside this test
        time.sleep(0.05)


def test_the_task_gives_up_after_its_retries_and_says_so(github, monkeypatch):
    repository = RepositoryFactory.create(owner="octo", name="app")
    github.expect_request("/repos/octo/app").respond_with_json({"message": "Unavailable"}, status=503)
    monkeypatch.setattr(tasks, "MAX_RETRIES", 1)
    monkeypatch.setattr(tasks.sync_repository, "max_retries", 1)

    result = tasks.sync_repository.apply(args=(repository.pk,))

    assert result.failed()
    assert paths(github) == ["/repos/octo/app"] * 2  # the first try and one retry
    repository.refresh_from_db()
    assert repository.sync_status == "failed"
    assert "GitHub answered 503" in repository.sync_error
    assert "gave up after 1 retries" in repository.sync_error


def test_the_token_of_the_repository_wins_over_the_global_one(github):
    repository = RepositoryFactory.create(owner="octo", name="app", access_token="ghp_repositoryowntoken")
    serve_repository(github, "octo/app")
    sync.sync_repository(repository)
    assert github.log[0][0].headers["Authorization"] == "Bearer ghp_repositoryowntoken"


def test_sync_if_stale_syncs_only_stale_repositories(github, settings):
    settings.REPOSITORY_STALE_MINUTES = 60
    fresh = RepositoryFactory.create(owner="octo", name="fresh", last_synced_at=timezone.now())
    stale = RepositoryFactory.create(owner="octo", name="app", last_synced_at=timezone.now() - timedelta(minutes=61))
    serve_repository(github, "octo/app")
    assert sync.sync_if_stale(fresh) is False
    assert sync.sync_if_stale(stale) is True
    assert paths(github)[0] == "/repos/octo/app"


def test_sync_if_stale_never_raises_on_github_errors(github):
    repository = RepositoryFactory.create(owner="octo", name="app")
    github.expect_request("/repos/octo/app").respond_with_json({"message": "Oops"}, status=500)
    assert sync.sync_if_stale(repository) is False
    repository.refresh_from_db()
    assert "GitHub answered 500" in repository.sync_error


def test_beat_fans_out_one_job_per_repository(db):
    repositories = RepositoryFactory.create_batch(3)
    result = tasks.sync_all_repositories.apply()
    assert result.result == {"queued": 3}
    queued = Job.objects.filter(name="apps.repositories.tasks.sync_repository")
    assert sorted(job.args[0] for job in queued) == sorted(r.pk for r in repositories)


def test_a_missing_repository_ends_the_job_quietly(db):
    result = tasks.sync_repository.apply(args=(999_999,))
    assert result.result == {"repository_id": 999_999, "ok": False, "error": "repository no longer exists"}


def test_commit_without_author_uses_the_committer(github):
    repository = RepositoryFactory.create(owner="octo", name="app")
    body = commit_json()
    body["commit"] = {"message": "m", "committer": {"name": "Bot", "date": "2026-11-21T00:00:00Z"}}
    github.expect_request("/repos/octo/app/commits/main").respond_with_json(body)
    serve_repository(github, "octo/app")
    sync.sync_repository(repository)
    assert Repository.objects.get(pk=repository.pk).last_commit_author == "Bot"
