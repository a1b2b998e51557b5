"""What a page says about its article beside the text: its title less the site's name,
and the names in its byline.

General rules for pages of any site (the generic layout): a layout that knows where a
site puts its title and byline does not need them.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

# " | Site", " - Site", " – Site", " — Site", " · Site", " :: Site", "_Site" (Chinese portals).
_TITLE_PARTS = re.compile(r"\s+(?:[|\-–—·•»:]|::)\s+|\s*_\s*")
_BYLINE_LEAD = re.compile(r"^\s*(?:(?:written|posted|published|reported|words)\s+)?(?:by|par|por|von|door)\b[:\s]*",
                          re.IGNORECASE)
_AUTHOR_LABEL = re.compile(r"^\s*(?:authors?|author\(s\)|autor(?:es)?|auteurs?|written by|by)\s*:\s*", re.IGNORECASE)
# Where a byline's names end: a date, a time, a separator, a new line.
_BYLINE_END = re.compile(
    r"\s*(?:\n|\||•|·|—|–|\b\d|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d"
    r"|\b(?:updated|published|posted|last updated|on)\b).*$", re.IGNORECASE | re.DOTALL)
_NAME_SPLIT = re.compile(r"\s*(?:,|;|&|\band\b|\bet\b|\by\b|\bund\b|\be\b|\bwith\b|\bavec\b)\s*", re.IGNORECASE)
# Words of a job title, not of a name: "Jane Roe, Staff Writer".
_ROLE_WORDS = frozenset({
    "editor", "writer", "reporter", "correspondent", "staff", "contributor", "columnist", "news", "desk",
    "editors", "writers", "reporters", "contributors", "senior", "chief", "producer", "photographer",
    "username", "follow", "author", "authors", "admin", "view", "profile", "posts", "more", "email", "twitter",
})

_WORDS = re.compile(r"\w+")
_PARTICLES = frozenset({"de", "van", "von", "da", "al", "bin", "la", "le", "del", "der", "den", "di", "du", "dos"})


def _key(text: str) -> str:
    """Letters and digits only, accents and case folded: "Aktuálně.cz" → "aktualnecz"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum())


def site_name_keys(site_names: list[str | None], urls: list[str | None]) -> set[str]:
    """Every way the page may name its site: og:site_name, application-name, the host."""
    keys = {_key(name) for name in site_names if name}
    for url in urls:
        host = urlsplit(url or "").hostname or ""
        labels = [label for label in host.split(".") if label and label != "www"]
        if labels:
            keys.add(_key(".".join(labels)))
            keys.update(_key(label) for label in labels[:-1] if len(label) > 2)
    keys.discard("")
    return keys


def title_without_site_name(title: str | None, site_keys: set[str]) -> str | None:
    """ "Headline | Site" → "Headline", when "Site" is the site's name; else as given."""
    if not title:
        return title
    while True:
        parts = list(_TITLE_PARTS.finditer(title))
        if not parts:
            return title
        last = parts[-1]
        suffix = _key(title[last.end():])
        if not suffix or not (suffix in site_keys or any(suffix.startswith(k) or k.startswith(suffix)
                                                         for k in site_keys if min(len(k), len(suffix)) >= 4)):
            return title
        title = title[:last.start()].strip()


def same_headline(a: str, b: str) -> bool:
    """Two wordings of one headline: they share most of their words."""
    words_a, words_b = set(_WORDS.findall(a.casefold())), set(_WORDS.findall(b.casefold()))
    return bool(words_a & words_b) and len(words_a & words_b) >= 0.6 * max(len(words_a), len(words_b))


def is_byline(text: str) -> bool:
    """A line that opens with "By", "Par", "Written by"… and names someone."""
    return bool(_BYLINE_LEAD.match(text)) and bool(byline_names(text))


def byline_names(text: str | None) -> list[str]:
    """The names in a byline's text: "By Jane Roe and John Doe | May 3, 2024" → both."""
    if not text:
        return []
    text = unicodedata.normalize("NFKC", text).strip()
    text = _AUTHOR_LABEL.sub("", _BYLINE_LEAD.sub("", text))
    text = _BYLINE_END.sub("", text)
    names = []
    for part in _NAME_SPLIT.split(text):
        part = re.sub(r"\s*\([^)]*\)?\s*$", "", part).strip(" .:*()\u00a0\t")
        part = _name_words(part)
        if looks_like_a_name(part):
            names.append(part)
    return names


def _name_words(text: str) -> str:
    """A name ends where running text starts: "Aleš Vávra před 2 hodinami" → "Aleš Vávra"."""
    words = text.split()
    for i, word in enumerate(words):
        if i and word[0].islower() and word not in _PARTICLES:
            return " ".join(words[:i])
    return text


def looks_like_a_name(text: str) -> bool:
    words = text.split()
    if not 1 <= len(words) <= 5 or len(text) > 60 or any(ch.isdigit() or ch in "@/=<>{}|" for ch in text):
        return False
    if any(word.casefold().strip(".,") in _ROLE_WORDS for word in words):
        return False
    # Latin-script names are capitalised (but for particles); other scripts have no case.
    return all(not word[0].islower() or word in _PARTICLES for word in words)
