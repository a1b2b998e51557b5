"""Filters of the articles table that stay fast at 100,000 articles.

- ``authors__arraycontains=`` and ``tags__arraycontains=`` are answered by
  article_authors/article_tags instead of Datasette's ``json_each`` over each selected
  article: the same rows, the same wording of the filter. Datasette has no hook to
  change how one of its own filters is written in SQL (``filters_from_request`` only
  adds clauses, and Datasette's ``json_each`` would still be tested on every selected
  row by the page's count, its rows and each facet), so ``install`` puts this filter
  in the place of Datasette's ``arraycontains`` in its table of filters; any other
  table or column gets Datasette's SQL. ``steppe serve`` serves one database, the
  archive, so the table's name is enough to know it.
- ``?_search=`` selects the matches with ``<pk> in (select rowid from <fts> where …)``.
  SQLite looks each match up by its id and, for the page, sorts them all, whole rows
  with their text, to keep the newest 50: a common word matches tens of thousands of
  articles, read again by the count and each facet (and past the SQL time limit on a
  cold cache). Written ``+<pk> in (…)``, the same rows are found by walking an index
  (for the page, the sort's own, stopping at 50 matches) and testing each id against
  the matches: cheaper once they are more than a few percent of the table, so only
  then. Datasette's search is one of the three hooks of its module
  ``datasette.filters``, which archive.serve.datasette_for replaces by this one: it
  registers the other two unchanged.
"""

from __future__ import annotations

import datasette.filters as datasette_filters
from datasette import hookimpl
from datasette.filters import Filters, TemplatedFilter
# Datasette's other two hooks of the module, registered as they are with this one.
from datasette.filters import through_filters, where_filters  # noqa: F401
from datasette.utils import escape_sqlite

from archive.store import ARTICLE_LISTS

# A search matching more than this share of its table is found by walking an index.
WALKED_SHARE = 0.05
SEARCHED = " in (select rowid from "  # what Datasette's search clauses hold after the key column


class ArticleListContains(TemplatedFilter):
    def where_clause(self, table, column, value, param_counter):
        if table != "articles" or column not in ARTICLE_LISTS:
            return super().where_clause(table, column, value, param_counter)
        items, item = ARTICLE_LISTS[column]
        return f"[articles].[id] in (select article_id from [{items}] where [{item}] = :p{param_counter})", value


def install() -> None:
    datasettes = Filters._filters_by_key["arraycontains"]
    if isinstance(datasettes, ArticleListContains):
        return
    Filters._filters_by_key["arraycontains"] = ArticleListContains(
        datasettes.key, datasettes.display, datasettes.sql_template, datasettes.human_template,
        datasettes.format, datasettes.numeric, datasettes.no_argument)


@hookimpl(specname="filters_from_request")
def search_filters(request, database, table, datasette):
    # Not imported by name: pluggy would register it as a hook of this module too.
    searching = datasette_filters.search_filters(request=request, database=database, table=table,
                                                 datasette=datasette)

    async def inner():
        arguments = await searching()
        db = datasette.get_database(database)
        for i, clause in enumerate(arguments.where_clauses):
            key, found, matches = clause.partition(SEARCHED)
            if not found:
                continue
            # ``matches`` ends with the parenthesis the clause opened.
            counted = await db.execute(f"select (select count(*) from (select rowid from {matches}),"
                                       f" (select count(*) from {escape_sqlite(table)})", arguments.params)
            hits, rows = counted.first()
            if hits > WALKED_SHARE * rows:
                arguments.where_clauses[i] = f"+{key}{SEARCHED}{matches}"
        return arguments

    return inner
