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
  On a selection they count from its ids, listed once for the page, and run at once
  with the page's column and month pass. It stands in for Datasette's own ArrayFacet
  (see archive.serve.datasette_for), which it still runs for any other column.
- Datasette's column facet, counted as archive.serve.selection says on a selection.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from datasette.database import QueryInterrupted
from datasette.facets import ArrayFacet, ColumnFacet, Facet
from datasette.utils import escape_sqlite, path_with_added_args, path_with_removed_args

from archive.store import ARTICLE_LISTS

from .selection import (MONTH, column, counted, cube, last_rowid, month_of, selected_ids, selection,
                        start_cube)

# An items table of fewer rows than this many per article of a listed selection is
# walked (ArticleListFacet._counted): about where walking and looking up cost the same.
WALKED_ITEMS = 4


def _sqlite_order(value):
    """Sort key of a value as SQLite orders them: numbers, then text, then blobs."""
    return (isinstance(value, str) + 2 * isinstance(value, bytes), value)


def _by_count(counts: Counter) -> list[tuple]:
    return sorted(counts.items(), key=lambda item: (-item[1], _sqlite_order(item[0])))


async def _query(facet: Facet, sql: str, params: dict) -> list[tuple]:
    """(value, count) rows of ``sql``, as many as the facet shows and one more."""
    rows = (await facet.ds.execute(facet.database, f"{sql} limit {facet.get_facet_size() + 1}", params,
                                   truncate=False, custom_time_limit=facet.ds.setting("facet_time_limit_ms"))).rows
    return [(row["value"], row["count"]) for row in rows]


async def _facet(facet: Facet, config: dict, rows: list[tuple], key: str, toggle_arg: str,
                 labels: bool = False) -> dict:
    """One facet's results from ``rows`` of (value, count), in order, each value
    toggling the filter ``key=value``; ``labels``: foreign keys shown by their label."""
    size = facet.get_facet_size()
    name = column(config)
    expanded = (await facet.ds.expand_foreign_keys(facet.database, facet.table, name,
                                                   [value for value, _ in rows[:size]]) if labels else {})
    selected_pairs = facet.get_querystring_pairs()
    values = []
    for value, count in rows[:size]:
        selected = (key, str(value)) in selected_pairs
        change = path_with_removed_args if selected else path_with_added_args
        values.append({
            "value": value, "label": expanded.get((name, value), value), "count": count, "selected": selected,
            "toggle_url": facet.ds.absolute_url(facet.request, change(facet.request, {key: str(value)})),
        })
    return {
        "name": name, "type": facet.type, "results": values, "truncated": len(rows) > size,
        "hideable": config["source"] != "metadata",
        "toggle_url": facet.ds.urls.path(path_with_removed_args(facet.request, {toggle_arg: name})),
    }


class TableColumnFacet(ColumnFacet):
    """Datasette's column facet, counted as archive.serve.selection says on a selection."""

    async def facet_results(self):
        where, rest, params = await selection(self, self.get_configs())
        if where is None:
            return await super().facet_results()  # indexes answer it
        results, timed_out = [], []
        for config in self.get_configs():
            name = escape_sqlite(column(config))

            def counts(where, name=name):
                return (f"select {name} as value, count(*) as count from {escape_sqlite(self.table)}"
                        f" where {name} is not null{f' and ({where})' if where else ''} group by {name}")

            # Datasette's own key for a column whose name starts with _ is COLUMN__exact.
            key = f"{column(config)}__exact" if column(config).startswith("_") else column(config)
            try:
                if rest is None and (cubed := await cube(self, where, "column", config)) is not None:
                    rows = _by_count(cubed)[:self.get_facet_size() + 1]
                else:
                    rows = await _query(self, counted(counts, where, rest) + " order by count desc, value", params)
                results.append(await _facet(self, config, rows, key, "_facet", labels=True))
            except QueryInterrupted:
                timed_out.append(column(config))
        return results, timed_out


class MonthFacet(Facet):
    type = "month"

    async def facet_results(self):
        results, timed_out = [], []
        where, rest, params = await selection(self, self.get_configs())
        for config in self.get_configs():
            name = escape_sqlite(column(config))

            def counts(where, name=name):
                # On the whole table, the expression the month index is on; on a
                # selection, the same value written so that SQLite does not take that
                # index (which would read each row for the filter) over the one the
                # filter wants.
                month = month_of(f"+{name}" if where else name)
                return (f"select {month} as value, count(*) as count from {escape_sqlite(self.table)}"
                        f"{f' where {where}' if where else ''} group by value having value glob {MONTH}")

            try:
                if where and rest is None and (cubed := await cube(self, where, "month", config)) is not None:
                    rows = sorted(cubed.items(), reverse=True)[:self.get_facet_size() + 1]
                else:
                    rows = await _query(self, counted(counts, where, rest) + " order by value desc", params)
                results.append(await _facet(self, config, rows, f"{column(config)}__startswith", "_facet_month"))
            except QueryInterrupted:
                timed_out.append(column(config))
        return results, timed_out


class ArticleListFacet(ArrayFacet):
    def _items(self, config: dict) -> tuple[str, str] | None:
        """(table, column) holding the items of this facet's column, if there is one."""
        return ARTICLE_LISTS.get(column(config)) if self.table == "articles" else None

    def get_configs(self):
        # What Datasette's ArrayFacet.facet_results computes: the columns without a table of items.
        return [config for config in super().get_configs() if self._items(config) is None]

    async def facet_results(self):
        results, timed_out = await super().facet_results()
        configs = [config for config in super().get_configs() if self._items(config) is not None]
        if not configs:
            return results, timed_out
        where, rest, params = await selection(self, configs)
        # The page's column and month facets count in one more query (the cube),
        # started now so that it runs on another SQL thread while these count
        # (Datasette runs one facet class after another).
        start_cube(self, where, rest)
        # The articles counted: those the page selects, listed once for every facet
        # here, or, on the whole table and less the rest, found by the rest's WHERE.
        articles, listed = "select id from articles where {}", None
        if where and rest is None:
            try:
                params = {**params, "steppe_ids": await selected_ids(self, where)}
            except QueryInterrupted:
                return results, timed_out + [column(config) for config in configs]
            articles, listed = "select value from json_each(:steppe_ids)", self.row_count
        for config, result in zip(configs, await asyncio.gather(
                *(self._counted(config, articles, listed, where, rest, params) for config in configs))):
            if result is None:
                timed_out.append(column(config))
            else:
                results.append(result)
        return results, timed_out

    async def _counted(self, config: dict, articles: str, listed: int | None, where: str | None,
                       rest: str | None, params: dict) -> dict | None:
        """The facet of ``config`` over the articles ``articles`` lists (its ``{}``:
        a WHERE on articles; ``listed``: how many, when they are a list of ids); None
        if it timed out."""
        table, item = self._items(config)
        # An items table of not many more rows than the list is walked in the order of
        # its (item, article) index, each row tested against the list, rather than
        # looked up by each listed article and sorted by item: as fast or faster then,
        # and free when it is empty (article_sources of an archive of one source).
        # Its last rowid stands for its size: the choice needs no count.
        walked = listed is not None and await last_rowid(self, table) < WALKED_ITEMS * listed

        def counts(where):
            # Rows of the items table, each (article, item) once: Datasette's array
            # facet counts an article once per distinct item too.
            chosen = f" where {'+' * walked}article_id in ({articles.format(where)})" if where else ""
            return f"select [{item}] as value, count(*) as count from [{table}]{chosen} group by value"

        try:
            rows = await _query(self, counted(counts, where, rest) + " order by count desc, value", params)
        except QueryInterrupted:
            return None
        return await _facet(self, config, rows, f"{column(config)}__arraycontains", "_facet_array")
