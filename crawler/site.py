"""Site profiles: where a section lives and how its pages link to each other.

A profile is data. A site steppe knows (Modern Diplomacy) has one with the
selectors of its theme; any other section URL gets a profile of its own, whose
listing pages are read by ``crawler.listing`` from their markup and whose pages are
read with the ``auto`` layout. When a page shows a platform steppe knows (its
layout's fingerprint), the crawl takes that platform's selectors from there on.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from archive.layouts import AUTO, LAYOUTS, ZOX_NEWS, PageLayout, layout_of_page
from archive.urls import canonical_url, is_section_listing, source_name

_CATEGORY_PATH = re.compile(r"^/category/(?P<section>[^/]+)/$")
# Pages of a site that are never articles of a section.
# Sitemaps of an index that list no posts, by their file name (Yoast's page-sitemap.xml,
# Ghost's sitemap-tags.xml …); Drupal's sitemap.xml?page=2 lists everything.
_NOT_POSTS_SITEMAP = re.compile(r"tag|categor|author|user|taxonom|page", re.IGNORECASE)
_NOT_ARTICLE_PATH = re.compile(r"(^/$|/robots\.txt$|sitemap[^/]*\.xml$|/feed/?$|/(wp-admin|wp-login|wp-json)\b)")


@dataclass(frozen=True)
class SiteProfile:
    name: str  # the source, as the archive names it
    section_url: str  # the section's listing page (canonical), where the crawl starts
    layout: PageLayout
    # Listing pages: links to the section's articles, and to the next page (CSS). None:
    # found from each page's markup (crawler.listing).
    teaser_links: str | None = None
    # Pagination is followed one page after the other: articles published during the
    # crawl push the others down, onto pages not read yet, so none is skipped.
    next_page_link: str | None = None
    # Article pages: links to the next older articles of the section, found by text
    # whatever element carries them (a theme that says they stay in the section).
    continue_reading_text: str | None = None
    # Sitemaps of a sitemap index to read (a regular expression): those that list
    # posts, whose entries' <lastmod> tell which articles changed. Empty: all.
    sitemap_follow: str = ""

    @property
    def base_url(self) -> str:
        parts = urlsplit(self.section_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def host(self) -> str:
        return urlsplit(self.section_url).hostname or ""

    @property
    def is_loopback(self) -> bool:
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return self.host == "localhost"

    @property
    def knows_its_listing(self) -> bool:
        return self.teaser_links is not None

    def with_section(self, section: str) -> SiteProfile:
        """Another category of the same site, by its slug."""
        section_url = f"{self.base_url}/category/{section.strip('/')}/"
        return replace(self, section_url=section_url, name=source_name(section_url))

    def with_start_url(self, url: str) -> SiteProfile:
        """This profile at another section URL: the same site's other section, or a copy
        of the site (a mirror, the demo site) when the host differs."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"start URL {url!r} is not an http(s) URL of a section listing")
        section_url = canonical_url(url)
        return replace(self, section_url=section_url, name=source_name(section_url))

    def _on_site(self, url: str) -> str | None:
        url = canonical_url(url)
        return url if url.startswith(self.base_url + "/") else None

    def article_url(self, url: str) -> str | None:
        """The canonical URL when ``url`` may be an article page of this site, else None."""
        url = self._on_site(url)
        if not url or self.listing_url(url):
            return None
        path = urlsplit(url).path
        if self.layout.article_path is not None:
            return url if self.layout.is_article_path(path) else None
        return None if _NOT_ARTICLE_PATH.search(path) else url

    def follows_sitemap(self, url: str) -> bool:
        """Whether a sitemap a sitemap index names may list the section's articles."""
        name = urlsplit(url).path.rsplit("/", 1)[-1]
        return bool(re.search(self.sitemap_follow, url)) and not _NOT_POSTS_SITEMAP.search(name)

    @property
    def robots_url(self) -> str:
        return f"{self.base_url}/robots.txt"

    def listing_url(self, url: str) -> str | None:
        """The canonical URL when ``url`` is a page of this section's listing, else None."""
        url = self._on_site(url)
        return url if url and is_section_listing(url, self.section_url) else None

    def for_page(self, html: str) -> SiteProfile:
        """An ``auto`` profile once a page shows which platform the site runs: that
        platform's profile at this section, or this one (found from the pages)."""
        if self.layout.name != AUTO.name:
            return self
        platform = PLATFORM_PROFILES.get(layout_of_page(html, self.layout).name)
        return replace(platform, name=self.name, section_url=self.section_url) if platform else self


# WordPress with the Zox News theme, wherever it runs (Modern Diplomacy, its copies).
ZOX_NEWS_PROFILE = SiteProfile(
    name="moderndiplomacy.eu/category/central-asia",
    section_url="https://moderndiplomacy.eu/category/central-asia/",
    layout=ZOX_NEWS,
    teaser_links="ul.mvp-blog-story-list li.mvp-blog-story-wrap a[rel=bookmark]::attr(href)",
    next_page_link="a.next::attr(href)",
    continue_reading_text="Continue Reading",
    # Yoast's index lists post-sitemap.xml, post-sitemap2.xml, … beside pages, tags, authors.
    sitemap_follow=r"/post-sitemap\d*\.xml$",
)

PLATFORM_PROFILES = {ZOX_NEWS.name: ZOX_NEWS_PROFILE}

MODERN_DIPLOMACY = replace(ZOX_NEWS_PROFILE, name=source_name(ZOX_NEWS_PROFILE.section_url))

# Hosts whose platform is known before their first page is read.
KNOWN_SITES = {MODERN_DIPLOMACY.host: MODERN_DIPLOMACY}

# Any other section: found from its pages.
GENERIC_PROFILE = SiteProfile(name="generic", section_url=MODERN_DIPLOMACY.section_url, layout=AUTO)


def profile_for(start_url: str | None = None, section: str | None = None, name: str | None = None,
                layout: str | None = None) -> SiteProfile:
    """The profile a crawl of ``start_url`` (default: Modern Diplomacy's Central Asia)
    uses: a site's own where steppe knows it, a platform's when ``layout`` names one,
    else one found from the pages. Raises ValueError on a start URL it cannot use."""
    profile = MODERN_DIPLOMACY
    if layout in PLATFORM_PROFILES:
        profile = PLATFORM_PROFILES[layout]
    elif layout is not None:
        profile = replace(GENERIC_PROFILE, layout=LAYOUTS[layout])
    elif start_url:
        profile = KNOWN_SITES.get(urlsplit(start_url).hostname or "", GENERIC_PROFILE)
    if start_url:
        profile = profile.with_start_url(start_url)
    if section:
        profile = profile.with_section(section)
    return replace(profile, name=name) if name else profile
