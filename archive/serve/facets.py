"""Facets of the archive that stay fast at 100,000 articles.

- A month facet: Datasette's date facet counts days, a decade of news wants months.
  Configured as ``{"month": "published"}``; selecting a month filters with
  ``published__startswith=YYYY-MM``, a filter Datasette already has, so the selection
  survives in an ordinary table URL. Its SQL groups by ``substr(published, 1, 7)``,
  the expression the articles table has an index on.
- The array facet on ``articles.authors`` and ``articles.tags`` counts rows of
  ``article_authors`` and ``article_tags`` (archive.store.ARTICLE_LISTS) instead of
  running ``json_each`` over every article with its whole text; the counts, the
  selections (``tags__arraycontains=…``) and the type ("array") stay Datasette's.
  It stands in for Datasette's own ArrayFacet (see archive.serve.datasette_for),
  which it still runs for any other column.
- Every facet of a selection that holds most of its table (``?status=live``, page 2
  of the table, a big section) is counted as the whole table's counts, which indexes
  answer, less the counts of the rows the selection leaves out: the same numbers, at
  the cost of the smaller side rather than of every selected row.
"""

from __future__ import annotations

import asyncio
import json
from typing import Callable

from datasette.database import QueryInterrupted
from datasette.facets import ArrayFacet, ColumnFacet, Facet
from datasette.utils import escape_sqlite, path_with_added_args, path_with_removed_args

from archive.store import ARTICLE_LISTS

# SQL of (value, count) rows over the table's rows that satisfy a WHERE (None: all of them)
Counts = Callable[[str | None], str]
# Up to this share of a table, the rows a selection leaves out are listed once per page.
REST_LISTED = 0.05


def _column(config: dict) -> str:
    return config["config"].get("column") or config["config"]["simple"]


def _where(facet: Facet) -> str | None:
    """The WHERE of the rows the page selects, as Datasette wrote it into the facet's
    SQL (``select <columns> from <table> where …``); None on the whole table."""
    _, found, where = facet.sql.partition(f" from {escape_sqlite(facet.table)} where ")
    return where if found else None


def _and(where: str | None) -> str:
    return f" and ({where})" if where else ""


async def _shared(facet: Facet, name: str, sql: str, params=None):
    """The rows of ``sql``, run once for all the facets of a page (``name`` tells the
    queries apart; each page is a new request, so nothing outlives it)."""
    results = facet.request.scope.setdefault("steppe.facets", {})
    if name not in results:
        results[name] = asyncio.ensure_future(facet.ds.execute(
            facet.database, sql, params, custom_time_limit=facet.ds.setting("facet_time_limit_ms")))
    return (await results[name]).rows


async def _selection(facet: Facet, configs: list) -> tuple[str | None, str | None, dict]:
    """(where, rest, params) of the facet's counts: the rows WHERE selects (None: the
    whole table), or, when REST is not None, the whole table's rows less those REST
    selects. The rest is taken when the selection holds more than half the table
    (Datasette's count of it leaves out the ``_next`` bound of pages after the first,
    which only makes the rest bigger). Rows the selection leaves out are those its
    WHERE does not make true (false or null); when they are few, they are found once
    and listed, rather than looked for again by every facet."""
    where, params = _where(facet), dict(facet.params)
    if not configs or where is None or facet.row_count is None:
        return where, None, params
    table = escape_sqlite(facet.table)
    total = (await _shared(facet, f"rows {table}", f"select count(*) from {table}"))[0][0]
    if 2 * facet.row_count <= total:
        return where, None, params
    rest = f"not coalesce(({where}), 0)"
    listed = int(REST_LISTED * total)
    try:
        rows = await _shared(facet, f"rest {table}", f"select rowid from {table} where {rest} limit {listed + 1}",
                             facet.params)
    except QueryInterrupted:
        return where, rest, params
    if len(rows) > listed:
        return where, rest, params
    params["steppe_rest"] = json.dumps([row[0] for row in rows])
    return where, "rowid in (select value from json_each(:steppe_rest))", params


def _counted(counts: Counts, where: str | None, rest: str | None) -> str:
    """SQL of (value, count) over the rows of a selection (see ``_selection``)."""
    if rest is None:
        return counts(where)
    return (f"select value, sum(count) as count from ({counts(None)} union all"
            f" select value, -count from ({counts(rest)})) group by value having sum(count) > 0")


async def _facet(facet: Facet, config: dict, sql: str, params: dict, key: str, toggle_arg: str,
                 labels: bool = False) -> dict:
    """One facet's results from ``sql`` (rows of value, count, in order), each value
    toggling the filter ``key=value``; ``labels``: foreign keys shown by their label."""
    size = facet.get_facet_size()
    rows = (await facet.ds.execute(facet.database, f"{sql} limit {size + 1}", params, truncate=False,
                                   custom_time_limit=facet.ds.setting("facet_time_limit_ms"))).rows
    column = _column(config)
    expanded = (await facet.ds.expand_foreign_keys(facet.database, facet.table, column,
                                                   [row["value"] for row in rows[:size]]) if labels else {})
    selected_pairs = facet.get_querystring_pairs()
    values = []
    for row in rows[:size]:
        value = row["value"]
        selected = (key, str(value)) in selected_pairs
        change = path_with_removed_args if selected else path_with_added_args
        values.append({
            "value": value, "label": expanded.get((column, value), value), "count": row["count"],
            "selected": selected,
            "toggle_url": facet.ds.absolute_url(facet.request, change(facet.request, {key: str(value)})),
        })
    return {
        "name": column, "type": facet.type, "results": values, "truncated": len(rows) > size,
        "hideable": config["source"] != "metadata",
        "toggle_url": facet.ds.urls.path(path_with_removed_args(facet.request, {toggle_arg: column})),
    }


class TableColumnFacet(ColumnFacet):
    """Datasette's column facet, counted through the complement on a big selection."""

    async def facet_results(self):
        where, rest, params = await _selection(self, self.get_configs())
        if rest is None:
            return await super().facet_results()
        results, timed_out = [], []
        for config in self.get_configs():
            column = escape_sqlite(_column(config))

            def counts(where, column=column):
                return (f"select {column} as value, count(*) as count from {escape_sqlite(self.table)}"
                        f" where {column} is not null{_and(where)} group by {column}")

            sql = _counted(counts, where, rest) + " order by count desc, value"
            # Datasette's own key for a column whose name starts with _ is COLUMN__exact.
            key = f"{_column(config)}__exact" if _column(config).startswith("_") else _column(config)
            try:
                results.append(await _facet(self, config, sql, params, key, "_facet", labels=True))
            except QueryInterrupted:
                timed_out.append(_column(config))
        return results, timed_out


class MonthFacet(Facet):
    type = "month"

    async def facet_results(self):
        results, timed_out = [], []
        where, rest, params = await _selection(self, self.get_configs())
        for config in self.get_configs():
            column = _column(config)

            def counts(where, column=column):
                # On the whole table, the expression the month index is on; on a
                # selection, the same value written so that SQLite does not take that
                # index (which would read each row for the filter) over the one the
                # filter wants.
                # The selection is tested first: the rest of a big selection is few rows.
                month = f"substr({'+' if where else ''}{escape_sqlite(column)}, 1, 7)"
                return (f"select {month} as value, count(*) as count from {escape_sqlite(self.table)}"
                        f" where {f'({where}) and ' if where else ''}{month} glob '[0-9][0-9][0-9][0-9]-[0-9][0-9]'"
                        " group by value")

            sql = _counted(counts, where, rest) + " order by value desc"
            try:
                results.append(await _facet(self, config, sql, params, f"{column}__startswith", "_facet_month"))
            except QueryInterrupted:
                timed_out.append(column)
        return results, timed_out


class ArticleListFacet(ArrayFacet):
    def _items(self, config: dict) -> tuple[str, str] | None:
        """(table, column) holding the items of this facet's column, if there is one."""
        return ARTICLE_LISTS.get(_column(config)) if self.table == "articles" else None

    def get_configs(self):
        # What Datasette's ArrayFacet.facet_results computes: the columns without a table of items.
        return [config for config in super().get_configs() if self._items(config) is None]

    async def facet_results(self):
        results, timed_out = await super().facet_results()
        where, rest, params = await _selection(self, super().get_configs())
        for config in super().get_configs():
            if (items := self._items(config)) is None:
                continue
            table, item = items

            def counts(where, table=table, item=item):
                # Rows of the items table, each (article, item) once: Datasette's array
                # facet counts an article once per distinct item too.
                selection = f" where article_id in (select id from articles where {where})" if where else ""
                return f"select [{item}] as value, count(*) as count from [{table}]{selection} group by value"

            sql = _counted(counts, where, rest) + " order by count desc, value"
            try:
                results.append(await _facet(self, config, sql, params, f"{_column(config)}__arraycontains",
                                            "_facet_array"))
            except QueryInterrupted:
                timed_out.append(_column(config))
        return results, timed_out
