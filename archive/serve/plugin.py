"""steppe's Datasette plugin: archived-page routes, links to them in cells, the facets
and filters that keep the articles table fast.

Registered in code by ``archive.serve`` rather than through a package entry point, so
that a plain ``datasette`` run on some other database never sees it.
"""

from __future__ import annotations

import re

import markupsafe
from datasette import hookimpl
from datasette.facets import DateFacet
from datasette.filters import FilterArguments

from . import pages
from .facets import ArticleListFacet, MonthFacet, TableColumnFacet
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
    # Datasette's own facets, ours in place of its ColumnFacet and ArrayFacet (whose
    # plugin archive.serve.datasette_for blocks). The array facets first: they start
    # the pass the column and month facets read (archive.serve.selection.start_cube).
    return [ArticleListFacet, TableColumnFacet, DateFacet, MonthFacet]


# The mapping lets a reader's connection read pages straight from the OS cache
# instead of copying each into SQLite's small page cache: facets and searches over
# tens of thousands of articles touch that many pages. Reads only; capped by SQLite.
MMAP_BYTES = 1 << 32


@hookimpl
def prepare_connection(conn, database, datasette):
    config = datasette.plugin_config(PLUGIN)
    if config and database == config["database"]:
        conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")


PLAIN_PREFIX = re.compile(r"[0-9-]+")  # a date prefix, as the month facet selects: no LIKE wildcard, no case


@hookimpl
def filters_from_request(request, database, table, datasette):
    """An index-driven twin of ``published__startswith``, which Datasette runs as a
    LIKE on each row: the same rows, found through the published index. Datasette's
    own clause stays (and describes the filter to the reader); this only adds a
    narrower conjunct for SQLite to start from. (The author and tag filters are
    rewritten instead: archive.serve.filters.)"""
    config = datasette.plugin_config(PLUGIN)
    if not config or database != config["database"] or table != "articles":
        return None
    clauses, params = [], {}
    for prefix in request.args.getlist("published__startswith"):
        if PLAIN_PREFIX.fullmatch(prefix):
            low, high = f"steppe_{len(params)}", f"steppe_{len(params) + 1}"
            # Every string starting with the prefix, and no other: from the prefix up
            # to the prefix with its last character raised by one.
            clauses.append(f"[articles].[published] >= :{low} and [articles].[published] < :{high}")
            params.update({low: prefix, high: prefix[:-1] + chr(ord(prefix[-1]) + 1)})
    return FilterArguments(clauses, params) if clauses else None


# (table, column) of the cells render_cell may change; table None: a canned query's.
# Every cell of every page is offered to the hook, and reading the plugin's
# configuration costs more than the rest of a cell: the others are let go first.
CELLS = {("articles", "url"), ("captures", "url"), ("articles", "version_count"), (None, "article"), (None, "snippet")}


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    if (table, column) not in CELLS or value in (None, ""):
        return None
    config = datasette.plugin_config(PLUGIN)
    if not config or database != config["database"]:
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
