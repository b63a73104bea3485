"""Backups of the portal (the PostgreSQL database and MEDIA_ROOT) and their restore.

A backup is a folder:

    database.dump   pg_dump, custom format (compressed; pg_restore can restore it in parallel)
    media.tar.gz    every file under MEDIA_ROOT (uploaded sheets, bank files, reports)
    manifest.json   when, from which database, the migrations applied and the exact row count of
                    every table, all taken in the same snapshot as the dump

The keys (SECRET_KEY, PII_KEYS, PII_HASH_KEY) are never in a backup: they are backed up apart
(docs/operations.md, "Backups"). Without them a restored registry has no readable ID number.

`restore` loads a backup into an EMPTY database and an empty MEDIA_ROOT (the ones the settings
point at) and then checks the result against the manifest: the same migrations, the same row
count in every table, every file back, and a member's ID number decrypting with the PII keys
configured now. Any difference is an error, so a restore that "worked" but lost something does
not pass for a good one.
"""

import json
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg2
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

DUMP, MEDIA, MANIFEST = "database.dump", "media.tar.gz", "manifest.json"


class BackupError(Exception):
    """Something an operator must fix; the message says what."""


@dataclass(frozen=True)
class Target:
    name: str
    host: str
    port: str
    user: str
    password: str

    @classmethod
    def from_settings(cls, alias: str = DEFAULT_DB_ALIAS) -> "Target":
        db = connections.settings[alias]
        if db["ENGINE"] != "django.db.backends.postgresql":
            raise BackupError("backup and restore need PostgreSQL (DATABASE_URL=postgres://...)")
        return cls(
            db["NAME"], db["HOST"] or "", str(db["PORT"] or ""), db["USER"] or "", db["PASSWORD"] or ""
        )

    def args(self) -> list[str]:
        """Connection options for pg_dump/pg_restore (the password goes in the environment)."""
        out = []
        for flag, value in (("-h", self.host), ("-p", self.port), ("-U", self.user)):
            if value:
                out += [flag, value]
        return out

    def env(self) -> dict:
        return {**os.environ, "PGPASSWORD": self.password} if self.password else dict(os.environ)

    def connect(self, dbname: str | None = None):
        return psycopg2.connect(
            dbname=dbname or self.name,
            host=self.host or None,
            port=self.port or None,
            user=self.user or None,
            password=self.password or None,
        )


def _tool(name: str, server_version: int) -> str:
    """The client matching the server's major version where Debian keeps several, else PATH's."""
    versioned = Path(f"/usr/lib/postgresql/{server_version // 10000}/bin/{name}")
    found = str(versioned) if versioned.exists() else shutil.which(name)
    if not found:
        raise BackupError(f"{name} not found: install the PostgreSQL client (postgresql-client)")
    return found


def _run(argv: list[str], target: Target) -> None:
    result = subprocess.run(argv, env=target.env(), capture_output=True, text=True)
    if result.returncode:
        raise BackupError(f"{Path(argv[0]).name} failed: {result.stderr.strip()[-2000:]}")


def _table_counts(cursor) -> dict[str, int]:
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    tables = [row[0] for row in cursor.fetchall()]
    counts = {}
    for table in tables:
        cursor.execute(f'SELECT count(*) FROM "{table}"')
        counts[table] = cursor.fetchone()[0]
    return counts


def _migrations(cursor) -> list[list[str]]:
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
    return [list(row) for row in cursor.fetchall()]


def _media_files(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def backup_create(folder: Path) -> dict:
    """Write a backup of the configured database and MEDIA_ROOT into `folder` (new or empty).
    The dump and the manifest's counts come from one exported snapshot, so they agree even while
    the portal keeps writing."""
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise BackupError(f"{folder} is not empty: give a new folder for each backup")
    folder.mkdir(parents=True, exist_ok=True)
    target = Target.from_settings()
    media_root = Path(settings.MEDIA_ROOT)
    conn = target.connect()
    try:
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot(), current_setting('server_version_num')::int")
            snapshot, version = cursor.fetchone()
            counts = _table_counts(cursor)
            migrations = _migrations(cursor)
            _run(
                [_tool("pg_dump", version), *target.args(), "--format=custom", f"--snapshot={snapshot}",
                 "--no-owner", "--no-privileges", f"--file={folder / DUMP}", target.name],
                target,
            )  # fmt: skip
        conn.rollback()
    finally:
        conn.close()
    files = _media_files(media_root)
    with tarfile.open(folder / MEDIA, "w:gz") as tar:
        for name in files:
            tar.add(media_root / name, arcname=name, recursive=False)
    manifest = {
        "created_at": timezone.now().isoformat(),
        "database": target.name,
        "server_version_num": version,
        "migrations": migrations,
        "row_counts": counts,
        "media_files": len(files),
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
    return manifest


def _ensure_empty_database(target: Target) -> int:
    """Create the target database if it does not exist; refuse one that has tables."""
    conn = target.connect("postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [target.name])
            if not cursor.fetchone():
                cursor.execute(f'CREATE DATABASE "{target.name}"')
            cursor.execute("SELECT current_setting('server_version_num')::int")
            version = cursor.fetchone()[0]
    finally:
        conn.close()
    conn = target.connect()
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            if cursor.fetchone()[0]:
                raise BackupError(
                    f"database {target.name} is not empty: restore into a new database "
                    "(set DATABASE_URL to a name that does not exist yet)"
                )
    finally:
        conn.close()
    return version


def backup_restore(folder: Path, *, jobs: int = 2) -> dict:
    """Restore the backup in `folder` into the configured (empty) database and (empty)
    MEDIA_ROOT, then `backup_verify` it. Returns the verification's findings."""
    folder = Path(folder)
    for name in (DUMP, MEDIA, MANIFEST):
        if not (folder / name).is_file():
            raise BackupError(f"{folder} is not a complete backup: {name} is missing")
    manifest = json.loads((folder / MANIFEST).read_text())
    media_root = Path(settings.MEDIA_ROOT)
    if media_root.exists() and any(media_root.iterdir()):
        raise BackupError(f"MEDIA_ROOT {media_root} is not empty: restore into a new folder")
    target = Target.from_settings()
    version = _ensure_empty_database(target)
    _run(
        [_tool("pg_restore", version), *target.args(), f"--dbname={target.name}", "--no-owner",
         "--no-privileges", "--exit-on-error", f"--jobs={jobs}", str(folder / DUMP)],
        target,
    )  # fmt: skip
    media_root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(folder / MEDIA, "r:gz") as tar:
        tar.extractall(media_root, filter="data")  # no absolute paths, links out or devices
    return backup_verify(manifest, target=target)


def backup_verify(manifest: dict, *, target: Target) -> dict:
    """Compare the restored database and MEDIA_ROOT with the backup's manifest; raise
    BackupError listing every difference."""
    from django.db.migrations.executor import MigrationExecutor

    from . import crypto

    problems = []
    conn = target.connect()
    try:
        with conn.cursor() as cursor:
            counts = _table_counts(cursor)
            if _migrations(cursor) != manifest["migrations"]:
                problems.append("the applied migrations differ from the backup's")
            cursor.execute("SELECT id_encrypted, id_hash FROM members_member ORDER BY id LIMIT 1")
            sample = cursor.fetchone()
    finally:
        conn.close()
    for table in sorted(set(counts) | set(manifest["row_counts"])):
        if counts.get(table) != manifest["row_counts"].get(table):
            problems.append(
                f"{table}: {counts.get(table)} rows, the backup has {manifest['row_counts'].get(table)}"
            )
    media = len(_media_files(Path(settings.MEDIA_ROOT)))
    if media != manifest["media_files"]:
        problems.append(f"MEDIA_ROOT holds {media} files, the backup has {manifest['media_files']}")
    keys = "no member to try"
    if sample is not None:
        try:
            id_number = crypto.decrypt(sample[0])
        except Exception as exc:  # noqa: BLE001 - whatever the key mismatch looks like, say it plainly
            problems.append(
                f"PII_KEYS do not decrypt the restored members ({type(exc).__name__}): restore the keys "
                "from their own backup (docs/operations.md, Backups)"
            )
        else:
            if crypto.keyed_hash(id_number) == sample[1]:
                keys = "a member's ID number decrypts with PII_KEYS and hashes to its PII_HASH_KEY digest"
            else:
                problems.append(
                    "PII_HASH_KEY is not the key of this registry (a decrypted ID number hashes to another "
                    "digest: searches and duplicate checks would miss): restore it from its own backup"
                )
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    pending = len(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    connections[DEFAULT_DB_ALIAS].close()
    if problems:
        raise BackupError("the restore does not match the backup:\n  " + "\n  ".join(problems))
    return {
        "tables": len(counts),
        "rows": sum(counts.values()),
        "media_files": media,
        "keys": keys,
        "pending_migrations": pending,  # an older backup under newer code: run manage.py migrate
        "backup_taken": datetime.fromisoformat(manifest["created_at"]),
    }
