"""One canonical URL per page, so every link variant of an article is one article.

Neither courlan (drops ``utm_*`` but keeps ``replytocom`` and refuses loopback hosts)
nor w3lib (keeps both) does the whole job, so the rule is ours, on top of w3lib.
"""

from __future__ import annotations

import re
from functools import lru_cache, wraps
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

# Parameters that never change what a page shows: campaign tracking and WordPress
# comment-reply links.
TRACKING_PARAMS = frozenset({"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "replytocom", "amp"})
TRACKING_PREFIXES = ("utm_",)
# WordPress AMP twins live one segment below the article: /2021/09/14/slug/amp/.
_AMP_SUFFIX = re.compile(r"/amp/?$")


def is_tracking_param(name: str) -> bool:
    name = name.lower()
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


def _cached_when_short(function):
    """Pure functions of a URL, asked again and again of the same ones (a link is
    canonicalised, then tested as a listing page, then as an article): cached, up to a
    length, since a page may link to a data: URL of megabytes."""
    cached = lru_cache(maxsize=4096)(function)

    @wraps(function)
    def call(url: str):
        return cached(url) if len(url) <= 2048 else function(url)
    return call


@_cached_when_short
def canonical_url(url: str) -> str:
    """Drop fragments, tracking parameters and the AMP suffix; normalise the rest."""
    parts = urlsplit(url.strip())
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracking_param(k)]
    path = _AMP_SUFFIX.sub("/", parts.path) or "/"
    cleaned = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, urlencode(query), ""))
    return canonicalize_url(cleaned)


def same_host(a: str, b: str) -> bool:
    return urlsplit(a).netloc.lower() == urlsplit(b).netloc.lower()


# Query parameters that number the pages of a listing (WordPress ?paged=N, Drupal
# and many others ?page=N, 1C-Bitrix ?PAGEN_1=N, some CMSs ?pg=N) or count the items
# before it (Joomla's ?start=N and ?limitstart=N): either way a next page has a
# greater number.
PAGE_PARAM = re.compile(r"page|paged|pg|pagenum|page_?num(ber)?|pageindex|pagen_\d+|start|limitstart", re.IGNORECASE)
PAGE_PATH = re.compile(r"^(?P<root>.*/)page[/-]?(?P<n>\d+)/?$")  # /page/2/ (WordPress, DLE), /page-2, /page2 (Jekyll)


@_cached_when_short
def listing_key(url: str) -> tuple[str, int | None]:
    """(the listing's URL without its page number, the page number, offset or None)."""
    parts = urlsplit(canonical_url(url))
    path, page = parts.path, None
    m = PAGE_PATH.match(path)
    if m:
        path, page = m["root"], int(m["n"])
    rest = []
    for k, v in parse_qsl(parts.query, keep_blank_values=True):
        if PAGE_PARAM.fullmatch(k) and v.isdigit() and page is None:
            page = int(v)
        else:
            rest.append((k, v))
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode(rest), "")), page


def is_section_listing(url: str, section_url: str) -> bool:
    """True when ``url`` is a page of the listing ``section_url`` is a page of."""
    return listing_key(url)[0] == listing_key(section_url)[0]


def source_name(section_url: str) -> str:
    """A section's name when nobody gave it one: its URL without the scheme."""
    parts = urlsplit(section_url)
    return parts.netloc + parts.path.rstrip("/") + (f"?{parts.query}" if parts.query else "")
