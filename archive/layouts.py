"""Page layouts: how to find a page's own article among everything else it shows.

A layout is about reading pages, so it lives on the archive side: a rebuild from WARC
files must read pages exactly as the live crawl did, with no crawler at hand. The
crawler's site profile names the layout its site uses.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class PageLayout:
    name: str
    # Paths of article pages (after canonicalisation); None: any page may be one.
    article_path: re.Pattern | None = None
    listing_path: re.Pattern | None = None
    # CSS selectors; None where the layout has no such element and trafilatura decides.
    title: str | None = None
    section_label: str | None = None
    body: str | None = None
    byline: str | None = None
    published: str | None = None
    modified: str | None = None
    tags: str | None = None
    image_caption: str | None = None
    # Whatever starts something that is not the page's own article: the first match
    # after the title ends the article (follow-on articles, related posts, comments).
    article_end: str | None = None
    # Inside the article's region, never part of its text.
    noise: str | None = None
    # Texts of blocks a host prints on every page (archive.learn): its template.
    template_texts: frozenset[str] = frozenset()
    # Drop what a reader never sees: hidden, aria-hidden and display:none elements.
    drop_hidden: bool = False
    # A regular expression only pages of this layout match (in their HTML): how the
    # ``auto`` layout recognises a platform it knows, on any host.
    fingerprint: str | None = None

    def is_article_path(self, path: str) -> bool:
        return self.article_path is None or bool(self.article_path.match(path))

    def is_listing_path(self, path: str) -> bool:
        return self.listing_path is not None and bool(self.listing_path.match(path))

    def to_json(self) -> str:
        """The layout as data, to record in an archive (a learned one) and read back: one
        line of ASCII, as a warcinfo field must be (its reader splits lines on any
        Unicode line break a template text may hold)."""
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__}
        for name in ("article_path", "listing_path"):
            fields[name] = fields[name].pattern if fields[name] is not None else None
        fields["template_texts"] = sorted(self.template_texts)
        return json.dumps(fields, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PageLayout:
        fields = json.loads(text)
        for name in ("article_path", "listing_path"):
            fields[name] = re.compile(fields[name]) if fields.get(name) is not None else None
        fields["template_texts"] = frozenset(fields.get("template_texts", ()))
        return cls(**fields)


# WordPress with the "Zox News" theme (Modern Diplomacy): see site-notes.md.
ZOX_NEWS = PageLayout(
    name="zox-news",
    article_path=re.compile(r"^/\d{4}/\d{2}/\d{2}/[^/]+/$"),
    listing_path=re.compile(r"^/(category|tag|author)/[^/]+/(page/\d+/)?$"),
    fingerprint=r"""(?:class|id)=["'](?:[^"']*\s)?mvp-""",
    title="h1.mvp-post-title",
    section_label="h3.mvp-post-cat",
    body="#mvp-content-main",
    byline=".mvp-author-info-name .author-name",
    published="time[itemprop=datePublished]",
    modified="meta[itemprop=dateModified]",
    tags=".mvp-post-tags a[rel=tag]",
    image_caption=".mvp-post-img-cap, #mvp-post-feat-img figcaption, #mvp-post-feat-img .wp-caption-text",
    article_end=(
        "h1.mvp-post-title, #mvp-post-add-box, .mvp-post-add-story, .mvp-cont-read-wrap,"
        " .alp-related-posts, #mvp-related-posts, .mvp-related-posts, #comments, #mvp-comments-button"
    ),
    noise=(
        "script, style, noscript, iframe, form, .mvp-post-soc-wrap, .mvp-post-soc-out,"
        " .sharedaddy, .mvp-post-tags, .mvp-cont-read-but, .mvp-post-more-but, #mvp-post-more-wrap,"
        " .mvp-post-add-link, .wp-block-buttons"
    ),
)

# Any site: trafilatura reads the whole page, less what readers never see
# (``steppe rebuild --site generic``); trafilatura itself drops share bars, newsletter
# boxes, bios, related posts and comments (bench/extract.py: class-name rules of our
# own on top of it changed nothing on the dev set).
GENERIC = PageLayout(
    name="generic",
    # Where themes of many platforms put bylines and dates (microdata, rel=author,
    # hAtom, common class names); the first byline of the page is the article's.
    byline=("a[rel~=author], [itemprop~=author], .byline, .author, .authors, .article-author,"
            " .post-author, .entry-author, [class*='author-name']"),
    published="[itemprop~=datePublished], time[pubdate], time[datetime]",
    # WordPress and many others mark a post's category and tag links with rel.
    section_label="a[rel~=category]",
    tags="a[rel~=tag]:not([rel~=category])",
    modified="[itemprop~=dateModified], time.updated",
    drop_hidden=True,
)

# Whatever a page's markup says: a known platform's layout where its fingerprint
# matches, else the generic one. Decided page by page, from the page alone, so that a
# rebuild reads each page as the crawl did.
AUTO = PageLayout(name="auto")

LAYOUTS = {layout.name: layout for layout in (AUTO, ZOX_NEWS, GENERIC)}


def layout_of_page(html: str, layout: PageLayout) -> PageLayout:
    """The layout to read ``html`` with: ``layout`` itself unless it is ``AUTO``."""
    if layout.name != AUTO.name:
        return layout
    return next((known for known in LAYOUTS.values() if known.fingerprint and re.search(known.fingerprint, html)),
                GENERIC)


def warcinfo_fields(layout: PageLayout) -> dict[str, str]:
    """What a crawl's warcinfo says of the layout it reads pages with: its name, and the
    whole layout where steppe does not know it by name (a host's learned one), so that
    its WARC files alone say how their pages were read."""
    fields = {"layout": layout.name}
    if layout.name not in LAYOUTS:
        fields["layout-json"] = layout.to_json()
    return fields


def recorded_layout(warcinfo: dict[str, str], default: PageLayout) -> PageLayout:
    """The layout a WARC file's warcinfo says its crawl read pages with; ``default`` for
    files that say nothing (or name a layout this steppe does not know)."""
    if "layout-json" in warcinfo:
        return _from_json(warcinfo["layout-json"])
    return LAYOUTS.get(warcinfo.get("layout", ""), default)


@lru_cache(maxsize=16)
def _from_json(text: str) -> PageLayout:
    # Every record of a file carries its warcinfo: parse a layout once, not per record.
    return PageLayout.from_json(text)
