"""Whether an article page says it belongs to a section, from the page alone.

A page reached by a "read next" or previous/next-post link, not from the section's
own listing, may be another section's: it is the section's article only where the
page says so. It says so by its URL (under the section's path: ``/design/2019/x``
of ``/design/``), by a link to the section's listing from its own content
(a category or tag link, a breadcrumb), by a section or tag named like the section
(``article:section``, ``article:tag``, JSON-LD ``articleSection`` and ``keywords``),
or by the ``category-…``/``tag-…`` classes WordPress and Ghost put on a post. The
crawl and ingest (so ``steppe rebuild``) ask the same question of the same record.
"""
from __future__ import annotations

import json
import re
from urllib.parse import unquote, urljoin, urlsplit

import lxml.etree
import lxml.html

from .regions import region_weight
from .urls import listing_key

_CLASS_PREFIXES = ("category-", "tag-", "section-", "term-")
_BREADCRUMB = re.compile(r"breadcrumb", re.IGNORECASE)


def slug(text: str) -> str:
    return re.sub(r"[\W_]+", "-", unquote(text).lower()).strip("-")


def section_slug(section_url: str) -> str:
    """``central-asia`` for ``…/category/central-asia/`` or ``…/news/central-asia?page=2``."""
    segments = [s for s in urlsplit(listing_key(section_url)[0]).path.split("/") if s]
    return slug(segments[-1]) if segments else ""


def says_in_section(html: str, url: str, section_url: str) -> bool:
    """True when the page at ``url`` says it belongs to the section ``section_url`` lists."""
    listing = listing_key(section_url)[0]
    section_path = urlsplit(listing).path.rstrip("/") + "/"
    if section_path != "/" and urlsplit(url).path.startswith(section_path):
        return True
    try:
        root = lxml.html.document_fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return False
    wanted = section_slug(section_url)
    if wanted and wanted in {slug(name) for name in _named_sections(root)}:
        return True
    if wanted and any(wanted == cls[len(prefix):]
                      for el in root.iterfind(".//article") for cls in el.get("class", "").split()
                      for prefix in _CLASS_PREFIXES if cls.startswith(prefix)):
        return True
    for a in root.iterfind(".//body//a[@href]"):
        if listing_key(urljoin(url, a.get("href", "").strip()))[0] != listing:
            continue
        # Menus and sidebars link to every section; a breadcrumb or the post's own
        # category links name the page's.
        if region_weight(a) >= 1.0 or any(_BREADCRUMB.search(f'{el.get("class", "")} {el.get("id", "")} '
                                                            f'{el.get("aria-label", "")}') for el in a.iterancestors()):
            return True
    return False


def _named_sections(root) -> list[str]:
    names = root.xpath("//meta[@property='article:section' or @property='article:tag' or @name='article:section']/@content")
    for script in root.xpath("//script[@type='application/ld+json']/text()"):
        try:
            data = json.loads(script)
        except ValueError:
            continue
        for item in _objects(data):
            for key in ("articleSection", "keywords"):
                value = item.get(key)
                values = value if isinstance(value, list) else str(value or "").split(",")
                names += [str(v).strip() for v in values]
    return names


def _objects(data):
    """Every JSON object in a JSON-LD document (``@graph``, lists, nesting)."""
    if isinstance(data, dict):
        yield data
        for value in data.values():
            yield from _objects(value)
    elif isinstance(data, list):
        for value in data:
            yield from _objects(value)
