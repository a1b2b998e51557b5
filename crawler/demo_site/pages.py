"""HTML and XML of the demo site, by plain string templating (it has to be fast).

Markup follows the WordPress "Zox News" theme as described in shared/site-notes.md.
Every function takes ``base`` (the absolute site URL, as WordPress prints absolute
links everywhere), and the HTML ones ``now`` (simulated epoch seconds, for the
"5 hours ago" labels) and ``nonce`` (so two fetches of one page differ in bytes).
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from email.utils import format_datetime
from html import escape

from .content import DemoArticle, DemoSite, _voc, slugify

SITE_NAME = "Modern Diplomacy"
MONTHS = ("", "January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
_TEXTURE = str.maketrans({"’": "&#8217;", "‘": "&#8216;", "“": "&#8220;", "”": "&#8221;",
                          "–": "&#8211;", "—": "&#8212;", "\xa0": "&nbsp;"})


def esc(s: str) -> str:
    return escape(s, quote=False).replace("\xa0", "&nbsp;")


def tx(s: str) -> str:
    """Titles as wptexturize prints them: typography as numeric entities."""
    return escape(s, quote=False).translate(_TEXTURE)


def attr(s: str) -> str:
    return escape(s, quote=True)


def ago(now: float, dt: datetime) -> str:
    """WordPress human_time_diff() + " ago"."""
    secs = max(60.0, now - dt.timestamp())
    for size, unit in ((31536000, "year"), (2592000, "month"), (604800, "week"), (86400, "day"),
                       (3600, "hour"), (60, "min")):
        if secs >= size:
            n = int(secs // size)
            return f"{n} {unit}{'s' if n > 1 else ''} ago"
    return "1 min ago"


def long_date(dt: datetime) -> str:
    return f"{MONTHS[dt.month]} {dt.day}, {dt.year}"


def body_html(a: DemoArticle, malformed: bool = False) -> str:
    """The article body: <p>/<h2>/<h3>, consecutive list items grouped in one <ul>."""
    if not malformed and "body" in a.cache:
        return a.cache["body"]
    out, in_list = [], False
    for i, (kind, text) in enumerate(zip(a.block_types, a.paragraphs)):
        if in_list and kind != "li":
            out.append("</ul>\n")
            in_list = False
        # the broken page leaves "<" bare and never closes its paragraphs
        t = text.replace("&", "&amp;") if malformed else esc(text)
        t = t.replace("\n", "<br />\n")
        if kind == "li":
            out.append(("" if in_list else "<ul>\n") + f"<li>{t}</li>\n")
            in_list = True
        elif kind in ("h2", "h3"):
            out.append(f"<{kind}><strong>{t}</strong></{kind}>\n")
        else:
            out.append(f"<p>{t}\n" if malformed else f"<p>{t}</p>\n")
        if i == 1:   # ad slot: markup without text, as ad plugins insert it
            out.append('<div class="code-block code-block-2" style="margin: 8px 0; clear: both;">\n'
                       '<ins class="adsbygoogle" data-ad-client="ca-pub-0000" data-ad-slot="1234"></ins>\n</div>\n')
    if in_list:
        out.append("</ul>\n")
    html = "".join(out)
    if not malformed:
        a.cache["body"] = html
    return html


# --------------------------------------------------------------------------- chrome

def _assets(base: str, nonce: str) -> str:
    b = base.replace("/", "\\/")
    return (
        f"<link rel='stylesheet' id='wp-block-library-css' href='{base}/wp-includes/css/dist/block-library/style.min.css?ver=5.8.1' type='text/css' media='all' />\n"
        f"<link rel='stylesheet' id='mvp-custom-style-css' href='{base}/wp-content/themes/zox-news/style.css?ver=5.8.1' type='text/css' media='all' />\n"
        f"<link rel='stylesheet' id='fontawesome-css' href='{base}/wp-content/themes/zox-news/font-awesome/css/all.css?ver=5.8.1' type='text/css' media='all' />\n"
        '<style id="mvp-custom-style">#mvp-content-main p{font-size:1.1rem}.mvp-cont-read-but{cursor:pointer}'
        '.mvp-post-add-main{max-height:500px;overflow:hidden}</style>\n'
        f"<script type='text/javascript' src='{base}/wp-includes/js/jquery/jquery.min.js?ver=3.6.0' id='jquery-core-js'></script>\n"
        f"<script type='text/javascript' id='mvp-custom-js-extra'>\n/* <![CDATA[ */\nvar mvpAjax = "
        f'{{"ajaxurl":"{b}\\/wp-admin\\/admin-ajax.php","nonce":"{nonce}","infinite":"1"}};\n/* ]]> */\n</script>\n'
        f'<link rel="alternate" type="application/rss+xml" title="{SITE_NAME} &raquo; Feed" href="{base}/feed/" />\n'
        f'<link rel="https://api.w.org/" href="{base}/wp-json/" />\n'
        f'<link rel="EditURI" type="application/rsd+xml" title="RSD" href="{base}/xmlrpc.php?rsd" />\n')


def _header(site: DemoSite, base: str) -> str:
    menu = "".join(f'<li class="menu-item menu-item-type-taxonomy menu-item-object-category">'
                   f'<a href="{base}/category/{slug}/">{esc(name)}</a></li>' for slug, name in site.sections().items())
    return (
        '<div id="mvp-site" class="left relative"><div id="mvp-site-wall" class="left relative">\n'
        f'<div id="mvp-fly-wrap"><nav class="mvp-fly-nav-menu left relative"><ul class="menu">{menu}</ul></nav></div>\n'
        '<div id="mvp-site-main" class="left relative">\n<header id="mvp-main-head-wrap" class="left relative">\n'
        '<div id="mvp-top-bar"><span class="mvp-top-soc-head">Connect with us</span>'
        '<a href="#" class="mvp-top-soc-fb"><i class="fab fa-facebook-f"></i></a>'
        '<a href="#" class="mvp-top-soc-tw"><i class="fab fa-twitter"></i></a>'
        f' <a href="{base}/wp-login.php" class="mvp-top-login">Log in</a>'
        f' <a href="{base}/wp-admin/" class="mvp-top-dash">Dashboard</a></div>\n'
        f'<div class="mvp-logo-wrap"><a href="{base}/" itemprop="url"><img src="{base}/wp-content/uploads/logo.png" '
        f'alt="{SITE_NAME}" data-rjs="2" /></a></div>\n'
        f'<nav id="mvp-main-nav-wrap" class="left relative"><div class="mvp-main-menu-wrap"><div class="menu-main-menu-container">'
        f'<ul id="menu-main-menu" class="menu"><li class="menu-item"><a href="{base}/">Home</a></li>{menu}</ul></div></div>\n'
        f'<form method="get" id="searchform" action="{base}/"><input type="text" name="s" id="s" value="Search" /></form></nav>\n'
        '</header>\n<div id="mvp-main-body-wrap" class="left relative">\n<div class="mvp-main-box">\n')


def _side_story(a: DemoArticle, base: str, now: float, excerpt: bool) -> str:
    text = f"<p>{esc(a.description[:150])}...</p>" if excerpt else ""
    return (f'<div class="mvp-feat1-list-cont left relative"><a href="{base}{a.path}" rel="bookmark">'
            f'<div class="mvp-feat1-list-out relative"><div class="mvp-feat1-list-in"><div class="mvp-feat1-list-text">'
            f'<div class="mvp-cat-date-wrap left relative"><span class="mvp-cd-cat left relative">{esc(a.section)}</span>'
            f'<span class="mvp-cd-date left relative">{ago(now, a.published)}</span></div>'
            f'<h2>{tx(a.title)}</h2>{text}</div></div></div></a></div>\n')


def _sidebar_and_footer(site: DemoSite, base: str, now: float, nonce: str) -> str:
    others = sorted(site.other_articles, key=lambda a: a.published, reverse=True)
    latest = "".join(_side_story(a, base, now, True) for a in others[:7])
    trending = "".join(_side_story(a, base, now, False) for a in others[7:])
    year = site.now.year
    return (
        '<div id="mvp-side-wrap" class="left relative theiaStickySidebar">\n'
        f'<section class="mvp-side-widget"><div class="mvp-widget-home-head"><h4 class="mvp-widget-home-title">'
        f'<a href="{base}/category/reports/"><span class="mvp-widget-home-title">Publications</span></a></h4></div></section>\n'
        '<section class="mvp-side-widget mvp-widget-tab-wrap"><div class="mvp-widget-dark-sub">'
        f'<span class="mvp-widget-home-title">Latest</span></div>\n{latest}'
        f'<div class="mvp-widget-dark-sub"><span class="mvp-widget-home-title">Trending</span></div>\n{trending}</section>\n'
        '</div>\n</div>\n</div>\n'   # side wrap, mvp-main-box, mvp-main-body-wrap
        '<footer id="mvp-foot-wrap" class="left relative"><div id="mvp-foot-menu"><ul class="menu">'
        f'<li><a href="{base}/about-us/">About Us</a></li><li><a href="{base}/contact/">Contact</a></li>'
        f'<li><a href="{base}/privacy-policy/">Privacy Policy</a></li><li><a href="{base}/private/members/">Members</a></li>'
        f'</ul></div><div id="mvp-foot-copy"><p>Copyright &copy; {year} {SITE_NAME}. Demo fixture.</p></div></footer>\n'
        '</div></div></div>\n'   # mvp-site-main, wall, site
        f"<script type='text/javascript' id='mvp-nonce'>window._mvpNonce = '{nonce}';</script>\n"
        f"<script type='text/javascript' src='{base}/wp-content/themes/zox-news/js/mvpcustom.js?ver=5.8.1' id='mvp-custom-js'></script>\n")


def page(site: DemoSite, base: str, now: float, nonce: str, *, title: str, head: str, body_class: str,
         main: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en-US">\n<head>\n<meta charset="UTF-8" >\n'
            '<meta name="viewport" id="viewport" content="width=device-width, initial-scale=1.0, maximum-scale=1.0, user-scalable=no" />\n'
            f"<title>{title}</title>\n{head}{_assets(base, nonce)}</head>\n<body class=\"{body_class}\">\n"
            f"{_header(site, base)}{main}{_sidebar_and_footer(site, base, now, nonce)}</body>\n</html>\n")


# --------------------------------------------------------------------------- listings

def _teaser(a: DemoArticle, base: str, now: float) -> str:
    href = base + a.path + ("?utm_source=twitter&amp;utm_medium=social" if a.post_id % 6 == 1 else "")
    img = a.image_url or "/wp-content/uploads/placeholder.jpg"
    return (f'<li class="mvp-blog-story-wrap left relative infinite-post">\n<a href="{href}" rel="bookmark">\n'
            f'<div class="mvp-blog-story-out relative"><div class="mvp-blog-story-img left relative">'
            f'<img width="400" height="240" src="{base}{img}" class="mvp-reg-img wp-post-image" alt="" loading="lazy" />'
            f'<img width="80" height="80" src="{base}{img}" class="mvp-mob-img wp-post-image" alt="" loading="lazy" /></div>\n'
            f'<div class="mvp-blog-story-in"><div class="mvp-blog-story-text left relative">'
            f'<div class="mvp-cat-date-wrap left relative"><span class="mvp-cd-cat left relative">{esc(a.section)}</span>'
            f'<span class="mvp-cd-date left relative">{ago(now, a.published)}</span></div>\n'
            f'<h2>{tx(a.title)}</h2>\n<p>{esc(a.description)}</p>\n</div></div></div>\n</a>\n</li>\n')


def page_url(root: str, n: int) -> str:
    return root if n == 1 else f"{root}page/{n}/"


def _pagination(base: str, root: str, n: int, pages: int) -> str:
    if pages <= 1:
        return ""
    shown = sorted({1, pages, *range(max(1, n - 2), min(pages, n + 2) + 1)})
    out, prev = [], 0
    if n > 1:
        out.append(f'<a class="prev page-numbers" href="{base}{page_url(root, n - 1)}">&laquo; Previous</a>')
    for k in shown:
        if k - prev > 1:
            out.append('<span class="page-numbers dots">&hellip;</span>')
        out.append(f'<span aria-current="page" class="page-numbers current">{k}</span>' if k == n else
                   f'<a class="page-numbers" href="{base}{page_url(root, k)}">{k}</a>')
        prev = k
    more = ""
    if n < pages:
        out.append(f'<a class="next page-numbers" href="{base}{page_url(root, n + 1)}">Next &rsaquo;</a>')
        more = '<a href="#" class="mvp-inf-more-but">More Posts</a>\n'
    return (f'<div class="mvp-inf-more-wrap left relative">\n{more}<div class="mvp-nav-links">'
            f'<nav class="navigation pagination" aria-label="Posts"><div class="nav-links">{"".join(out)}'
            '</div></nav></div>\n</div>\n')


def render_listing(site: DemoSite, base: str, now: float, nonce: str, *, heading: str, root: str,
                   n: int, pages: int, items: list[DemoArticle], extra_teaser: DemoArticle | None = None) -> str:
    teasers = [_teaser(a, base, now) for a in items]
    if extra_teaser is not None:   # e.g. the members-only story, disallowed by robots.txt
        teasers.insert(min(4, len(teasers)), _teaser(extra_teaser, base, now))
    url = base + page_url(root, n)
    suffix = f" - Page {n} of {pages}" if n > 1 else ""
    head = (f'<meta name="robots" content="index, follow, max-image-preview:large" />\n<link rel="canonical" href="{url}" />\n'
            + (f'<link rel="prev" href="{base}{page_url(root, n - 1)}" />\n' if n > 1 else "")
            + (f'<link rel="next" href="{base}{page_url(root, n + 1)}" />\n' if n < pages else "")
            + f'<meta property="og:type" content="website" />\n<meta property="og:title" content="{attr(heading)} Archives" />\n'
            f'<meta property="og:url" content="{url}" />\n<meta property="og:site_name" content="{SITE_NAME}" />\n'
            '<script type="application/ld+json" class="yoast-schema-graph">'
            + json.dumps({"@context": "https://schema.org", "@graph": [
                {"@type": "CollectionPage", "@id": url + "#webpage", "url": url, "name": f"{heading} Archives",
                 "isPartOf": {"@id": base + "/#website"}, "inLanguage": "en-US"}]}).replace("/", "\\/")
            + "</script>\n")
    main = (f'<div id="mvp-blog-wrap" class="left relative"><h1 class="mvp-feat1-pop-head">'
            f'<span class="mvp-feat1-pop-head">{esc(heading)}</span></h1>\n'
            f'<div class="mvp-main-blog-wrap left relative"><ul class="mvp-blog-story-list left relative infinite-content">\n'
            f'{"".join(teasers)}</ul>\n{_pagination(base, root, n, pages)}</div></div>\n')
    return page(site, base, now, nonce, title=f"{esc(heading)} Archives{suffix} - {SITE_NAME}", head=head,
                body_class="archive category", main=main)


def render_simple(site: DemoSite, base: str, now: float, nonce: str, title: str, message: str,
                  body_class: str = "page") -> str:
    main = (f'<div id="mvp-post-main" class="left relative"><h1 class="mvp-post-title left entry-title">{esc(title)}</h1>'
            f'<div class="mvp-404-text"><p>{esc(message)}</p><p><a href="{base}/">Return to the home page</a></p></div></div>\n')
    return page(site, base, now, nonce, title=f"{esc(title)} - {SITE_NAME}",
                head='<meta name="robots" content="noindex, follow" />\n', body_class=body_class, main=main)


def render_404(site: DemoSite, base: str, now: float, nonce: str) -> str:
    return render_simple(site, base, now, nonce, "Error 404!",
                         "The page you requested does not exist or has moved.", "error404")


# --------------------------------------------------------------------------- machine-readable

def render_robots(base: str) -> str:
    return ("User-agent: *\nDisallow: /wp-admin/\nDisallow: /private/\nAllow: /wp-admin/admin-ajax.php\n\n"
            f"Sitemap: {base}/sitemap_index.xml\n")


def _w3c(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")


def render_sitemap_index(site: DemoSite, base: str) -> str:
    last = _w3c(site.now)
    maps = "".join(f"<sitemap>\n<loc>{base}/{name}</loc>\n<lastmod>{last}</lastmod>\n</sitemap>\n"
                   for name in ("post-sitemap.xml", "category-sitemap.xml"))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{maps}</sitemapindex>\n')


def render_post_sitemap(site: DemoSite, base: str) -> str:
    # Yoast orders posts by modification date, oldest first
    posts = sorted((*site.articles, *site.other_articles), key=lambda a: a.modified)
    urls = "".join(
        f"<url>\n<loc>{base}{a.path}</loc>\n<lastmod>{_w3c(a.modified)}</lastmod>\n"
        + (f"<image:image>\n<image:loc>{base}{a.image_url}</image:loc>\n</image:image>\n" if a.image_url else "")
        + "</url>\n" for a in posts)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns:image="http://www.google.com/schemas/sitemap-image/1.1" '
            f'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{urls}</urlset>\n')


def render_category_sitemap(site: DemoSite, base: str) -> str:
    urls = "".join(f"<url>\n<loc>{base}/category/{slug}/</loc>\n<lastmod>"
                   f"{_w3c(max(a.modified for a in site.in_section(slug)))}</lastmod>\n</url>\n"
                   for slug in site.sections())
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{urls}</urlset>\n')


def render_feed(site: DemoSite, base: str, title: str, link: str, self_url: str,
                items: list[DemoArticle]) -> tuple[str, str, datetime]:
    """RSS 2.0 with summaries only. -> (xml, etag, last_modified)."""
    last = max(a.modified for a in items).astimezone(timezone.utc)
    parts = []
    for a in items:
        creator = f"<dc:creator><![CDATA[{a.byline}]]></dc:creator>\n" if a.byline else ""
        cats = "".join(f"<category><![CDATA[{c}]]></category>\n" for c in (a.section, *a.tags))
        parts.append(
            f"<item>\n<title>{tx(a.title)}</title>\n<link>{base}{a.path}</link>\n"
            f"<comments>{base}{a.path}#respond</comments>\n{creator}"
            f"<pubDate>{format_datetime(a.published.astimezone(timezone.utc))}</pubDate>\n{cats}"
            f'<guid isPermaLink="false">{base}/?p={a.post_id}</guid>\n'
            f"<description><![CDATA[{a.description} [&#8230;]]]></description>\n"
            f"<slash:comments>{a.comments}</slash:comments>\n</item>\n")
    xml = ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
           'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom" '
           'xmlns:sy="http://purl.org/rss/1.0/modules/syndication/" xmlns:slash="http://purl.org/rss/1.0/modules/slash/">\n'
           f'<channel>\n<title>{tx(title)}</title>\n<atom:link href="{self_url}" rel="self" type="application/rss+xml" />\n'
           f"<link>{link}</link>\n<description>Eurasia news and analysis</description>\n"
           f"<lastBuildDate>{format_datetime(last)}</lastBuildDate>\n<language>en-US</language>\n"
           "<sy:updatePeriod>hourly</sy:updatePeriod>\n<sy:updateFrequency>1</sy:updateFrequency>\n"
           f"<generator>https://wordpress.org/?v=5.8.1</generator>\n{''.join(parts)}</channel>\n</rss>\n")
    return xml, '"' + hashlib.md5(xml.encode()).hexdigest() + '"', last


# --------------------------------------------------------------------------- articles

def _json_ld(a: DemoArticle, base: str, url: str) -> str:
    people = [{"@type": "Person", "@id": f"{base}/#/schema/person/{slugify(n)}", "name": n,
               "url": f"{base}/author/{slugify(n)}/"} for n in a.authors]
    article = {"@type": "NewsArticle", "@id": url + "#article", "isPartOf": {"@id": url + "#webpage"},
               "headline": a.title, "datePublished": a.published.isoformat(), "dateModified": a.modified.isoformat(),
               "mainEntityOfPage": {"@id": url + "#webpage"}, "wordCount": sum(len(p.split()) for p in a.paragraphs),
               "commentCount": a.comments, "publisher": {"@id": base + "/#organization"},
               "keywords": a.tags, "articleSection": [a.section], "inLanguage": "en-US"}
    if people:
        article["author"] = {"@id": people[0]["@id"]} if len(people) == 1 else [{"@id": p["@id"]} for p in people]
    graph = [{"@type": "Organization", "@id": base + "/#organization", "name": SITE_NAME, "url": base + "/"},
             {"@type": "WebSite", "@id": base + "/#website", "url": base + "/", "name": SITE_NAME,
              "publisher": {"@id": base + "/#organization"}, "inLanguage": "en-US"}]
    if a.image_url:
        graph.append({"@type": "ImageObject", "@id": url + "#primaryimage", "url": base + a.image_url,
                      "width": 1000, "height": 600, **({"caption": a.image_caption} if a.image_caption else {})})
        article["image"] = {"@id": url + "#primaryimage"}
    graph += [{"@type": "WebPage", "@id": url + "#webpage", "url": url, "name": f"{a.title} - {SITE_NAME}",
               "isPartOf": {"@id": base + "/#website"}, "datePublished": a.published.isoformat(),
               "dateModified": a.modified.isoformat(), "inLanguage": "en-US"}, article, *people]
    data = json.dumps({"@context": "https://schema.org", "@graph": graph}, ensure_ascii=False)
    return data.replace("/", "\\/")


def _article_head(a: DemoArticle, base: str, noindex: bool) -> str:
    url = base + a.path
    key = ("head", base)
    if key not in a.cache:
        d = attr(a.description)
        img = (f'<meta property="og:image" content="{base}{a.image_url}" />\n<meta property="og:image:width" content="1000" />\n'
               '<meta property="og:image:height" content="600" />\n') if a.image_url else ""
        by = (f'<meta name="twitter:label1" content="Written by" />\n<meta name="twitter:data1" content="{attr(a.byline)}" />\n'
              if a.byline else "")
        tags = "".join(f'<meta property="article:tag" content="{attr(t)}" />\n' for t in a.tags)
        a.cache[key] = (
            f'<meta name="description" content="{d}" />\n<link rel="canonical" href="{url}" />\n'
            f'<meta property="og:locale" content="en_US" />\n<meta property="og:type" content="article" />\n'
            f'<meta property="og:title" content="{attr(a.title)}" />\n<meta property="og:description" content="{d}" />\n'
            f'<meta property="og:url" content="{url}" />\n<meta property="og:site_name" content="{SITE_NAME}" />\n'
            f'<meta property="article:section" content="{attr(a.section)}" />\n{tags}'
            f'<meta property="article:published_time" content="{a.published.isoformat()}" />\n'
            f'<meta property="article:modified_time" content="{a.modified.isoformat()}" />\n{img}'
            f'<meta name="twitter:card" content="summary_large_image" />\n{by}'
            f'<script type="application/ld+json" class="yoast-schema-graph">{_json_ld(a, base, url)}</script>\n'
            f"<link rel='shortlink' href='{base}/?p={a.post_id}' />\n"
            f'<link rel="amphtml" href="{base}{a.amp_path}" />\n')
    robots = "noindex, follow" if noindex else "index, follow, max-snippet:-1, max-image-preview:large"
    return f'<meta name="robots" content="{robots}" />\n' + a.cache[key]


def _cat_and_title(a: DemoArticle, base: str) -> str:
    return (f'<h3 class="mvp-post-cat left relative"><a class="mvp-post-cat-link" href="{base}/category/{a.section_slug}/">'
            f'<span class="mvp-post-cat left">{esc(a.section)}</span></a></h3>\n'
            f'<h1 class="mvp-post-title left entry-title" itemprop="headline">{tx(a.title)}</h1>\n')


def _author_date(a: DemoArticle, base: str, now: float) -> str:
    name = ""
    if a.byline:
        s = slugify(a.byline)
        name = (f'<div class="mvp-author-info-name left relative" itemprop="author" itemscope itemtype="https://schema.org/Person">'
                f'<p>By</p> <span class="author-name vcard fn author" itemprop="name"><a href="{base}/author/{s}/" '
                f'title="Posts by {attr(a.byline)}" rel="author">{esc(a.byline)}</a></span></div>\n')
    return (f'<div class="mvp-author-info-wrap left relative"><div class="mvp-author-info-text left relative">\n{name}'
            f'<div class="mvp-author-info-date left relative"><p>Published</p> <span class="mvp-post-date">{ago(now, a.published)}</span>'
            f' <p>on</p> <span class="mvp-post-date updated"><time class="post-date updated" itemprop="datePublished" '
            f'datetime="{a.published.isoformat()}">{long_date(a.published)}</time></span>\n'
            f'<meta itemprop="dateModified" content="{a.modified.isoformat()}"/></div>\n</div></div>\n')


def _feat_img(a: DemoArticle, base: str) -> str:
    if not a.image_url:
        return ""
    cap = f'<span class="mvp-post-img-cap">{esc(a.image_caption)}</span>\n' if a.image_caption else ""
    return (f'<div id="mvp-post-feat-img" class="left relative mvp-post-feat-img-wide2" itemprop="image" itemscope '
            f'itemtype="https://schema.org/ImageObject"><img width="1000" height="600" src="{base}{a.image_url}" '
            f'class="attachment- size- wp-post-image" alt="" /><meta itemprop="url" content="{base}{a.image_url}"></div>\n{cap}')


def _share(a: DemoArticle, base: str) -> str:
    u, t = base + a.path, attr(a.title)
    return ('<div class="mvp-post-soc-out right relative"><div class="mvp-post-soc-in"><div class="mvp-post-soc-wrap left relative">'
            f"<a href=\"#\" onclick=\"window.open('http://www.facebook.com/sharer.php?u={u}&amp;t={t}', 'facebookShare', "
            "'width=626,height=436'); return false;\" title=\"Share on Facebook\"><span class=\"mvp-post-soc-fb\">"
            '<i class="fab fa-facebook-f"></i></span></a>'
            f"<a href=\"#\" onclick=\"window.open('http://twitter.com/share?text={t} -&amp;url={u}', 'twitterShare', "
            "'width=626,height=436'); return false;\" title=\"Tweet This Post\"><span class=\"mvp-post-soc-twit\">"
            '<i class="fab fa-twitter"></i></span></a>'
            f'<a href="mailto:?subject={t}&amp;BODY=I found this article interesting: {u}"><span class="mvp-post-soc-email">'
            '<i class="fa fa-envelope"></i></span></a></div></div></div>\n')


def _tags(a: DemoArticle, base: str) -> str:
    links = "".join(f'<a href="{base}/tag/{slugify(t)}/" rel="tag">{esc(t)}</a>' for t in a.tags)
    return (f'<div class="mvp-post-tags"><span class="mvp-post-tags-header">Related Topics:</span>'
            f'<span itemprop="keywords">{links}</span></div>\n')


def _related(site: DemoSite, a: DemoArticle, base: str) -> str:
    pos, arts, others = site.position(a) or 0, site.articles, site.other_articles
    picks = [others[a.post_id % len(others)], arts[(pos + 4) % len(arts)],
             others[(a.post_id // 7 + 3) % len(others)], arts[(pos + 7) % len(arts)]]
    items = "".join(f'<li><div class="mvp-related-img left relative"><a href="{base}{r.path}" rel="bookmark" '
                    f'title="{attr(r.title)}"><img width="400" height="240" src="{base}{r.image_url or "/wp-content/uploads/placeholder.jpg"}" '
                    f'class="mvp-reg-img" alt="" /></a></div><div class="mvp-related-text left relative">'
                    f'<a href="{base}{r.path}">{tx(r.title)}</a></div></li>' for r in picks)
    return ('<div id="mvp-related-posts" class="left relative"><h4 class="mvp-widget-home-title">'
            f'<span class="mvp-widget-home-title">You may like</span></h4><ul class="mvp-related-posts-list left related">'
            f'{items}</ul></div>\n')


def _comments(a: DemoArticle, base: str, nonce: str) -> str:
    url, names, texts = base + a.path, _voc("commenters"), _voc("comment_texts")
    items = "".join(
        f'<li class="comment depth-1" id="li-comment-{cid}"><div class="comment-wrapper" id="comment-{cid}">'
        f'<div class="commentmeta"><p class="comment-meta-1">{esc(names[cid % len(names)])}</p>'
        f'<p class="comment-meta-2">{long_date(a.published)}</p></div><div class="text"><div class="c">'
        f'<p>{esc(texts[cid % len(texts)])}</p><div class="reply"><a rel="nofollow" class="comment-reply-link" '
        f'href="{url}?replytocom={cid}#respond" data-commentid="{cid}" data-postid="{a.post_id}">Reply</a></div>'
        f'</div></div></div></li>\n' for cid in range(a.post_id * 10 + 1, a.post_id * 10 + 1 + a.comments))
    return (f'<div id="mvp-comments-button" class="left relative mvp-com-click"><span class="mvp-comment-but-text">Comments</span></div>\n'
            f'<div id="comments" class="mvp-com-click-id-{a.post_id} mvp-com-click-main">\n'
            f'<ol class="commentlist">\n{items}</ol>\n<div id="respond" class="comment-respond"><h3 id="reply-title" class="comment-reply-title">'
            f'<span class="mvp-widget-home-title">Leave a Reply</span> <small><a rel="nofollow" id="cancel-comment-reply-link" '
            f'href="{url}#respond" style="display:none;">Cancel reply</a></small></h3>'
            f'<form action="{base}/wp-comments-post.php" method="post" id="commentform" class="comment-form">'
            '<textarea id="comment" name="comment" cols="45" rows="8"></textarea>'
            f"<input type='hidden' name='comment_post_ID' value='{a.post_id}' id='comment_post_ID' />"
            f'<input type="hidden" id="akismet_comment_nonce" name="akismet_comment_nonce" value="{nonce}" />'
            '<input name="submit" type="submit" id="submit" class="submit" value="Post Comment" /></form></div>\n</div>\n')


def _continue_href(main: DemoArticle, k: int, f: DemoArticle, base: str) -> str:
    # crawlers must reduce these variants to the canonical URL
    variant = (main.post_id // 7 + k) % 4
    return base + (f.path, f.path + "#respond", f.path + "?utm_source=autoload&amp;utm_medium=next_post", f.amp_path)[variant]


def _followons(site: DemoSite, a: DemoArticle, base: str, now: float) -> str:
    older = site.followons(a)
    if not older:
        return ""
    out = []
    if a.followon_markup == "post-add":
        out.append('<div id="mvp-post-add-box">\n')
        for k, f in enumerate(older):
            out.append(f'<div class="mvp-post-add-story left relative post-{f.post_id}">\n<div class="mvp-post-add-head left relative">\n'
                       f'{_cat_and_title(f, base)}{_author_date(f, base, now)}</div>\n<div class="mvp-post-add-body left relative">\n'
                       f'{_feat_img(f, base)}<div class="mvp-post-add-cont left relative">\n'
                       f'<div class="mvp-post-add-main right relative">\n{body_html(f)}</div>\n'
                       f'<div class="mvp-post-add-link"><a href="{_continue_href(a, k, f, base)}" rel="bookmark">'
                       '<span class="mvp-post-add-link-but">Continue Reading</span></a></div>\n</div>\n</div>\n</div>\n')
        out.append("</div>\n")
    else:
        for k, f in enumerate(older):
            # the theme's auto-load repeats the single-post template, duplicate ids included
            out.append(f'<div class="mvp-auto-post-wrap left relative"><article class="mvp-auto-post-main post-{f.post_id}" '
                       f'itemscope itemtype="http://schema.org/NewsArticle">\n<header class="mvp-post-head left relative">\n'
                       f'{_cat_and_title(f, base)}{_author_date(f, base, now)}</header>\n{_feat_img(f, base)}'
                       f'<div class="mvp-post-content left relative"><div id="mvp-content-main" class="left relative">\n'
                       f'{body_html(f)}</div></div>\n<div class="mvp-cont-read-wrap"><a href="{_continue_href(a, k, f, base)}">'
                       '<span class="mvp-cont-read-but">Continue Reading</span></a></div>\n</article></div>\n')
    if a.post_id % 2 == 0:
        out.append('<div class="alp-related-posts-wrapper"><div class="alp-related-posts">'
                   + "".join(f'<div class="alp-related-post post-{f.post_id}"><div class="post-details"><p class="post-meta">'
                             f'{esc(f.section)}</p><a class="post-title" href="{base}{f.path}">{tx(f.title)}</a></div></div>'
                             for f in older) + "</div></div>\n")
    return "".join(out)


def render_article(site: DemoSite, a: DemoArticle, base: str, now: float, nonce: str, noindex: bool = False) -> str:
    broken = a.behaviour == "malformed_html"
    content_open = ('<div class="mvp-post-ad-top">\n<div id=mvp-content-main class=left>\n' if broken
                    else '<div id="mvp-content-main" class="left relative">\n')
    expander = ('<div class="mvp-cont-read-but-wrap left relative"><span class="mvp-cont-read-but">Continue Reading</span></div>\n'
                if a.expander else "")
    main = (('</div></span>\n' if broken else '')
            + '<article id="mvp-article-wrap" itemscope itemtype="http://schema.org/NewsArticle">\n'
            f'<meta itemscope itemprop="mainEntityOfPage" itemType="https://schema.org/WebPage" itemid="{base}{a.path}"/>\n'
            '<div id="mvp-article-cont" class="left relative"><div id="mvp-post-main" class="left relative">\n'
            f'<header id="mvp-post-head" class="left relative">\n{_cat_and_title(a, base)}{_author_date(a, base, now)}</header>\n'
            f'<div id="mvp-post-content" class="left relative">\n{_feat_img(a, base)}'
            f'<div id="mvp-content-wrap" class="left relative">\n{_share(a, base)}'
            f'<div id="mvp-content-body" class="left relative"><div id="mvp-content-body-top" class="left relative">\n'
            f'{content_open}{body_html(a, malformed=broken)}</div>\n'
            f'<div id="mvp-content-bot" class="left">\n{_tags(a, base)}'
            f'<a class="post-edit-link" href="{base}/wp-admin/post.php?post={a.post_id}&amp;action=edit">Edit</a>\n'
            f'<a class="mvp-premium-link" href="{base}/private{a.path}">Premium analysis for members</a>\n'
            f'</div></div>\n{expander}{_related(site, a, base)}{_comments(a, base, nonce)}'
            '</div></div></div></div></div>\n</article>\n'
            f'{_followons(site, a, base, now)}')
    return page(site, base, now, nonce, title=f"{tx(a.title)} - {SITE_NAME}", head=_article_head(a, base, noindex),
                body_class=f"post-template-default single single-post postid-{a.post_id} single-format-standard", main=main)


def render_amp(a: DemoArticle, base: str, now: float) -> str:
    url = base + a.path
    by = f'<div class="amp-wp-meta amp-wp-byline"><span class="amp-wp-author author vcard">{esc(a.byline)}</span></div>\n' if a.byline else ""
    img = (f'<figure class="amp-wp-article-featured-image wp-caption"><amp-img width="1000" height="600" src="{base}{a.image_url}" '
           f'layout="intrinsic"></amp-img>' + (f'<p class="wp-caption-text">{esc(a.image_caption)}</p>' if a.image_caption else "")
           + "</figure>\n") if a.image_url else ""
    tags = "".join(f'<a href="{base}/tag/{slugify(t)}/" rel="tag">{esc(t)}</a>' for t in a.tags)
    return ('<!doctype html>\n<html amp lang="en-US">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width,minimum-scale=1,initial-scale=1">\n'
            f'<title>{tx(a.title)} &#8211; {SITE_NAME}</title>\n<link rel="canonical" href="{url}" />\n'
            f'<script async src="{base}/wp-content/plugins/amp/assets/js/v0.js"></script>\n'
            '<style amp-custom>.amp-wp-article{margin:0 16px}</style>\n'
            f'<script type="application/ld+json">{_json_ld(a, base, url)}</script>\n</head>\n<body>\n'
            f'<header id="top" class="amp-wp-header"><div><a href="{base}/">{SITE_NAME}</a></div></header>\n'
            f'<article class="amp-wp-article">\n<header class="amp-wp-article-header">\n<h1 class="amp-wp-title">{tx(a.title)}</h1>\n'
            f'{by}<div class="amp-wp-meta amp-wp-posted-on"><time datetime="{a.published.isoformat()}">{ago(now, a.published)}</time></div>\n'
            f'</header>\n{img}<div class="amp-wp-article-content">\n{body_html(a)}</div>\n'
            f'<footer class="amp-wp-article-footer"><div class="amp-wp-meta amp-wp-tax-category">Categories: '
            f'<a href="{base}/category/{a.section_slug}/" rel="category tag">{esc(a.section)}</a></div>'
            f'<div class="amp-wp-meta amp-wp-tax-tag">Tags: {tags}</div>'
            f'<div class="amp-wp-meta amp-wp-comments-link"><a href="{url}#respond">Leave a Comment</a></div></footer>\n'
            f'</article>\n<footer class="amp-wp-footer"><div><h2>{SITE_NAME}</h2><a href="#top" class="back-to-top">Back to top</a>'
            '</div></footer>\n</body>\n</html>\n')
