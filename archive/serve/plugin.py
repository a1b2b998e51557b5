"""steppe's Datasette plugin: archived-page routes, links to them in cells, a month facet.

Registered in code by ``archive.serve`` rather than through a package entry point, so
that a plain ``datasette`` run on some other database never sees it.
"""

from __future__ import annotations

import markupsafe
from datasette import hookimpl

from . import pages
from .facets import MonthFacet
from .metadata import PLUGIN

ARCHIVED = markupsafe.Markup(' <a class="steppe-archived" href="{}" title="The page as archived">[archived]</a>')
SNIPPET_START, SNIPPET_END = "\x02", "\x03"  # the markers the search query asks snippet() for


@hookimpl
def register_routes():
    return [
        (rf"^/-/{PLUGIN}/capture/(?P<capture_id>\d+)$", pages.capture_page),
        (rf"^/-/{PLUGIN}/capture/(?P<capture_id>\d+)/body$", pages.capture_body),
        (rf"^/-/{PLUGIN}/article/(?P<article_id>\d+)$", pages.article_page),
        (rf"^/-/{PLUGIN}/article/(?P<article_id>\d+)/diff$", pages.diff_page),
    ]


@hookimpl
def register_facet_classes():
    return [MonthFacet]


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    config = datasette.plugin_config(PLUGIN)
    if not config or database != config["database"] or value in (None, ""):
        return None
    path = datasette.urls.path
    if table in ("articles", "captures") and column == "url":
        target = pages.article_path if table == "articles" else pages.capture_path
        # Only http(s) becomes a live link: a page's canonical URL is the site's to choose.
        live = markupsafe.Markup('<a href="{}">{}</a>' if value.startswith(("http://", "https://")) else "{1}")
        return live.format(value, value) + ARCHIVED.format(path(target(row["id"])))
    if table == "articles" and column == "version_count" and value > 1:
        return markupsafe.Markup('{} <a href="{}">[what changed]</a>').format(value, path(pages.diff_path(row["id"])))
    if table is None and column == "article" and isinstance(value, int):
        # Canned queries name their article id column "article".
        return markupsafe.Markup('<a href="{}">{}</a>').format(path(pages.article_path(value)), value)
    if table is None and column == "snippet" and isinstance(value, str):
        escaped = str(markupsafe.escape(value))
        return markupsafe.Markup(escaped.replace(SNIPPET_START, "<mark>").replace(SNIPPET_END, "</mark>"))
    return None
