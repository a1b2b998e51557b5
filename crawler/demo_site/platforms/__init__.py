"""More news platforms for the demo site: the same kind of newsroom served with the
markup and URL scheme of a WordPress block theme, Drupal 10 and Ghost, each with the
traps real sites have (date archives, calendars, facets, tag and author archives,
related posts from other sections, AMP twins, print views, comment and share links,
a robots-disallowed path, two-author bylines, a story filed under two sections).

    platform = PLATFORMS["drupal"]()
    with serve_platform(platform) as server:
        crawl(server.section_url)   # ground truth: platform.truth(server.url)
"""
from . import drupal, ghost, wordpress
from .base import Platform, PlatformServer, serve_platform
from .newsroom import SECTION, SECTION_SLUG, Newsroom, Story, TruthArticle, build_newsroom

# name -> builder of a fresh, deterministic platform
PLATFORMS = {"wordpress": wordpress.build, "drupal": drupal.build, "ghost": ghost.build,
             "ghost-load-more": ghost.build_load_more}

__all__ = ["PLATFORMS", "Platform", "PlatformServer", "serve_platform", "Newsroom", "Story", "TruthArticle",
           "build_newsroom", "SECTION", "SECTION_SLUG"]
