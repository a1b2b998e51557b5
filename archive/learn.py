"""Learn a host's layout from a few of its own pages, read generically.

Each page is first read with the generic layout (trafilatura and the page's metadata).
What those readings agree on across pages says where the host keeps things: the
element that holds the title on every page, the one around the text, the one with the
byline's names, the one with the date. Text blocks printed identically on most pages
(a donation appeal, a copyright line) are the host's template, never an article's.
The result is an ordinary layout (data): recorded once, it reads later pages the same
way, and a page that does not fit it is read generically again.

A crawl of a host with no platform layout learns at its start from the host's latest
archived article pages (``learn_host``), read back from the WARC files, and records
what it learned in the ``layouts`` table (history, never deleted) for ``steppe status``
to show. The table is for people: the crawl's warcinfo holds the layout it used
whole (``layouts.warcinfo_fields``), and that is what a rebuild reads pages with.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property

import lxml.html
import sqlite_utils

from .extract import TEXT_BLOCKS, ArticleRecord, PageReading, decode_html, read_page, template_key as _key
from .layouts import AUTO, GENERIC, PageLayout, layout_of_page
from .warc import RecordLocation, read_response

# A selector must hold on more than this share of the pages it was learned from: a
# majority, since the generic reading it learns from is itself wrong on some pages.
AGREEMENT = 1 / 2
MIN_PAGES = 3
# Pages a crawl learns from at its start: the host's latest, few enough to cost little
# (about 0.3 s of CPU for 20 fixture pages), enough to outvote the odd one.
SAMPLE = 20
# A page fits a layout when the layout finds its title and a text at least this share
# of the generic reading's (a template block or two less, not half the article).
FITS = 1 / 2
LEARNED = "learned:"  # the name of every learned layout starts so
_VOLATILE = re.compile(r"\d")  # "post-1234", "tag-42": names that change from page to page


@dataclass(frozen=True)
class LearnedPage:
    html: str
    url: str
    doc: object
    record: ArticleRecord  # the generic reading

    @cached_property
    def titles(self) -> list:
        """Its elements that hold the generic reading's title: found once (the title and
        the text are both learned from them, and finding compares every element's text)."""
        return _title_elements(self)


def learn_layout(host: str, pages: list[tuple[str, str]]) -> PageLayout | None:
    """A layout for ``host`` from (html, url) pairs of its article pages; None when the
    pages are too few, do not agree on where the title and the text are, or most of
    them do not fit the layout their votes make (see ``_fits``)."""
    learned = []
    for html, url in pages:
        record = read_page(html, url, GENERIC).article
        if record is not None:
            learned.append(LearnedPage(html, url, lxml.html.document_fromstring(html), record))
    if len(learned) < MIN_PAGES:
        return None
    title = _agreed(learned, lambda page: page.titles, first=True)
    body = _agreed(learned, _body_elements, first=True)
    if title is None or body is None:
        return None
    layout = PageLayout(
        name=f"{LEARNED}{host}",
        title=title,
        body=body,
        byline=_agreed(learned, _byline_elements),
        published=_agreed(learned, _date_elements),
        template_texts=_template_texts(learned),
        drop_hidden=True,
    )
    return layout if sum(_fits(page, layout) for page in learned) > AGREEMENT * len(learned) else None


def _fits(page: LearnedPage, layout: PageLayout) -> bool:
    """Whether the layout reads the page as an article, with about the generic reading's
    text. Votes are cast on the whole page, while a layout reads from the title on: a
    body that holds the title, say, is found on every page and read on none."""
    record = read_page(page.html, page.url, layout).article
    return record is not None and len(record.text) >= FITS * len(page.record.text)


def is_learned(layout: PageLayout) -> bool:
    return layout.name.startswith(LEARNED)


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
    found = [find(page) for page in pages]  # once: finding compares the text of every element
    votes = Counter()
    for elements in found:
        votes.update({selector for el in elements for selector in _selectors(el)})
    # Most pages first; on a tie, the shorter selector (the less it assumes, the longer it holds).
    for selector, count in sorted(votes.items(), key=lambda item: (-item[1], len(item[0]), item[0])):
        if count < 2 or count <= AGREEMENT * len(pages):
            break
        if not first or sum(_first_match(page, selector) in elements
                            for page, elements in zip(pages, found)) > AGREEMENT * len(pages):
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
    if not title:
        return []
    return [el for el in _short(page, ("h1", "h2", "div", "span"), len(title)) if _key(el.text_content()) == title]


def _short(page: LearnedPage, tags: tuple[str, ...], length: int) -> list:
    """Elements of ``tags`` whose text may fold to ``length`` characters: the others are
    passed over in lxml, not read into Python (a page's outer divs hold all its text)."""
    test = " or ".join(f"self::{tag}" for tag in tags)
    # Room for the spaces a folded text loses (indentation, line breaks).
    return page.doc.xpath(f"//*[({test}) and string-length(.) <= {2 * length + 200}]")


def _body_elements(page: LearnedPage) -> list:
    """The innermost element around every paragraph of the text after the title (a
    layout reads from the title on). Whole paragraphs: an excerpt (the first one cut
    short) sits elsewhere."""
    paragraphs = {_key(block) for block in page.record.text.split("\n\n") if len(block) > 40}
    titles = page.titles
    after_title = titles[0].xpath("following::p") if titles else page.doc.iter("p")
    holders = [p for p in after_title if _key(p.text_content()) in paragraphs]
    if not holders:
        return []
    common = list(holders[0].iterancestors())
    for p in holders[1:]:
        ancestors = set(p.iterancestors())
        common = [el for el in common if el in ancestors]
    return common[:1]


def _byline_elements(page: LearnedPage) -> list:
    names = {_key(name) for name in page.record.authors}
    longest = max(map(len, names), default=0)
    return [el for el in _short(page, ("a", "span", "div", "p"), longest) if _key(el.text_content()) in names]


def _date_elements(page: LearnedPage) -> list:
    published = _moment(page.record.published or "")
    if published is None:
        return []
    return [el for el in page.doc.xpath("//body//*[@datetime or @content]")
            if _same_moment(el.get("datetime") or el.get("content") or "", published)]


def _same_moment(value: str, published: datetime) -> bool:
    """Whether a date element says when the article was published: the same instant (a
    theme may print it in UTC), or the same day where it gives a day alone. A day
    prefix is not enough: the modified date shares it on some pages, not on others."""
    moment = _moment(value)
    if moment is None:
        return False
    if len(value.strip()) <= len("2024-05-01"):
        return moment.date() == published.date()
    if (moment.tzinfo is None) != (published.tzinfo is None):
        return moment.replace(tzinfo=None) == published.replace(tzinfo=None)
    return moment == published


def _moment(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        return None


def _template_texts(pages: list[LearnedPage]) -> frozenset[str]:
    """Blocks printed the same on most pages: the host's, not an article's."""
    seen = Counter()
    for page in pages:
        seen.update({_key(el.text_content()) for el in page.doc.iter(*TEXT_BLOCKS) if len(_key(el.text_content())) > 20})
    return frozenset(text for text, count in seen.items() if count >= 2 and count > AGREEMENT * len(pages))


def learn_host(db: sqlite_utils.Database, warc_dir: str | os.PathLike, host: str) -> PageLayout | None:
    """The layout to read ``host``'s pages with, learned from its latest archived article
    pages and recorded in ``db``; None while too few are archived, when they do not
    agree, or when they show a platform steppe knows (its own layout reads them)."""
    locations = _latest_article_records(db, host)
    if len(locations) < MIN_PAGES:
        return None
    sample = hashlib.sha256(json.dumps(locations).encode()).hexdigest()
    latest = _latest_row(db, host)
    if latest is not None and latest["sample"] == sample:
        return PageLayout.from_json(latest["layout"])  # the same pages teach the same again
    pages = [page for location in locations if (page := _page(warc_dir, RecordLocation(*location)))]
    if any(layout_of_page(html, AUTO) is not GENERIC for html, _ in pages):
        return None
    layout = learn_layout(host, pages)
    if layout is not None and (latest is None or latest["layout"] != layout.to_json()):
        db["layouts"].insert({"host": host, "learned_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                              "pages": len(pages), "sample": sample, "layout": layout.to_json()})
    return layout


def learned_layouts(db: sqlite_utils.Database) -> list[dict]:
    """The latest layout learned for each host (rows of ``layouts``, the layout parsed)."""
    if not db["layouts"].exists():
        return []
    rows = db.query("select * from layouts where rowid in (select max(rowid) from layouts group by host) order by host")
    return [{**row, "layout": PageLayout.from_json(row["layout"])} for row in rows]


def _latest_row(db: sqlite_utils.Database, host: str) -> dict | None:
    if not db["layouts"].exists():
        return None
    return next(db.query("select * from layouts where host = ? order by rowid desc limit 1", [host]), None)


def _latest_article_records(db: sqlite_utils.Database, host: str) -> list[tuple[str, int, int]]:
    """Where the latest full capture of each of the host's latest articles is in WARC;
    revisits hold no page, and a capture's canonical URL names its host."""
    ranges = [(f"{scheme}://{host}/", f"{scheme}://{host}0") for scheme in ("http", "https")]  # "0" follows "/"
    rows = db.execute(
        "select warc_filename, warc_offset, warc_length from captures where id in ("
        # ``+``: the canonical_url ranges of the host, not every article of the archive
        # by the facets' kind or status indexes (a crawl of a small host beside a big one).
        " select max(id) from captures where +kind = 'article' and +status = 200 and refers_to is null"
        " and (canonical_url >= ? and canonical_url < ? or canonical_url >= ? and canonical_url < ?)"
        " group by canonical_url) order by id desc limit ?",
        [*ranges[0], *ranges[1], SAMPLE]).fetchall()
    return [tuple(row) for row in rows]


def _page(warc_dir: str | os.PathLike, location: RecordLocation) -> tuple[str, str] | None:
    """The page of a record, or None where it cannot be read: learning is worth no
    failed crawl (a file moved away, a damaged record: a rebuild reports those)."""
    try:
        response = read_response(warc_dir, location)
    except Exception:  # warcio fails on damage in many ways (ArchiveLoadFailed, zlib.error, …)
        return None
    body, _ = response.content()
    html, _ = decode_html(body, response.header("Content-Type"))
    return html, response.url
