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
from itertools import groupby
from datetime import datetime
from urllib.parse import urljoin, urlsplit

import lxml.etree
import lxml.html
from lxml.cssselect import CSSSelector
import trafilatura
from htmldate import find_date
from trafilatura.metadata import extract_metadata
from w3lib.encoding import html_to_unicode

from .layouts import PageLayout
from .pagemeta import byline_names, is_byline, looks_like_a_name, same_headline, site_name_keys, title_without_site_name
from .problems import Problem
from .urls import canonical_url, same_host

ARTICLE_TYPES = {"Article", "NewsArticle", "BlogPosting", "ReportageNewsArticle", "AnalysisNewsArticle"}
_COAUTHORS = re.compile(r"^\s*(?:Co-)?Authors?\s*:\s*(.+?)\s*$", re.IGNORECASE)
_NAME_SPLIT = re.compile(r"\s*(?:,|;|&|\band\b)\s*")
_LAYOUT_SPACE = re.compile(r"[ \t\r\n\f\v]+")
# trafilatura's MIN_DUPLICATE_LENGTH: shorter repeats it keeps itself.
_REPEAT_MIN_LENGTH = 50
_HIDDEN = ("descendant::*[@hidden or @aria-hidden='true' or contains(translate(@style, ' ', ''), 'display:none')"
           " or contains(translate(@style, ' ', ''), 'visibility:hidden')]")
# trafilatura folds every Unicode space into " " and drops soft hyphens; the text must
# keep them as published, so they travel through it as unlikely printable stand-ins.
_PROTECTED = {"\u00a0": "\U00017000", "\u202f": "\U00017001", "\u2009": "\U00017002", "\u2007": "\U00017003",
              "\u200a": "\U00017004", "\u00ad": "\U00017005", "\u2002": "\U00017006", "\u2003": "\U00017007"}
# ...and control characters go: lxml's text nodes cannot hold them (a PDF served as
# text/html is full of them), and no reader sees them.
_PROTECT = str.maketrans({**_PROTECTED, **dict.fromkeys(map(chr, [*range(9), 11, 12, *range(14, 32)]))})
_RESTORE = str.maketrans({v: k for k, v in _PROTECTED.items()})
# Blocks of text a template may repeat from page to page.
TEXT_BLOCKS = ("p", "li", "h2", "h3", "h4", "h5", "h6", "blockquote", "figcaption")
# Some CMSs wrap JSON-LD in a CDATA section or an HTML comment.
_JSON_WRAPPER = re.compile(r"^\s*(?:<!\[CDATA\[|<!--)|(?:\]\]>|-->)\s*$")
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
    body = region.body()
    # A layout that does not place the byline reads it in the body readers see (before
    # the text extraction protects its spaces).
    bylines = [] if layout.title or body is None else _first_byline(_select(body, layout.byline))
    text = _article_text(body, url, whole_page=layout.body is None)
    if not text:
        return PageReading(canonical, problems=[Problem.note("no article text found")])
    return PageReading(canonical, _article_record(doc, region, layout, canonical, text, bylines))


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
            copy = deepcopy(body if body is not None else self.doc)
        else:
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
        if self.layout.drop_hidden:
            for el in copy.xpath(_HIDDEN):
                _drop(el)
        if self.layout.template_texts:
            for el in list(copy.iter(*TEXT_BLOCKS)):
                if template_key(el.text_content()) in self.layout.template_texts:
                    _drop(el)
        for el in copy.xpath(".//*[normalize-space(.)='Continue Reading']"):
            _drop(el)
        return copy


def template_key(text: str | None) -> str:
    """How a template block's text is compared: spaces folded, case folded."""
    return " ".join((text or "").split()).casefold()


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


def _article_text(body, url: str, whole_page: bool) -> str:
    """The text of the body by trafilatura. A body cut out by a layout is read in
    trafilatura's fast mode; a whole page also gets its fallback extractors, for recall."""
    if body is None:
        return ""
    repeats = _repeated_paragraphs(body) if whole_page else {}
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
        include_images=False, favor_recall=True, fast=not whole_page,
    )
    if document is None or document.body is None:
        return ""
    blocks = [text.translate(_RESTORE) for block in document.body for text in _block_texts(block)]
    return "\n\n".join(_without_excerpt(_with_repeats([block for block in blocks if block], repeats)))


_ELLIPSIS = re.compile(r"\s*(…|\.\.\.|\[…\]|\[\.\.\.\])$")


def _without_excerpt(blocks: list[str]) -> list[str]:
    """Less a standfirst that only repeats the opening of the text, cut short ("…"): an
    excerpt the theme prints above the article (after its title), not a paragraph of it."""
    for i, block in enumerate(blocks[:3]):
        opening = _ELLIPSIS.sub("", block)
        following = " ".join(" ".join(blocks[i + 1:i + 4]).split())  # an excerpt may run over paragraphs
        if opening != block and len(opening) > 40 and following.startswith(" ".join(opening.split())):
            return blocks[:i] + blocks[i + 1:]
    return blocks


def _repeated_paragraphs(body) -> dict[str, list[int]]:
    """Paragraphs the page prints several times in a row: text → lengths of its runs."""
    repeats: dict[str, list[int]] = {}
    for parent in body.iter():
        runs: list[list] = []  # [text, length] of consecutive <p> children
        for child in parent:
            current = " ".join(child.text_content().split()) if child.tag == "p" else None
            if current is not None and runs and runs[-1][0] == current:
                runs[-1][1] += 1
            else:
                runs.append([current, 1])
        for text, length in runs:
            if text and len(text) > _REPEAT_MIN_LENGTH and length > 1:
                repeats.setdefault(text, []).append(length)
    return repeats


def _with_repeats(blocks: list[str], repeats: dict[str, list[int]]) -> list[str]:
    """trafilatura drops a long paragraph that repeats the one before it (a guard against
    its own overlapping candidates); a page that repeats a paragraph keeps it repeated:
    each run of it in the text is as long as the page's, the last takes what is left."""
    if not repeats:
        return blocks
    groups = [(text, len(list(run))) for text, run in groupby(blocks)]
    left = {text: sum(1 for t, _ in groups if t == text) for text, _ in groups}
    out: list[str] = []
    for text, times in groups:
        runs = repeats.get(" ".join(text.split()))
        left[text] -= 1
        if runs:
            times = max(times, sum(runs) if left[text] == 0 else runs.pop(0))
            if left[text] == 0:
                runs.clear()
        out.extend([text] * times)
    return out


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


def _article_record(doc, region: _Region, layout: PageLayout, url: str, text: str,
                    bylines: list[str]) -> ArticleRecord:
    meta = _MetaTags(doc)
    # A theme's own JSON-LD is in <head>; on other sites, plugins put it anywhere.
    ld = _json_ld_article(doc, "//head/script" if layout.title else "//script")
    fallback = None

    def trafilatura_metadata():
        nonlocal fallback
        if fallback is None:
            fallback = extract_metadata(doc, default_url=url)
        return fallback

    if layout.title:
        title = (_clean(_first([el.text_content() for el in region.select(layout.title)]))
                 or _clean(ld.get("headline")) or _clean(meta.get("og:title")) or trafilatura_metadata().title)
    else:
        title = _generic_title(doc, meta, ld, url) or trafilatura_metadata().title
    published = (_iso(ld.get("datePublished")) or _iso(meta.get("article:published_time"))
                 or _iso(_first([el.get("datetime") or el.get("content") for el in region.select(layout.published)]))
                 or (_found_date(doc) if not layout.title else _iso(trafilatura_metadata().date)))
    modified = (_iso(ld.get("dateModified")) or _iso(meta.get("article:modified_time"))
                or _iso(_first([el.get("content") or el.get("datetime") for el in region.select(layout.modified)]))
                or (_iso(meta.get("og:updated_time")) if not layout.title else None))
    section = (_clean(meta.get("article:section")) or _clean(_first(_as_list(ld.get("articleSection"))))
               or _clean(_first([el.text_content() for el in region.select(layout.section_label)])))
    tags = (_unique(el.text_content() for el in region.select(layout.tags)) or _unique(meta.every("article:tag"))
            or _unique(_keywords(ld.get("keywords"))))
    caption = _clean(_first([el.text_content() for el in region.select(layout.image_caption)]))
    if title and text.startswith(title + "\n\n"):  # a headline trafilatura kept: it is the title
        text = text[len(title) + 2:]
    return ArticleRecord(
        url=url,
        title=title or "",
        authors=(_authors(region, layout, ld, meta, text, trafilatura_metadata) if layout.title
                 else _generic_authors(bylines, ld, meta, text, trafilatura_metadata)),
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


def _json_ld_article(doc, scripts: str = "//head/script") -> dict:
    """The page's own article object from JSON-LD (Yoast puts it in @graph)."""
    for script in doc.xpath(scripts + "[@type='application/ld+json']"):
        try:
            data = json.loads(_JSON_WRAPPER.sub("", script.text or ""))
        except (ValueError, RecursionError):  # malformed, or nested deeper than Python recurses
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
        names.append(meta.get("author"))
    first_paragraph = text.split("\n\n", 1)[0]
    match = _COAUTHORS.match(first_paragraph) if len(first_paragraph) < 300 else None
    if match:
        names += _NAME_SPLIT.split(match.group(1))
    if not names and not layout.byline and trafilatura_metadata().author:
        names = trafilatura_metadata().author.split(";")
    return _unique(name.strip(" *\u00a0") for name in names)


def _generic_title(doc, meta, ld, url: str) -> str | None:
    """The headline as the page's metadata gives it, less the site's name."""
    publisher = ld.get("publisher") if isinstance(ld.get("publisher"), dict) else {}
    site_keys = site_name_keys([meta.get("og:site_name"), meta.get("application-name"), publisher.get("name")],
                               [url, meta.get("og:url"), _first(doc.xpath("//head/link[@rel='canonical']/@href"))])
    document_title = title_without_site_name(_clean(_first(doc.xpath("//head/title/text()"))), site_keys)
    declared = [title_without_site_name(_clean(value), site_keys)
                for value in (meta.get("og:title"), ld.get("headline"), meta.get("twitter:title"))]
    # A declared headline the <title> does not bear out may be something else (a
    # description in JSON-LD): the first that agrees with it, else the first there is.
    title = (_first([t for t in declared if t and (not document_title or same_headline(t, document_title))])
             or declared[0] or document_title or _first([t for t in declared if t]))
    # The headline readers see, where it is the same headline in other words.
    headings = [_clean(h1.text_content()) for h1 in doc.xpath("//body//h1")]
    return _first([h for h in headings if h and (not title or same_headline(h, title))]) or title


def _generic_authors(bylines, ld, meta, text, trafilatura_metadata) -> list[str]:
    """Every author: JSON-LD may name only the first, so the byline is read too; a byline
    that shares no name with JSON-LD is someone else's (a related post's)."""
    structured = _unique(a.get("name", "") if isinstance(a, dict) else str(a) for a in ld.get("author", []))
    first_paragraph = text.split("\n\n", 1)[0]
    if not bylines and len(first_paragraph) < 150 and is_byline(first_paragraph):  # "By A and B" as text
        bylines = [first_paragraph]
    visible = _unique(name for line in bylines for name in byline_names(line))
    folded = {name.casefold() for name in structured}
    if structured:
        names = visible + structured if folded & {name.casefold() for name in visible} else structured
    else:
        names = visible or byline_names(meta.get("author"))
    match = _COAUTHORS.match(first_paragraph) if len(first_paragraph) < 300 else None
    if match:
        names += _NAME_SPLIT.split(match.group(1))
    if not names and trafilatura_metadata().author:
        names = [name for name in trafilatura_metadata().author.split(";") if looks_like_a_name(name.strip())]
    return _unique(name.strip(" *\u00a0") for name in names)


def _first_byline(elements) -> list[str]:
    """The texts of the first byline with a name and of those beside it (up to its
    grandparent): later ones on the page are other articles' (teasers, related posts)."""
    texts, container = [], None
    for el in elements:
        value = _element_value(el)
        if container is None:
            if byline_names(value):
                texts.append(value)
                container = el.getparent().getparent() if el.getparent() is not None else el
                container = container if container is not None else el
        elif _is_ancestor(container, el):
            texts.append(value)
    return texts


def _element_value(el) -> str:
    """What an element says: a <meta>'s content, an author block's name, else its text."""
    if el.get("content"):
        return el.get("content")
    name = _first(el.xpath(".//*[@itemprop='name']"))
    return (name if name is not None else el).text_content()


def _found_date(doc) -> str | None:
    """The publication date htmldate finds in the page, when nothing declared it."""
    try:
        return _iso(find_date(doc, extensive_search=False, original_date=True))
    except (ValueError, TypeError):
        return None


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
