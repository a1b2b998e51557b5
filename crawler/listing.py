"""Listing pages of any site, read from their HTML alone: which links are the
section's own teasers, which link is the next page, and which URLs are pages of
the same listing. Pure functions over lxml; no Scrapy, no per-site selectors.

Teasers: a listing repeats one structure per article. Links are grouped by their
place in the document (the tag path from <html>, with stable ids, and the link's own
classes); each group is scored by how many distinct pages it links to, how long
its link texts are (titles, not "Kazakhstan" or "Reply"), how rarely it repeats a
target (author and category links repeat) and where it sits: navigation, sidebars,
page headers and footers, and blocks named like widgets ("latest", "related",
"most read" …) count for little, <main> counts double. The best group wins,
unless the caller knows where a site's teasers sit (``shape``, from an earlier page).

Pagination: a next page must be the same listing as the current page, its URL
differing only by the page number (``/page/N/``, ``?page=N``, ``?paged=N`` …), and
be further on. Calendars, date archives, facets and sort orders differ by more than
that, so they are never taken for a next page, whatever their link says.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urljoin, urlsplit

import lxml.etree
import lxml.html

from archive.regions import BOILERPLATE_NAME, region_weight
from archive.urls import canonical_url, listing_key

# What a "next page" link says, in the languages news sites are written in; the
# strict URL check below decides, so a generous match costs nothing.
_NEXT_WORDS = re.compile(
    r"\b(next|older|more posts|load more|suivant|suivante|weiter|nächste|siguiente|successiv[oa]|próxima|seguinte|"
    r"volgende|następna|dalej|další|következő|sonraki|ileri|keyingi|келесі|кейинги|далее|следующая|вперед|вперёд|"
    r"наступна|далі)\b|[›»→]|下一页|次へ|التالي|הבא", re.IGNORECASE)
_NEXT_CLASS = re.compile(r"(^|[\s_-])(next|older)($|[\s_-])", re.IGNORECASE)
# Links from an article to its neighbours, by name or by what they say.
_ADJACENT_NAME = re.compile(
    r"(^|[\s_-])(post-?nav(igation)?(-link)?|nav-(previous|next)|(prev|previous|next|older|newer)-(post|article|story|entry)"
    r"|read-?next|continue-?reading)($|[\s_-])", re.IGNORECASE)
_ADJACENT_WORDS = re.compile(
    r"^\W*((previous|next|older|newer) (post|article|story|entry)|read next|continue reading)\b", re.IGNORECASE)
_MORE_NAME = re.compile(r"(^|[\s_-])(load-?more|more-?posts|next|older|pagination-next)($|[\s_-])", re.IGNORECASE)
# Variants of an article that are not the article: print views, share and comment actions.
_PRINT_PATH = re.compile(r"/(print|printable)(/|$)", re.IGNORECASE)
_ACTION_PARAMS = frozenset({"print", "share", "replytocom", "action"})


@dataclass(frozen=True)
class Listing:
    teasers: list[str]          # canonical article URLs, in page order
    next_page: str | None       # canonical URL of the next page of this listing
    # Where the teasers' links sit (tag path and classes; strings, JSON-able). Pages
    # of one site share it: pass it back for its other listing pages, so that a last
    # page with one teaser is read like the first, whatever its sidebar holds.
    shape: tuple[str, ...] | None
    # No next page, yet the page offers more (a "Load more" button run by a script, an
    # "Older posts" link to a URL that is not this listing's): the walk cannot read the
    # whole section here, so links from article to article must reach the rest.
    more_unread: bool = False


def read_listing(html: str | bytes, url: str, shape: tuple[str, ...] | None = None) -> Listing:
    root, base = _parse(html, url)
    teasers, found = _teasers(root, base, url, shape)
    following = _next_page(root, base, url)
    return Listing(teasers, following, found, following is None and _offers_more(root))


def adjacent_articles(html: str | bytes, url: str) -> list[str]:
    """Canonical URLs an article page links to as the next or previous article, or
    to read next: ``rel=prev``/``rel=next`` links in its body, and links named or
    worded so (``post-navigation``, "Read next", "Previous article", "Continue reading")."""
    root, base = _parse(html, url)
    own, host = canonical_url(url), _host(url)
    found = []
    for a in root.iterfind(".//body//a[@href]"):
        href = urljoin(base, a.get("href", "").strip())
        if urlsplit(href).scheme not in ("http", "https") or _host(href) != host or _is_variant(href):
            continue
        target = canonical_url(href)
        if target == own or listing_key(target)[1] is not None:
            continue
        rel = a.get("rel", "").lower().split()
        names = " ".join(f'{el.get("class", "")} {el.get("id", "")}' for el in (a, *list(a.iterancestors())[:3]))
        if "prev" in rel or "next" in rel or _ADJACENT_NAME.search(names) or _ADJACENT_WORDS.search(_link_text(a)):
            found.append(target)
    return list(dict.fromkeys(found))


def teaser_links(html: str | bytes, url: str, shape: tuple[str, ...] | None = None) -> list[str]:
    """The canonical URLs of the articles this listing page lists, in page order."""
    root, base = _parse(html, url)
    return _teasers(root, base, url, shape)[0]


def next_page(html: str | bytes, url: str) -> str | None:
    """The canonical URL of the next page of this listing, or None on its last page."""
    root, base = _parse(html, url)
    return _next_page(root, base, url)


# --------------------------------------------------------------------------- internals

def _parse(html: str | bytes, url: str):
    try:
        root = lxml.html.document_fromstring(html)
    except ValueError:   # a str with an XML encoding declaration: let lxml read the bytes
        root = lxml.html.document_fromstring(html.encode("utf-8"))
    except lxml.etree.ParserError:   # an empty page lists nothing
        root = lxml.html.document_fromstring("<html><body></body></html>")
    base = root.xpath("string(//head/base/@href)").strip()
    return root, urljoin(url, base) if base else url


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").removeprefix("www.")


def _is_variant(url: str) -> bool:
    parts = urlsplit(url)
    params = {k.lower() for k, _ in parse_qsl(parts.query, keep_blank_values=True)}
    return bool(_PRINT_PATH.search(parts.path) or params & _ACTION_PARAMS)


def _link_text(a) -> str:
    text = " ".join(a.text_content().split())
    if not text:
        text = " ".join(a.xpath(".//img/@alt")) or a.get("title", "") or a.get("aria-label", "")
    return text.strip()


def _signature(a) -> tuple[str, ...]:
    path = []
    for el in a.iterancestors():
        ident = el.get("id", "")
        path.append(el.tag if not ident or re.search(r"\d", ident) else f"{el.tag}#{ident}")
    own = tuple(sorted(c for c in a.get("class", "").split() if not re.search(r"\d", c)))
    return tuple(str(x) for x in reversed(path)) + own


def _teasers(root, base: str, url: str, shape: tuple | None) -> tuple[list[str], tuple | None]:
    here = urlsplit(listing_key(url)[0])
    here_params = set(parse_qsl(here.query, keep_blank_values=True))
    host = _host(url)
    links: dict = {}   # element -> (canonical target, link text length), in page order
    for a in root.iterfind(".//body//a[@href]"):
        href = urljoin(base, a.get("href", "").strip())
        if urlsplit(href).scheme not in ("http", "https") or _host(href) != host or _is_variant(href):
            continue
        target = canonical_url(href)
        parts = urlsplit(target)
        if parts.path in ("", "/") and not parts.query:
            continue   # the home page
        if (parts.path == here.path and (here_params or parts.path not in ("", "/"))
                and here_params <= set(parse_qsl(parts.query, keep_blank_values=True))):
            continue   # this listing again, paged, filtered or sorted: it only adds parameters
        links[a] = (target, len(_link_text(a)))
    groups: dict[tuple, list] = {}
    for a in links:
        groups.setdefault(_signature(a), []).append(a)
    if shape is not None and tuple(shape) in groups:
        return _with_odd_siblings(groups[tuple(shape)], links), tuple(shape)
    best, best_shape, best_score = [], None, 0.0
    for order, (signature, group) in enumerate(groups.items()):
        targets: dict[str, int] = {}
        for a in group:
            target, length = links[a]
            targets[target] = max(targets.get(target, 0), length)
        text = sum(targets.values()) / len(targets)
        score = (len(targets) * min(1.0, text / 40) ** 2 * (len(targets) / len(group))
                 * region_weight(group[0]) * (1 - order * 1e-6))   # ties: the earlier block
        if score > best_score:
            best, best_shape, best_score = group, signature, score
    return _with_odd_siblings(best, links), best_shape


def _with_odd_siblings(group: list, links: dict) -> list[str]:
    """The group's targets, plus those of teasers marked up differently in the same
    list (a lead story with a bigger heading, a sticky post): siblings of the group's
    items, of the same element, whose longest link reads like the group's titles."""
    targets = list(dict.fromkeys(links[a][0] for a in group))
    if len(targets) < 2:
        return targets
    chains = [list(reversed(list(a.iterancestors()))) for a in group]
    depth = 0
    while all(len(c) > depth + 1 for c in chains) and len({id(c[depth]) for c in chains}) == 1:
        depth += 1
    container = chains[0][depth - 1] if depth else None
    items = {c[depth] for c in chains}
    if container is None or len(items) < 2 or len({el.tag for el in items}) != 1:
        return targets
    item_tag = next(iter(items)).tag
    shortest = min(links[a][1] for a in group)
    out: list[str] = []
    for child in container:
        if child in items:
            out += [links[a][0] for a in group if child in a.iterancestors()]
        elif child.tag == item_tag and not BOILERPLATE_NAME.search(f'{child.get("class", "")} {child.get("id", "")}'):
            own = [a for a in child.iter("a") if a in links]
            if own:
                title = max(own, key=lambda a: links[a][1])
                if links[title][1] >= max(20, shortest * 0.5):
                    out.append(links[title][0])
    return list(dict.fromkeys(out))


def _offers_more(root) -> bool:
    # Buttons, links to nowhere (a script acts on them) and rel=next links _next_page
    # did not take; a link to a page is a teaser's "Read more →", not the listing's.
    for el in root.xpath("//body//button | //body//a[not(@href) or starts-with(normalize-space(@href), '#')"
                         " or starts-with(normalize-space(@href), 'javascript:') or contains(concat(' ', @rel, ' '), ' next ')]"):
        if region_weight(el) < 0.15:   # a menu's or a footer's "more", not the listing's
            continue
        if any(el.get("disabled") is not None or el.get("aria-disabled") == "true"
               or "disabled" in el.get("class", "").split() for el in (el, el.getparent())):
            continue   # a last page's greyed-out "Next"
        said = " ".join((_link_text(el), el.get("title", ""), el.get("aria-label", "")))
        if _NEXT_WORDS.search(said) or _MORE_NAME.search(el.get("class", "")):
            return True
    return False


def _next_page(root, base: str, url: str) -> str | None:
    here, current = listing_key(url)
    explicit: dict[str, int] = {}
    numbered: dict[str, int] = {}
    zero_based = False
    for el in root.xpath("//head/link[@href] | //body//a[@href]"):
        target = canonical_url(urljoin(base, el.get("href", "").strip()))
        same, page = listing_key(target)
        if same != here or page is None:
            continue
        zero_based |= page == 0
        if page == current or el.get("aria-current"):
            continue
        rel = el.get("rel", "").lower().split()
        if el.tag == "link" and "next" not in rel:
            continue
        parent = el.getparent()
        said = " ".join((_link_text(el), el.get("title", ""), el.get("aria-label", "")))
        named = f'{el.get("class", "")} {parent.get("class", "") if parent is not None else ""}'
        if "next" in rel or _NEXT_WORDS.search(said) or _NEXT_CLASS.search(named):
            explicit[target] = page
        else:
            numbered[target] = page
    # Page 1 often has no number in its URL: 0 when the listing counts from 0 (any
    # link to page 0 says so), else 1. A link that says "next" is further on anyway.
    if explicit:
        candidates, floor = explicit, current if current is not None else 0
    else:
        candidates, floor = numbered, current if current is not None else (0 if zero_based else 1)
    further = [(page, target) for target, page in candidates.items() if page > floor]
    return min(further)[1] if further else None
