"""What every fixture platform shares: a Newsroom, a section listing split into
pages, a router, the ground truth, and a server (the demo site's, composed).

A platform module only says how its URLs look and how its pages are marked up.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import datetime
from html import escape
from urllib.parse import parse_qs

from ..server import DemoServer, _Response, _redirect
from .newsroom import SECTION_SLUG, SECTIONS, Newsroom, Story, TruthArticle

HTML = "text/html; charset=UTF-8"
XML = "application/xml; charset=UTF-8"


def esc(s: str) -> str:
    return escape(s, quote=False)


def attr(s: str) -> str:
    return escape(s, quote=True)


def w3c(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")


def paged(root: str, n: int) -> str:
    """Page ``n`` of a listing numbered WordPress's and Ghost's way: ``root/page/N/``."""
    return root if n == 1 else f"{root}page/{n}/"


def urlset(locs: list[tuple[str, datetime | None]]) -> str:
    items = "".join(f"<url><loc>{attr(loc)}</loc>" + (f"<lastmod>{w3c(m)}</lastmod>" if m else "") + "</url>\n"
                    for loc, m in locs)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{items}</urlset>\n')


def sitemap_index(locs: list[str]) -> str:
    items = "".join(f"<sitemap><loc>{attr(loc)}</loc></sitemap>\n" for loc in locs)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{items}</sitemapindex>\n')


class Platform:
    """One imitated news platform serving a Newsroom. Subclasses set the class
    attributes and implement the path scheme and ``routes``."""

    name = ""
    per_page = 10
    # Each listing page links to the next; else the listing shows its first page only.
    walkable = True
    # kind of trap -> one path (with query) the site links to that a crawl of the
    # section must never fetch; the tests check each is linked and served.
    traps: dict[str, str] = {}

    def __init__(self, newsroom: Newsroom):
        self.news = newsroom
        self.section_stories = newsroom.in_section(SECTION_SLUG)
        self._routes = [(re.compile(pattern), handler) for pattern, handler in self.routes()]

    # ---- URL scheme (subclasses)
    def article_path(self, story: Story) -> str:
        raise NotImplementedError

    def listing_path(self, n: int, section: str = SECTION_SLUG) -> str:
        """Path of page ``n`` (1 = first) of a section's listing."""
        raise NotImplementedError

    def routes(self) -> list[tuple[str, object]]:
        """(regex on the path, handler(base, match, query) -> str | _Response | None)."""
        raise NotImplementedError

    # ---- listings
    def pages_of(self, items: list) -> int:
        return max(1, -(-len(items) // self.per_page))

    def page_of(self, items: list, n: int) -> list:
        return items[(n - 1) * self.per_page:n * self.per_page]

    @property
    def listing_pages(self) -> int:
        return self.pages_of(self.section_stories)

    @property
    def section_path(self) -> str:
        return self.listing_path(1)

    # ---- ground truth
    def listing_urls(self, base: str) -> list[str]:
        return [base + self.listing_path(n) for n in range(1, self.listing_pages + 1)]

    def listing_teaser_urls(self, base: str, n: int) -> list[str]:
        return [base + self.article_path(s) for s in self.page_of(self.section_stories, n)]

    def off_section_urls(self, base: str) -> list[str]:
        """Articles the site serves that the section does not list: never rows of it."""
        return [base + self.article_path(s) for s in self.news.stories if SECTION_SLUG not in s.sections]

    def truth(self, base: str) -> list[TruthArticle]:
        return [TruthArticle(base + self.article_path(s), s.title, tuple(s.authors), s.published, s.modified,
                             s.text, tuple(SECTIONS[x] for x in s.sections)) for s in self.section_stories]

    # ---- serving
    def respond(self, raw_path: str, base: str) -> _Response:
        path, _, qs = raw_path.split("#", 1)[0].partition("?")
        query = {k: v[0] for k, v in parse_qs(qs, keep_blank_values=True).items()}
        for pattern, handler in self._routes:
            m = pattern.fullmatch(path or "/")
            if m:
                out = handler(base, m, query)
                if out is None:
                    continue
                return _Response(200, out.encode("utf-8"), HTML) if isinstance(out, str) else out
        return _Response(404, self.not_found(base).encode("utf-8"), HTML)

    def add_slash(self, base: str, m, query) -> _Response | None:
        """A route for platforms whose URLs end in a slash: redirect the slashless twin."""
        found = self.respond(m[0] + "/", base).status != 404
        return self.redirect(base + m[0] + "/") if found else None

    def not_found(self, base: str) -> str:
        return "<!DOCTYPE html><html><head><title>Page not found</title></head><body><h1>Page not found</h1></body></html>"

    @staticmethod
    def redirect(location: str) -> _Response:
        return _redirect(location)

    @staticmethod
    def text(body: str, ctype: str = "text/plain; charset=UTF-8", status: int = 200) -> _Response:
        return _Response(status, body.encode("utf-8"), ctype)

    @staticmethod
    def forbidden(body: str) -> _Response:
        return _Response(403, body.encode("utf-8"), HTML)


class PlatformServer(DemoServer):
    """The demo site's server (threads, keep-alive, request log) answering for a Platform."""

    def __init__(self, platform: Platform, host: str = "127.0.0.1", port: int = 0):
        super().__init__(platform, host, port)   # type: ignore[arg-type]  (the site is the platform)
        self.section_url = self.url + platform.section_path

    def respond(self, method: str, raw_path: str, headers) -> _Response:
        return self.site.respond(raw_path, self.url)


@contextmanager
def serve_platform(platform: Platform, host: str = "127.0.0.1", port: int = 0):
    server = PlatformServer(platform, host, port).start()
    try:
        yield server
    finally:
        server.stop()
