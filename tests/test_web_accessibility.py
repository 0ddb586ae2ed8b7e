"""axe-core in Chromium on every page for every role (issue 12, "Must show"): 0 violations of
WCAG 2.1 A and AA, no Content Security Policy violation and no script error.

Every role logs in through the login form of the real server (``kortfaktura serve``) and visits
every page of the web application that it may see: the pages come from the URL resolver and the
authorization matrix's table (test_web_authorization.WEB), with their path parameters filled from
the seeded world, so a new page is checked without editing this file. Downloads (PDF, UBL, …)
and htmx fragments are fetched and must answer 200, but axe looks at whole documents only. The
login page, the 404 page and the 403 page are checked too.
"""

from typing import Any

import pytest

from browser import STAFF, Server, Visitor, browser, database_template, describe_violations, server
from test_web_authorization import OWN_KUND, WEB, expected_read, web_paths

__all__ = ["browser", "database_template", "server"]  # the fixtures this module uses

ROLES = (*STAFF, "kund")


def _check_page(visitor: Visitor, path: str, status: int, found: list[str]) -> None:
    """Open a page (a download or fragment only through the request API), then run axe and
    collect everything that went wrong."""
    answer = visitor.context.request.get(visitor.url(path), max_redirects=0)
    kind = answer.headers.get("content-type", "")
    if answer.status != status:
        found.append(f"{path}: {answer.status} i stället för {status}")
        return
    document = answer.text().lstrip().lower().startswith("<!doctype html")
    attachment = "attachment" in answer.headers.get("content-disposition", "")
    if status != 200 or not kind.startswith("text/html") or not document or attachment:
        return  # a download or an htmx fragment: not a page of its own
    visitor.goto(path)
    violations = visitor.axe()
    if violations:
        found.append(describe_violations(path, violations))
    found.extend(f"{path}: {problem}" for problem in visitor.take_problems())


# (role, width): every role on a desktop screen and on a 320 CSS pixel wide one, where wide
# tables scroll and must be reachable by keyboard (WCAG 2.1.1, 1.4.10) and the menu folds into
# a button (issue 21).
SCREENS = [(role, width) for width in (1280, 320) for role in ROLES]


@pytest.mark.parametrize(("role", "width"), SCREENS)
def test_every_page_a_role_can_reach_has_no_accessibility_violation(
    role: str, width: int, server: Server, browser: Any
) -> None:
    actor = server.world["users"][role]
    visitor = Visitor(browser, server, width=width).login(actor)
    found: list[str] = []
    visited = 0
    try:
        for name, path, access in web_paths(server.world, actor):
            if name in ("login", "logout"):
                continue
            status = expected_read(access, actor, api=False)
            if status != 200:
                continue
            _check_page(visitor, path, status, found)
            visited += 1
        # The error pages a role meets, with its menu: 404 for a page that does not exist,
        # and 403 for a page of another role.
        _check_page(visitor, "/finns-inte/", 404, found)
        visitor.goto("/finns-inte/", 404)
        violations = visitor.axe()
        if violations:
            found.append(describe_violations("404-sidan", violations))
        forbidden = next(
            (
                path
                for name, path, access in web_paths(server.world, actor)
                if expected_read(access, actor, api=False) == 403
            ),
            None,
        )
        if forbidden is not None:
            visitor.goto(forbidden, 403)
            violations = visitor.axe()
            if violations:
                found.append(describe_violations(f"403-sidan ({forbidden})", violations))
        found.extend(visitor.take_problems())
    finally:
        visitor.close()
    assert visited >= (3 if role == "kund" else 10), f"{role} visited only {visited} pages"
    assert not found, f"{role}:\n" + "\n".join(found)


def test_the_login_page_and_its_error_are_accessible(server: Server, browser: Any) -> None:
    visitor = Visitor(browser, server)
    try:
        visitor.goto("/logga-in/")
        found = [describe_violations("/logga-in/", v) for v in [visitor.axe()] if v]
        visitor.page.fill("#id_username", OWN_KUND)
        visitor.page.fill("#id_password", "fel-lösenord-123")
        with visitor.page.expect_navigation():
            visitor.page.get_by_role("button", name="Logga in").click()
        alert = visitor.page.get_by_role("alert")
        assert alert.count() == 1 and alert.inner_text().strip(), "no error message in role=alert"
        found += [describe_violations("/logga-in/ med fel", v) for v in [visitor.axe()] if v]
        # Anonymous visitors see the 404 page without a menu.
        visitor.goto("/finns-inte/", 404)
        found += [describe_violations("404 utan inloggning", v) for v in [visitor.axe()] if v]
        found += visitor.take_problems()
    finally:
        visitor.close()
    assert not found, "\n".join(found)


def test_the_table_names_pages_for_every_role() -> None:
    """Sanity: each role reaches pages of its own in the table the pages above come from."""
    for role in ROLES:
        actor = OWN_KUND if role == "kund" else role
        assert any(expected_read(access, actor, api=False) == 200 for access in WEB.values())


def test_a_csp_violation_would_be_reported(server: Server, browser: Any) -> None:
    """The checks above would see a violation: an inline script and an inline style added to
    a page are blocked by the Content Security Policy and recorded."""
    visitor = Visitor(browser, server)
    try:
        visitor.goto("/logga-in/")
        visitor.page.evaluate(
            """() => {
              const script = document.createElement("script");
              script.textContent = "window.ranInline = true";
              document.body.appendChild(script);
              const style = document.createElement("style");
              style.textContent = "body { color: red }";
              document.head.appendChild(style);
            }"""
        )
        visitor.page.wait_for_timeout(300)
        assert visitor.page.evaluate("window.ranInline === undefined")
        problems = visitor.take_problems()
        assert any("CSP-brott: script-src" in problem for problem in problems), problems
        assert any("CSP-brott: style-src" in problem for problem in problems), problems
    finally:
        visitor.close()
