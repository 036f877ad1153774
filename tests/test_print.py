"""Printed pages: every link written out after its text with its full address, relative links
(Material writes `../incassobeleid/`) included, on the site as `make build` finishes it."""

import re
import shutil

import pytest
from conftest import finished_copy
from site_helpers import PAGES, SiteServer

from mailer.build import CANONICAL, finish_site


@pytest.fixture(scope="module")
def finished_site(site_dir, tmp_path_factory):
    """The built site after `mailer build-site`, as `make run` and `make build` serve it."""
    return finished_copy(site_dir, tmp_path_factory.mktemp("print"))


def site_url(site) -> str:
    """The site's own address, as the home page's canonical link gives it."""
    home = (site / "index.html").read_text(encoding="utf-8")
    return CANONICAL.search(home).group(1)


@pytest.mark.browser
@pytest.mark.parametrize("url", list(PAGES))
def test_printed_links_show_their_full_address(browser, finished_site, url):
    """In print, each link that shows is followed by its address, made absolute from the page's."""
    with SiteServer(finished_site) as server:
        page = browser.new_page()
        try:
            page.goto(server.origin + url)
            page.emulate_media(media="print")
            links = page.evaluate("""() => {
                const canonical = document.querySelector('link[rel=canonical]').href;
                return [...document.querySelectorAll('a[href]')]
                  .filter(a => a.checkVisibility() && !a.getAttribute('href').startsWith('#'))
                  .map(a => ({href: a.getAttribute('href'),
                              expected: new URL(a.getAttribute('href'), canonical).href,
                              after: getComputedStyle(a, '::after').content}));
            }""")
            assert links, f"{url}: no link shows in print"
            for link in links:
                assert link["after"] == f'" ({link["expected"]})"', link
                assert re.match(r"(https?|mailto|tel):", link["expected"]), link
            header = page.locator(".sc-print-header")
            assert header.is_visible() and site_url(finished_site) in header.inner_text()
        finally:
            page.context.close()


@pytest.mark.browser
def test_a_relative_link_prints_with_the_site_address(browser, finished_site):
    """The contact page links to Meedoen as ../meedoen/; on paper it reads the full address."""
    with SiteServer(finished_site) as server:
        page = browser.new_page()
        try:
            page.goto(server.origin + "/contact/")
            page.emulate_media(media="print")
            link = page.locator('article a[href="../meedoen/"]').first
            after = link.evaluate("a => getComputedStyle(a, '::after').content")
            assert after == f'" ({site_url(finished_site)}meedoen/)"'
        finally:
            page.context.close()


def test_the_404_page_links_from_the_site_root(finished_site):
    """404.html may show at any address: its links get the site's address, not a guessed one."""
    page = (finished_site / "404.html").read_text(encoding="utf-8")
    urls = re.findall(r'<a href="/incassobeleid/"[^>]* data-url="([^"]+)"', page)
    assert urls and set(urls) == {site_url(finished_site) + "incassobeleid/"}


def test_finishing_twice_writes_each_address_once(finished_site, tmp_path):
    """`mailer build-site` may finish a site in place again: no link gets a second data-url."""
    shutil.copytree(finished_site, tmp_path / "site")
    finish_site(tmp_path / "site", tmp_path / "site", tmp_path / "headers.conf")
    page = (tmp_path / "site" / "contact" / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"<a [^>]*data-url=[^>]*data-url=", page)
    assert 'href="#' in page and not re.search(r'<a href="#[^"]*"[^>]* data-url=', page)


@pytest.mark.parametrize("path", ["/tip-een-collega/verstuurd/", "/meedoen/"])
def test_the_service_gives_its_own_links_their_full_address(make_app, finished_site, path):
    """Links the service puts into a page (a thank-you page, a form) print like the page's own."""
    page = make_app(SITE_DIR=str(finished_site)).test_client().get(path).get_data(as_text=True)
    article = re.search(r'<article class="md-content__inner md-typeset">(.*)</article>', page,
                        re.S).group(1)
    links = re.findall(r'<a href="(/[^"]*)"([^>]*)>', article)
    assert links, f"{path}: the service wrote no link"
    for href, rest in links:
        assert f' data-url="{site_url(finished_site)}{href[1:]}"' in rest, (href, rest)
