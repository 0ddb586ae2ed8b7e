"""Running the real ``kortfaktura`` console script against a fresh database of its own."""

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import dj_database_url
import psycopg

SCRIPT = Path(sys.executable).with_name("kortfaktura")


def fresh_database_environment(data_dir: Path) -> tuple[dict[str, str], str | None]:
    """Environment for a process with an empty database: a SQLite file under ``data_dir``, or,
    when the suite runs on PostgreSQL, a new database on the same server (returned for cleanup).
    """
    env = {**os.environ, "KORTFAKTURA_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        env.pop("DATABASE_URL", None)
        return env, None
    config = dj_database_url.parse(url)
    name = f"kortfaktura_cli_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_admin_url(config), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    env["DATABASE_URL"] = url.rsplit("/", 1)[0] + f"/{name}"
    return env, name


def drop_database(name: str | None) -> None:
    if name is None:
        return
    config = dj_database_url.parse(os.environ["DATABASE_URL"])
    with psycopg.connect(_admin_url(config), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin_url(config: dict[str, object]) -> str:
    user = config.get("USER") or "postgres"
    host = config.get("HOST") or "127.0.0.1"
    port = config.get("PORT") or 5432
    return f"postgresql://{user}@{host}:{port}/postgres"


# Dual control (R25) is on in processes started by tests: the operating-system user drafts,
# and someone else issues. ``issuer(env, args)`` adds the second person to a ``run issue``.
ISSUER = "ekonomi"


def issuer(env: dict[str, str], args: tuple[str, ...] | list[str]) -> dict[str, str]:
    if list(args[:2]) == ["run", "issue"]:
        return {**env, "KORTFAKTURA_ACTOR": ISSUER}
    return env


def run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        check=False,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now, for a server a test or bench starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
