"""A Ghost 5 site on the Casper theme: sections are primary tags
(``/tag/x/page/N/``), pagination only as ``<link rel="next">`` in the head (Casper
loads the next page by script), ``/slug/amp/`` twins, JSON-LD naming the primary
author only while the byline names all, "Read more" cards from other sections with
the listing's own card markup, a ``/p/`` preview behind robots.txt, and monthly
archive collections."""
from __future__ import annotations

import calendar
import json
from datetime import timezone

from ..content import slugify
from .base import XML, Platform, attr, esc, paged, sitemap_index, urlset
from .newsroom import SECTION_SLUG, SECTIONS, Story, body_html, build_newsroom

SITE = "The Steppe Letter"
PREVIEW_UUID = "4c1f0e2a-8b57-4d0e-9a43-5b8e2f1d7c60"


def _ghost_time(dt) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class Ghost5(Platform):
    name = "ghost"
    per_page = 8

    def __init__(self, newsroom):
        super().__init__(newsroom)
        first = self.section_stories[0]
        y, m = self.news.months()[0]
        self.traps = {
            "date archive": f"/archive/{y:04d}/{m:02d}/",
            "calendar": "/archive/{:04d}/{:02d}/".format(*self.news.months()[1]),   # the month before
            "faceted filter": f"/tag/{SECTION_SLUG}/?sort=popular",
            "print view": self.article_path(first) + "?print=1",
            "tag archive": f"/tag/{slugify(first.tags[-1])}/",
            "author archive": f"/author/{slugify(first.authors[0])}/",
            "amp twin": self.article_path(first) + "amp/",
            "comment link": self.article_path(first) + "#ghost-comments-root",
            "share link": self.article_path(first) + "?ref=share",
            "disallowed": f"/p/{PREVIEW_UUID}/",
        }

    def article_path(self, s: Story) -> str:
        return f"/{s.slug}/"

    def listing_path(self, n: int, section: str = SECTION_SLUG) -> str:
        return paged(f"/tag/{section}/", n)

    def routes(self):
        return [
            (r"/robots\.txt", lambda b, m, q: self.text(
                f"User-agent: *\nSitemap: {b}/sitemap.xml\nDisallow: /ghost/\nDisallow: /p/\nDisallow: /email/\nDisallow: /r/\n"
                "Disallow: /webmentions/receive/\n")),
            (r"/sitemap\.xml", lambda b, m, q: self.text(sitemap_index(
                [f"{b}/sitemap-{k}.xml" for k in ("pages", "posts", "authors", "tags")]), XML)),
            (r"/sitemap-posts\.xml", lambda b, m, q: self.text(
                urlset([(b + self.article_path(s), s.modified) for s in self.news.stories]), XML)),
            (r"/sitemap-pages\.xml", lambda b, m, q: self.text(urlset([(b + "/about/", None)]), XML)),
            (r"/sitemap-authors\.xml", lambda b, m, q: self.text(
                urlset([(f"{b}/author/{a}/", None) for a in self.news.author_names()]), XML)),
            (r"/sitemap-tags\.xml", lambda b, m, q: self.text(
                urlset([(f"{b}/tag/{t}/", None) for t in {**self.news.tag_names(), **SECTIONS}]), XML)),
            (r"/(?:page/(\d+)/)?", lambda b, m, q: self._listing(b, "/", None, self.news.stories, int(m[1] or 1))),
            (r"/tag/([^/]+)/(?:page/(\d+)/)?", self._tag),
            (r"/author/([^/]+)/(?:page/(\d+)/)?", lambda b, m, q: m[1] in self.news.author_names() and self._listing(
                b, f"/author/{m[1]}/", self.news.author_names()[m[1]], self.news.by_author(m[1]), int(m[2] or 1)) or None),
            (r"/archive/(\d{4})/(\d\d)/(?:page/(\d+)/)?", lambda b, m, q: self._listing(
                b, f"/archive/{m[1]}/{m[2]}/", f"{calendar.month_name[int(m[2])]} {m[1]}",
                self.news.in_month(int(m[1]), int(m[2])), int(m[3] or 1)) if 1 <= int(m[2]) <= 12 else None),
            (r"/p/([^/]+)/", lambda b, m, q: self._post(b, self.news.private) if m[1] == PREVIEW_UUID else None),
            (r"/about/", lambda b, m, q: self._page(b, "About", "", '<main id="site-main" class="site-main outer"><p>A letter from the steppe.</p></main>', "page-template")),
            (r"/([^/]+)/(amp/)?", self._article),
            (r"/.*[^/]", self.add_slash),
        ]

    # ---- listings
    def _tag(self, b, m, q):
        slug, n = m[1], int(m[2] or 1)
        names = {**self.news.tag_names(), **SECTIONS}
        if slug not in names:
            return None
        items = self.news.in_section(slug) if slug in SECTIONS else self.news.tagged(slug)
        return self._listing(b, f"/tag/{slug}/", names[slug], items, n)

    def _listing(self, b, root, heading, items, n):
        pages = self.pages_of(items)
        if not items or n > pages:
            return None
        cards = "".join(self._card(b, s, large=heading is None and n == 1 and i == 0)
                        for i, s in enumerate(self.page_of(items, n)))
        header = ""
        if heading is not None:
            header = ('<section class="post-card post-card-large"><div class="post-card-content"><div class="post-card-content-link">'
                      f'<header class="post-card-header"><h2 class="post-card-title">{esc(heading)}</h2></header>'
                      f'<div class="post-card-excerpt">A collection of {len(items)} posts</div></div></div></section>\n')
        tools = ""
        if root.startswith("/tag/"):   # the theme's sort switch: Ghost serves any query string
            tools = (f'<div class="feed-sort">Sort: <a href="{b}{root}?sort=latest">Latest</a> · '
                     f'<a href="{b}{root}?sort=popular">Popular</a></div>\n')
        elif root.startswith("/archive/"):   # month to month, back in time and forth
            months = self.news.months()
            i = months.index(tuple(int(x) for x in root.strip("/").split("/")[1:]))
            tools = ('<nav class="archive-months">'
                     + (f'<a href="{b}/archive/{months[i + 1][0]:04d}/{months[i + 1][1]:02d}/">← Earlier</a> ' if i + 1 < len(months) else "")
                     + (f'<a href="{b}/archive/{months[i - 1][0]:04d}/{months[i - 1][1]:02d}/">Later →</a>' if i else "")
                     + "</nav>\n")
        main = (f'<main id="site-main" class="site-main outer">\n<div class="inner posts">\n{tools}<div class="post-feed">\n{header}{cards}'
                '</div>\n</div>\n</main>\n')
        url = b + paged(root, n)
        if not self.walkable and n < pages:
            main = main.replace('</div>\n</main>', '<button class="gh-loadmore gh-btn">Load more</button></div>\n</main>')
        head = (f'<link rel="canonical" href="{url}">\n'
                + (f'<link rel="prev" href="{b}{paged(root, n - 1)}">\n' if n > 1 and self.walkable else "")
                + (f'<link rel="next" href="{b}{paged(root, n + 1)}">\n' if n < pages and self.walkable else "")
                + f'<meta property="og:type" content="website">\n<meta property="og:url" content="{url}">\n')
        title = (heading or SITE) + (f" (Page {n})" if n > 1 else "")
        return self._page(b, esc(title) if heading is None else f"{esc(title)} - {SITE}", head, main,
                          "tag-template" if heading else "home-template")

    def _card(self, b: str, s: Story, large: bool = False) -> str:
        url = b + self.article_path(s)
        classes = " ".join(["post-card", "post", *(f"tag-{x}" for x in s.sections), *(f"tag-{slugify(t)}" for t in s.tags)]
                           + (["post-card-large"] if large else []))
        authors = "".join(f'<li class="author-list-item"><a href="{b}/author/{slugify(a)}/" class="static-avatar">'
                          f'<img class="author-profile-image" src="{b}/content/images/{slugify(a)}.jpg" alt="{attr(a)}" /></a></li>'
                          for a in s.authors)
        return (f'<article class="{classes}">\n<a class="post-card-image-link" href="{url}">'
                f'<img class="post-card-image" src="{b}/content/images/2021/{s.slug[:24]}.jpg" alt="{attr(s.title)}" loading="lazy" /></a>\n'
                f'<div class="post-card-content">\n<a class="post-card-content-link" href="{url}">\n<header class="post-card-header">'
                f'<div class="post-card-tags"><span class="post-card-primary-tag">{esc(SECTIONS[s.section])}</span></div>'
                f'<h2 class="post-card-title">{esc(s.title)}</h2></header>\n'
                f'<div class="post-card-excerpt">{esc(s.description)}</div>\n</a>\n<footer class="post-card-meta">'
                f'<ul class="author-list">{authors}</ul>'
                f'<time class="post-card-meta-date" datetime="{s.published:%Y-%m-%d}">{s.published:%b %-d, %Y}</time>'
                f'<span class="post-card-meta-length">{max(1, len(s.text.split()) // 250)} min read</span></footer>\n</div>\n</article>\n')

    # ---- articles
    def _article(self, b, m, q):
        s = self.news.by_slug(m[1])
        if s is None or s is self.news.private:
            return None
        if m[2]:
            url = b + self.article_path(s)
            return (f'<!doctype html><html amp lang="en"><head><meta charset="utf-8"><title>{esc(s.title)}</title>'
                    f'<link rel="canonical" href="{url}"></head><body><article class="post"><header class="post-header">'
                    f'<h1 class="post-title">{esc(s.title)}</h1></header><section class="post-content">{body_html(s)}</section>'
                    '</article></body></html>')
        return self._post(b, s)

    def _post(self, b: str, s: Story) -> str:
        url = b + self.article_path(s)
        primary = s.authors[0]
        ld = {"@context": "https://schema.org", "@type": "Article",
              "publisher": {"@type": "Organization", "name": SITE, "url": b + "/"},
              "author": {"@type": "Person", "name": primary, "url": f"{b}/author/{slugify(primary)}/"},
              "headline": s.title, "url": url, "datePublished": _ghost_time(s.published),
              "dateModified": _ghost_time(s.modified), "keywords": ", ".join([SECTIONS[x] for x in s.sections] + s.tags),
              "description": s.description, "mainEntityOfPage": url}
        head = (f'<link rel="canonical" href="{url}">\n<link rel="amphtml" href="{url}amp/">\n'
                f'<meta property="og:site_name" content="{SITE}">\n<meta property="og:type" content="article">\n'
                f'<meta property="og:title" content="{attr(s.title)}">\n<meta property="og:url" content="{url}">\n'
                f'<meta property="article:published_time" content="{_ghost_time(s.published)}">\n'
                f'<meta property="article:modified_time" content="{_ghost_time(s.modified)}">\n'
                + "".join(f'<meta property="article:tag" content="{attr(t)}">\n' for t in [SECTIONS[x] for x in s.sections] + s.tags)
                + f'<meta name="twitter:label1" content="Written by">\n<meta name="twitter:data1" content="{attr(", ".join(s.authors))}">\n'
                f'<script type="application/ld+json">\n{json.dumps(ld, indent=4)}\n</script>\n')
        byline = ", ".join(f'<a href="{b}/author/{slugify(a)}/">{esc(a)}</a>' for a in s.authors)
        more = [x for x in self.news.stories if SECTION_SLUG not in x.sections][:3]
        main = ('<main id="site-main" class="site-main">\n'
                f'<article class="article post {" ".join(f"tag-{x}" for x in s.sections)}">\n<header class="article-header gh-canvas">\n'
                f'<div class="article-tag post-card-tags"><span class="post-card-primary-tag"><a href="{b}/tag/{s.section}/">'
                f'{esc(SECTIONS[s.section])}</a></span></div>\n<h1 class="article-title">{esc(s.title)}</h1>\n'
                f'<p class="article-excerpt">{esc(s.description)}</p>\n<div class="article-byline"><section class="article-byline-content">'
                f'<div class="article-byline-meta"><h4 class="author-name">{byline}</h4><div class="byline-meta-content">'
                f'<time class="byline-meta-date" datetime="{s.published:%Y-%m-%d}">{s.published:%b %-d, %Y}</time>'
                f'<span class="byline-reading-time"><span class="bull">&bull;</span> {max(1, len(s.text.split()) // 250)} min read</span>'
                '</div></div></section></div>\n</header>\n'
                f'<section class="gh-content gh-canvas">\n{body_html(s)}</section>\n'
                '<footer class="article-tags gh-canvas">'
                + "".join(f'<a href="{b}/tag/{slugify(t)}/" class="article-tag-link">#{esc(t)}</a> ' for t in s.tags)
                + '</footer>\n'
                f'<div class="share gh-canvas"><a href="https://twitter.com/intent/tweet?url={url}" class="share-twitter">Share on Twitter</a> '
                f'<a href="{url}?ref=share" class="share-copy">Copy link</a> '
                f'<a href="{url}?print=1" class="share-print">Print</a></div>\n'
                + self._read_next(b, s)
                + f'<section class="article-comments gh-canvas"><a href="{url}#ghost-comments-root">Discussion</a>'
                f'<div id="ghost-comments-root"></div></section>\n</article>\n</main>\n'
                '<aside class="read-more-wrap outer"><div class="read-more inner">\n'
                + "".join(self._card(b, x) for x in more) + '</div></aside>\n')
        return self._page(b, esc(s.title), head, main, "post-template")

    def _read_next(self, b: str, s: Story) -> str:
        """Older and newer posts of the story's section (``{{#prev_post in="tags"}}``), and
        the latest post of another section to read next."""
        if self.walkable:
            return ""
        same = self.section_stories if SECTION_SLUG in s.sections else self.news.in_section(s.section)
        if s not in same:   # the unpublished preview
            return ""
        i = same.index(s)
        links = [(k, x) for k, x in (("prev", same[i + 1] if i + 1 < len(same) else None), ("next", same[i - 1] if i else None)) if x]
        latest = next(x for x in self.news.stories if not set(x.sections) & set(s.sections))
        return ('<nav class="post-nav gh-canvas">' + "".join(
            f'<a class="post-nav-{k}" href="{b}{self.article_path(x)}"><span>{"Older" if k == "prev" else "Newer"} post</span> '
            f'{esc(x.title)}</a>' for k, x in links) + '</nav>\n'
            f'<a class="read-next-card" href="{b}{self.article_path(latest)}">Read next: {esc(latest.title)}</a>\n')

    # ---- chrome
    def _page(self, b, title, head, main, body_class):
        nav = "".join(f'<li class="nav-{x}"><a href="{b}{self.listing_path(1, x)}">{esc(n)}</a></li>' for x, n in SECTIONS.items())
        months = "".join(f'<a href="{b}/archive/{y:04d}/{m:02d}/">{calendar.month_abbr[m]} {y}</a>' for y, m in self.news.months())
        return ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta http-equiv="X-UA-Compatible" content="IE=edge">\n'
                f'<title>{title}</title>\n<meta name="HandheldFriendly" content="True">\n'
                f'<link rel="stylesheet" type="text/css" href="{b}/assets/built/screen.css?v=4f1c2b3d5e">\n{head}'
                f'<meta name="generator" content="Ghost 5.74">\n<link rel="alternate" type="application/rss+xml" title="{SITE}" href="{b}/rss/">\n'
                f'</head>\n<body class="{body_class} is-head-left-logo has-cover">\n<div class="viewport">\n'
                '<header id="gh-head" class="gh-head outer"><div class="gh-head-inner inner">'
                f'<div class="gh-head-brand"><a class="gh-head-logo" href="{b}/">{SITE}</a></div>'
                f'<nav class="gh-head-menu"><ul class="nav">{nav}</ul></nav>'
                f'<div class="gh-head-actions"><a class="gh-head-link" href="#/portal/signin" data-portal="signin">Sign in</a></div></div></header>\n'
                f'<div class="site-content">\n{main}</div>\n'
                '<footer class="site-footer outer"><div class="inner">'
                f'<section class="copyright"><a href="{b}/">{SITE}</a> &copy; 2021</section>'
                f'<nav class="site-footer-nav"><ul><li><a href="{b}/about/">About</a></li>'
                f'<li><a href="{b}/p/{PREVIEW_UUID}/">Members preview</a></li></ul></nav>'
                f'<nav class="site-footer-archive">{months}</nav>'
                '<div class="gh-powered-by"><a href="https://ghost.org/" target="_blank" rel="noopener">Powered by Ghost</a></div>'
                '</div></footer>\n</div>\n'
                f'<script src="{b}/assets/built/casper.js?v=4f1c2b3d5e"></script>\n</body>\n</html>\n')


class Ghost5LoadMore(Ghost5):
    """Ghost whose section listing shows its first page only, with a "Load more"
    button run by a script: the rest of the section is reached from article to
    article (older/newer post in the same tag), as on many themes."""

    name = "ghost-load-more"
    walkable = False

    def listing_urls(self, base: str) -> list[str]:
        return [base + self.listing_path(1)]   # the only page a crawl can find


def build(seed: int = 3) -> Ghost5:
    return Ghost5(build_newsroom(seed, timezone.utc))


def build_load_more(seed: int = 3) -> Ghost5LoadMore:
    return Ghost5LoadMore(build_newsroom(seed, timezone.utc))
