"""axe-core on every page of every portal, signed in as each role (issue #8 point 6).

The permission matrix (tests/test_permission_matrix.py) says which URL each role may open;
this module opens, in Chromium, every one whose outcome there is "ok" and whose response
is a web page, as that role, and runs axe-core's WCAG 2.1 A/AA rules on it. Which
responses are pages is decided by their Content-Type from Django's test client first, so
JSON API endpoints, file downloads (PDF, PNG, CSV, report.json), the health check and the
API schema are left out without a hand-kept list. Each role's browser context gets the
session of that role's test client (its cookies), so nobody signs in through a form.

Every violation on every page is collected and reported together at the end. A pass in
Spanish (the anonymous visitor, the resident at the kiosk and a caseworker) checks the
translated pages too.

The Django admin is not in the matrix; test_the_admin_is_accessible checks, as the city
admin, its index, a changelist and a change form (Django's templates, with our stylesheet
on top: templates/admin/base_site.html). Left out: the user and group forms. Their
widgets are Django's own scripts, which no template of ours renders: the permission and
group pickers (FilteredSelectMultiple, SelectFilter2.js) put aria-label on a span with no
role (aria-prohibited-attr), and the last-login and date-joined fields
(AdminSplitDateTime) are two inputs under one label (label).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field

import pytest
from django.urls import reverse

from conftest import AXE, axe_violations, missing
from tests.test_permission_matrix import (
    ROLES,
    TABLE,
    build_people,
    build_world,
    clients_for,
    url_kwargs,
    url_routes,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SPANISH_ROLES = ("anonymous", "resident", "caseworker_a")
# Pages their scripts build after "load" (the API reference): what shows they are built.
BUILT_BY_SCRIPT = {"#swagger-ui": "#swagger-ui .opblock", "redoc": "redoc [data-section-id]"}


@pytest.fixture(autouse=True)
def private_cache(settings):
    """Throttles (kiosk sign-in) count in the cache: an empty one per test."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"accessibility-{time.monotonic_ns()}",
        }
    }


@pytest.fixture(autouse=True)
def _axe_core_is_installed():
    if not AXE.exists():
        missing(f"axe-core at {AXE} (npm ci at the repository root)")


def is_page(response) -> bool:
    return response.status_code == 200 and response.get("Content-Type", "").startswith("text/html")


@dataclass
class Sweep:
    """The pages visited and every problem found on them, reported together at the end."""

    browser: object
    base_url: str
    preload: bool = True  # axe_violations(preload=…)
    visited: int = 0
    problems: list[str] = field(default_factory=list)

    def context_for(self, client, locale: str):
        """A browser context with the test client's cookies: its session, its role."""
        context = self.browser.new_context(locale=locale)
        context.add_cookies(
            [
                {"name": name, "value": morsel.value, "url": self.base_url}
                for name, morsel in client.cookies.items()
                if morsel.value
            ]
        )
        return context

    def check(self, page, url: str, who: str, locale: str) -> None:
        self.visited += 1
        response = page.goto(f"{self.base_url}{url}")
        if response is None or response.status != 200:
            status = response.status if response else "no response"
            self.problems.append(f"{who} {url}: the browser got {status}, not 200")
            return
        if response.request.redirected_from is not None:  # not signed in as the role
            self.problems.append(f"{who} {url}: the browser was sent to {response.url}")
            return
        lang = page.get_attribute("html", "lang") or ""
        if lang.split("-")[0] != locale.split("-")[0]:
            self.problems.append(f"{who} {url}: the page is in {lang!r}, not {locale}")
        for container, built in BUILT_BY_SCRIPT.items():
            if page.locator(container).count():
                page.wait_for_selector(built)
        for v in axe_violations(page, preload=self.preload):
            nodes = json.dumps(v["nodes"])
            self.problems.append(f"{who} {url}: {v['id']} ({v['help']}) at {nodes}")

    def sweep(self, client, urls: list[str], who: str, locale: str = "en-US") -> None:
        context = self.context_for(client, locale)
        page = context.new_page()
        try:
            for url in urls:
                self.check(page, url, who, locale)
        finally:
            context.close()


def pages_of(
    client, role: str, urls: dict[str, str], seen: set[bytes], language: str = "en"
) -> tuple[list[str], list[str]]:
    """The URLs the table says `role` may open that answer with a web page, and any "ok"
    URL that did not answer 200 (the matrix's business, but the sweep would shrink).

    A page whose HTML is byte for byte one already chosen (for another role) is left out:
    the API reference pages, which are the same for everyone and take seconds to build.
    Pages with a form differ by their CSRF token, so every role's are checked."""
    pages, wrong = [], []
    for name, url in urls.items():
        if TABLE[name][role] != "ok":
            continue
        response = client.get(url, headers={"accept-language": language})
        if response.status_code != 200:
            wrong.append(f"{role} {url} ({name}): {response.status_code}, the table says 200")
        elif is_page(response):
            digest = hashlib.sha256(response.content).digest()
            if digest not in seen:
                seen.add(digest)
                pages.append(url)
        response.close()  # file responses hold their file open
    return pages, wrong


def test_every_page_is_accessible_to_every_role(live_server, browser):
    routes, _unnamed = url_routes()
    w = build_world()
    kwargs = url_kwargs(w)
    urls = {name: reverse(name, kwargs=kwargs.get(name) or None) for name in routes}
    clients = clients_for(w)
    sweep = Sweep(browser, live_server.url)
    seen: set[bytes] = set()
    passes = [(role, "en", "en-US") for role in ROLES]
    passes += [(role, "es", "es-ES") for role in SPANISH_ROLES]
    for role, language, locale in passes:
        pages, wrong = pages_of(clients[role], role, urls, seen, language)
        sweep.problems += wrong
        who = role if language == "en" else f"{role} ({language})"
        sweep.sweep(clients[role], pages, who, locale=locale)
    print(f"axe-core checked {sweep.visited} (role, page) pairs")
    assert sweep.visited > 300
    assert not sweep.problems, f"{len(sweep.problems)} problems:\n" + "\n".join(sweep.problems)


def test_the_admin_is_accessible(live_server, browser):
    w = build_people()
    client = clients_for(w)["city_admin"]
    urls = [
        reverse("admin:index"),
        reverse("admin:identity_user_changelist"),
        reverse("admin:identity_organization_change", args=[w.org_a.pk]),
    ]
    for url in urls:
        assert is_page(client.get(url)), url
    sweep = Sweep(browser, live_server.url, preload=False)  # forms.css has an @import
    sweep.sweep(client, urls, "city_admin")
    assert not sweep.problems, f"{len(sweep.problems)} problems:\n" + "\n".join(sweep.problems)
