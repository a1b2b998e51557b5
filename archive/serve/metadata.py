"""Datasette metadata for the archive, built from ``archive.store.SCHEMA``.

Descriptions are read from the schema rather than written out here, so a column the
schema gains later is described in Datasette without touching this module.
"""

from __future__ import annotations

import os

from archive.store import SCHEMA

PLUGIN = "steppe"  # the name our plugin reads its configuration under

# datasette-vega draws a chart from the state in a page's URL fragment.
CHART_FRAGMENT = "#g.mark=bar&g.x_column=month&g.x_type=ordinal&g.y_column=articles&g.y_type=quantitative"

SETTINGS = {
    # Article texts run to thousands of words: tables show the start, row pages all of it.
    "truncate_cells_html": 200,
    "default_page_size": 50,
    # Facets read indexes and the tables of authors and tags (archive.serve.facets):
    # tens of milliseconds at 100,000 articles. The limit leaves room for a busy machine.
    "facet_time_limit_ms": 1000,
    # Suggestions try a facet on every column of every page viewed: a scan each.
    "suggest_facets": False,
    # Queries are CPU-bound (the archive is read through mmap): more threads than cores
    # only share the cores among more queries at once, each then slower by as much, and
    # the SQL time limit counts from a query's start, not from its wait for a thread.
    "num_sql_threads": os.cpu_count() or 1,
}

# Canned queries, in the order the database page lists them. An ``article`` column
# holds an article id and is rendered as a link to the archived page by our plugin.
QUERIES = {
    "latest_articles": {
        "title": "Latest articles",
        "description": "The 100 most recently published articles.",
        "sql": """select id as article, published, title, authors, section, word_count, url
from articles order by published desc limit 100""",
    },
    "articles_per_month": {
        "title": "Articles per month",
        "description_html": f'Articles by month of publication. <a href="{CHART_FRAGMENT}">Show as a chart</a>.',
        "sql": """select substr(published, 1, 7) as month, count(*) as articles
from articles where published is not null group by month order by month""",
    },
    "authors": {
        "title": "Authors",
        "description": "Every author with the number of articles they wrote or co-wrote.",
        # The dates from the index on (id, published), not from each article's row.
        "sql": """select article_authors.author, count(*) as articles,
  min(articles.published) as first_published, max(articles.published) as last_published
from article_authors join articles indexed by idx_articles_id_published on articles.id = article_authors.article_id
group by article_authors.author order by articles desc, author""",
    },
    "edited_articles": {
        "title": "Edited articles",
        "description": "Articles whose text changed after publication: how many versions, first seen when.",
        # The edited articles from the version_count index: SQLite would rather read
        # every article in id order for the GROUP BY.
        "sql": """select articles.id as article, articles.title, articles.version_count as versions,
  group_concat(article_versions.first_seen, ' | ') as versions_first_seen, articles.url
from articles join article_versions on article_versions.article_id = articles.id
where articles.id in (select id from articles where version_count > 1)
group by articles.id order by articles.last_changed desc""",
    },
    "gone_articles": {
        "title": "Gone articles",
        "description": "Articles the site no longer serves; the archive still holds them.",
        "sql": """select id as article, title, published, gone_since, last_seen, url
from articles where status = 'gone' order by gone_since desc""",
    },
    "crawl_runs": {
        "title": "Crawl runs",
        "description": "Every crawl run with its counts, newest first.",
        "sql": """select crawls.*, (select count(*) from captures where captures.crawl_id = crawls.id) as captures
from crawls order by started desc""",
    },
    "search": {
        "title": "Search articles",
        "description": "Full-text search on title, authors and text, best matches first, with snippets.",
        # Words are searched as typed (escape_fts: no FTS syntax errors from a stray
        # quote), and an empty box matches nothing instead of failing.
        # \x02 and \x03 mark the matched words: they cannot occur in page text, and the
        # plugin turns them into <mark> after escaping the snippet.
        "sql": """select articles.id as article, articles.title, articles.published,
  snippet(articles_fts, 2, char(2), char(3), '…', 24) as snippet
from articles_fts join articles on articles.rowid = articles_fts.rowid
where articles_fts match (case when trim(:q) = '' then '""' else escape_fts(:q) end)
order by rank limit 100""",
    },
}

TABLE_OPTIONS = {
    "articles": {
        "sort_desc": "published",
        # Sorts an index answers (archive.store.SCHEMA); any other would sort every article.
        "sortable_columns": ["id", "published", "title", "section", "version_count"],
        "facets": [{"array": "sources"}, "section", {"array": "authors"}, {"array": "tags"}, {"month": "published"},
                   "status"],
        "fts_table": "articles_fts",
        "fts_pk": "id",
        "searchmode": "raw",
        "label_column": "title",
    },
    "captures": {"sort_desc": "fetched_at", "facets": ["kind", "status", "content_type"]},
    "article_versions": {"sort_desc": "first_seen", "label_column": "title"},
    "crawls": {"sort_desc": "started", "facets": ["source", "status"]},
}


def build_metadata(database: str, warc_dir: str) -> dict:
    """Metadata for the archive database ``database`` whose WARC files are in ``warc_dir``."""
    tables = {}
    for name, table in SCHEMA.items():
        tables[name] = {
            "description": table.description + ".",
            "columns": {column: description for column, (_, description) in table.columns.items()},
            **TABLE_OPTIONS.get(name, {}),
        }
    for name, table in SCHEMA.items():
        if table.fts:
            tables[f"{name}_fts"] = {"hidden": True}
    return {
        "title": "steppe archive",
        "description_html": (
            "A permanent, searchable copy of one section of a news site, crawled by steppe. "
            "Each capture links to the page as archived in its WARC file. "
            f'<a href="/{database}/articles_per_month{CHART_FRAGMENT}">Articles per month, as a chart</a>.'
        ),
        "source": "The site's own pages, captured by steppe into WARC files (the source of truth)",
        "license": "Article texts and images remain the copyright of their authors and publisher",
        "databases": {database: {"tables": tables, "queries": QUERIES}},
        "plugins": {PLUGIN: {"database": database, "warc_dir": str(warc_dir)}},
    }
