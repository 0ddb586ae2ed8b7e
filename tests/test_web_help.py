"""The "Så gör du" box on every page and the guide per role in docs/web.md (issue 21, item 12).

Every page a role reaches from its menu has the steps, collapsed under its heading, in words
for that reader (a Kund's differ from staff's). The guide's pictures are made by
scripts/screenshots.py --guide; this test runs the script against the test server and checks
that the script, the pictures in docs/bilder and the guide in docs/web.md name the same pages,
so none of them falls behind.
"""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from browser import ROOT, STAFF, Server, Visitor, browser, database_template, server
from kortfaktura.web import how_to
from kortfaktura.web.navigation import PAGES

__all__ = ["browser", "database_template", "server"]  # the fixtures this module uses

SCRIPT = ROOT / "scripts" / "screenshots.py"
DOCS = ROOT / "docs"


def _guide_names() -> list[str]:
    spec = importlib.util.spec_from_file_location("screenshots", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [name for *_, name in module.GUIDE]


def test_every_menu_page_has_steps_for_each_reader() -> None:
    kund_pages = {"overview", "orders", "invoices"}
    for page in PAGES:
        entry = how_to.STEPS.get(page.url_name)
        assert entry is not None and entry.steps, f"{page.url_name}: inga steg"
        if page.url_name in kund_pages:
            assert entry.kund, f"{page.url_name}: inga steg för en Kund"


@pytest.mark.parametrize("role", [*STAFF, "kund"])
def test_each_page_in_the_menu_offers_its_steps_collapsed(
    role: str, server: Server, browser: Any
) -> None:
    visitor = Visitor(browser, server).login(server.world["users"][role])
    try:
        menu = [
            (link.inner_text().strip(), link.get_attribute("href"))
            for link in visitor.page.locator("nav.main-nav a").all()
        ]
        assert menu
        seen: dict[str, str] = {}
        for label, href in menu:
            visitor.goto(href)
            box = visitor.page.locator("main details.how-to")
            assert box.count() == 1, f"{role} {label}: ingen Så gör du"
            assert box.get_attribute("open") is None, f"{role} {label}: inte hopfälld"
            heading = visitor.page.locator("main h1").bounding_box()
            assert heading is not None and heading["y"] < (box.bounding_box() or {"y": 0})["y"]
            steps = box.locator("li")
            assert not steps.first.is_visible()
            box.locator("summary", has_text="Så gör du").click()
            assert steps.first.is_visible(), f"{role} {label}: stegen syns inte"
            seen[label] = box.inner_text()
        overview = seen["Översikt"]
        if role == "kund":
            assert "din organisation" in overview.lower()
            assert "Import" not in overview
        else:
            assert "Import" in overview
        assert not visitor.take_problems()
    finally:
        visitor.close()


def test_the_guide_and_its_pictures_name_the_same_pages(server: Server, tmp_path: Path) -> None:
    made = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--guide",
            "--url",
            server.url,
            "--out",
            str(tmp_path),
            "--password",
            server.world["password"],
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    expected = _guide_names()
    taken = sorted(path.stem for path in tmp_path.glob("*.png"))
    assert taken == sorted(expected)
    for path in tmp_path.glob("*.png"):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5_000
    shown = re.findall(r"\]\(bilder/([a-z0-9-]+)\.png\)", (DOCS / "web.md").read_text())
    assert sorted(set(shown)) == sorted(expected), "docs/web.md visar andra bilder än guiden"
    committed = sorted(path.stem for path in (DOCS / "bilder").glob("*.png"))
    assert committed == sorted(expected), "docs/bilder: kör scripts/screenshots.py --guide"
