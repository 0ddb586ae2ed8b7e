"""Issue 21, items 8, 10 and 11, in Chromium against the real server (tests/browser.py).

- 11, narrow screens: at 390 and 320 CSS pixels the menu is folded behind a button (the page's
  content starts near the top), the button opens it (aria-expanded), without JavaScript the menu
  stays open; the list tables show each row's amount and status inside the viewport, with no
  sideways scrolling.
- 10, the audit log at 1280 px: no cell is wider than its column, nothing needs scrolling.
- 8, what happens next: after a draft the page names who issues it and notifies them through a
  real SMTP server (aiosmtpd); after issue the run shows its delivery progress; after an import
  the next step, linked.
"""

import re
from typing import Any

import pytest

from browser import Server, Visitor, browser, database_template, server

__all__ = ["browser", "database_template", "server"]  # the fixtures this module uses

NARROW = (390, 320)
# The list pages of item 11 and the column that must be in view on a narrow screen.
LISTS = {
    "/fakturor/": "Att betala",
    "/korningar/": "Att betala",
    "/kundreskontra/": "Öppet",
    "/betalningar/": "Belopp",
    "/leveranser/": "Status",
    "/bestallningar/": "Tillstånd",
    "/kunder/": "Fakturamottagare",
}


@pytest.fixture
def visitors(browser: Any, server: Server) -> Any:
    """A logged-in Visitor per call; at the end, none met a script error, a CSP violation or
    a server error."""
    opened: list[Visitor] = []

    def open_as(role: str, **options: Any) -> Visitor:
        visitor = Visitor(browser, server, **options).login(server.world["users"][role])
        opened.append(visitor)
        return visitor

    yield open_as
    problems = [problem for visitor in opened for problem in visitor.take_problems()]
    for visitor in opened:
        visitor.close()
    assert not problems, "\n".join(problems)


def _sideways(visitor: Visitor) -> int:
    """How many CSS pixels the page is wider than the window (0: no sideways scrolling)."""
    return int(
        visitor.page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
    )


# --- Item 11: narrow screens ----------------------------------------------------------------


@pytest.mark.parametrize("width", NARROW)
def test_the_menu_is_folded_behind_a_button_on_a_narrow_screen(visitors: Any, width: int) -> None:
    visitor = visitors("admin", width=width)
    page = visitor.page
    visitor.goto("/fakturor/")
    button = page.get_by_role("button", name="Meny")
    menu = page.get_by_role("navigation", name="Huvudmeny")
    assert button.is_visible()
    assert button.get_attribute("aria-expanded") == "false"
    assert not menu.is_visible()
    heading = page.get_by_role("heading", level=1).bounding_box()
    assert heading is not None and heading["y"] < 120, heading  # content at once, not a menu
    # Opened with the keyboard: the menu's links show; Escape folds it again.
    button.focus()
    page.keyboard.press("Enter")
    assert button.get_attribute("aria-expanded") == "true"
    assert menu.is_visible()
    link = menu.get_by_role("link", name="Körningar")
    assert link.is_visible()
    box = link.bounding_box()
    assert box is not None and box["x"] + box["width"] <= width
    # The next Tab goes into the opened menu; Escape folds it and returns to the button.
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.closest('nav') !== null")
    page.keyboard.press("Escape")
    assert page.evaluate("() => document.activeElement.classList.contains('menu-toggle')")
    assert button.get_attribute("aria-expanded") == "false"
    assert not menu.is_visible()
    button.click()
    with page.expect_navigation():
        link.click()
    assert page.url.endswith("/korningar/")
    assert _sideways(visitor) == 0
    page.screenshot(path=f"/tmp/h21e-menu-{width}.png")


def test_the_menu_is_open_and_no_button_shows_on_a_wide_screen_or_without_javascript(
    visitors: Any, browser: Any, server: Server
) -> None:
    wide = visitors("ekonomi")
    wide.goto("/fakturor/")
    assert wide.page.get_by_role("navigation", name="Huvudmeny").is_visible()
    assert not wide.page.get_by_role("button", name="Meny").is_visible()
    # Without JavaScript nothing could open a folded menu: it stays open.
    context = browser.new_context(viewport={"width": 390, "height": 800}, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(server.url + "/logga-in/")
        page.fill("#id_username", server.world["users"]["ekonomi"])
        page.fill("#id_password", server.world["password"])
        with page.expect_navigation():
            page.get_by_role("button", name="Logga in").click()
        page.goto(server.url + "/fakturor/")
        assert page.get_by_role("navigation", name="Huvudmeny").is_visible()
        assert page.get_by_role("link", name="Körningar").is_visible()
        assert not page.get_by_role("button", name="Meny").is_visible()
    finally:
        context.close()


def _column_index(visitor: Visitor, table: Any, heading: str) -> int:
    headings = [text.strip() for text in table.locator("thead th").all_inner_texts()]
    assert heading in headings, (heading, headings)
    return headings.index(heading)


@pytest.mark.parametrize("width", NARROW)
def test_list_tables_show_amount_and_status_without_sideways_scrolling(
    visitors: Any, width: int
) -> None:
    visitor = visitors("admin", width=width)
    page = visitor.page
    for path, heading in LISTS.items():
        visitor.goto(path)
        table = page.locator("main table").last
        assert table.count() == 1, f"{path}: no list table"
        index = _column_index(visitor, table, heading)
        row = table.locator("tbody tr").first
        cell = row.locator("td").nth(index)
        assert cell.is_visible(), f"{path}: {heading} is not shown"
        box = cell.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (
            f"{path}: {heading} at {box}, outside the {width} px window"
        )
        # In view at once: among the first lines of the row, not far down the card.
        first = row.locator("td").first.bounding_box()
        assert first is not None and box["y"] - first["y"] < 150, (path, first, box)
        # Labelled with its column, and nothing needs scrolling sideways.
        assert cell.get_attribute("data-label") == heading
        assert _sideways(visitor) == 0, f"{path}: the page scrolls sideways at {width} px: " + str(
            page.evaluate("""() => Array.from(document.querySelectorAll("body *")).filter(
              e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
              .slice(0, 8).map(e => e.tagName + "." + e.className + " " +
              Math.round(e.getBoundingClientRect().right))""")
        )
        wrap_overflow = table.evaluate("t => t.scrollWidth - t.parentElement.clientWidth")
        assert wrap_overflow <= 1, f"{path}: the table is {wrap_overflow} px too wide"
    visitor.check_accessibility(f"listorna på {width} px")


# --- Item 10: the audit log at 1280 px ------------------------------------------------------


def test_the_audit_log_shows_every_detail_whole_at_1280_px(visitors: Any) -> None:
    visitor = visitors("granskare", width=1280)
    page = visitor.page
    visitor.goto("/granskningslogg/")
    table = page.locator("table.admin-audit")
    assert table.count() == 1
    # The seeded world's imports carry their files' SHA-256: 64 characters without a space.
    assert re.search(r"\b[0-9a-f]{64}\b", table.inner_text()), "no hash among the details"
    clipped = table.evaluate(
        """t => Array.from(t.querySelectorAll("td")).filter(
             cell => cell.scrollWidth > cell.clientWidth + 1).map(cell => cell.innerText)"""
    )
    assert clipped == [], f"cells wider than their column: {clipped[:3]}"
    overflow = table.evaluate("t => t.scrollWidth - t.parentElement.clientWidth")
    assert overflow <= 1, f"the audit table is {overflow} px wider than its place"
    assert _sideways(visitor) == 0
    right = table.evaluate("t => t.getBoundingClientRect().right")
    assert right <= 1280
