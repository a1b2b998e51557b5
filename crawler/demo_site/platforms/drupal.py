"""A Drupal 10 site on the Olivero theme: a Views listing per section
(``/news/x?page=N``, 0-based, relative pager links, rel=next on the pager's
"next" item), pathauto aliases ``/news/<primary section>/<slug>``, ``/node/N``
shortlinks, schema_metatag JSON-LD listing every author, a sidebar with a "Most
read" view (same row markup as the listing), facet links, a monthly archive and a
month calendar whose "Next ›" goes to another month, and Drupal's own robots.txt."""
from __future__ import annotations

import calendar
import json
from datetime import timedelta, timezone

from ..content import slugify
from .base import XML, Platform, attr, esc, urlset, w3c
from .newsroom import SECTION_SLUG, SECTIONS, Story, body_html, build_newsroom

SITE = "Steppe Dispatch"
ROBOTS = """#
# robots.txt
#
# This file is to prevent the crawling and indexing of certain parts
# of your site by web crawlers and spiders run by sites like Yahoo!
# and Google.
User-agent: *
# CSS, JS, Images
Allow: /core/*.css$
Allow: /core/*.js$
# Directories
Disallow: /core/
Disallow: /profiles/
Disallow: /premium/
# Paths (clean URLs)
Disallow: /admin/
Disallow: /comment/reply/
Disallow: /filter/tips
Disallow: /node/add/
Disallow: /search/
Disallow: /user/register
Disallow: /user/password
Disallow: /user/login
Disallow: /user/logout
# Paths (no clean URLs)
Disallow: /index.php/admin/
Disallow: /index.php/comment/reply/
"""


def _utc(dt) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Drupal10(Platform):
    name = "drupal"
    per_page = 10

    def __init__(self, newsroom):
        super().__init__(newsroom)
        first = self.section_stories[0]
        y, m = self.news.months()[0]
        self.traps = {
            "date archive": f"/archive/{y:04d}{m:02d}",
            "calendar": f"/calendar/{y - (m == 1):04d}-{(m - 2) % 12 + 1:02d}",   # the month before
            "faceted filter": f"/news/{SECTION_SLUG}?f%5B0%5D=country%3A{slugify(first.tags[0])}",
            "sort link": f"/news/{SECTION_SLUG}?sort_by=title&sort_order=ASC",
            "tag archive": f"/topics/{slugify(first.tags[-1])}",
            "author archive": f"/people/{slugify(first.authors[0])}",
            "amp twin": self.article_path(first) + "?amp",
            "print view": f"/node/{first.id}/printable/print",
            "comment link": f"/comment/reply/node/{first.id}/comment/{first.id * 10 + 1}",
            "disallowed": "/user/login?destination=/news/central-asia",
            "members only": f"/premium/{self.news.private.slug}",
        }

    # ---- URL scheme
    def article_path(self, s: Story) -> str:
        return f"/news/{s.section}/{s.slug}"

    def listing_path(self, n: int, section: str = SECTION_SLUG) -> str:
        return f"/news/{section}" + (f"?page={n - 1}" if n > 1 else "")

    def routes(self):
        return [
            (r"/robots\.txt", lambda b, m, q: self.text(ROBOTS + f"Sitemap: {b}/sitemap.xml\n")),
            (r"/sitemap\.xml", lambda b, m, q: self.text(urlset(
                [(b + self.article_path(s), s.modified) for s in self.news.stories]
                + [(b + self.listing_path(1, x), None) for x in SECTIONS]), XML)),
            (r"/", lambda b, m, q: self._listing(b, "/", "Latest news", self.news.stories, q)),
            (r"/news/([^/]+)", lambda b, m, q: m[1] in SECTIONS and self._listing(
                b, f"/news/{m[1]}", SECTIONS[m[1]], self._filtered(self.news.in_section(m[1]), q), q,
                facets=m[1] == SECTION_SLUG) or None),
            (r"/news/([^/]+)/([^/]+)", self._article),
            (r"/node/(\d+)", lambda b, m, q: self._shortlink(b, int(m[1]))),
            (r"/node/(\d+)/printable/print", self._print),
            (r"/topics/([^/]+)", lambda b, m, q: m[1] in self.news.tag_names() and self._listing(
                b, f"/topics/{m[1]}", self.news.tag_names()[m[1]], self.news.tagged(m[1]), q) or None),
            (r"/people/([^/]+)", lambda b, m, q: m[1] in self.news.author_names() and self._listing(
                b, f"/people/{m[1]}", self.news.author_names()[m[1]], self.news.by_author(m[1]), q) or None),
            (r"/archive/(\d{4})(\d\d)", lambda b, m, q: self._listing(
                b, m[0], f"Monthly archive: {calendar.month_name[int(m[2])]} {m[1]}",
                self.news.in_month(int(m[1]), int(m[2])), q) if 1 <= int(m[2]) <= 12 else None),
            (r"/calendar/(\d{4})-(\d\d)", lambda b, m, q: self._calendar_page(b, int(m[1]), int(m[2]))),
            (r"/premium/.*|/user/.*|/comment/reply/.*|/search/.*",
             lambda b, m, q: self.forbidden(self._page(b, "Access denied", "", "<p>You are not authorized to access this page.</p>"))),
        ]

    @staticmethod
    def _filtered(items, q):
        facet = q.get("f[0]", "")
        if facet.startswith("country:"):
            items = [s for s in items if facet[len("country:"):] in {slugify(t) for t in s.tags}]
        if q.get("sort_by") == "title":
            items = sorted(items, key=lambda s: s.title)
        return items

    def _shortlink(self, b, node_id):
        s = self.news.by_id(node_id)
        if s is None or s is self.news.private:
            return None
        return self.redirect(b + self.article_path(s))   # the redirect module's route normaliser

    # ---- listings
    def _listing(self, b, root, heading, items, q, facets=False):
        page = int(q.get("page", "0")) if q.get("page", "0").isdigit() else 0
        pages = self.pages_of(items)
        if not items or page >= pages:
            return None
        rows = "".join(f'<div class="views-row">{self._teaser(b, s)}</div>\n' for s in self.page_of(items, page + 1))
        keep = "".join(f"{k}={attr(v)}&amp;" for k, v in q.items() if k != "page")

        def item(k, label, cls="", rel="", title=""):
            return (f'<li class="pager__item{cls}"><a href="?{keep}page={k}" title="{title}" class="pager__link"'
                    + (f' rel="{rel}"' if rel else "") + f">{label}</a></li>")
        pager = ""
        if pages > 1:
            parts = []
            if page > 0:
                parts += [item(0, "«", " pager__item--control pager__item--first", title="Go to first page"),
                          item(page - 1, "‹", " pager__item--control pager__item--previous", "prev", "Go to previous page")]
            for k in range(pages):
                parts.append(f'<li class="pager__item is-active pager__item--active"><a href="?{keep}page={k}" title="Current page" '
                             f'aria-current="page" class="pager__link is-active"><span class="visually-hidden">Current page</span>{k + 1}</a></li>'
                             if k == page else item(k, f'<span class="visually-hidden">Page</span>{k + 1}', title=f"Go to page {k + 1}"))
            if page < pages - 1:
                parts += [item(page + 1, '<span class="visually-hidden">Next page</span><span aria-hidden="true">›</span>',
                               " pager__item--control pager__item--next", "next", "Go to next page"),
                          item(pages - 1, '<span class="visually-hidden">Last page</span><span aria-hidden="true">»</span>',
                               " pager__item--control pager__item--last", title="Go to last page")]
            pager = ('<nav class="pager" role="navigation" aria-labelledby="pagination-heading"><h4 id="pagination-heading" '
                     f'class="visually-hidden">Pagination</h4><ul class="pager__items js-pager__items">{"".join(parts)}</ul></nav>\n')
        sort = (f'<div class="view-header"><p>Sort by: <a href="{b}{root}">Newest</a> · '
                f'<a href="{b}{root}?sort_by=title&amp;sort_order=ASC">Title</a></p></div>\n') if facets else ""
        main = (f'<div class="view view-section-news view-id-section_news view-display-id-page_1 js-view-dom-id-{abs(hash(root)) % 10**8:08x}">\n'
                f'{sort}<div class="view-content">\n{rows}</div>\n{pager}</div>\n')
        canonical = b + root + (f"?{keep.replace('&amp;', '&')}page={page}" if page or keep else "")
        return self._page(b, esc(heading), f'<link rel="canonical" href="{attr(canonical)}" />\n', main,
                          sidebar=self._sidebar(b, root if facets else None))

    def _teaser(self, b: str, s: Story) -> str:
        url = b + self.article_path(s)
        return (f'<article data-history-node-id="{s.id}" role="article" about="{self.article_path(s)}" '
                'class="node node--type-article node--promoted node--view-mode-teaser">\n'
                f'<header class="node__header"><h2 class="node__title"><a href="{url}" rel="bookmark"><span '
                f'class="field field--name-title field--type-string field--label-hidden">{esc(s.title)}</span></a></h2>\n'
                f'<div class="node__meta">{self._authors(b, s, ", ")} <span class="field field--name-created field--type-created">'
                f'<time datetime="{_utc(s.published)}">{s.published:%a, %m/%d/%Y - %H:%M}</time></span></div></header>\n'
                '<div class="node__content"><div class="text-content clearfix field field--name-body field--type-text-with-summary '
                f'field--label-hidden field__item"><p>{esc(s.description)}</p></div>\n'
                f'<ul class="links inline"><li class="node-readmore"><a href="{url}" rel="tag" title="{attr(s.title)}" hreflang="en">'
                f'Read more<span class="visually-hidden"> about {esc(s.title)}</span></a></li></ul></div>\n</article>')

    def _authors(self, b: str, s: Story, sep: str) -> str:
        return ('<span class="field field--name-field-authors field--type-entity-reference">'
                + sep.join(f'<a href="{b}/people/{slugify(a)}" hreflang="en">{esc(a)}</a>' for a in s.authors) + "</span>")

    def _sidebar(self, b: str, facet_root: str | None) -> str:
        most_read = sorted(self.news.stories, key=lambda s: (s.id * 7919) % 97)[:5]
        rows = "".join(f'<div class="views-row"><span class="views-field views-field-title"><span class="field-content">'
                       f'<a href="{b}{self.article_path(s)}" hreflang="en">{esc(s.title)}</a></span></span></div>' for s in most_read)
        out = ('<div class="views-element-container block block-views"><h2 class="block__title">Most read</h2>'
               f'<div class="view view-most-read view-id-most_read"><div class="view-content">{rows}</div></div></div>\n')
        if facet_root:
            countries = sorted({s.tags[0] for s in self.section_stories})
            out += ('<div class="block-facets block-facet--links"><h2 class="block__title">Country</h2><ul class="facets-widget-links">'
                    + "".join(f'<li class="facet-item"><a href="{b}{facet_root}?f%5B0%5D=country%3A{slugify(c)}" rel="nofollow" '
                              f'data-drupal-facet-item-id="country-{slugify(c)}"><span class="facet-item__value">{esc(c)}</span></a></li>'
                              for c in countries) + "</ul></div>\n")
        months = "".join(f'<li><a href="{b}/archive/{y:04d}{m:02d}">{calendar.month_name[m]} {y} ({len(self.news.in_month(y, m))})</a></li>'
                         for y, m in self.news.months())
        y, m = self.news.months()[0]
        out += (f'<div class="block block-views-blockarchive-block-1"><h2 class="block__title">Monthly archive</h2><ul>{months}</ul></div>\n'
                + self._calendar(b, y, m))
        return out

    def _calendar(self, b: str, y: int, m: int) -> str:
        prev_y, prev_m = (y, m - 1) if m > 1 else (y - 1, 12)
        next_y, next_m = (y, m + 1) if m < 12 else (y + 1, 1)
        days = {s.published.day for s in self.news.in_month(y, m)}
        cells = "".join(f'<td class="has-events"><a href="{b}/archive/{y:04d}{m:02d}">{d}</a></td>' if d in days else f"<td>{d}</td>"
                        for d in range(1, calendar.monthrange(y, m)[1] + 1))
        return (f'<div class="block block-calendar"><h2 class="block__title">{calendar.month_name[m]} {y}</h2>'
                f'<ul class="pager calendar-pager"><li class="pager__item pager__item--previous"><a href="{b}/calendar/{prev_y:04d}-{prev_m:02d}" '
                f'rel="prev">‹ Previous</a></li><li class="pager__item pager__item--next"><a href="{b}/calendar/{next_y:04d}-{next_m:02d}" '
                f'rel="next">Next ›</a></li></ul><table class="calendar"><tr>{cells}</tr></table></div>\n')

    def _calendar_page(self, b, y, m):
        if not 1 <= m <= 12 or not 2000 <= y <= 2100:
            return None
        return self._page(b, f"Calendar {calendar.month_name[m]} {y}", "", self._calendar(b, y, m), sidebar="")

    # ---- articles
    def _article(self, b, m, q):
        s = self.news.by_slug(m[2])
        if s is None or s is self.news.private or s.section != m[1]:
            return None
        url = b + self.article_path(s)
        amp = "amp" in q
        related = [x for x in self.news.stories if SECTION_SLUG not in x.sections][:3]
        sections = "".join(f'<div class="field__item"><a href="{b}{self.listing_path(1, x)}" hreflang="en">{esc(SECTIONS[x])}</a></div>'
                           for x in s.sections)
        tags = "".join(f'<li class="field__item"><a href="{b}/topics/{slugify(t)}" hreflang="en">{esc(t)}</a></li>' for t in s.tags)
        comments = "".join(
            f'<article data-comment-user-id="0" id="comment-{s.id * 10 + k}" class="comment js-comment by-anonymous">'
            f'<div class="comment__content"><h3><a href="{b}/comment/{s.id * 10 + k}#comment-{s.id * 10 + k}" hreflang="en">Good read</a></h3>'
            '<p>Useful overview, thanks.</p><ul class="links inline comment__links"><li class="comment-reply">'
            f'<a href="{b}/comment/reply/node/{s.id}/comment/{s.id * 10 + k}">Reply</a></li></ul></div></article>' for k in (1, 2))
        main = (f'<div id="block-olivero-page-title" class="block block-core block-page-title-block"><h1 class="title page-title">'
                f'<span class="field field--name-title field--type-string field--label-hidden">{esc(s.title)}</span></h1></div>\n'
                f'<article data-history-node-id="{s.id}" role="article" about="{self.article_path(s)}" class="node node--type-article node--view-mode-full">\n'
                f'<header class="node__header"><div class="node__meta"><span>By {self._authors(b, s, " and ")}</span>, '
                f'<span class="field field--name-created"><time datetime="{_utc(s.published)}">{s.published.day} '
                f'{calendar.month_name[s.published.month]} {s.published.year}</time></span>'
                f'<span class="node__meta-updated"> Updated <time datetime="{_utc(s.modified)}">{s.modified:%d/%m/%Y - %H:%M}</time></span></div></header>\n'
                '<div class="node__content"><div class="text-content clearfix field field--name-body field--type-text-with-summary field--label-hidden field__item">\n'
                f'{body_html(s)}</div>\n'
                f'<div class="field field--name-field-section field--label-inline"><div class="field__label">Sections</div><div class="field__items">{sections}</div></div>\n'
                f'<div class="field field--name-field-tags field--label-above"><div class="field__label">Tags</div><ul class="links field__items">{tags}</ul></div>\n'
                f'<ul class="links inline"><li class="print-page"><a href="{b}/node/{s.id}/printable/print" title="Display a printer-friendly version of this page.">Print</a></li></ul>\n'
                '</div>\n<section data-drupal-selector="comments" class="comments"><h2 class="comments__title">Comments</h2>'
                f'{comments}<h2 class="add-comment__heading">Add new comment</h2><form action="{b}/comment/reply/node/{s.id}/comment" method="post">'
                '<textarea name="comment_body"></textarea></form></section>\n</article>\n'
                '<div class="region region--content-below"><div class="views-element-container block"><h2 class="block__title">Related content</h2>'
                '<div class="view view-related"><div class="view-content">'
                + "".join(f'<div class="views-row"><a href="{b}{self.article_path(x)}" hreflang="en">{esc(x.title)}</a></div>' for x in related)
                + "</div></div></div></div>\n")
        people = [{"@type": "Person", "name": a, "url": f"{b}/people/{slugify(a)}"} for a in s.authors]
        ld = {"@context": "https://schema.org", "@graph": [{
            "@type": "NewsArticle", "headline": s.title, "name": s.title, "description": s.description,
            "author": people, "datePublished": w3c(s.published), "dateModified": w3c(s.modified),
            "articleSection": [SECTIONS[x] for x in s.sections], "mainEntityOfPage": {"@id": url},
            "publisher": {"@type": "Organization", "name": SITE, "url": b + "/"}}]}
        head = (f'<link rel="canonical" href="{url}" />\n<link rel="shortlink" href="{b}/node/{s.id}" />\n'
                + ("" if amp else f'<link rel="amphtml" href="{url}?amp" />\n')
                + f'<meta property="og:site_name" content="{SITE}" />\n<meta property="og:type" content="article" />\n'
                f'<meta property="og:url" content="{url}" />\n<meta property="og:title" content="{attr(s.title)}" />\n'
                f'<meta property="article:published_time" content="{w3c(s.published)}" />\n'
                f'<meta property="article:modified_time" content="{w3c(s.modified)}" />\n'
                + "".join(f'<meta property="article:tag" content="{attr(t)}" />\n' for t in s.tags)
                + f'<script type="application/ld+json">{json.dumps(ld)}</script>\n')
        share = (f'<div class="social-bar"><a href="https://www.facebook.com/sharer/sharer.php?u={url}" class="share-facebook">Facebook</a>'
                 f'<a href="https://twitter.com/intent/tweet?url={url}&amp;text={attr(s.title)}" class="share-twitter">Twitter</a>'
                 f'<a href="mailto:?subject={attr(s.title)}&amp;body={url}" class="share-email">Email</a></div>\n')
        return self._page(b, esc(s.title), head, main, sidebar=share + self._sidebar(b, None),
                          body_class="path-node page-node-type-article")

    def _print(self, b, m, q):
        s = self.news.by_id(int(m[1]))
        if s is None or s is self.news.private:
            return None
        return (f'<!DOCTYPE html><html><head><title>{esc(s.title)}</title><link rel="canonical" href="{b}{self.article_path(s)}" />'
                f'</head><body class="printable"><h1>{esc(s.title)}</h1>{body_html(s)}</body></html>')

    # ---- chrome
    def _page(self, b, title, head, main, sidebar="", body_class="path-taxonomy"):
        menu = "".join(f'<li class="primary-nav__menu-item primary-nav__menu-item--level-1"><a href="{b}{self.listing_path(1, x)}" '
                       f'class="primary-nav__menu-link primary-nav__menu-link--link primary-nav__menu-link--level-1" '
                       f'data-drupal-link-system-path="taxonomy/term/{i + 1}"><span class="primary-nav__menu-link-inner">{esc(n)}</span></a></li>'
                       for i, (x, n) in enumerate(SECTIONS.items()))
        return ('<!DOCTYPE html>\n<html lang="en" dir="ltr">\n<head>\n<meta charset="utf-8" />\n'
                '<meta name="Generator" content="Drupal 10 (https://www.drupal.org)" />\n<meta name="MobileOptimized" content="width" />\n'
                f'{head}<title>{title} | {SITE}</title>\n'
                f'<link rel="stylesheet" media="all" href="{b}/core/themes/olivero/css/base/base.css?s3k1qz" />\n</head>\n'
                f'<body class="{body_class}">\n<a href="#main-content" class="visually-hidden focusable skip-link">Skip to main content</a>\n'
                '<div class="dialog-off-canvas-main-canvas" data-off-canvas-main-canvas>\n<div id="page-wrapper" class="page-wrapper"><div id="page">\n'
                '<header id="header" class="site-header" data-drupal-selector="site-header" role="banner"><div class="site-header__fixable">'
                f'<div class="site-branding"><a href="{b}/" title="Home" rel="home" class="site-branding__name">{SITE}</a></div>'
                '<nav role="navigation" aria-labelledby="block-olivero-main-menu-menu" id="block-olivero-main-menu" class="primary-nav block-menu navigation menu--main">'
                f'<ul class="menu primary-nav__menu primary-nav__menu--level-1">{menu}</ul></nav>'
                f'<div class="search-block-form" role="search"><form action="{b}/search/node" method="get"><input type="search" name="keys" /></form></div>'
                '</div></header>\n<div id="main-wrapper" class="layout-main-wrapper layout-container"><div id="main" class="layout-main">'
                '<div class="main-content"><a id="main-content" tabindex="-1"></a>\n'
                f'<div class="region region--breadcrumb"><nav class="breadcrumb" role="navigation"><ol class="breadcrumb__list">'
                f'<li class="breadcrumb__item"><a href="{b}/" class="breadcrumb__link">Home</a></li></ol></nav></div>\n'
                '<main role="main"><div class="region region--content grid-full layout--pass--content-medium" id="content">'
                f'<div id="block-olivero-content" class="block block-system block-system-main-block"><div class="block__content">\n{main}'
                '</div></div></div></main>\n</div>\n'
                f'<aside class="layout-sidebar region region--sidebar" role="complementary">\n{sidebar}</aside>\n</div></div>\n'
                '<footer class="site-footer"><div class="site-footer__inner container"><div class="region region--footer-top">'
                f'<nav role="navigation" class="block block-menu navigation menu--footer"><ul class="menu"><li class="menu__item"><a href="{b}/">Home</a></li>'
                f'<li class="menu__item"><a href="{b}/user/login?destination=/news/{SECTION_SLUG}">Log in</a></li>'
                f'<li class="menu__item"><a href="{b}/premium/{self.news.private.slug}">Members briefing</a></li></ul></nav></div>'
                '<div class="region region--footer-bottom"><div class="block block-system-powered-by-block"><span>Powered by '
                '<a href="https://www.drupal.org">Drupal</a></span></div></div></div></footer>\n</div></div></div>\n</body>\n</html>\n')


def build(seed: int = 2) -> Drupal10:
    return Drupal10(build_newsroom(seed, timezone(timedelta(hours=6))))
