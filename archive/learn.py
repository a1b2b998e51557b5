"""Learn a host's layout from a few of its own pages, read generically.

Each page is first read with the generic layout (trafilatura and the page's metadata).
What those readings agree on across pages says where the host keeps things: the
element that holds the title on every page, the one around the text, the one with the
byline's names, the one with the date. Text blocks printed identically on most pages
(a donation appeal, a copyright line) are the host's template, never an article's.
The result is an ordinary layout (data): recorded once, it reads later pages the same
way, and a page that does not fit it is read generically again.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import lxml.html

from .extract import TEXT_BLOCKS, ArticleRecord, PageReading, read_page, template_key as _key
from .layouts import GENERIC, PageLayout

# A selector must hold on more than this share of the pages it was learned from: a
# majority, since the generic reading it learns from is itself wrong on some pages.
AGREEMENT = 1 / 2
MIN_PAGES = 3
_VOLATILE = re.compile(r"\d")  # "post-1234", "tag-42": names that change from page to page


@dataclass(frozen=True)
class LearnedPage:
    doc: object
    record: ArticleRecord


def learn_layout(host: str, pages: list[tuple[str, str]]) -> PageLayout | None:
    """A layout for ``host`` from (html, url) pairs of its article pages; None when the
    pages are too few or do not agree on where the title and the text are."""
    learned = []
    for html, url in pages:
        record = read_page(html, url, GENERIC).article
        if record is not None:
            learned.append(LearnedPage(lxml.html.document_fromstring(html), record))
    if len(learned) < MIN_PAGES:
        return None
    title = _agreed(learned, _title_elements, first=True)
    body = _agreed(learned, _body_elements, first=True)
    if title is None or body is None:
        return None
    return PageLayout(
        name=f"learned:{host}",
        title=title,
        body=body,
        byline=_agreed(learned, _byline_elements),
        published=_agreed(learned, _date_elements),
        template_texts=_template_texts(learned),
        drop_hidden=True,
    )


def read_with_learned(html: str, url: str, layout: PageLayout) -> PageReading:
    """A page read with its host's learned layout, or generically where it does not fit."""
    reading = read_page(html, url, layout)
    if reading.article is None and reading.problems:
        generic = read_page(html, url, GENERIC)
        return generic if generic.article is not None else reading
    return reading


def _agreed(pages: list[LearnedPage], find, first: bool = False) -> str | None:
    """The selector of the elements ``find`` points at on most pages (and, for ``first``,
    whose first match is one of them on most pages: a layout reads the first match, and
    themes append older articles below the page's own)."""
    votes = Counter()
    for page in pages:
        votes.update({selector for el in find(page) for selector in _selectors(el)})
    # Most pages first; on a tie, the shorter selector (the less it assumes, the longer it holds).
    for selector, count in sorted(votes.items(), key=lambda item: (-item[1], len(item[0]), item[0])):
        if count < 2 or count <= AGREEMENT * len(pages):
            break
        if not first or sum(_first_match(page, selector) in find(page) for page in pages) > AGREEMENT * len(pages):
            return selector
    return None


def _first_match(page: LearnedPage, selector: str):
    matches = page.doc.cssselect(selector)
    return matches[0] if matches else None


def _selectors(el) -> list[str]:
    """Ways to name an element that survive from page to page: its own stable classes or
    id, then the same below its parent's."""
    own = _name(el)
    parent = el.getparent()
    names = [own] if own != el.tag else []
    if parent is not None and _name(parent) != parent.tag:
        names.append(f"{_name(parent)} > {own}")
    return names


def _name(el) -> str:
    element_id = el.get("id", "")
    if element_id and not _VOLATILE.search(element_id):
        return f"{el.tag}#{element_id}"
    classes = sorted(c for c in el.get("class", "").split() if not _VOLATILE.search(c) and c.isascii())
    return el.tag + "".join(f".{c}" for c in classes)


def _title_elements(page: LearnedPage) -> list:
    title = _key(page.record.title)
    return [el for el in page.doc.iter("h1", "h2", "div", "span") if title and _key(el.text_content()) == title]


def _body_elements(page: LearnedPage) -> list:
    """The innermost element around every paragraph of the text."""
    paragraphs = {_key(block)[:80] for block in page.record.text.split("\n\n") if len(block) > 40}
    holders = [p for p in page.doc.iter("p") if _key(p.text_content())[:80] in paragraphs]
    if not holders:
        return []
    common = list(holders[0].iterancestors())
    for p in holders[1:]:
        ancestors = set(p.iterancestors())
        common = [el for el in common if el in ancestors]
    return common[:1]


def _byline_elements(page: LearnedPage) -> list:
    names = {_key(name) for name in page.record.authors}
    return [el for el in page.doc.iter("a", "span", "div", "p") if _key(el.text_content()) in names]


def _date_elements(page: LearnedPage) -> list:
    day = (page.record.published or "")[:10]
    return [el for el in page.doc.xpath("//body//*[@datetime or @content]")
            if day and (el.get("datetime") or el.get("content") or "").startswith(day)]


def _template_texts(pages: list[LearnedPage]) -> frozenset[str]:
    """Blocks printed the same on most pages: the host's, not an article's."""
    seen = Counter()
    for page in pages:
        seen.update({_key(el.text_content()) for el in page.doc.iter(*TEXT_BLOCKS) if len(_key(el.text_content())) > 20})
    return frozenset(text for text, count in seen.items() if count >= 2 and count > AGREEMENT * len(pages))
