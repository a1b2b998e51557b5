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
"""

from __future__ import annotations

from datasette.database import QueryInterrupted
from datasette.facets import ArrayFacet, Facet
from datasette.utils import escape_sqlite, path_with_added_args, path_with_removed_args

from archive.store import ARTICLE_LISTS


def _column(config: dict) -> str:
    return config["config"].get("column") or config["config"]["simple"]


def _unfiltered(facet: Facet) -> bool:
    """Whether the facet counts the whole table (Datasette's SQL for it ends at the table name)."""
    return facet.sql.rstrip().endswith(f"from {escape_sqlite(facet.table)}")


async def _facet(facet: Facet, config: dict, sql: str, key: str, toggle_arg: str) -> dict:
    """One facet's results from ``sql`` (rows of value, count), each value toggling
    the filter ``key=value``."""
    size = facet.get_facet_size()
    rows = (await facet.ds.execute(facet.database, f"{sql} limit {size + 1}", facet.params, truncate=False,
                                   custom_time_limit=facet.ds.setting("facet_time_limit_ms"))).rows
    selected_pairs = facet.get_querystring_pairs()
    values = []
    for row in rows[:size]:
        value = str(row["value"])
        selected = (key, value) in selected_pairs
        change = path_with_removed_args if selected else path_with_added_args
        values.append({
            "value": value, "label": value, "count": row["count"], "selected": selected,
            "toggle_url": facet.ds.absolute_url(facet.request, change(facet.request, {key: value})),
        })
    column = _column(config)
    return {
        "name": column, "type": facet.type, "results": values, "truncated": len(rows) > size,
        "hideable": config["source"] != "metadata",
        "toggle_url": facet.ds.urls.path(path_with_removed_args(facet.request, {toggle_arg: column})),
    }


class MonthFacet(Facet):
    type = "month"

    async def facet_results(self):
        results, timed_out = [], []
        for config in self.get_configs():
            column = _column(config)
            # On the whole table, the expression the month index is on; on a selection,
            # the same value written so that SQLite does not take that index (which
            # would read each row for the filter) over the one the filter wants.
            month = f"substr({'' if _unfiltered(self) else '+'}{escape_sqlite(column)}, 1, 7)"
            sql = (f"select {month} as value, count(*) as count from ({self.sql}) "
                   f"where {month} glob '[0-9][0-9][0-9][0-9]-[0-9][0-9]' group by {month} order by value desc")
            try:
                results.append(await _facet(self, config, sql, f"{column}__startswith", "_facet_month"))
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
        for config in super().get_configs():
            if (items := self._items(config)) is None:
                continue
            table, item = items
            # Rows of the items table, each (article, item) once: Datasette's array
            # facet counts an article once per distinct item too.
            selection = "" if _unfiltered(self) else f" where article_id in (select id from ({self.sql}))"
            sql = (f"select [{item}] as value, count(*) as count from [{table}]{selection}"
                   " group by value order by count desc, value")
            try:
                results.append(await _facet(self, config, sql, f"{_column(config)}__arraycontains", "_facet_array"))
            except QueryInterrupted:
                timed_out.append(_column(config))
        return results, timed_out
