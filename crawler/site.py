"""Site profiles: where a section lives and how its pages link to each other."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from archive.layouts import ZOX_NEWS, PageLayout
from archive.urls import canonical_url

_SECTION_PATH = re.compile(r"^/category/(?P<section>[^/]+)/$")


@dataclass(frozen=True)
class SiteProfile:
    name: str
    base_url: str  # scheme://host[:port]
    section: str  # the category slug, e.g. "central-asia"
    layout: PageLayout
    # Listing pages: teasers of the section's articles and the pagination.
    teaser_links: str = "ul.mvp-blog-story-list li.mvp-blog-story-wrap a[rel=bookmark]::attr(href)"
    # Pagination is followed one page after the other: articles published during the
    # crawl push the others down, onto pages not read yet, so none is skipped.
    next_page_link: str = "a.next::attr(href)"
    # Article pages: links to the next older articles of the section, found by text
    # whatever element carries them (the theme has used several markups).
    continue_reading_text: str = "Continue Reading"
    # Sitemaps (named in robots.txt) whose entries' <lastmod> tell which articles
    # changed: Yoast's index lists post-sitemap.xml, post-sitemap2.xml, …
    sitemap_follow: str = r"/post-sitemap\d*\.xml$"

    @property
    def section_url(self) -> str:
        return f"{self.base_url}/category/{self.section}/"

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    @property
    def is_loopback(self) -> bool:
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return self.host == "localhost"

    def with_section(self, section: str) -> SiteProfile:
        return replace(self, section=section.strip("/"))

    def with_start_url(self, url: str) -> SiteProfile:
        """Point this profile at another copy of the site (a mirror, the demo site)."""
        parts = urlsplit(url)
        match = _SECTION_PATH.match(parts.path or "/")
        if parts.scheme not in ("http", "https") or not parts.netloc or not match:
            raise ValueError(
                f"start URL {url!r} is not a section listing like https://host/category/<section>/"
            )
        return replace(self, base_url=f"{parts.scheme}://{parts.netloc}", section=match["section"])

    def _on_site(self, url: str) -> str | None:
        url = canonical_url(url)
        return url if url.startswith(self.base_url + "/") else None

    def article_url(self, url: str) -> str | None:
        """The canonical URL when ``url`` is an article page of this site, else None."""
        url = self._on_site(url)
        return url if url and self.layout.is_article_path(urlsplit(url).path) else None

    @property
    def robots_url(self) -> str:
        return f"{self.base_url}/robots.txt"

    def listing_url(self, url: str) -> str | None:
        """The canonical URL when ``url`` is a listing page of this section, else None."""
        url = self._on_site(url)
        pattern = rf"^/category/{re.escape(self.section)}/(page/\d+/)?$"
        return url if url and re.match(pattern, urlsplit(url).path) else None


MODERN_DIPLOMACY = SiteProfile(
    name="modern-diplomacy",
    base_url="https://moderndiplomacy.eu",
    section="central-asia",
    layout=ZOX_NEWS,
)
