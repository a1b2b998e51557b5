"""A month facet: Datasette's date facet counts days, a decade of news wants months.

Configured as ``{"month": "published"}``; selecting a month filters with
``published__startswith=YYYY-MM``, a filter Datasette already has, so the
selection survives in an ordinary table URL.
"""

from __future__ import annotations

from datasette.database import QueryInterrupted
from datasette.facets import Facet
from datasette.utils import escape_sqlite, path_with_added_args, path_with_removed_args


class MonthFacet(Facet):
    type = "month"

    async def facet_results(self):
        results, timed_out = [], []
        selected_args = dict(self.get_querystring_pairs())
        size = self.get_facet_size()
        for config in self.get_configs():
            column = config["config"].get("column") or config["config"]["simple"]
            month = f"substr({escape_sqlite(column)}, 1, 7)"
            sql = (f"select {month} as value, count(*) as count from ({self.sql}) "
                   f"where {escape_sqlite(column)} glob '[0-9][0-9][0-9][0-9]-[0-9][0-9]*' "
                   f"group by value order by value desc limit {size + 1}")
            try:
                rows = (await self.ds.execute(self.database, sql, self.params, truncate=False,
                                              custom_time_limit=self.ds.setting("facet_time_limit_ms"))).rows
            except QueryInterrupted:
                timed_out.append(column)
                continue
            key = f"{column}__startswith"
            values = []
            for row in rows[:size]:
                selected = selected_args.get(key) == row["value"]
                change = path_with_removed_args if selected else path_with_added_args
                values.append({
                    "value": row["value"], "label": row["value"], "count": row["count"], "selected": selected,
                    "toggle_url": self.ds.absolute_url(self.request, change(self.request, {key: row["value"]})),
                })
            results.append({
                "name": column, "type": self.type, "results": values, "truncated": len(rows) > size,
                "hideable": config["source"] != "metadata",
                "toggle_url": path_with_removed_args(self.request, {"_facet_month": column}),
            })
        return results, timed_out
