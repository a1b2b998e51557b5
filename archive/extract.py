"""Page → article: the page's own article only, its text by trafilatura, its metadata.

The page's region is cut out first (layout selectors), so that the older articles a
theme appends below the main one never reach trafilatura; metadata comes from the
page's JSON-LD and meta tags first, then from the region, then from trafilatura.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from copy import deepcopy
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime
from urllib.parse import urljoin, urlsplit

import lxml.etree
import lxml.html
from lxml.cssselect import CSSSelector
import trafilatura
from trafilatura.metadata import extract_metadata
from w3lib.encoding import html_to_unicode

from .layouts import PageLayout
from .problems import Problem
from .urls import canonical_url, same_host

ARTICLE_TYPES = {"Article", "NewsArticle", "BlogPosting", "ReportageNewsArticle", "AnalysisNewsArticle"}
_COAUTHORS = re.compile(r"^\s*(?:Co-)?Authors?\s*:\s*(.+?)\s*$", re.IGNORECASE)
_NAME_SPLIT = re.compile(r"\s*(?:,|;|&|\band\b)\s*")
_LAYOUT_SPACE = re.compile(r"[ \t\r\n\f\v]+")
# trafilatura folds every Unicode space into " " and drops soft hyphens; the text must
# keep them as published, so they travel through it as unlikely printable stand-ins.
_PROTECTED = {"\u00a0": "\U00017000", "\u202f": "\U00017001", "\u2009": "\U00017002", "\u2007": "\U00017003",
              "\u200a": "\U00017004", "\u00ad": "\U00017005", "\u2002": "\U00017006", "\u2003": "\U00017007"}
_PROTECT = str.maketrans(_PROTECTED)
_RESTORE = str.maketrans({v: k for k, v in _PROTECTED.items()})
_SINGLE_BYTE = {"ascii", "latin-1", "iso-8859-1", "iso8859-1", "cp1252", "windows-1252", "us-ascii"}


@dataclass(frozen=True)
class ArticleRecord:
    url: str
    title: str
    authors: list[str]
    published: str | None
    modified: str | None
    section: str | None
    tags: list[str]
    description: str | None
    image: str | None
    image_caption: str | None
    language: str | None
    text: str
    word_count: int
    text_hash: str


@dataclass(frozen=True)
class PageReading:
    canonical_url: str
    article: ArticleRecord | None = None
    problems: list[Problem] = field(default_factory=list)


def decode_html(body: bytes, content_type: str | None) -> tuple[str, list[Problem]]:
    """Bytes → text: BOM, then HTTP header, then <meta>, then detection (w3lib).

    A body declared as a single-byte charset that is valid UTF-8 with non-ASCII bytes
    is read as UTF-8: a mislabelled UTF-8 page is common, a Latin-1 page that happens
    to be valid UTF-8 is not.
    """
    encoding, text = html_to_unicode(content_type, body)
    problems = []
    if _normal_encoding(encoding) in _SINGLE_BYTE and not body.isascii():
        try:
            text = body.decode("utf-8")
            problems.append(Problem.note(f"declared charset {encoding} but the body is UTF-8: read as UTF-8"))
        except UnicodeDecodeError:
            pass
    if "\ufffd" in text and "\ufffd" not in body.decode("utf-8", "ignore"):
        problems.append(Problem.damage(f"bytes invalid in {encoding} were replaced"))
    return text, problems


def _normal_encoding(name: str) -> str:
    return name.lower().replace("_", "-")


def normalise_text(text: str) -> str:
    """What two captures must share to be the same version: NFC, layout spaces folded."""
    text = unicodedata.normalize("NFC", text)
    return "\n".join(_LAYOUT_SPACE.sub(" ", line).strip() for line in text.split("\n") if line.strip())


def text_hash(text: str) -> str:
    return hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()


def read_page(html: str, url: str, layout: PageLayout) -> PageReading:
    """Read one HTML page: its canonical URL and, when it is one, its own article."""
    if not html.strip():
        return PageReading(canonical_url(url), problems=[Problem.note("empty body")])
    try:
        doc = lxml.html.document_fromstring(html)
    except (lxml.etree.ParserError, ValueError) as exc:
        return PageReading(canonical_url(url), problems=[Problem.note(f"unparseable HTML: {exc}")])
    canonical = _canonical_link(doc, url)
    if not layout.is_article_path(urlsplit(canonical).path):
        return PageReading(canonical)
    region = _Region(doc, layout)
    if layout.title and region.title is None:
        return PageReading(canonical, problems=[Problem.note("no article title on an article URL")])
    text = _article_text(region.body(), url)
    if not text:
        return PageReading(canonical, problems=[Problem.note("no article text found")])
    return PageReading(canonical, _article_record(doc, region, layout, canonical, text))


def _canonical_link(doc, url: str) -> str:
    for href in doc.xpath("//head/link[@rel='canonical']/@href"):
        absolute = urljoin(url, href.strip())
        if same_host(absolute, url):
            return canonical_url(absolute)
    return canonical_url(url)


@lru_cache(maxsize=256)
def _css(selector: str) -> CSSSelector:
    # Compiling CSS to XPath costs more than running it: once per selector, not per page.
    return CSSSelector(selector, translator="html")


def _select(tree, selector: str | None) -> list:
    return _css(selector)(tree) if selector else []


class _Region:
    """The page's own article: from its title to whatever starts something else."""

    def __init__(self, doc, layout: PageLayout):
        self.doc, self.layout = doc, layout
        self.title = _first(_select(doc, layout.title))
        if self.title is None:
            self.start, self.end = 0, float("inf")
            return
        order = {el: i for i, el in enumerate(doc.iter())}
        self._order = order
        labels = [el for el in _select(doc, layout.section_label) if order[el] < order[self.title]]
        self.start = order[labels[-1]] if labels else order[self.title]
        ends = [el for el in _select(doc, layout.article_end) if order[el] > order[self.title]
                and not _is_ancestor(el, self.title)]
        self.end = min((order[el] for el in ends), default=float("inf"))
        self._ends = ends

    def select(self, css: str | None) -> list:
        if self.title is None:
            return _select(self.doc, css)
        return [el for el in _select(self.doc, css) if self.start <= self._order[el] < self.end]

    def body(self):
        """A copy of the article's body element, noise and follow-ons removed."""
        if self.layout.body is None:
            body = self.doc.find("body")
            return deepcopy(body if body is not None else self.doc)
        found = _first(self.select(self.layout.body))
        if found is None:
            return None
        ends = set(self._ends) if self.title is not None else set()
        copy = deepcopy(found)
        # A follow-on nested inside the body: cut there (the copy walks in step).
        for original, copied in zip(found.iter(), copy.iter()):
            if original in ends:
                _truncate_at(copied)
                break
        for el in _select(copy, self.layout.noise):
            _drop(el)
        for el in copy.xpath(".//*[normalize-space(.)='Continue Reading']"):
            _drop(el)
        return copy


def _is_ancestor(el, other) -> bool:
    return any(parent is el for parent in other.iterancestors())


def _drop(el) -> None:
    if el.getparent() is not None:
        el.drop_tree()


def _truncate_at(el) -> None:
    """Remove an element and everything after it in its tree."""
    node = el
    while node.getparent() is not None:
        parent = node.getparent()
        for sibling in list(node.itersiblings()):
            parent.remove(sibling)
        node = parent
    if el.getparent() is not None:
        el.getparent().remove(el)


def _first(items):
    return items[0] if items else None


def _article_text(body, url: str) -> str:
    if body is None:
        return ""
    for el in body.iter():
        if isinstance(el.tag, str):
            el.text = _protect(el.text)
            el.tail = _protect(el.tail)
    page = lxml.html.Element("html")
    page.append(body if body.tag == "body" else lxml.html.Element("body"))
    if body.tag != "body":
        page[0].append(body)
    document = trafilatura.bare_extraction(
        page, url=url, with_metadata=False, include_comments=False, include_tables=True,
        include_images=False, favor_recall=True, fast=True,
    )
    if document is None or document.body is None:
        return ""
    blocks = [text for block in document.body for text in _block_texts(block)]
    return "\n\n".join(block for block in blocks if block).translate(_RESTORE)


def _protect(text: str | None) -> str | None:
    if not text:
        return text
    return text.translate(_PROTECT)


def _block_texts(block) -> list[str]:
    # A list item reads as a paragraph of its own, as in the site's text: no markers
    # are invented, so the text stays comparable with what readers see.
    for lb in block.iter("lb"):
        lb.tail = "\n" + (lb.tail or "")
    if block.tag == "list":
        return ["".join(item.itertext()).strip() for item in block.iter("item")]
    if block.tag == "table":
        return ["\n".join(" | ".join("".join(c.itertext()).strip() for c in row) for row in block.iter("row"))]
    return ["".join(block.itertext()).strip()]


def _article_record(doc, region: _Region, layout: PageLayout, url: str, text: str) -> ArticleRecord:
    meta = _MetaTags(doc)
    ld = _json_ld_article(doc)
    fallback = None

    def trafilatura_metadata():
        nonlocal fallback
        if fallback is None:
            fallback = extract_metadata(doc, default_url=url)
        return fallback

    title = (_clean(_first([el.text_content() for el in region.select(layout.title)])) or _clean(ld.get("headline"))
             or _clean(meta.get("og:title")) or trafilatura_metadata().title)
    published = (_iso(ld.get("datePublished")) or _iso(meta.get("article:published_time"))
                 or _iso(_first([el.get("datetime") for el in region.select(layout.published)]))
                 or _iso(trafilatura_metadata().date))
    modified = (_iso(ld.get("dateModified")) or _iso(meta.get("article:modified_time"))
                or _iso(_first([el.get("content") or el.get("datetime") for el in region.select(layout.modified)])))
    section = (_clean(meta.get("article:section")) or _clean(_first(_as_list(ld.get("articleSection"))))
               or _clean(_first([el.text_content() for el in region.select(layout.section_label)])))
    tags = (_unique(el.text_content() for el in region.select(layout.tags)) or _unique(meta.every("article:tag"))
            or _unique(_keywords(ld.get("keywords"))))
    caption = _clean(_first([el.text_content() for el in region.select(layout.image_caption)]))
    if title and text.startswith(title + "\n\n"):  # a headline trafilatura kept: it is the title
        text = text[len(title) + 2:]
    if not layout.title:  # generic pages: trafilatura is the main source
        section = section or _first(trafilatura_metadata().categories or [])
        tags = tags or list(trafilatura_metadata().tags or [])
    return ArticleRecord(
        url=url,
        title=title or "",
        authors=_authors(region, layout, ld, meta, text, trafilatura_metadata),
        published=published,
        modified=modified,
        section=section,
        tags=tags,
        description=_clean(meta.get("description") or meta.get("og:description") or ld.get("description")),
        image=_clean(meta.get("og:image") or _image_url(ld.get("image"))),
        image_caption=caption,
        language=_language(doc, meta, ld),
        text=text,
        word_count=len(text.split()),
        text_hash=text_hash(text),
    )


class _MetaTags:
    """<meta> tags of <head> by property/name/itemprop; a key may repeat (article:tag)."""

    def __init__(self, doc):
        self._values: dict[str, list[str]] = {}
        for el in doc.xpath("//head/meta[@content]"):
            key = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
            if key:
                self._values.setdefault(key, []).append(el.get("content"))

    def get(self, key: str) -> str | None:
        return _first(self._values.get(key, []))

    def every(self, key: str) -> list[str]:
        return self._values.get(key, [])


def _json_ld_article(doc) -> dict:
    """The page's own article object from JSON-LD in <head> (Yoast puts it in @graph)."""
    for script in doc.xpath("//head/script[@type='application/ld+json']"):
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue
        nodes = []
        for item in data if isinstance(data, list) else [data]:
            if isinstance(item, dict):
                nodes.extend(item.get("@graph", [item]))
        by_id = {n.get("@id"): n for n in nodes if isinstance(n, dict) and n.get("@id")}
        for node in nodes:
            if isinstance(node, dict) and ARTICLE_TYPES & set(_as_list(node.get("@type"))):
                article = dict(node)
                article["author"] = [by_id.get(a.get("@id"), a) if isinstance(a, dict) else a
                                     for a in _as_list(node.get("author"))]
                return article
    return {}


def _authors(region, layout, ld, meta, text, trafilatura_metadata) -> list[str]:
    names = [el.text_content() for el in region.select(layout.byline)]
    names += [a.get("name", "") if isinstance(a, dict) else str(a) for a in ld.get("author", [])]
    if not names and meta.get("author"):
        names.append(meta["author"])
    first_paragraph = text.split("\n\n", 1)[0]
    match = _COAUTHORS.match(first_paragraph) if len(first_paragraph) < 300 else None
    if match:
        names += _NAME_SPLIT.split(match.group(1))
    if not names and not layout.byline and trafilatura_metadata().author:
        names = trafilatura_metadata().author.split(";")
    return _unique(name.strip(" *\u00a0") for name in names)


def _language(doc, meta, ld) -> str | None:
    code = doc.get("lang") or meta.get("og:locale") or ld.get("inLanguage")
    if not code:
        return None
    return re.split(r"[-_]", code.strip())[0].lower() or None


def _iso(value) -> str | None:
    """ISO 8601 as given (timezone kept); a bare date stays a date."""
    if not value or not isinstance(value, str):
        return None
    value = value.strip()
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.date().isoformat() if len(value) <= 10 else parsed.isoformat()


def _clean(value) -> str | None:
    if not value or not isinstance(value, str):
        return None
    return _LAYOUT_SPACE.sub(" ", value).strip() or None


def _unique(values) -> list[str]:
    seen, out = set(), []
    for value in values:
        value = _clean(value)
        if value and value.casefold() not in seen:
            seen.add(value.casefold())
            out.append(value)
    return out


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _keywords(value) -> list[str]:
    if isinstance(value, str):
        return value.split(",")
    return [str(v) for v in _as_list(value)]


def _image_url(value) -> str | None:
    for item in _as_list(value):
        if isinstance(item, str):
            return item
        if isinstance(item, dict) and item.get("url"):
            return item["url"]
    return None
