"""A page while another process holds SQLite's write lock (a worker issuing a large run holds it
for the whole issue, R4): the page answers, and the session's idle time is written later,
instead of a 400 "session interrupted". In a process of its own with a SQLite file, since the
lock is another connection's."""

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from processes import SCRIPT

pytestmark = pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").startswith(("postgres", "postgresql")),
    reason="SQLite's one write lock; PostgreSQL locks rows",
)

PAGE = """
import json, os, time, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kortfaktura.settings")
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
from kortfaktura.access.services import add_user
from kortfaktura.web.middleware import IDLE_KEY
add_user("eva", "ekonomi", "Ett-långt-lösen-2026")
browser = Client(HTTP_HOST="127.0.0.1")
browser.force_login(get_user_model().objects.get(username="eva"))
session = browser.session
session[IDLE_KEY] = int(time.time()) - 120  # due for its once-a-minute write
session.save()
print("READY", flush=True)
input()  # the test takes the write lock meanwhile
began = time.monotonic()
answer = browser.get("/kunder/")
print(json.dumps({"status": answer.status_code, "seconds": time.monotonic() - began}))
"""


def test_a_page_answers_while_another_process_holds_the_write_lock(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "KORTFAKTURA_DATA_DIR": str(tmp_path / "var"),
        "KORTFAKTURA_SQLITE_TIMEOUT": "0.5",
        "DJANGO_SETTINGS_MODULE": "kortfaktura.settings",
    }
    env.pop("DATABASE_URL", None)
    assert subprocess.run([str(SCRIPT), "init"], env=env, capture_output=True,
                          check=False).returncode == 0  # fmt: skip
    page = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(PAGE)], env=env, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert page.stdout is not None and page.stdin is not None
    try:
        assert page.stdout.readline().strip() == "READY"
        locker = sqlite3.connect(tmp_path / "var" / "kortfaktura.sqlite3", isolation_level=None)
        locker.execute("BEGIN IMMEDIATE")
        try:
            page.stdin.write("\n")
            page.stdin.flush()
            out, err = page.communicate(timeout=120)
        finally:
            locker.execute("ROLLBACK")
            locker.close()
    finally:
        if page.poll() is None:
            page.kill()
    answer = json.loads(out.strip().splitlines()[-1])
    assert answer["status"] == 200, err
    assert "sessionen sparades inte (databasen är upptagen" in err
