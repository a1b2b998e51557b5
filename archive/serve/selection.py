"""The rows a table page's facets count, and the work the facets of one page share.

Datasette hands each facet the page's SQL (``select <columns> from <table> where …``)
and lets each run its own query over it: at 100,000 articles, each of five facets
would evaluate the page's selection again. Here:

- a selection that holds most of its table (``?status=live``, page 2 of the table, a
  big section) is counted as the whole table's counts, which indexes answer, less the
  counts of the rows it leaves out: the same numbers, at the cost of the smaller side;
  when those rows are few they are found once for all the facets of the page;
- on any other selection, the column and month facets of the page are counted in one
  pass over its rows (``cube``), not one pass each, and the ids of its rows are listed
  once (``selected_ids``) for the author, tag and source facets to count from.

What is shared lives in the request (``request.scope``): nothing outlives the page.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from typing import Callable

from datasette.database import QueryInterrupted
from datasette.facets import Facet, load_facet_configs
from datasette.utils import escape_sqlite

# SQL of (value, count) rows over the table's rows that satisfy a WHERE (None: all of them)
Counts = Callable[[str | None], str]
# Up to this share of a table, the rows a selection leaves out are listed once per page.
REST_LISTED = 0.05
# A cube with more rows than this (a facet on a column of many values) is not worth
# reading into Python: each facet then counts on its own, in SQLite.
CUBE_ROWS = 10_000
# What a month value looks like: values that do not (a date missing or malformed) are
# left out of the month facet, after grouping (testing each row would cost more).
MONTH = "'[0-9][0-9][0-9][0-9]-[0-9][0-9]'"
IS_MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")


def column(config: dict) -> str:
    return config["config"].get("column") or config["config"]["simple"]


def where_of(facet: Facet) -> str | None:
    """The WHERE of the rows the page selects, as Datasette wrote it into the facet's
    SQL; None on the whole table."""
    _, found, where = facet.sql.partition(f" from {escape_sqlite(facet.table)} where ")
    return where if found else None


def month_of(column_sql: str) -> str:
    return f"substr({column_sql}, 1, 7)"


def _started(facet: Facet, name: str, sql: str, params=None) -> asyncio.Future:
    """The query ``sql``, started once for all the facets of the page (``name`` tells
    the queries apart)."""
    results = facet.request.scope.setdefault("steppe.facets", {})
    if name not in results:
        results[name] = asyncio.ensure_future(facet.ds.execute(
            facet.database, sql, params, custom_time_limit=facet.ds.setting("facet_time_limit_ms")))
    return results[name]


async def _shared(facet: Facet, name: str, sql: str, params=None):
    """The rows of ``sql``, run once for all the facets of the page."""
    return (await _started(facet, name, sql, params)).rows


async def last_rowid(facet: Facet, table: str) -> int:
    """The last rowid of TABLE (0 when empty), read once for all the facets of the page:
    the size of a table that is only ever added to, or about, without counting it."""
    table = escape_sqlite(table)
    return (await _shared(facet, f"last {table}", f"select coalesce(max(rowid), 0) from {table}"))[0][0]


async def selection(facet: Facet, configs: list) -> tuple[str | None, str | None, dict]:
    """(where, rest, params) of the facet's counts: the rows WHERE selects (None: the
    whole table), or, when REST is not None, the whole table's rows less those REST
    selects. The rest is taken when the selection holds more than half the table
    (Datasette's count of it leaves out the ``_next`` bound of pages after the first,
    which only makes the rest bigger). Rows the selection leaves out are those its
    WHERE does not make true (false or null)."""
    where, params = where_of(facet), dict(facet.params)
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


def counted(counts: Counts, where: str | None, rest: str | None) -> str:
    """SQL of (value, count) over the rows of a selection (see ``selection``)."""
    if rest is None:
        return counts(where)
    return (f"select value, sum(count) as count from ({counts(None)} union all"
            f" select value, -count from ({counts(rest)})) group by value having sum(count) > 0")


def _cube_terms(facet: Facet) -> dict[tuple[str, str], str]:
    """(kind, column) → SQL of the value, of each column and month facet of the page."""
    configs = load_facet_configs(facet.request, facet.metadata)
    terms = {("column", column(c)): escape_sqlite(column(c)) for c in configs.get("column", [])}
    for c in configs.get("month", []):
        # Written so that SQLite does not take the month index, which would read each
        # row for the WHERE, over the index the WHERE wants.
        terms[("month", column(c))] = month_of(f"+{escape_sqlite(column(c))}")
    return terms


def _cube(facet: Facet, where: str, terms: dict) -> asyncio.Future:
    table = escape_sqlite(facet.table)
    sql = (f"select {', '.join(terms.values())}, count(*) from {table} where {where}"
           f" group by {', '.join(str(i + 1) for i in range(len(terms)))} limit {CUBE_ROWS + 1}")
    return _started(facet, f"cube {table}", sql, facet.params)


def start_cube(facet: Facet, where: str | None, rest: str | None) -> None:
    """Starts the pass ``cube`` reads, when the page's column and month facets will
    read it (on a selection, not counted as the table less the rest), so that it runs
    on another SQL thread while the calling facet counts."""
    if where and rest is None and (terms := _cube_terms(facet)):
        _cube(facet, where, terms)


async def cube(facet: Facet, where: str, kind: str, config: dict) -> Counter | None:
    """Counts of the values of one column or month facet over the rows WHERE selects,
    from one pass that counts every column and month facet of the page; None when
    that pass would return too many rows."""
    terms = _cube_terms(facet)
    rows = (await _cube(facet, where, terms)).rows
    if len(rows) > CUBE_ROWS:
        return None
    at = list(terms).index((kind, column(config)))
    counts = Counter()
    for row in rows:
        if row[at] is not None and (kind != "month" or IS_MONTH.fullmatch(str(row[at]))):
            counts[row[at]] += row[-1]
    return counts


async def selected_ids(facet: Facet, where: str) -> str:
    """The rowids of the rows WHERE selects, as a JSON array, found once for all the
    facets of the page: each facet of an items table (article_tags…) then reads the
    list instead of finding the same rows of the table again."""
    table = escape_sqlite(facet.table)
    # Built by SQLite, one value: not tens of thousands of rows through Python.
    rows = await _shared(facet, f"ids {table}", f"select json_group_array(rowid) from {table} where {where}",
                         facet.params)
    return rows[0][0]
