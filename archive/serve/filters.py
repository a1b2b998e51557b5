"""``authors__arraycontains=`` and ``tags__arraycontains=`` on the articles table,
answered by article_authors/article_tags instead of Datasette's ``json_each`` over
each selected article: the same rows, the same wording of the filter.

Datasette has no hook to change how one of its own filters is written in SQL (the
``filters_from_request`` hook can only add clauses, and Datasette's ``json_each``
clause would still be tested on every selected row by the page's count, its rows
and each facet), so ``install`` puts this filter in the place of Datasette's
``arraycontains`` in its table of filters; any other table or column gets
Datasette's SQL. ``steppe serve`` serves one database, the archive, so the table's
name is enough to know it.
"""

from __future__ import annotations

from datasette.filters import Filters, TemplatedFilter

from archive.store import ARTICLE_LISTS


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
