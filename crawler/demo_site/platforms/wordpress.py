"""A WordPress site on the Twenty Twenty-Four block theme: query-loop listings
(``/category/x/page/N/``), ``?p=N`` shortlinks, Yoast-like head (JSON-LD and
meta author naming the first author only), Co-Authors Plus bylines naming all, Jetpack share buttons inside the
content, a calendar, monthly archives, a tag cloud, a "Latest news" block in the
main column and a country filter that adds a query parameter."""
from __future__ import annotations

import calendar
import json
from datetime import timedelta, timezone

from ..content import slugify
from .base import XML, Platform, attr, esc, paged, sitemap_index, urlset, w3c
from .newsroom import SECTION_SLUG, SECTIONS, Story, body_html, build_newsroom

SITE = "Steppe Review"
MONTH_ABBR = calendar.month_abbr


class WordPressBlockTheme(Platform):
    name = "wordpress"
    per_page = 10
    traps = {
        "disallowed": "/members/",
    }

    def __init__(self, newsroom):
        super().__init__(newsroom)
        first = self.section_stories[0]
        newest = self.news.stories[0].published
        before = newest.replace(day=1) - timedelta(days=1)
        self.traps = dict(self.traps, **{
            "date archive": f"/{newest.year:04d}/{newest.month:02d}/",
            "calendar": f"/{before.year:04d}/{before.month:02d}/",
            "faceted filter": f"/category/{SECTION_SLUG}/?filter_country={slugify(first.tags[0])}",
            "tag archive": f"/tag/{slugify(first.tags[-1])}/",
            "author archive": f"/author/{slugify(first.authors[0])}/",
            "amp twin": self.article_path(first) + "?amp=1",
            "print view": self.article_path(first) + "print/",
            "comment link": self.article_path(first) + f"?replytocom={first.id * 10 + 1}",
            "share link": self.article_path(first) + "?share=twitter",
        })

    # ---- URL scheme
    def article_path(self, s: Story) -> str:
        p = s.published
        return f"/{p.year:04d}/{p.month:02d}/{p.day:02d}/{s.slug}/"

    def listing_path(self, n: int, section: str = SECTION_SLUG) -> str:
        return paged(f"/category/{section}/", n)

    def routes(self):
        return [
            (r"/robots\.txt", lambda b, m, q: self.text(
                "User-agent: *\nDisallow: /wp-admin/\nDisallow: /members/\nAllow: /wp-admin/admin-ajax.php\n\n"
                f"Sitemap: {b}/wp-sitemap.xml\n")),
            (r"/wp-sitemap\.xml", lambda b, m, q: self.text(sitemap_index(
                [f"{b}/wp-sitemap-posts-post-1.xml", f"{b}/wp-sitemap-taxonomies-category-1.xml"]), XML)),
            (r"/wp-sitemap-posts-post-1\.xml", lambda b, m, q: self.text(
                urlset([(b + self.article_path(s), s.modified) for s in self.news.stories]), XML)),
            (r"/wp-sitemap-taxonomies-category-1\.xml", lambda b, m, q: self.text(
                urlset([(b + self.listing_path(1, x), None) for x in SECTIONS]), XML)),
            (r"/", self._home),
            (r"/category/([^/]+)/(?:page/(\d+)/)?", self._category),
            (r"/tag/([^/]+)/(?:page/(\d+)/)?", self._tag),
            (r"/author/([^/]+)/(?:page/(\d+)/)?", self._author),
            (r"/(\d{4})/(\d\d)/(?:(\d\d)/)?(?:page/(\d+)/)?", self._dated),
            (r"/(\d{4})/(\d\d)/(\d\d)/([^/]+)/(print/)?", self._article),
            (r"/members/.*", lambda b, m, q: self.forbidden(self._page(b, "Members", "", "<p>Please log in.</p>"))),
            (r"/about/", lambda b, m, q: self._page(b, "About", "", "<p>An independent review of Eurasia.</p>")),
            (r"/.*[^/]", self.add_slash),
        ]

    # ---- listings
    def _home(self, b, m, q):
        if "p" in q:   # shortlink
            s = self.news.by_id(int(q["p"])) if q["p"].isdigit() else None
            return self.redirect(b + self.article_path(s)) if s and s is not self.news.private else None
        return self._listing(b, "/", "Latest", self.news.stories, 1, "home blog")

    def _category(self, b, m, q):
        slug, n = m[1], int(m[2] or 1)
        if slug not in SECTIONS:
            return None
        items = self.news.in_section(slug)
        country = q.get("filter_country")
        if country:   # the faceted filter: a real listing, narrowed
            items = [s for s in items if country in {slugify(t) for t in s.tags}]
        return self._listing(b, f"/category/{slug}/", f"Category: <span>{esc(SECTIONS[slug])}</span>", items, n,
                             f"archive category category-{slug}", facet=slug == SECTION_SLUG, query=q)

    def _tag(self, b, m, q):
        name = self.news.tag_names().get(m[1])
        return name and self._listing(b, f"/tag/{m[1]}/", f"Tag: <span>{esc(name)}</span>", self.news.tagged(m[1]),
                                      int(m[2] or 1), f"archive tag tag-{m[1]}")

    def _author(self, b, m, q):
        name = self.news.author_names().get(m[1])
        return name and self._listing(b, f"/author/{m[1]}/", f"Author: <span>{esc(name)}</span>",
                                      self.news.by_author(m[1]), int(m[2] or 1), "archive author")

    def _dated(self, b, m, q):
        y, mo, d, n = int(m[1]), int(m[2]), m[3], int(m[4] or 1)
        items = self.news.in_month(y, mo)
        if d:
            items = [s for s in items if s.published.day == int(d)]
        root = f"/{y:04d}/{mo:02d}/" + (f"{d}/" if d else "")
        return self._listing(b, root, f"{calendar.month_name[mo]} {y}", items, n, "archive date")

    def _listing(self, b, root, heading, items, n, body_class, facet=False, query=None):
        pages = self.pages_of(items)
        if not items or n > pages:
            return None
        suffix = "" if not query else "?" + "&amp;".join(f"{k}={attr(v)}" for k, v in query.items())
        cards = "".join(self._card(b, s) for s in self.page_of(items, n))
        nav = []
        if n > 1:
            nav.append(f'<a href="{b}{paged(root, n - 1)}{suffix}" class="wp-block-query-pagination-previous">Previous Page</a>')
        if pages > 1:
            nums = "".join(f'<span aria-current="page" class="page-numbers current">{k}</span>' if k == n else
                           f'<a class="page-numbers" href="{b}{paged(root, k)}{suffix}">{k}</a>'
                           for k in range(1, pages + 1))
            nav.append(f'<div class="wp-block-query-pagination-numbers">{nums}</div>')
        if n < pages:
            nav.append(f'<a href="{b}{paged(root, n + 1)}{suffix}" class="wp-block-query-pagination-next">Next Page</a>')
        filters = ""
        if facet:
            countries = sorted({s.tags[0] for s in items})
            filters = ('<div class="wp-block-group query-filter"><p>Filter by country:</p><p>'
                       + " · ".join(f'<a href="{b}{root}?filter_country={slugify(c)}">{esc(c)}</a>' for c in countries)
                       + "</p></div>\n")
        latest = "".join(f'<li><a class="wp-block-latest-posts__post-title" href="{b}{self.article_path(s)}">{esc(s.title)}</a></li>'
                         for s in self.news.stories[:5])
        main = (f'<h1 class="wp-block-query-title">{heading}</h1>\n{filters}'
                '<div class="wp-block-query alignwide is-layout-flow wp-block-query-is-layout-flow">\n'
                f'<ul class="columns-3 wp-block-post-template is-layout-grid wp-container-core-post-template-is-layout-1 wp-block-post-template-is-layout-grid">\n{cards}</ul>\n'
                + (f'<nav class="alignwide wp-block-query-pagination is-content-justification-space-between is-layout-flex" aria-label="Pagination">{"".join(nav)}</nav>\n' if nav else "")
                + '</div>\n<div class="wp-block-group alignwide"><h2 class="wp-block-heading">Latest news</h2>'
                f'<ul class="wp-block-latest-posts__list wp-block-latest-posts">{latest}</ul></div>\n')
        title = f"{heading.replace('<span>', '').replace('</span>', '')}" + (f" &#8211; Page {n}" if n > 1 else "")
        head = f'<link rel="canonical" href="{b}{paged(root, n)}{suffix}" />\n'
        return self._page(b, title, head, main, body_class)

    def _card(self, b: str, s: Story) -> str:
        url = b + self.article_path(s)
        classes = " ".join([f"post-{s.id}", "post", "type-post", "status-publish", "format-standard", "has-post-thumbnail",
                            "hentry", *(f"category-{x}" for x in s.sections), *(f"tag-{slugify(t)}" for t in s.tags)])
        return (f'<li class="wp-block-post {classes}">\n'
                f'<figure style="aspect-ratio:3/2;" class="wp-block-post-featured-image"><a href="{url}" target="_self">'
                f'<img width="1200" height="800" src="{b}/wp-content/uploads/{s.slug[:30]}.jpg" alt="{attr(s.title)}" /></a></figure>\n'
                f'<h2 class="wp-block-post-title has-large-font-size"><a href="{url}" target="_self">{esc(s.title)}</a></h2>\n'
                f'{self._meta_line(b, s)}'
                f'<div class="wp-block-post-excerpt"><p class="wp-block-post-excerpt__excerpt">{esc(s.description)} </p>'
                f'<p class="wp-block-post-excerpt__more-text"><a class="wp-block-post-excerpt__more-link" href="{url}">Continue reading</a></p></div>\n'
                f'<div class="wp-block-comments-count"><a href="{url}#respond">Leave a comment</a></div>\n</li>\n')

    def _meta_line(self, b: str, s: Story) -> str:
        authors = " and ".join(f'<a href="{b}/author/{slugify(a)}/" target="_self" class="wp-block-post-author-name__link">'
                               f'{esc(a)}</a>' for a in s.authors)
        cats = '<span class="wp-block-post-terms__separator">, </span>'.join(
            f'<a href="{b}{self.listing_path(1, x)}" rel="tag">{esc(SECTIONS[x])}</a>' for x in s.sections)
        return ('<div class="wp-block-template-part"><div class="wp-block-group is-content-justification-left is-layout-flex">'
                f'<div class="wp-block-post-date"><time datetime="{w3c(s.published)}">{MONTH_ABBR[s.published.month]} '
                f'{s.published.day}, {s.published.year}</time></div><p>by</p><div class="wp-block-post-author-name">{authors}</div>'
                f'<p>in</p><div class="taxonomy-category wp-block-post-terms">{cats}</div></div></div>\n')

    # ---- articles
    def _article(self, b, m, q):
        s = self.news.by_slug(m[4])
        if s is None or s is self.news.private or self.article_path(s) != f"/{m[1]}/{m[2]}/{m[3]}/{m[4]}/":
            return None
        url = b + self.article_path(s)
        if m[5]:   # print view: the bare article
            return (f'<!DOCTYPE html><html><head><title>{esc(s.title)}</title><link rel="canonical" href="{url}" />'
                    f'<meta name="robots" content="noindex" /></head><body><h1>{esc(s.title)}</h1>{body_html(s)}</body></html>')
        if q.get("amp") == "1":
            return (f'<!doctype html><html amp lang="en-US"><head><meta charset="utf-8"><title>{esc(s.title)} &#8211; {SITE}</title>'
                    f'<link rel="canonical" href="{url}" /></head><body><article class="amp-wp-article">'
                    f'<h1 class="amp-wp-title">{esc(s.title)}</h1><div class="amp-wp-article-content">{body_html(s)}</div>'
                    '</article></body></html>')
        i = self.news.stories.index(s)
        older = self.news.stories[i + 1] if i + 1 < len(self.news.stories) else None
        newer = self.news.stories[i - 1] if i else None
        elsewhere = [x for x in self.news.stories if SECTION_SLUG not in x.sections][:3]
        share = "".join(f'<li class="share-{k}"><a rel="nofollow noopener noreferrer" class="share-{k} sd-button" '
                        f'href="{url}?share={k}" target="_blank"><span>{label}</span></a></li>'
                        for k, label in (("twitter", "Twitter"), ("facebook", "Facebook"), ("print", "Print")))
        tags = '<span class="wp-block-post-terms__separator">, </span>'.join(
            f'<a href="{b}/tag/{slugify(t)}/" rel="tag">{esc(t)}</a>' for t in s.tags)
        navs = "".join(f'<div class="post-navigation-link-{k} wp-block-post-navigation-link"><a href="{b}{self.article_path(x)}" '
                       f'rel="{"prev" if k == "previous" else "next"}">{esc(x.title)}</a></div>'
                       for k, x in (("previous", older), ("next", newer)) if x)
        comments = "".join(
            f'<li id="comment-{s.id * 10 + k}" class="comment even depth-1"><div class="wp-block-comment-author-name">'
            f'<a rel="external nofollow ugc" href="https://example.org/~reader{k}" target="_self">Reader {k}</a></div>'
            f'<div class="wp-block-comment-content"><p>Thank you for this piece.</p></div><div class="wp-block-comment-reply-link">'
            f'<a rel="nofollow" class="comment-reply-link" href="{url}?replytocom={s.id * 10 + k}#respond">Reply</a></div></li>'
            for k in (1, 2))
        main = (f'<div class="wp-block-group"><h1 class="wp-block-post-title">{esc(s.title)}</h1>\n{self._meta_line(b, s)}</div>\n'
                f'<figure class="wp-block-post-featured-image"><img src="{b}/wp-content/uploads/{s.slug[:30]}.jpg" alt="" /></figure>\n'
                f'<div class="entry-content wp-block-post-content is-layout-constrained">\n{body_html(s)}'
                '<div class="sharedaddy sd-sharing-enabled"><div class="robots-nocontent sd-block sd-social">'
                f'<h3 class="sd-title">Share this:</h3><div class="sd-content"><ul>{share}</ul></div></div></div>\n</div>\n'
                f'<div class="wp-block-group"><div class="taxonomy-post_tag wp-block-post-terms">{tags}</div>'
                f'<p class="print-link"><a href="{url}print/" rel="nofollow">Print this article</a></p></div>\n'
                f'<nav class="wp-block-group post-navigation" aria-label="Posts">{navs}</nav>\n'
                '<div class="wp-block-group alignwide related-posts"><h2 class="wp-block-heading">More from ' + SITE + '</h2>'
                '<ul class="wp-block-latest-posts__list wp-block-latest-posts">'
                + "".join(f'<li><a class="wp-block-latest-posts__post-title" href="{b}{self.article_path(x)}">{esc(x.title)}</a></li>'
                          for x in elsewhere)
                + '</ul></div>\n<div class="wp-block-comments"><h2 id="comments" class="wp-block-comments-title">2 responses</h2>'
                f'<ol class="wp-block-comment-template">{comments}</ol><div id="respond" class="comment-respond">'
                f'<form action="{b}/wp-comments-post.php" method="post"><textarea name="comment"></textarea></form></div></div>\n')
        return self._page(b, esc(s.title), self._article_head(b, s), main,
                          f"post-template-default single single-post postid-{s.id} single-format-standard")

    def _article_head(self, b: str, s: Story) -> str:
        url = b + self.article_path(s)
        first = s.authors[0]
        graph = [{"@type": "Article", "@id": url + "#article", "isPartOf": {"@id": url},
                  "author": {"name": first, "@id": f"{b}/#/schema/person/{slugify(first)}"},
                  "headline": s.title, "datePublished": w3c(s.published), "dateModified": w3c(s.modified),
                  "mainEntityOfPage": {"@id": url}, "articleSection": [SECTIONS[x] for x in s.sections],
                  "keywords": s.tags, "inLanguage": "en-US"},
                 {"@type": "WebPage", "@id": url, "url": url, "name": f"{s.title} - {SITE}"},
                 {"@type": "Person", "@id": f"{b}/#/schema/person/{slugify(first)}", "name": first}]
        cats = "".join(f'<meta property="article:section" content="{attr(SECTIONS[x])}" />\n' for x in s.sections[:1])
        return (f'<link rel="canonical" href="{url}" />\n<meta property="og:type" content="article" />\n'
                f'<meta property="og:title" content="{attr(s.title)}" />\n<meta property="og:url" content="{url}" />\n'
                f'<meta property="og:site_name" content="{SITE}" />\n{cats}'
                f'<meta property="article:published_time" content="{w3c(s.published)}" />\n'
                f'<meta property="article:modified_time" content="{w3c(s.modified)}" />\n'
                f'<meta name="author" content="{attr(first)}" />\n'
                '<script type="application/ld+json" class="yoast-schema-graph">'
                + json.dumps({"@context": "https://schema.org", "@graph": graph}) + "</script>\n"
                f"<link rel='shortlink' href='{b}/?p={s.id}' />\n<link rel=\"amphtml\" href=\"{url}?amp=1\" />\n")

    # ---- chrome
    def _page(self, b: str, title: str, head: str, main: str, body_class: str = "page") -> str:
        menu = "".join(f'<li class="wp-block-navigation-item"><a class="wp-block-navigation-item__content" '
                       f'href="{b}{self.listing_path(1, x)}"><span class="wp-block-navigation-item__label">{esc(name)}</span></a></li>'
                       for x, name in SECTIONS.items())
        return ('<!DOCTYPE html>\n<html lang="en-US">\n<head>\n<meta charset="UTF-8" />\n'
                '<meta name="viewport" content="width=device-width, initial-scale=1" />\n'
                f"<meta name='robots' content='max-image-preview:large' />\n<title>{title} &#8211; {SITE}</title>\n{head}"
                f'<link rel="alternate" type="application/rss+xml" title="{SITE} &raquo; Feed" href="{b}/feed/" />\n'
                f'<link rel="https://api.w.org/" href="{b}/wp-json/" />\n</head>\n<body class="{body_class} wp-embed-responsive">\n'
                '<div class="wp-site-blocks">\n<header class="wp-block-template-part"><div class="wp-block-group alignwide is-layout-flex">'
                f'<p class="wp-block-site-title"><a href="{b}/" target="_self" rel="home">{SITE}</a></p>'
                f'<nav class="is-responsive items-justified-right wp-block-navigation" aria-label="Header navigation">'
                f'<ul class="wp-block-navigation__container">{menu}<li class="wp-block-navigation-item"><a class="wp-block-navigation-item__content" href="{b}/about/">About</a></li></ul></nav>'
                '</div></header>\n'
                f'<main class="wp-block-group is-layout-constrained" id="wp--skip-link--target">\n{main}</main>\n'
                f'{self._footer(b)}</div>\n</body>\n</html>\n')

    def _footer(self, b: str) -> str:
        months = "".join(f"<li><a href='{b}/{y:04d}/{m:02d}/'>{calendar.month_name[m]} {y}</a></li>"
                         for y, m in self.news.months()[:6])
        newest = self.news.stories[0].published
        y, mo = newest.year, newest.month
        days = {s.published.day for s in self.news.in_month(y, mo)}
        cells = "".join(f'<td><a href="{b}/{y:04d}/{mo:02d}/{d:02d}/" aria-label="Posts published on {calendar.month_name[mo]} {d}, {y}">{d}</a></td>'
                        if d in days else f"<td>{d}</td>" for d in range(1, calendar.monthrange(y, mo)[1] + 1))
        prev = (newest.replace(day=1) - timedelta(days=1))
        tags = "".join(f'<a href="{b}/tag/{slug}/" class="tag-cloud-link tag-link-position-{i + 1}" style="font-size: 8pt;" '
                       f'aria-label="{attr(name)}">{esc(name)}</a>\n'
                       for i, (slug, name) in enumerate(sorted(self.news.tag_names().items())))
        return ('<footer class="wp-block-template-part"><div class="wp-block-columns alignwide is-layout-flex">\n'
                f'<div class="wp-block-column"><h2 class="wp-block-heading">Archives</h2><ul class="wp-block-archives-list wp-block-archives">{months}</ul></div>\n'
                f'<div class="wp-block-column"><div class="wp-block-calendar"><table id="wp-calendar" class="wp-calendar-table">'
                f'<caption>{calendar.month_name[mo]} {y}</caption><tbody><tr>{cells}</tr></tbody></table>'
                f'<nav aria-label="Previous and next months" class="wp-calendar-nav"><span class="wp-calendar-nav-prev">'
                f'<a href="{b}/{prev.year:04d}/{prev.month:02d}/">&laquo; {MONTH_ABBR[prev.month]}</a></span></nav></div></div>\n'
                f'<div class="wp-block-column"><p class="wp-block-tag-cloud">{tags}</p></div>\n'
                f'<div class="wp-block-column"><ul class="wp-block-page-list"><li class="wp-block-pages-list__item"><a href="{b}/about/">About</a></li>'
                f'<li class="wp-block-pages-list__item"><a href="{b}/members/">Members</a></li></ul></div>\n</div>\n'
                '<p class="has-text-align-center">Designed with <a href="https://wordpress.org" rel="nofollow">WordPress</a></p></footer>\n')


def build(seed: int = 1) -> WordPressBlockTheme:
    return WordPressBlockTheme(build_newsroom(seed, timezone(timedelta(hours=5))))
