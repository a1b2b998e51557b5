"""The plugin's pages: an archived page as captured, and what changed between versions.

Every page starts from a row id in the database: the WARC file name and offset come
from that ``captures`` row, never from the URL, so nothing a visitor types reaches
the file system. Titles, URLs and texts from the site are escaped by Jinja's
autoescaping; the archived body itself is served only inside a sandbox.
"""

from __future__ import annotations

import asyncio
import difflib
from pathlib import Path

from datasette.utils.asgi import NotFound, Response

from archive.warc import RecordLocation, read_response

from .metadata import PLUGIN

# `sandbox` without allow-scripts: no script runs, and the page gets an opaque origin
# (no access to Datasette's cookies or pages). `default-src 'none'` keeps the archived
# page from fetching anything, so viewing it never contacts the live site.
ARCHIVED_BODY_CSP = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:"

CAPTURE_TEMPLATE = """{% extends "base.html" %}
{% block title %}Archived page: {{ capture.url }}{% endblock %}
{% block extra_head %}<style>
.steppe-frame { width: 100%; height: 75vh; border: 1px solid #999; background: #fff; }
</style>{% endblock %}
{% block crumbs %}{{ crumbs.nav(request=request, database=database, table="captures") }}{% endblock %}
{% block content %}
<h1>Archived page</h1>
<p class="steppe-capture">Captured <strong>{{ capture.fetched_at }}</strong>
  from <code>{{ capture.url }}</code><br>
  HTTP {{ capture.status }} · {{ capture.content_type or "no content type" }} · {{ capture.kind }}
  · <a href="{{ urls.row(database, "captures", capture.id) }}">capture #{{ capture.id }}</a>
  {% if capture.article_id %}· <a href="{{ urls.row(database, "articles", capture.article_id) }}">article
  #{{ capture.article_id }}</a>{% endif %}
  {% if versions > 1 %}· <a href="{{ urls.path(diff_path) }}">what changed ({{ versions }} versions)</a>{% endif %}
</p>
<iframe class="steppe-frame" sandbox title="The page as archived"
  src="{{ urls.path(body_path) }}"></iframe>
{% if others|length > 1 %}
<h2>Captures of this page</h2>
<ul>{% for other in others %}
  <li>{% if other.id == capture.id %}<strong>{{ other.fetched_at }}</strong>{% else %}
  <a href="{{ urls.path(other.path) }}">{{ other.fetched_at }}</a>{% endif %} (HTTP {{ other.status }})</li>
{% endfor %}</ul>
{% endif %}
{% endblock %}
"""

DIFF_TEMPLATE = """{% extends "base.html" %}
{% block title %}Changes: {{ article.title }}{% endblock %}
{% block extra_head %}<style>
.steppe-diff p { margin: 0.2em 0; padding: 0.2em 0.5em; white-space: pre-wrap; }
.steppe-diff .add { background: #e6ffec; } .steppe-diff .del { background: #ffebe9; text-decoration: line-through; }
.steppe-diff .hunk { color: #666; font-style: italic; }
</style>{% endblock %}
{% block crumbs %}{{ crumbs.nav(request=request, database=database, table="articles") }}{% endblock %}
{% block content %}
<h1>What changed: {{ article.title }}</h1>
<p><a href="{{ urls.row(database, "articles", article.id) }}">article #{{ article.id }}</a>, {{ article.url }}</p>
<form action="{{ urls.path(request.path) }}" method="get">
{% for name in ("from", "to") %}
  <label>{{ name }} <select name="{{ name }}">{% for version in versions %}
    <option value="{{ version.id }}"{% if version.id == chosen[name].id %} selected{% endif %}>
      {{ version.first_seen }} ({{ version.word_count }} words)</option>{% endfor %}
  </select></label>
{% endfor %}
  <input type="submit" value="Compare">
</form>
{% if lines %}
<div class="steppe-diff">{% for kind, text in lines %}<p class="{{ kind }}">{{ text }}</p>{% endfor %}</div>
{% else %}<p>These two versions have the same text.</p>{% endif %}
{% endblock %}
"""


def _config(datasette) -> tuple[str, Path]:
    config = datasette.plugin_config(PLUGIN)
    return config["database"], Path(config["warc_dir"])


def capture_path(capture_id: int) -> str:
    return f"/-/{PLUGIN}/capture/{capture_id}"


def article_path(article_id: int) -> str:
    return f"/-/{PLUGIN}/article/{article_id}"


def diff_path(article_id: int) -> str:
    return f"/-/{PLUGIN}/article/{article_id}/diff"


async def _one(datasette, sql: str, params: list) -> dict:
    database, _ = _config(datasette)
    rows = (await datasette.get_database(database).execute(sql, params)).rows
    if not rows:
        raise NotFound("No such row in the archive")
    return dict(rows[0])


async def _rows(datasette, sql: str, params: list) -> list[dict]:
    database, _ = _config(datasette)
    return [dict(row) for row in (await datasette.get_database(database).execute(sql, params)).rows]


async def _capture(datasette, request) -> dict:
    return await _one(datasette, "select * from captures where id = ?", [int(request.url_vars["capture_id"])])


async def _render(datasette, request, template: str, context: dict) -> Response:
    database, _ = _config(datasette)
    html = await datasette.render_template(
        datasette.jinja_env.from_string(template), {"database": database, **context}, request=request)
    return Response.html(html)


async def capture_page(datasette, request):
    """The capture's date, URL and status above its body in a sandboxed iframe."""
    capture = await _capture(datasette, request)
    versions = 0
    if capture["article_id"]:
        versions = (await _one(datasette, "select version_count from articles where id = ?",
                               [capture["article_id"]]))["version_count"] or 0
    others = await _rows(datasette, "select id, fetched_at, status from captures where canonical_url = ?"
                                    " order by fetched_at desc limit 100", [capture["canonical_url"]])
    for other in others:
        other["path"] = capture_path(other["id"])
    return await _render(datasette, request, CAPTURE_TEMPLATE, {
        "capture": capture, "versions": versions, "others": others,
        "body_path": capture_path(capture["id"]) + "/body",
        "diff_path": diff_path(capture["article_id"]) if capture["article_id"] else None,
    })


async def capture_body(datasette, request):
    """The archived response body, Content-Encoding undone, under a sandbox CSP."""
    capture = await _capture(datasette, request)
    filename = capture["warc_filename"] or ""
    # The database names a file in the WARC folder, nothing else.
    if not filename or Path(filename).name != filename:
        raise NotFound("This capture has no WARC record")
    _, warc_dir = _config(datasette)
    location = RecordLocation(filename, capture["warc_offset"], capture["warc_length"])
    try:
        response = await asyncio.to_thread(read_response, warc_dir, location)
    except FileNotFoundError:
        raise NotFound("The WARC file of this capture is missing") from None
    body, _ = response.content()
    headers = {"Content-Security-Policy": ARCHIVED_BODY_CSP, "X-Content-Type-Options": "nosniff",
               "Referrer-Policy": "no-referrer"}
    return Response(body, headers=headers, content_type=response.header("Content-Type") or "text/plain")


async def article_page(datasette, request):
    """An article's latest capture."""
    capture = await _one(datasette, "select id from captures where article_id = ? order by fetched_at desc limit 1",
                         [int(request.url_vars["article_id"])])
    return Response.redirect(datasette.urls.path(capture_path(capture["id"])))


def _diff_lines(old: str, new: str) -> list[tuple[str, str]]:
    """Paragraph-level changes, with one paragraph of context around each."""
    lines = []
    diff = difflib.unified_diff((old or "").split("\n\n"), (new or "").split("\n\n"), lineterm="", n=1)
    for line in list(diff)[2:]:  # the first two are the ---/+++ file headers
        kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")
        lines.append((kind, "…" if kind == "hunk" else line[1:]))
    return lines


async def diff_page(datasette, request):
    """What changed between two versions of one article (by default the last two)."""
    article_id = int(request.url_vars["article_id"])
    article = await _one(datasette, "select id, title, url from articles where id = ?", [article_id])
    versions = await _rows(datasette, "select id, first_seen, word_count, title, text from article_versions"
                                      " where article_id = ? order by first_seen, id", [article_id])
    if not versions:
        raise NotFound("No versions of this article")
    by_id = {str(version["id"]): version for version in versions}
    defaults = {"from": versions[-2] if len(versions) > 1 else versions[0], "to": versions[-1]}
    chosen = {}
    for name, default in defaults.items():
        value = request.args.get(name)
        if value is not None and value not in by_id:
            raise NotFound("No such version of this article")
        chosen[name] = by_id[value] if value is not None else default
    lines = _diff_lines(chosen["from"]["text"], chosen["to"]["text"])
    if chosen["from"]["title"] != chosen["to"]["title"]:
        lines = [("del", chosen["from"]["title"]), ("add", chosen["to"]["title"]), *lines]
    return await _render(datasette, request, DIFF_TEMPLATE,
                         {"article": article, "versions": versions, "chosen": chosen, "lines": lines})
