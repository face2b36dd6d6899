"""Off-site copies against a real local S3-compatible server (moto in server mode)."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from apps.backups import offsite
from apps.backups.engines.common import BackupError
from apps.backups.files import sha256_file
from tests.live import free_port

TS_OLD = "20250101_020000"
TS_MID = "20250102_020000"
TS_NEW = "20250103_020000"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def config(endpoint: str) -> offsite.OffsiteConfig:
    cfg = offsite.OffsiteConfig(
        bucket=f"backups-{uuid.uuid4().hex[:12]}",
        endpoint_url=endpoint,
        access_key_id="testing",
        secret_access_key="testing",
        prefix="commandcenter/",
        max_attempts=1,
        connect_timeout=2,
        read_timeout=10,
    )
    offsite.make_client(cfg).create_bucket(Bucket=cfg.bucket)
    return cfg


def make_set(backup_dir: Path, ts: str, *, big: bool = False) -> dict[str, Any]:
    """A set laid out and described like services.run_backup writes it."""
    contents = {
        "postgres": (f"postgres/{ts}.dump", b"PGDMP" + ts.encode() * 100),
        "rag": (f"rag/{ts}.tar.gz", (b"\x1f\x8b" + bytes(range(256)) * 40) * (1000 if big else 1)),
    }
    components = {}
    for component, (relative, data) in contents.items():
        path = backup_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        components[component] = {
            "files": [{"path": relative, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}],
            "duration": 0.1,
        }
    manifest = {"format": 1, "timestamp": ts, "database_engine": "postgresql", "components": components}
    path = backup_dir / "manifests" / f"{ts}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


def local_files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def remote_keys(config: offsite.OffsiteConfig) -> list[str]:
    response = offsite.make_client(config).list_objects_v2(Bucket=config.bucket)
    return sorted(entry["Key"] for entry in response.get("Contents", []))


def test_upload_list_download_round_trip(config: offsite.OffsiteConfig, tmp_path: Path) -> None:
    source = tmp_path / "source"
    make_set(source, TS_OLD)
    manifest = make_set(source, TS_NEW, big=True)  # ~10 MB of rag: a multipart upload

    result = offsite.upload_set(config, TS_NEW, source)

    files = [f for c in manifest["components"].values() for f in c["files"]]
    manifest_size = (source / "manifests" / f"{TS_NEW}.json").stat().st_size
    assert result == {"uploaded": 3, "bytes": sum(f["size"] for f in files) + manifest_size}
    assert files[1]["size"] > 8 * 1024 * 1024
    rag = offsite.make_client(config).head_object(Bucket=config.bucket, Key=f"commandcenter/rag/{TS_NEW}.tar.gz")
    assert "-" in rag["ETag"]  # uploaded in parts
    head = offsite.make_client(config).head_object(Bucket=config.bucket, Key=f"commandcenter/postgres/{TS_NEW}.dump")
    assert head["Metadata"]["sha256"] == files[0]["sha256"]
    assert offsite.list_remote_sets(config) == [TS_NEW]

    offsite.upload_set(config, TS_OLD, source)
    assert offsite.list_remote_sets(config) == [TS_NEW, TS_OLD]
    offsite.verify_remote_set(config, TS_NEW)

    target = tmp_path / "restored"
    target.mkdir()
    offsite.download_set(config, TS_NEW, target)
    expected = {k: v for k, v in local_files(source).items() if TS_NEW in k}
    assert local_files(target) == expected
    with pytest.raises(BackupError, match="already present"):
        offsite.download_set(config, TS_NEW, target)


def test_upload_is_not_listed_until_the_manifest_is_there(config: offsite.OffsiteConfig, tmp_path: Path) -> None:
    make_set(tmp_path, TS_NEW)
    client = offsite.make_client(config)
    client.upload_file(
        str(tmp_path / "postgres" / f"{TS_NEW}.dump"), config.bucket, f"commandcenter/postgres/{TS_NEW}.dump"
    )
    assert offsite.list_remote_sets(config) == []
    with pytest.raises(BackupError, match="not found"):
        offsite.download_set(config, TS_NEW, tmp_path / "elsewhere")


def test_upload_refuses_a_corrupted_local_set(config: offsite.OffsiteConfig, tmp_path: Path) -> None:
    make_set(tmp_path, TS_NEW)
    (tmp_path / "rag" / f"{TS_NEW}.tar.gz").write_bytes(b"garbage")
    with pytest.raises(BackupError, match="does not match its manifest"):
        offsite.upload_set(config, TS_NEW, tmp_path)
    assert remote_keys(config) == []


def corrupt(config: offsite.OffsiteConfig, relative: str, manifest: dict[str, Any]) -> None:
    """Same key, same size, same stored sha256 metadata: only the content differs."""
    entry = next(f for c in manifest["components"].values() for f in c["files"] if f["path"] == relative)
    offsite.make_client(config).put_object(
        Bucket=config.bucket,
        Key=f"commandcenter/{relative}",
        Body=b"X" * entry["size"],
        Metadata={"sha256": entry["sha256"]},
    )


def test_corrupted_remote_object_is_refused(config: offsite.OffsiteConfig, tmp_path: Path) -> None:
    source = tmp_path / "source"
    manifest = make_set(source, TS_NEW)
    offsite.upload_set(config, TS_NEW, source)
    corrupt(config, f"rag/{TS_NEW}.tar.gz", manifest)

    with pytest.raises(BackupError, match="corrupted") as caught:
        offsite.verify_remote_set(config, TS_NEW)
    assert "\n" not in str(caught.value)
    offsite.verify_remote_set(config, TS_NEW, verify_content_up_to=100)  # size and stored sha only

    target = tmp_path / "restored"
    with pytest.raises(BackupError, match=r"rag/.*corrupted"):
        offsite.download_set(config, TS_NEW, target)
    assert local_files(target) == {}  # no manifest, no half file, no temporary left behind


def test_download_refuses_a_manifest_pointing_outside_the_set(config: offsite.OffsiteConfig, tmp_path: Path) -> None:
    manifest = {
        "timestamp": TS_NEW,
        "components": {"postgres": {"files": [{"path": "../../etc/passwd", "size": 1, "sha256": "0" * 64}]}},
    }
    offsite.make_client(config).put_object(
        Bucket=config.bucket, Key=f"commandcenter/manifests/{TS_NEW}.json", Body=json.dumps(manifest).encode()
    )
    with pytest.raises(BackupError, match="invalid file entry"):
        offsite.download_set(config, TS_NEW, tmp_path)
    assert local_files(tmp_path) == {}


def test_prune_remote_removes_sets_not_kept(config: offsite.OffsiteConfig, tmp_path: Path) -> None:
    for ts in (TS_OLD, TS_MID, TS_NEW):
        make_set(tmp_path, ts)
        offsite.upload_set(config, ts, tmp_path)
    # an interrupted upload: a file without its manifest
    orphan = "20241231_020000"
    offsite.make_client(config).put_object(Bucket=config.bucket, Key=f"commandcenter/redis/{orphan}.rdb", Body=b"x")

    removed = offsite.prune_remote(config, keep={TS_MID, TS_NEW})

    assert removed == [TS_OLD, orphan]
    assert offsite.list_remote_sets(config) == [TS_NEW, TS_MID]
    assert not [k for k in remote_keys(config) if TS_OLD in k or orphan in k]
    assert len(remote_keys(config)) == 6
    assert offsite.prune_remote(config, keep={TS_MID, TS_NEW}) == []


def test_prefix_is_respected(config: offsite.OffsiteConfig, tmp_path: Path) -> None:
    other = replace(config, prefix="/other")
    make_set(tmp_path, TS_NEW)
    offsite.upload_set(other, TS_NEW, tmp_path)
    assert all(k.startswith("other/") for k in remote_keys(config))
    assert offsite.list_remote_sets(config) == []
    assert offsite.prune_remote(config, keep=set()) == []
    assert offsite.list_remote_sets(other) == [TS_NEW]


def test_missing_bucket_is_one_clear_line(config: offsite.OffsiteConfig) -> None:
    with pytest.raises(BackupError, match="NoSuchBucket") as caught:
        offsite.list_remote_sets(replace(config, bucket="no-such-bucket-here"))
    assert "\n" not in str(caught.value)


def test_wrong_endpoint_fails_quickly(config: offsite.OffsiteConfig, tmp_path: Path) -> None:
    wrong = replace(config, endpoint_url=f"http://127.0.0.1:{free_port()}", connect_timeout=1, max_attempts=1)
    make_set(tmp_path, TS_NEW)
    started = time.monotonic()
    with pytest.raises(BackupError, match="off-site listing failed") as caught:
        offsite.list_remote_sets(wrong)
    with pytest.raises(BackupError, match="off-site upload"):
        offsite.upload_set(wrong, TS_NEW, tmp_path)
    assert time.monotonic() - started < 10
    assert "\n" not in str(caught.value)


def test_disabled_and_invalid_timestamps(tmp_path: Path, settings: Any) -> None:
    settings.BACKUP_S3_BUCKET = ""
    cfg = offsite.config_from_settings()
    assert not cfg.enabled
    with pytest.raises(BackupError, match="disabled"):
        offsite.list_remote_sets(cfg)
    settings.BACKUP_S3_BUCKET = "b"
    settings.BACKUP_S3_PREFIX = "x/"
    assert offsite.config_from_settings().key("manifests/a.json") == "x/manifests/a.json"
    with pytest.raises(BackupError, match="invalid backup timestamp"):
        offsite.download_set(offsite.config_from_settings(), "../x", tmp_path)


def test_local_manifest_checksum_is_stored(config: offsite.OffsiteConfig, tmp_path: Path) -> None:
    make_set(tmp_path, TS_NEW)
    offsite.upload_set(config, TS_NEW, tmp_path)
    head = offsite.make_client(config).head_object(Bucket=config.bucket, Key=f"commandcenter/manifests/{TS_NEW}.json")
    assert head["Metadata"]["sha256"] == sha256_file(tmp_path / "manifests" / f"{TS_NEW}.json")
