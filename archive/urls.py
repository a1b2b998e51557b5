"""One canonical URL per page, so every link variant of an article is one article.

Neither courlan (drops ``utm_*`` but keeps ``replytocom`` and refuses loopback hosts)
nor w3lib (keeps both) does the whole job, so the rule is ours, on top of w3lib.
"""

from __future__ import annotations

import re
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


def canonical_url(url: str) -> str:
    """Drop fragments, tracking parameters and the AMP suffix; normalise the rest."""
    parts = urlsplit(url.strip())
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracking_param(k)]
    path = _AMP_SUFFIX.sub("/", parts.path) or "/"
    cleaned = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, urlencode(query), ""))
    return canonicalize_url(cleaned)


def same_host(a: str, b: str) -> bool:
    return urlsplit(a).netloc.lower() == urlsplit(b).netloc.lower()
