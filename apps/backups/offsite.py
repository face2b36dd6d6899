"""Off-site copies of backup sets in S3-compatible storage (AWS S3, MinIO, Ceph, R2, ...).

Optional: off-site is disabled while ``BACKUP_S3_BUCKET`` is empty. A set is stored under
``<prefix><path in the manifest>`` (``commandcenter/postgres/<ts>.dump``, ...) and its manifest
at ``<prefix>manifests/<ts>.json``, uploaded LAST: as on disk, a remote set without its
manifest is incomplete. Every object carries its SHA-256 as metadata (``x-amz-meta-sha256``)
and is verified after upload (size, stored checksum, and the content streamed back and hashed).
A download verifies every file against the manifest before renaming it into place and renames
the manifest into place last, so a partial download is never a complete set.

Every error from S3 or the network becomes a one-line ``BackupError``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import boto3
from boto3.exceptions import Boto3Error
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from apps.backups import services
from apps.backups.choices import COMPONENTS
from apps.backups.engines.common import BackupError
from apps.backups.files import CHUNK, atomic_file, fsync_directory, sha256_file, temporary_name

MANIFESTS = "manifests"
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
SHA256_KEY = "sha256"  # stored by S3 as the x-amz-meta-sha256 header


@dataclass(frozen=True)
class OffsiteConfig:
    bucket: str
    endpoint_url: str = ""  # empty: AWS
    access_key_id: str = ""  # empty (both): boto3's usual chain (environment, instance role, ...)
    secret_access_key: str = ""
    prefix: str = "commandcenter/"
    region: str = ""  # empty: boto3's default (us-east-1 for a custom endpoint)
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_attempts: int = 3

    @property
    def enabled(self) -> bool:
        return bool(self.bucket)

    @property
    def key_prefix(self) -> str:
        prefix = self.prefix.strip("/")
        return f"{prefix}/" if prefix else ""

    def key(self, relative: str) -> str:
        return f"{self.key_prefix}{relative}"

    def where(self) -> str:
        return f"s3://{self.bucket}/{self.key_prefix}" + (f" at {self.endpoint_url}" if self.endpoint_url else "")


def config_from_settings() -> OffsiteConfig:
    """The configuration from Django settings (every setting optional: missing means disabled)."""
    return OffsiteConfig(
        bucket=getattr(settings, "BACKUP_S3_BUCKET", "") or "",
        endpoint_url=getattr(settings, "BACKUP_S3_ENDPOINT_URL", "") or "",
        access_key_id=getattr(settings, "BACKUP_S3_ACCESS_KEY_ID", "") or "",
        secret_access_key=getattr(settings, "BACKUP_S3_SECRET_ACCESS_KEY", "") or "",
        prefix=getattr(settings, "BACKUP_S3_PREFIX", "commandcenter/"),
        region=getattr(settings, "BACKUP_S3_REGION", "") or "",
    )


def make_client(config: OffsiteConfig) -> Any:
    if not config.enabled:
        raise BackupError("off-site backups are disabled: BACKUP_S3_BUCKET is not set")
    options = Config(
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
        retries={"max_attempts": config.max_attempts, "mode": "standard"},
        # S3-compatible servers (MinIO, Ceph, ...) want path-style URLs and may reject the
        # newer default CRC checksums; integrity is checked here with SHA-256 instead.
        s3={"addressing_style": "path"} if config.endpoint_url else {},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    region = config.region or ("us-east-1" if config.endpoint_url else None)
    with s3_errors("configuration", config):
        return boto3.client(
            "s3",
            endpoint_url=config.endpoint_url or None,
            aws_access_key_id=config.access_key_id or None,
            aws_secret_access_key=config.secret_access_key or None,
            region_name=region,
            config=options,
        )


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


@contextmanager
def s3_errors(what: str, config: OffsiteConfig) -> Iterator[None]:
    """Turn botocore/boto3 errors (ClientError, EndpointConnectionError, NoCredentialsError,
    timeouts, S3UploadFailedError, ...) into a one-line BackupError."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code", "error")
        message = error.get("Message") or exc
        raise BackupError(_one_line(f"off-site {what} failed ({config.where()}): {code}: {message}")) from exc
    except (BotoCoreError, Boto3Error) as exc:
        raise BackupError(_one_line(f"off-site {what} failed ({config.where()}): {exc}")) from exc


def _is_missing(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    return str(error.get("Code")) in {"404", "NoSuchKey", "NotFound"}


# --- the manifest -----------------------------------------------------------------------------


def _manifest_relative(timestamp: str) -> str:
    return f"{MANIFESTS}/{timestamp}.json"


def _set_files(timestamp: str, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The manifest's files, validated: a path names a file of this set inside its component
    folder (a remote manifest is not trusted to write outside BACKUP_DIR)."""
    if not isinstance(manifest, dict) or manifest.get("timestamp") != timestamp:
        raise BackupError(f"backup {timestamp}: the manifest is for another set or malformed")
    components = manifest.get("components")
    if not isinstance(components, dict):
        raise BackupError(f"backup {timestamp}: the manifest lists no components")
    files = []
    for component, entry in components.items():
        for item in (entry or {}).get("files", []):
            path = PurePosixPath(str(item.get("path", "")))
            sha = str(item.get("sha256", ""))
            size = item.get("size")
            if (
                component not in COMPONENTS
                or path.is_absolute()
                or len(path.parts) != 2
                or path.parts[0] != component
                or path.name.split(".", 1)[0] != timestamp
                or not isinstance(size, int)
                or size < 0
                or len(sha) != 64
                or any(c not in "0123456789abcdef" for c in sha)
            ):
                raise BackupError(f"backup {timestamp}: the manifest has an invalid file entry {item!r:.200}")
            files.append({"path": str(path), "size": size, "sha256": sha})
    return files


def _read_local_manifest(timestamp: str, backup_dir: Path) -> dict[str, Any]:
    path = backup_dir / _manifest_relative(timestamp)
    if not path.exists():
        raise BackupError(f"backup {timestamp} is incomplete or missing: no manifest at {path}")
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(_one_line(f"backup {timestamp}: unreadable manifest ({exc})")) from exc
    return data


# --- upload and verification ------------------------------------------------------------------


def upload_set(
    config: OffsiteConfig, timestamp: str, backup_dir: Path, *, verify_content_up_to: int | None = None
) -> dict[str, int]:
    """Upload the set's files, then its manifest last, each verified once uploaded.

    The local files are checked against the manifest first (a corrupted set is not copied).
    ``verify_content_up_to``: stream back and hash objects up to that many bytes (None: all);
    larger objects are checked by size and stored checksum only.
    """
    timestamp = services.check_timestamp(timestamp)
    backup_dir = Path(backup_dir)
    manifest = _read_local_manifest(timestamp, backup_dir)
    files = _set_files(timestamp, manifest)
    for item in files:
        path = backup_dir / item["path"]
        if not path.exists():
            raise BackupError(f"backup {timestamp}: {item['path']} is missing, not uploading")
        if path.stat().st_size != item["size"] or sha256_file(path) != item["sha256"]:
            raise BackupError(f"backup {timestamp}: {item['path']} does not match its manifest, not uploading")
    manifest_file = backup_dir / _manifest_relative(timestamp)
    manifest_item = {
        "path": _manifest_relative(timestamp),
        "size": manifest_file.stat().st_size,
        "sha256": sha256_file(manifest_file),
    }
    client = make_client(config)
    for item in [*files, manifest_item]:  # the manifest last: only then is the remote set complete
        key = config.key(item["path"])
        extra: dict[str, Any] = {"Metadata": {SHA256_KEY: item["sha256"]}}
        if item is manifest_item:
            extra["ContentType"] = "application/json"
        with s3_errors(f"upload of {item['path']}", config):
            client.upload_file(str(backup_dir / item["path"]), config.bucket, key, ExtraArgs=extra)
        try:
            _verify_object(client, config, timestamp, item, verify_content_up_to)
        except BackupError:
            if item is manifest_item:  # a bad manifest must not make the remote set look complete
                with s3_errors(f"removal of {item['path']}", config):
                    client.delete_object(Bucket=config.bucket, Key=key)
            raise
    return {"uploaded": len(files) + 1, "bytes": sum(item["size"] for item in [*files, manifest_item])}


def _verify_object(
    client: Any, config: OffsiteConfig, timestamp: str, item: dict[str, Any], content_up_to: int | None
) -> None:
    key = config.key(item["path"])
    where = f"off-site backup {timestamp}: {item['path']}"
    with s3_errors(f"check of {item['path']}", config):
        try:
            head = client.head_object(Bucket=config.bucket, Key=key)
        except ClientError as exc:
            if _is_missing(exc):
                raise BackupError(f"{where} is missing remotely") from exc
            raise
        if head["ContentLength"] != item["size"]:
            raise BackupError(f"{where} is {head['ContentLength']} bytes remotely, the manifest says {item['size']}")
        stored = head.get("Metadata", {}).get(SHA256_KEY)
        if stored != item["sha256"]:
            raise BackupError(f"{where} has stored SHA-256 {stored!r}, the manifest says {item['sha256']}")
        if content_up_to is not None and item["size"] > content_up_to:
            return
        body = client.get_object(Bucket=config.bucket, Key=key)["Body"]
        digest = hashlib.sha256()
        size = 0
        try:
            for chunk in body.iter_chunks(CHUNK):
                digest.update(chunk)
                size += len(chunk)
        finally:
            body.close()
    if size != item["size"] or digest.hexdigest() != item["sha256"]:
        raise BackupError(f"{where}: the remote content does not match its SHA-256 (corrupted)")


def verify_remote_set(config: OffsiteConfig, timestamp: str, *, verify_content_up_to: int | None = None) -> None:
    """Check a remote set against its remote manifest (sizes, stored and real checksums)."""
    timestamp = services.check_timestamp(timestamp)
    client = make_client(config)
    raw, _stored = _get_manifest(client, config, timestamp)
    for item in _set_files(timestamp, _parse_manifest(timestamp, raw)):
        _verify_object(client, config, timestamp, item, verify_content_up_to)


# --- listing ----------------------------------------------------------------------------------


def _remote_keys(client: Any, config: OffsiteConfig, under: str) -> Iterator[str]:
    with s3_errors("listing", config):
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=config.bucket, Prefix=config.key(under)):
            for entry in page.get("Contents", []):
                yield entry["Key"]


def list_remote_sets(config: OffsiteConfig) -> list[str]:
    """Timestamps of the remote sets that have a manifest, newest first."""
    client = make_client(config)
    found = set()
    for key in _remote_keys(client, config, f"{MANIFESTS}/"):
        name = key[len(config.key(f"{MANIFESTS}/")) :]
        if name.endswith(".json") and services.TIMESTAMP_RE.match(name[: -len(".json")]):
            found.add(name[: -len(".json")])
    return sorted(found, reverse=True)


# --- download ---------------------------------------------------------------------------------


def _get_manifest(client: Any, config: OffsiteConfig, timestamp: str) -> tuple[bytes, str | None]:
    relative = _manifest_relative(timestamp)
    with s3_errors(f"download of {relative}", config):
        try:
            response = client.get_object(Bucket=config.bucket, Key=config.key(relative))
        except ClientError as exc:
            if _is_missing(exc):
                raise BackupError(f"off-site backup {timestamp} not found (no manifest in {config.where()})") from exc
            raise
        if response.get("ContentLength", 0) > MAX_MANIFEST_BYTES:
            raise BackupError(f"off-site backup {timestamp}: the manifest is implausibly large")
        raw: bytes = response["Body"].read()
    stored = response.get("Metadata", {}).get(SHA256_KEY)
    if stored is not None and hashlib.sha256(raw).hexdigest() != stored:
        raise BackupError(f"off-site backup {timestamp}: the manifest does not match its SHA-256 (corrupted)")
    return raw, stored


def _parse_manifest(timestamp: str, raw: bytes) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(raw)
    except ValueError as exc:
        raise BackupError(_one_line(f"off-site backup {timestamp}: unreadable manifest ({exc})")) from exc
    return data


def download_set(config: OffsiteConfig, timestamp: str, backup_dir: Path) -> None:
    """Download a remote set into ``backup_dir``: the manifest first (under a temporary name),
    every file verified (size, SHA-256) before it is renamed into place, the manifest renamed
    into place last. On failure, what this call wrote is removed: no complete set is left."""
    timestamp = services.check_timestamp(timestamp)
    backup_dir = Path(backup_dir)
    final_manifest = backup_dir / _manifest_relative(timestamp)
    if final_manifest.exists():
        raise BackupError(f"backup {timestamp} is already present in {backup_dir}")
    client = make_client(config)
    raw, _stored = _get_manifest(client, config, timestamp)
    files = _set_files(timestamp, _parse_manifest(timestamp, raw))
    final_manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest_temporary = temporary_name(final_manifest)
    written: list[Path] = []
    try:
        with open(manifest_temporary, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        for item in files:
            final = backup_dir / item["path"]
            where = f"off-site backup {timestamp}: {item['path']}"
            with s3_errors(f"download of {item['path']}", config):
                try:
                    body = client.get_object(Bucket=config.bucket, Key=config.key(item["path"]))["Body"]
                except ClientError as exc:
                    if _is_missing(exc):
                        raise BackupError(f"{where} is missing remotely") from exc
                    raise
                try:
                    with atomic_file(final) as out:  # renamed into place only if verified
                        for chunk in body.iter_chunks(CHUNK):
                            out.write(chunk)
                        if out.size != item["size"]:
                            raise BackupError(f"{where} is {out.size} bytes, the manifest says {item['size']}")
                        if out.sha256 != item["sha256"]:
                            raise BackupError(f"{where} does not match its SHA-256 (corrupted)")
                finally:
                    body.close()
            written.append(final)
        os.replace(manifest_temporary, final_manifest)  # last: now the set is complete
        fsync_directory(final_manifest.parent)
    except BaseException:
        manifest_temporary.unlink(missing_ok=True)
        for path in written:
            path.unlink(missing_ok=True)
        raise


# --- retention --------------------------------------------------------------------------------


def prune_remote(config: OffsiteConfig, keep: set[str]) -> list[str]:
    """Delete every remote set whose timestamp is not in ``keep`` (including incomplete ones
    left by an interrupted upload): its manifest first, then its files. Returns the removed
    timestamps, newest first."""
    client = make_client(config)
    sets: dict[str, list[str]] = {}
    base = config.key("")
    for key in _remote_keys(client, config, ""):
        parts = PurePosixPath(key[len(base) :]).parts
        if len(parts) != 2 or parts[0] not in (*COMPONENTS, MANIFESTS):
            continue
        stamp = parts[1].split(".", 1)[0]
        if services.TIMESTAMP_RE.match(stamp):
            sets.setdefault(stamp, []).append(key)
    doomed = sorted((stamp for stamp in sets if stamp not in keep), reverse=True)
    for stamp in doomed:
        manifest_key = config.key(_manifest_relative(stamp))
        keys = sorted(sets[stamp], key=lambda k: k != manifest_key)  # the manifest first
        for key in keys:
            with s3_errors(f"removal of {key}", config):
                client.delete_object(Bucket=config.bucket, Key=key)
    return doomed
