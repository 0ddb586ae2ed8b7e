#!/usr/bin/env python3
"""Full-page screenshots of the web application's main pages, for a person to look at.

Starts ``kortfaktura serve`` on a database (default: the demo's var/kortfaktura.sqlite3) on a
free port, logs in through the login form as each given user, and saves a PNG of every page in
the user's menu, of the first detail page linked from each list (a customer, an order, a run, an
invoice, an import, …), of the login page and of the 404 page. Chromium is Debian's
(/usr/bin/chromium), driven by Playwright; nothing is downloaded.

    .venv/bin/python scripts/screenshots.py                       # demo database, user admin
    .venv/bin/python scripts/screenshots.py --user kund --user ekonomi --out /tmp/bilder
    .venv/bin/python scripts/screenshots.py --url http://127.0.0.1:8000   # a running server
    DATABASE_URL=postgres://… .venv/bin/python scripts/screenshots.py
    .venv/bin/python scripts/screenshots.py --guide                # docs/bilder, for docs/web.md

``--guide`` takes the fixed set of pictures that docs/web.md's guide per role shows (``GUIDE``
below), one screen high, into docs/bilder/ with stable names; tests/test_web_help.py runs it
and checks that the guide and the pictures name the same pages.

The demo (``kortfaktura demo``) creates the users admin, ekonomi, fakturering, granskare and kund
with the password it prints; that is the default password here.
"""

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
DEMO_PASSWORD = "Kortfaktura-demo-2026"
KORTFAKTURA = Path(sys.executable).with_name("kortfaktura")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(database: Path | None, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KORTFAKTURA_WEB_WORKERS": "1"}
    if not os.environ.get("DATABASE_URL"):
        assert database is not None
        if database.name != "kortfaktura.sqlite3" or not database.is_file():
            sys.exit(
                f"{database}: ingen databas. Ange SQLite-filen kortfaktura.sqlite3 i en "
                "datakatalog (--database), eller DATABASE_URL för PostgreSQL."
            )
        env["KORTFAKTURA_DATA_DIR"] = str(database.resolve().parent)
    command = [str(KORTFAKTURA), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/logga-in/", timeout=5):
                return process
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.5)
    process.terminate()
    sys.exit(f"kortfaktura serve startade inte; se {log}")


# The guide's pictures: (user, menu entry, its first detail page too?, file name). The menu
# entry is found by its label, so a moved URL does not break the guide.
GUIDE: tuple[tuple[str, str, bool, str], ...] = (
    ("fakturering", "Översikt", False, "fakturering-oversikt"),
    ("fakturering", "Import", False, "fakturering-import"),
    ("fakturering", "Körningar", True, "fakturering-korning"),
    ("fakturering", "Beställningar", False, "fakturering-bestallningar"),
    ("ekonomi", "Körningar", True, "ekonomi-korning"),
    ("ekonomi", "Fakturor", False, "ekonomi-fakturor"),
    ("ekonomi", "Fakturor", True, "ekonomi-faktura"),
    ("ekonomi", "Leveranser", False, "ekonomi-leveranser"),
    ("ekonomi", "Betalningar", False, "ekonomi-betalningar"),
    ("ekonomi", "Kundreskontra", False, "ekonomi-kundreskontra"),
    ("ekonomi", "Bokföring", False, "ekonomi-bokforing"),
    ("granskare", "Genomlysning", False, "granskare-genomlysning"),
    ("granskare", "Granskningslogg", False, "granskare-granskningslogg"),
    ("admin", "Användare", False, "admin-anvandare"),
    ("kund", "Översikt", False, "kund-oversikt"),
    ("kund", "Fakturor", True, "kund-faktura"),
)
GUIDE_OUT = ROOT / "docs" / "bilder"


def slug(text: str) -> str:
    table = str.maketrans("åäöÅÄÖé", "aaoAAOe")
    return re.sub(r"[^a-z0-9]+", "-", text.translate(table).lower()).strip("-") or "sida"


class Shooter:
    def __init__(self, browser: Any, base: str, out: Path) -> None:
        self.browser = browser
        self.base = base.rstrip("/")
        self.out = out
        self.count = 0
        self.saved: list[Path] = []

    def shoot(self, page: Any, prefix: str, name: str) -> None:
        self.count += 1
        path = self.out / f"{prefix}-{self.count:02d}-{slug(name)}.png"
        page.screenshot(path=str(path), full_page=True)
        self.saved.append(path)
        print(f"  {path.name}  {page.url}")

    def anonymous(self) -> None:
        context = self.browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(f"{self.base}/logga-in/")
        self.shoot(page, "0-anonym", "logga-in")
        context.close()

    def user(self, username: str, password: str) -> None:
        print(f"{username}:")
        context = self.browser.new_context(viewport={"width": 1280, "height": 900}, locale="sv-SE")
        page = context.new_page()
        page.goto(f"{self.base}/logga-in/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        with page.expect_navigation():
            page.get_by_role("button", name="Logga in").click()
        if "/logga-in/" in page.url:
            print(f"  {username} kunde inte logga in (fel lösenord?)", file=sys.stderr)
            context.close()
            return
        menu = [
            (link.inner_text().strip(), link.get_attribute("href"))
            for link in page.locator("nav.main-nav a").all()
        ]
        for label, href in menu:
            page.goto(self.base + href)
            page.wait_for_load_state("networkidle")
            self.shoot(page, username, label)
            detail = self.first_detail(page, href)
            if detail:
                page.goto(self.base + detail)
                page.wait_for_load_state("networkidle")
                self.shoot(page, username, f"{label}-detalj")
        page.goto(f"{self.base}/finns-inte/")
        self.shoot(page, username, "404")
        context.close()

    def guide(self, password: str) -> None:
        """The guide's pictures (``GUIDE``), each one screen high (1280 × 800)."""
        for username in dict.fromkeys(user for user, *_ in GUIDE):
            context = self.browser.new_context(
                viewport={"width": 1280, "height": 800}, locale="sv-SE"
            )
            page = context.new_page()
            page.goto(f"{self.base}/logga-in/")
            page.fill("#id_username", username)
            page.fill("#id_password", password)
            with page.expect_navigation():
                page.get_by_role("button", name="Logga in").click()
            if "/logga-in/" in page.url:
                context.close()
                sys.exit(f"{username} kunde inte logga in (fel lösenord?)")
            menu = {
                link.inner_text().strip(): link.get_attribute("href")
                for link in page.locator("nav.main-nav a").all()
            }
            for user, label, detail, name in GUIDE:
                if user != username:
                    continue
                if label not in menu:
                    context.close()
                    sys.exit(f"{username} har ingen menypost {label!r}")
                href = menu[label]
                page.goto(self.base + href)
                if detail:
                    target = self.first_detail(page, href)
                    if target is None:
                        context.close()
                        sys.exit(f"{label}: ingen detaljsida att visa för {username}")
                    page.goto(self.base + target)
                page.wait_for_load_state("networkidle")
                path = self.out / f"{name}.png"
                page.screenshot(path=str(path))
                self.saved.append(path)
                print(f"  {path.name}  {page.url}")
            context.close()

    @staticmethod
    def first_detail(page: Any, list_href: str) -> str | None:
        """The first link in the list's table that leads deeper than the list itself."""
        if list_href == "/":
            return None
        for link in page.locator("main table a").all():
            href = link.get_attribute("href") or ""
            if href.startswith(list_href) and href != list_href and "?" not in href:
                return href
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database",
        type=Path,
        default=ROOT / "var" / "kortfaktura.sqlite3",
        help="SQLite-filen (standard: demodatabasen var/kortfaktura.sqlite3); "
        "DATABASE_URL gäller före den",
    )
    parser.add_argument("--url", help="en server som redan kör, i stället för att starta en")
    parser.add_argument(
        "--user",
        action="append",
        help="användare att logga in som (kan upprepas; standard: admin)",
    )
    parser.add_argument(
        "--password", default=DEMO_PASSWORD, help="lösenordet (demots som standard)"
    )
    parser.add_argument("--out", type=Path, help="katalogen (standard var/screenshots)")
    parser.add_argument(
        "--guide",
        action="store_true",
        help="bilderna till guiden i docs/web.md (till docs/bilder/ om inte --out anges)",
    )
    args = parser.parse_args()
    if args.out is None:
        args.out = GUIDE_OUT if args.guide else ROOT / "var" / "screenshots"
    if not CHROMIUM.exists():
        sys.exit("Chromium saknas: installera Debian-paketet chromium (/usr/bin/chromium).")
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    process = None
    base = args.url
    if not base:
        port = free_port()
        # Not among the guide's pictures in docs/bilder.
        log = Path(tempfile.gettempdir()) / "kortfaktura-screenshots-serve.log"
        process = start_server(args.database, port, log)
        base = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
            )
            try:
                shooter = Shooter(browser, base, args.out)
                if args.guide:
                    shooter.guide(args.password)
                else:
                    shooter.anonymous()
                    for username in args.user or ["admin"]:
                        shooter.user(username, args.password)
            finally:
                browser.close()
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
    print(f"{len(shooter.saved)} skärmbilder i {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
