"""A local imitation of the news site section steppe crawls.

The real target is the Central Asia section of a WordPress "Zox News" site
(see shared/site-notes.md). This package builds such a site from data
(8 real seed articles plus deterministic generated ones), renders it with the
theme's markup and serves it on 127.0.0.1, with the misbehaviours a careful
crawler must survive (503 + Retry-After, slow and hanging pages, redirect
loops, empty and malformed pages, charset and gzip quirks) and epochs of
change for incremental crawls (new, edited, renamed and removed articles).

    site = DemoSite.build(n_articles=40, seed=1)
    with serve_site(site) as server:
        crawl(server.section_url)
"""
from .content import BEHAVIOURS, PER_PAGE, SECTION, SECTION_SLUG, DemoArticle, DemoSite, EpochChanges, slugify
from .server import DemoServer, RequestLogEntry, serve_site

__all__ = ["DemoSite", "DemoArticle", "EpochChanges", "DemoServer", "RequestLogEntry", "serve_site",
           "BEHAVIOURS", "PER_PAGE", "SECTION", "SECTION_SLUG", "slugify"]
