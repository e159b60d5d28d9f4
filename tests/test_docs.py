"""The guides (mkdocs.yml, docs/): they build strictly, the build fails when a screenshot they
show is missing, every screenshot is one a browser test takes, every page's help link leads
to a section that exists, and the app serves the built site at /docs/."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import include, path

from citychain import views
from citychain.urls import urlpatterns as site_urlpatterns

ROOT = Path(settings.BASE_DIR)
GUIDES = ROOT / "docs" / "guides"
SCREENSHOT = re.compile(r"\]\((?:\.\./)*screenshots/([\w.-]+\.png)\)")
HELP_LINK = re.compile(
    r'{% include "citychain/_help_link\.html" with guide="([^"]*)"(?: guide_es="([^"]*)")? %}'
)
# The app's templates that this help applies to (energy and credit add theirs).
TEMPLATE_DIRS = [
    ROOT / "templates" / "identity",
    ROOT / "templates" / "citychain",
    ROOT / "templates" / "registration",
    ROOT / "voting" / "templates",
    ROOT / "ledger" / "templates",
    ROOT / "energy" / "templates",
    ROOT / "credit" / "templates",
]

# /docs/ exactly as citychain/urls.py includes it.
urlpatterns = [*site_urlpatterns, path("docs/", include("citychain.urls_docs"))]


def mkdocs_build(config: Path, site_dir: Path, *, strict: bool = True):
    # Never --quiet: it hides the warnings that --strict counts, and the build "passes".
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict" if strict else "--no-strict",
         "-f", str(config), "-d", str(site_dir)],
        capture_output=True, text=True, cwd=config.parent, timeout=300,
    )  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    site_dir = tmp_path_factory.mktemp("docs-site")
    built = mkdocs_build(ROOT / "mkdocs.yml", site_dir, strict=False)
    assert built.returncode == 0, built.stderr
    return site_dir


def repo_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copytree(ROOT / "docs-theme", copy / "docs-theme")
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    return copy / "mkdocs.yml"


def guide_screenshots() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for page in sorted((ROOT / "docs").rglob("*.md")):
        for name in SCREENSHOT.findall(page.read_text()):
            found.setdefault(name, []).append(str(page.relative_to(ROOT)))
    return found


def test_the_guides_build_strictly(tmp_path):
    built = mkdocs_build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert built.returncode == 0, f"the guides do not build with --strict:\n{built.stderr}"


def test_the_built_site_has_every_guide_in_both_languages(site):
    for page in ("index.html", "guides/caseworker/index.html", "guides/voter.es/index.html"):
        assert (site / page).is_file(), page
    spanish = (site / "guides" / "voter.es" / "index.html").read_text()
    assert '<html lang="es">' in spanish
    assert "Guía para votantes" in spanish


def test_a_missing_screenshot_fails_the_build(tmp_path):
    config = repo_copy(tmp_path)
    before = mkdocs_build(config, tmp_path / "before")
    assert "caseworker-search.png" not in before.stderr

    (config.parent / "docs" / "screenshots" / "caseworker-search.png").unlink()
    built = mkdocs_build(config, tmp_path / "broken")
    assert built.returncode != 0
    assert "caseworker-search.png" in built.stderr


def test_a_broken_section_link_fails_the_build(tmp_path):
    config = repo_copy(tmp_path)
    voter = config.parent / "docs" / "guides" / "voter.md"
    voter.write_text(voter.read_text().replace("auditor.md#recount", "auditor.md#no-such-part"))
    built = mkdocs_build(config, tmp_path / "broken")
    assert built.returncode != 0
    assert "no-such-part" in built.stderr


def test_every_screenshot_in_the_guides_is_taken_by_a_browser_test():
    browser_tests = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("test_*browser*.py"))
    screenshots = guide_screenshots()
    assert len(screenshots) >= 10
    not_taken = {
        name: pages for name, pages in screenshots.items() if f'"{name}"' not in browser_tests
    }
    assert not_taken == {}, "screenshots no browser test writes (they would go stale)"


def help_links(directories=TEMPLATE_DIRS):
    links = []
    for directory in directories:
        for template in sorted(directory.rglob("*.html")):
            for guide, guide_es in HELP_LINK.findall(template.read_text()):
                links.append((template, guide, guide_es or None))
    return links


def test_every_portal_page_links_to_its_guide():
    linked = {template for template, _guide, _es in help_links(TEMPLATE_DIRS)}
    pages = [
        t
        for d in TEMPLATE_DIRS
        for t in d.rglob("*.html")
        # a page, not a layout (_base.html) other pages extend
        if t.read_text().startswith('{% extends "base.html" %}') and not t.name.startswith("_")
    ]
    missing = [
        str(t.relative_to(ROOT)) for t in pages if t not in linked and t.name != "docs_missing.html"
    ]
    assert missing == []
    assert len(linked) >= 35


def test_every_help_link_leads_to_a_section_that_exists(site):
    broken = []
    for template, *guides in help_links():
        for guide in filter(None, guides) if any(guides) else [""]:
            page, _hash, anchor = guide.partition("#")
            html = site / page / "index.html"
            if not html.is_file():
                broken.append(f"{template.name}: {guide} (no such page)")
            elif anchor and f'id="{anchor}"' not in html.read_text():
                broken.append(f"{template.name}: {guide} (no such section)")
    assert broken == []


def test_the_spanish_voter_guide_has_every_section_of_the_english_one(site):
    ids = re.compile(r'<h2 id="([^"]+)"')
    english = ids.findall((site / "guides" / "voter" / "index.html").read_text())
    spanish = ids.findall((site / "guides" / "voter.es" / "index.html").read_text())
    assert english and english == spanish


@pytest.mark.django_db
@pytest.mark.urls("tests.test_docs")
class TestServedAtDocs:
    @pytest.fixture(autouse=True)
    def _site(self, site, monkeypatch):
        monkeypatch.setattr(views, "DOCS_SITE_DIR", site)

    def test_pages_and_their_stylesheet(self, client):
        response = client.get("/docs/guides/caseworker/")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/html")
        body = b"".join(response.streaming_content)
        assert b'id="find"' in body
        assert b"<script" not in body and b"style=" not in body  # the strict CSP holds
        assert "script-src 'self'" in response["Content-Security-Policy"]
        css = client.get("/docs/css/guides.css")
        assert css.status_code == 200 and css["Content-Type"].startswith("text/css")
        assert client.get("/docs/screenshots/caseworker-card.png").status_code == 200
        assert client.get("/docs/").status_code == 200

    def test_a_page_address_without_its_slash_redirects(self, client):
        response = client.get("/docs/guides/voter")
        assert response.status_code == 302
        assert response["Location"] == "/docs/guides/voter/"

    def test_nothing_outside_the_site(self, client):
        assert client.get("/docs/guides/nothing-here/").status_code == 404
        assert client.get("/docs/../mkdocs.yml").status_code in (400, 404)
        assert client.get("/docs/..%2f..%2fmkdocs.yml").status_code in (400, 404)
        assert client.get("/docs/%2e%2e/mkdocs.yml").status_code in (400, 404)

    def test_before_the_guides_are_built(self, client, monkeypatch, tmp_path):
        monkeypatch.setattr(views, "DOCS_SITE_DIR", tmp_path / "not-built")
        response = client.get("/docs/guides/voter/")
        assert response.status_code == 404
        assert b"python -m mkdocs build" in response.content

    def test_a_portal_page_links_to_its_section(self, client):
        response = client.get("/vote/track/")
        assert b'href="/docs/guides/voter/#track"' in response.content
        response = client.get("/vote/track/", HTTP_ACCEPT_LANGUAGE="es")
        assert b'href="/docs/guides/voter.es/#track"' in response.content
