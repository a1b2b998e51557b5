"""The demo site's HTTP server: a ThreadingHTTPServer on loopback, HTTP/1.1 keep-alive,
a request log, and the misbehaviours a careful crawler must survive."""
from __future__ import annotations

import gzip
import hashlib
import os
import re
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timezone
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from . import pages as P
from .content import PER_PAGE, PRIVATE_PATH, SECTION, SECTION_SLUG, DemoSite

HTML = "text/html; charset=UTF-8"
_ARTICLE = re.compile(r"^/(\d{4})/(\d\d)/(\d\d)/([^/]+)/(amp/)?$")
_LISTING = re.compile(r"^/(category|tag|author)/([^/]+)/(?:page/(\d+)/)?$")
_STATIC = {"/about-us/": ("About Us", "An independent demo of a news site section, served from data."),
           "/contact/": ("Contact", "Write to the editors at editors@example.invalid."),
           "/privacy-policy/": ("Privacy Policy", "This demo site stores nothing about you.")}
_ASSET_TYPES = {".css": "text/css", ".js": "application/javascript", ".png": "image/png",
                ".jpg": "image/jpeg", ".ico": "image/x-icon", ".gif": "image/gif"}
_GIF = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


@dataclass(frozen=True)
class RequestLogEntry:
    time: float          # time.time() when the request arrived
    method: str
    path: str            # path with query string, as requested
    status: int
    headers: dict        # request headers, names in canonical Title-Case

    @property
    def path_with_query(self) -> str:
        return self.path


@dataclass
class _Response:
    status: int = 200
    body: bytes = b""
    ctype: str | None = HTML
    headers: tuple = ()
    delay: float = 0.0
    compress: bool = False     # gzip it when the client accepts gzip


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, demo: "DemoServer"):
        self.demo = demo
        self.open_sockets: set = set()
        self.sockets_lock = threading.Lock()
        super().__init__(addr, _Handler)

    def process_request(self, request, client_address):
        with self.sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""
    timeout = 30   # idle keep-alive connections are closed after this

    def do_GET(self):
        self._serve(head=False)

    def do_HEAD(self):
        self._serve(head=True)

    def do_POST(self):
        self._serve(head=False, allowed=False)

    def log_message(self, format, *args):   # quiet: the request log is the record
        pass

    def log_request(self, code="-", size="-"):
        # only reached for errors raised by BaseHTTPRequestHandler itself (e.g. 400)
        if not getattr(self, "_logged", False):
            try:
                status = int(code)
            except (TypeError, ValueError):
                status = 0
            self.server.demo._record(getattr(self, "command", None) or "-", getattr(self, "path", "") or "",
                                     status, getattr(self, "headers", None))

    def _serve(self, head: bool, allowed: bool = True):
        demo: DemoServer = self.server.demo
        with demo._lock:
            demo._in_flight += 1
            demo.max_in_flight = max(demo.max_in_flight, demo._in_flight)
        try:
            self._answer(demo, head, allowed)
        finally:
            with demo._lock:
                demo._in_flight -= 1

    def _answer(self, demo: "DemoServer", head: bool, allowed: bool) -> None:
        self._logged = True
        arrived = time.time()  # before the answer is made: making it may take a while
        if allowed:
            try:
                resp = demo.respond(self.command, self.path, self.headers)
            except Exception as exc:  # a fixture bug must not look like a network error
                resp = _Response(500, f"demo site error: {exc!r}".encode(), "text/plain; charset=UTF-8")
        else:
            resp = _Response(405, b"Method Not Allowed", "text/plain; charset=UTF-8", (("Allow", "GET, HEAD"),))
        demo._record(self.command, self.path, resp.status, self.headers, arrived)
        delay = max(resp.delay, demo._stalls.get(self.path.partition("?")[0], 0.0))
        if delay and demo._stopping.wait(delay):
            self.close_connection = True
            return
        body = resp.body
        headers = list(resp.headers)
        if resp.compress:
            headers.append(("Vary", "Accept-Encoding"))
            if _accepts_gzip(self.headers.get("Accept-Encoding", "")):
                body = gzip.compress(body, compresslevel=5, mtime=0)
                headers.append(("Content-Encoding", "gzip"))
        try:
            self.send_response(resp.status)
            if resp.ctype:
                self.send_header("Content-Type", resp.ctype)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head and body:
                self.wfile.write(body)
        except (ConnectionError, socket.timeout, OSError):
            self.close_connection = True


def _accepts_gzip(value: str) -> bool:
    for part in value.lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() in ("gzip", "*"):
            return not re.search(r"q\s*=\s*0(\.0*)?\s*$", params.strip())
    return False


def _canonical_header_name(name: str) -> str:
    return "-".join(w.capitalize() for w in name.split("-"))


class DemoServer:
    """Serves a DemoSite on 127.0.0.1. Assign ``server.site`` to swap the state live."""

    def __init__(self, site: DemoSite, host: str = "127.0.0.1", port: int = 0,
                 hang_seconds: float = 5.0, slow_seconds: float = 1.5):
        self.site = site
        self.hang_seconds, self.slow_seconds = hang_seconds, slow_seconds
        self._httpd = _HTTPServer((host, port), self)
        self.host, self.port = self._httpd.server_address[:2]
        self.url = f"http://{self.host}:{self.port}"
        self.section_url = f"{self.url}/category/{SECTION_SLUG}/"
        self._log: list[RequestLogEntry] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._seen_503: set[str] = set()
        self._failing: dict[str, list] = {}   # path -> [answers left, status, Retry-After]
        self._stalls: dict[str, float] = {}   # path -> seconds every answer waits
        self._started = time.time()
        self._thread: threading.Thread | None = None
        self._in_flight = 0
        self.max_in_flight = 0  # most requests it was answering at once: politeness, seen from the site

    # ---- lifecycle
    def start(self) -> "DemoServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"demo-site:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()   # wakes deliberate sleeps (timeout, slow)
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(5)
        with self._httpd.sockets_lock:
            for sock in list(self._httpd.open_sockets):   # end idle keep-alive reads
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self._httpd.server_close()

    def __enter__(self) -> "DemoServer":
        return self.start() if self._thread is None else self

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- request log
    @property
    def requests(self) -> list[RequestLogEntry]:
        with self._lock:
            return list(self._log)

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    def _record(self, method, path, status, headers, arrived: float | None = None) -> None:
        hdrs = {}
        for k, v in (headers.items() if headers is not None else ()):
            k = _canonical_header_name(k)
            hdrs[k] = f"{hdrs[k]}, {v}" if k in hdrs else v
        with self._lock:
            self._log.append(RequestLogEntry(arrived or time.time(), method, path, status, hdrs))

    def fail(self, path: str, times: int, status: int = 503, retry_after: str | None = "1") -> None:
        """Answer ``status`` to the next ``times`` requests of ``path``, then serve it again."""
        with self._lock:
            self._failing[path] = [times, status, retry_after]

    def stall(self, path: str, seconds: float) -> None:
        """Hold every answer to ``path`` this long (until the server stops): a crawl
        can be caught at a known point."""
        self._stalls[path] = seconds

    def clear_stalls(self) -> None:
        self._stalls.clear()

    # ---- routing
    def respond(self, method: str, raw_path: str, headers) -> _Response:
        site = self.site          # one state per request, even if swapped meanwhile
        path, _, qs = raw_path.split("#", 1)[0].partition("?")
        with self._lock:
            failing = self._failing.get(path)
            if failing and failing[0] > 0:
                failing[0] -= 1
                extra = (("Retry-After", failing[2]),) if failing[2] else ()
                return _Response(failing[1], b"<html><body><h1>Try again later</h1></body></html>", HTML, extra)
        path, query = path or "/", parse_qs(qs)
        base = self.url
        now = site.now.timestamp() + 7200 + (time.time() - self._started)   # the site's clock
        nonce = os.urandom(5).hex()

        def html(text: str, status: int = 200, compress: bool = False) -> _Response:
            return _Response(status, text.encode("utf-8"), HTML, compress=compress)

        def not_found() -> _Response:
            return html(P.render_404(site, base, now, nonce), 404)

        if path == "/robots.txt":
            return _Response(200, P.render_robots(base).encode(), "text/plain; charset=UTF-8")
        if path in ("/sitemap_index.xml", "/post-sitemap.xml", "/category-sitemap.xml"):
            render = {"/sitemap_index.xml": P.render_sitemap_index, "/post-sitemap.xml": P.render_post_sitemap,
                      "/category-sitemap.xml": P.render_category_sitemap}[path]
            xml = render(site, base).encode()
            # Validators as a caching plugin gives them: an incremental crawler asks
            # If-None-Match and gets a 304 while nothing changed.
            etag = '"' + hashlib.sha1(xml).hexdigest()[:20] + '"'
            modified = site.now.astimezone(timezone.utc)
            validators = (("ETag", etag), ("Last-Modified", format_datetime(modified, usegmt=True)))
            if _not_modified(headers, etag, modified):
                return _Response(304, b"", None, validators)
            return _Response(200, xml, "text/xml; charset=UTF-8",
                             (("X-Robots-Tag", "noindex, follow"), *validators), compress=True)
        if path == "/feed/" or (path.startswith("/category/") and path.endswith("/feed/")):
            return self._feed(site, base, path, headers) or not_found()
        if path == "/":
            if "p" in query:   # shortlink
                target = next((a for a in (*site.articles, *site.other_articles)
                               if str(a.post_id) == query["p"][0]), None)
                return _redirect(base + target.path) if target else not_found()
            latest = sorted((*site.articles[:PER_PAGE], *site.other_articles), key=lambda a: a.published,
                            reverse=True)[:PER_PAGE]
            return html(P.render_listing(site, base, now, nonce, heading="Latest", root="/", n=1, pages=1,
                                         items=latest))
        m = _LISTING.match(path)
        if m and m.group(3) == "1":
            return _redirect(base + path[:-len("page/1/")])
        if m:
            return self._listing(site, base, now, nonce, m.group(1), m.group(2), int(m.group(3) or 1)) or not_found()
        if path.startswith("/wp-admin/"):
            if path == "/wp-admin/admin-ajax.php":
                return _Response(400, b"0", "text/html; charset=UTF-8")
            return _redirect(f"{base}/wp-login.php?redirect_to={base}{path}&reauth=1", 302)
        if path == "/wp-login.php":
            return html(P.render_simple(site, base, now, nonce, "Log In", "Username or Email Address; Password."))
        if path in _STATIC:
            return html(P.render_simple(site, base, now, nonce, *_STATIC[path]))
        if path.startswith(("/wp-content/", "/wp-includes/")) or path == "/favicon.ico":
            ext = os.path.splitext(path)[1]
            if ext in _ASSET_TYPES:
                body = _GIF if ext in (".jpg", ".png", ".gif", ".ico") else b"/* demo */\n"
                return _Response(200, body, _ASSET_TYPES[ext], (("Cache-Control", "max-age=31536000"),))
            return not_found()
        if path == PRIVATE_PATH:
            return html(P.render_article(site, site.private_article, base, now, nonce))
        if path.startswith("/private/"):
            return html(P.render_simple(site, base, now, nonce, "Members only", "Please log in to read this."), 403)
        m = _ARTICLE.match(path)
        if m:
            return self._article(site, base, now, nonce, path, bool(m.group(5)), query, method) or not_found()
        if not path.endswith("/") and (site.article_at(path + "/") or _LISTING.match(path + "/")):
            return _redirect(base + path + "/")   # WordPress adds the trailing slash
        return not_found()

    def _listing(self, site, base, now, nonce, kind, slug, n):
        if kind == "category":
            items, heading = site.in_section(slug), site.sections().get(slug)
        elif kind == "tag":
            items, heading = site.tagged(slug), site.name_of("tag", slug)
        else:
            items, heading = site.by_author(slug), site.name_of("author", slug)
        if not items or heading is None:
            return None
        pages = -(-len(items) // PER_PAGE)
        if n > pages or n < 1:
            return None
        root = f"/{kind}/{slug}/"
        html = P.render_listing(site, base, now, nonce, heading=heading, root=root, n=n, pages=pages,
                                items=items[(n - 1) * PER_PAGE:n * PER_PAGE],
                                extra_teaser=site.private_article if (kind, slug, n) == ("category", SECTION_SLUG, 1) else None)
        return _Response(200, html.encode("utf-8"), HTML, compress=(kind == "category" and n % 3 == 2))

    def _feed(self, site, base, path, headers):
        if path == "/feed/":
            items = sorted((*site.articles[:PER_PAGE], *site.other_articles), key=lambda a: a.published,
                           reverse=True)[:PER_PAGE]
            title, link = P.SITE_NAME, base + "/"
        else:
            slug = path[len("/category/"):-len("/feed/")]
            items = site.in_section(slug)[:PER_PAGE]
            if not items:
                return None
            title, link = f"{site.sections()[slug]} – {P.SITE_NAME}", f"{base}/category/{slug}/"
        xml, etag, last = P.render_feed(site, base, title, link, base + path, items)
        validators = (("ETag", etag), ("Last-Modified", format_datetime(last, usegmt=True)))
        if _not_modified(headers, etag, last):
            return _Response(304, b"", None, validators)
        return _Response(200, xml.encode("utf-8"), "application/rss+xml; charset=UTF-8", validators)

    def _article(self, site, base, now, nonce, path, amp, query, method):
        canonical = path[:-4] if amp else path
        if site.is_gone(canonical):
            return _Response(410, P.render_simple(site, base, now, nonce, "Gone",
                                                  "This article has been removed.").encode(), HTML)
        if canonical in site.redirects:
            return _redirect(base + site.redirects[canonical] + ("amp/" if amp else ""))
        if canonical in site.loops:
            return _redirect(base + site.loops[canonical] + ("amp/" if amp else ""))
        a = site.article_at(canonical)
        if a is None:
            return None
        b = a.behaviour
        if b == "retry_after_503" and not amp:
            with self._lock:
                first = canonical not in self._seen_503
                self._seen_503.add(canonical)
            if first:
                return _Response(503, P.render_simple(site, base, now, nonce, "Service Unavailable",
                                                      "Too many requests, try again shortly.").encode(),
                                 HTML, (("Retry-After", "1"),))
        delay = {"slow": self.slow_seconds, "timeout": self.hang_seconds}.get(b, 0.0)
        if b == "empty_body":
            return _Response(200, b"", HTML, delay=delay)
        if amp:
            return _Response(200, P.render_amp(a, base, now).encode("utf-8"), HTML, delay=delay)
        text = P.render_article(site, a, base, now, nonce, noindex="replytocom" in query)
        ctype = {"meta_charset_only": "text/html", "wrong_charset": "text/html; charset=ISO-8859-1"}.get(b, HTML)
        return _Response(200, text.encode("utf-8"), ctype, delay=delay, compress=(b == "gzip"))


def _redirect(location: str, status: int = 301) -> _Response:
    return _Response(status, b"", "text/html; charset=UTF-8", (("Location", location),))


def _not_modified(headers, etag: str, last) -> bool:
    inm = headers.get("If-None-Match")
    if inm is not None:
        return etag in [t.strip().removeprefix("W/") for t in inm.split(",")] or inm.strip() == "*"
    ims = headers.get("If-Modified-Since")
    if ims:
        try:
            return last.replace(microsecond=0) <= parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
    return False


@contextmanager
def serve_site(site: DemoSite, hang_seconds: float = 5.0, slow_seconds: float = 1.5,
               host: str = "127.0.0.1", port: int = 0):
    """Run a DemoServer in a daemon thread for the duration of the with-block."""
    server = DemoServer(site, host, port, hang_seconds, slow_seconds).start()
    try:
        yield server
    finally:
        server.stop()


__all__ = ["DemoServer", "RequestLogEntry", "serve_site", "SECTION"]
