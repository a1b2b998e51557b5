"""A hostile copy of the demo section, on loopback: every fault a real server can throw.

``ChaosServer`` answers from raw sockets (not ``http.server``), so that it can
misbehave below HTTP: reset a connection in the middle of a body, promise more
bytes than it sends, trickle one byte a second, accept and never answer. Its
section listing (``/category/central-asia/``) lists good articles of a
``DemoSite``, rendered by the demo site's own templates, with one teaser per fault
among them, so that each bad case sits among good articles and a crawl must step
over it. Each fault is a ``Fault``: a slug (its article path is
``/2024/06/01/chaos-<slug>/``), a group (which crawl of ``tests/test_faults.py``
meets it) and what the server does.

robots.txt, the sitemaps and the pages that redirect are faults of their own:
``robots`` chooses how robots.txt behaves (``ok``, ``4xx``, ``5xx``, ``hang``, ``huge``) and
the sitemaps (read by incremental crawls) hold a malformed one, an entity bomb, a
100 MB one and an index that lists itself.

Nothing here sends a packet anywhere: redirects and sitemap entries *name* private
and link-local addresses, and the crawler must refuse them before connecting.
"""

from __future__ import annotations

import gzip
import os
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import formatdate
from functools import cache

from . import pages as P
from .content import SECTION_SLUG, DemoSite

MiB = 2**20
FAULT_DAY = "/2024/06/01/"
_CHUNK = 64 * 1024


def fault_path(slug: str) -> str:
    return f"{FAULT_DAY}chaos-{slug}/"


class Conn:
    """One accepted connection: what a fault writes to."""

    def __init__(self, sock: socket.socket, server: ChaosServer, path: str, host: str = ""):
        self.sock, self.server, self.path, self.host = sock, server, path, host

    @property
    def base(self) -> str:
        """The site's URL as the client named it (its Host header): links stay on that name."""
        return f"http://{self.host}" if self.host else self.server.url

    def head(self, status: int, headers: list[tuple[str, str]], length: int | None) -> None:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}", "Server: chaos", "Connection: close",
                 f"Date: {formatdate(usegmt=True)}"]
        lines += [f"{name}: {value}" for name, value in headers]
        if length is not None:
            lines.append(f"Content-Length: {length}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def send(self, status: int, body: bytes, content_type: str = "text/html; charset=UTF-8",
             headers: list[tuple[str, str]] = ()) -> None:
        self.head(status, [("Content-Type", content_type), *headers], len(body))
        self.sock.sendall(body)

    def stream(self, status: int, chunks: Iterator[bytes], length: int, content_type: str) -> None:
        """Send ``length`` bytes from ``chunks`` unless the client hangs up first."""
        self.head(status, [("Content-Type", content_type)], length)
        sent = 0
        for chunk in chunks:
            chunk = chunk[:length - sent]
            if not chunk or self.server.stopping.is_set():
                return
            self.sock.sendall(chunk)
            sent += len(chunk)

    def wait(self, seconds: float) -> bool:
        """Sleep; False when the server is stopping or the client has gone."""
        return not self.server.stopping.wait(seconds)

    def reset(self) -> None:
        """Close with a TCP RST rather than a FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


P_HTML = "text/html; charset=UTF-8"
_REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 404: "Not Found", 429: "Too Many Requests",
            500: "Internal Server Error", 503: "Service Unavailable"}


@dataclass(frozen=True)
class Fault:
    slug: str
    group: str  # which crawl of tests/test_faults.py meets it
    what: str  # one line, for the table in the README ("What steppe survives")
    serve: Callable[[Conn], None]

    @property
    def path(self) -> str:
        return fault_path(self.slug)


# Page bodies -------------------------------------------------------------------------

def _page(conn: Conn, title: str, body: str, head: str = "") -> bytes:
    """A page in the theme's markup with an article of the fault's own."""
    return (f'<!DOCTYPE html>\n<html lang="en-US"><head><meta charset="UTF-8"><title>{title}</title>{head}</head>'
            f'<body class="single single-post"><article id="mvp-article-wrap"><h1 class="mvp-post-title entry-title">'
            f'{title}</h1><div id="mvp-content-main" class="left relative">{body}</div></article></body></html>\n'
            ).encode("utf-8")


@cache
def _words(n_bytes: int) -> bytes:
    """``n_bytes`` of words and spaces, without a newline."""
    words = b"steppe caravan border pipeline summit treaty river harvest railway corridor".split()
    block = b" ".join(words[(i * 7 + 3) % len(words)] for i in range(1000)) + b" "
    return (block * (n_bytes // len(block) + 1))[:n_bytes]


def reset_mid_body(conn: Conn) -> None:
    page = _page(conn, "Reset mid-body", "<p>" + _words(20000).decode() + "</p>")
    conn.head(200, [("Content-Type", P_HTML)], len(page) + 100_000)
    conn.sock.sendall(page[:len(page) // 2])
    conn.wait(0.2)
    conn.reset()


def reset_mid_headers(conn: Conn) -> None:
    conn.sock.sendall(b"HTTP/1.1 200 OK\r\nServer: chaos\r\nContent-Type: text/html; charset=UTF-8\r\n")
    conn.wait(0.2)
    conn.reset()


def short_body(conn: Conn) -> None:
    page = _page(conn, "Short body", "<p>" + _words(20000).decode() + "</p>")
    conn.head(200, [("Content-Type", P_HTML)], len(page) + 100_000)
    conn.sock.sendall(page)
    conn.sock.shutdown(socket.SHUT_WR)


def trickle(conn: Conn) -> None:
    conn.head(200, [("Content-Type", P_HTML)], 100_000)
    for byte in _page(conn, "Trickle", "<p>" + _words(99_000).decode() + "</p>"):
        conn.sock.sendall(bytes([byte]))
        if not conn.wait(1.0):
            return


def silent(conn: Conn) -> None:
    conn.wait(3600)


def huge_page(conn: Conn) -> None:
    """200 MB of one article's text, generated as it is sent."""
    start = _page(conn, "A 200 MB page", "<p>The start of a very long page.</p>")[:-30]
    filler = b"<p>" + _words(MiB - 8) + b"</p>\n"

    def chunks():
        yield start
        while True:
            yield filler
    conn.stream(200, chunks(), 200 * MiB, P_HTML)


@cache
def gzip_bomb_body(inflated: int = 2 * 2**30) -> bytes:
    """About 2 MB of gzip that inflates to ``inflated`` bytes: gzip members of 1 MiB of
    spaces each, concatenated (a gzip stream may hold many members, RFC 1952)."""
    member = gzip.compress(b" " * MiB, compresslevel=9, mtime=0)
    return member * (inflated // MiB)


def gzip_bomb(conn: Conn) -> None:
    conn.send(200, gzip_bomb_body(), P_HTML, [("Content-Encoding", "gzip")])


def corrupt_gzip(conn: Conn) -> None:
    body = bytearray(gzip.compress(_page(conn, "Corrupt gzip", "<p>" + _words(5000).decode() + "</p>"), mtime=0))
    body[10:40] = bytes(range(200, 230))  # the deflate stream's first bytes: undecodable from the start
    conn.send(200, bytes(body), P_HTML, [("Content-Encoding", "gzip")])


def false_encoding(conn: Conn) -> None:
    conn.send(200, _page(conn, "Not deflate", "<p>Plain HTML sent as deflate.</p>"), P_HTML,
              [("Content-Encoding", "deflate")])


def pdf_as_html(conn: Conn) -> None:
    body = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + os.urandom(300_000) + b"\n%%EOF\n"
    conn.send(200, body, P_HTML)


def _mp4(size: int) -> bytes:
    return b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + os.urandom(size)


def video_as_html(conn: Conn) -> None:
    conn.send(200, _mp4(2 * MiB), P_HTML)


def video(conn: Conn) -> None:
    conn.send(200, _mp4(6 * MiB), "video/mp4")


def invalid_utf8(conn: Conn) -> None:
    page = _page(conn, "Invalid UTF-8", "<p>Almaty MARK Bishkek.</p><p>" + _words(3000).decode() + "</p>")
    conn.send(200, page.replace(b"MARK", b"\xe2\x80 \xff\xfe \xc3\x28"), P_HTML)


def deep_nesting(conn: Conn) -> None:
    depth = 100_000
    body = "<div>" * depth + "<p>" + _words(2000).decode() + "</p>" + "</div>" * depth
    conn.send(200, _page(conn, "Nested 100,000 deep", body), P_HTML)


def one_line(conn: Conn) -> None:
    conn.send(200, _page(conn, "5 MB on one line", "<p>" + _words(5 * MiB).decode() + "</p>"), P_HTML)


def jsonld_malformed(conn: Conn) -> None:
    head = '<script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle", ' \
           '"headline": "Unclosed, "author": [{"name": </script>'
    conn.send(200, _page(conn, "Malformed JSON-LD", "<p>" + _words(3000).decode() + "</p>", head), P_HTML)


def jsonld_enormous(conn: Conn) -> None:
    keywords = ", ".join(f'"keyword {i}"' for i in range(300_000))
    head = ('<script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle", '
            f'"headline": "Enormous JSON-LD", "keywords": [{keywords}], "nested": ' + "[" * 50_000 + "]" * 50_000
            + "}</script>")
    conn.send(200, _page(conn, "Enormous JSON-LD", "<p>" + _words(3000).decode() + "</p>", head), P_HTML)


def _storm(status: int, retry_after: Callable[[], str]) -> Callable[[Conn], None]:
    def serve(conn: Conn) -> None:
        conn.send(status, b"<h1>slow down</h1>", P_HTML, [("Retry-After", retry_after())])
    return serve


def _redirect(location: Callable[[Conn], str], status: int = 302) -> Callable[[Conn], None]:
    def serve(conn: Conn) -> None:
        conn.send(status, b"", P_HTML, [("Location", location(conn))])
    return serve


def _hop(conn: Conn) -> str:
    """A chain: hop 1 → hop 2 → hop 3 → another host (127.0.0.2 on the same port)."""
    hop = int(conn.path.rsplit("hop", 1)[1].strip("/") or 0) if "hop" in conn.path else 0
    if hop < 3:
        return f"{conn.base}{fault_path('redirect-chain')}hop{hop + 1}/"
    return f"http://127.0.0.2:{conn.server.port}{fault_path('redirect-chain')}"


FAULTS = [
    Fault("reset-mid-body", "network", "connection reset (TCP RST) in the middle of a body", reset_mid_body),
    Fault("reset-mid-headers", "network", "connection reset (TCP RST) in the middle of the response headers",
          reset_mid_headers),
    Fault("short-body", "network", "Content-Length longer than the body, then the connection closed", short_body),
    Fault("trickle", "network", "a body trickled one byte a second, forever", trickle),
    Fault("silent", "network", "a server that accepts the connection and never answers", silent),
    Fault("storm-429-seconds", "storms", "429 on every request, Retry-After: 1", _storm(429, lambda: "1")),
    Fault("storm-503-date", "storms", "503 on every request, Retry-After as an HTTP date 1 s ahead",
          _storm(503, lambda: formatdate(time.time() + 1, usegmt=True))),
    Fault("storm-503-garbage", "storms", "503 on every request, Retry-After: soon-ish (garbage)",
          _storm(503, lambda: "soon-ish")),
    Fault("storm-429-year", "storms", "429 on every request, Retry-After: 31536000 (a year)",
          _storm(429, lambda: "31536000")),
    Fault("huge-page", "big", "a 200 MB page", huge_page),
    Fault("gzip-bomb", "big", "a gzip bomb: 2 MB that inflate to 2 GiB", gzip_bomb),
    Fault("corrupt-gzip", "bodies", "a corrupt gzip body", corrupt_gzip),
    Fault("false-encoding", "bodies", "Content-Encoding: deflate on a body that is plain HTML", false_encoding),
    Fault("pdf-as-html", "bodies", "a PDF served as text/html", pdf_as_html),
    Fault("video-as-html", "bodies", "an MP4 video (2 MB) served as text/html", video_as_html),
    Fault("video", "disk", "an MP4 video of 6 MB, which no compression makes smaller", video),
    Fault("invalid-utf8", "bodies", "invalid UTF-8 in a page declared UTF-8", invalid_utf8),
    Fault("deep-nesting", "bodies", "HTML nested 100,000 elements deep", deep_nesting),
    Fault("one-line", "bodies", "5 MB of text on one line", one_line),
    Fault("jsonld-malformed", "bodies", "malformed JSON-LD", jsonld_malformed),
    Fault("jsonld-enormous", "bodies", "enormous JSON-LD (300,000 keywords, arrays 50,000 deep)", jsonld_enormous),
    Fault("redirect-chain", "redirects", "a redirect chain that ends on another host", _redirect(_hop)),
    Fault("redirect-file", "redirects", "a redirect to file:///etc/passwd", _redirect(lambda c: "file:///etc/passwd")),
    Fault("redirect-ftp", "redirects", "a redirect to ftp://", _redirect(lambda c: "ftp://127.0.0.1/pub/x.html")),
    Fault("redirect-javascript", "redirects", "a redirect to javascript:",
          _redirect(lambda c: "javascript:alert(document.cookie)")),
    Fault("redirect-private", "redirects", "a redirect to a private address (10.0.0.1)",
          _redirect(lambda c: "http://10.0.0.1/2024/06/01/inside/")),
    Fault("redirect-link-local", "redirects", "a redirect to a link-local address (169.254.169.254)",
          _redirect(lambda c: "http://169.254.169.254/latest/meta-data/")),
    Fault("redirect-ipv6-private", "redirects", "a redirect to a unique-local IPv6 address (fc00::1)",
          _redirect(lambda c: "http://[fc00::1]/2024/06/01/inside/")),
    Fault("redirect-loopback", "redirects", "a redirect to another loopback address (127.0.0.2)",
          _redirect(lambda c: f"http://127.0.0.2:{c.server.port}/2024/06/01/inside/")),
]
FAULTS_BY_SLUG = {fault.slug: fault for fault in FAULTS}


# robots.txt and sitemaps ---------------------------------------------------------------

ROBOTS_MODES = ("ok", "4xx", "5xx", "hang", "huge")


def _robots_rules(base: str) -> str:
    return (P.render_robots(base)
            # Sitemaps on a private address, and on this machine's disk.
            + "Sitemap: http://192.168.1.1/sitemap_index.xml\nSitemap: file:///etc/passwd\n")


def serve_robots(conn: Conn, mode: str) -> None:
    if mode == "4xx":
        # An error page whose text reads as a rule: a 4xx is no rules at all, whatever its body.
        conn.send(404, b"User-agent: *\nDisallow: /\n", "text/plain; charset=UTF-8")
    elif mode == "5xx":
        conn.send(503, b"<h1>down for maintenance</h1>", P_HTML)
    elif mode == "hang":
        conn.wait(3600)
    elif mode == "huge":
        # 10 MB: rules, comments, and past what a crawler must read, a rule that
        # would forbid everything.
        rules = _robots_rules(conn.base).encode()
        comment = b"# " + _words(78) + b"\n"
        padding = comment * ((10 * MiB - len(rules)) // len(comment))
        conn.send(200, rules + padding + b"User-agent: *\nDisallow: /\n", "text/plain; charset=UTF-8")
    else:
        conn.send(200, _robots_rules(conn.base).encode(), "text/plain; charset=UTF-8")


def _urlset(entries: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{entries}</urlset>\n'


def _index(conn: Conn, locs: list[str]) -> bytes:
    maps = "".join(f"<sitemap><loc>{loc}</loc></sitemap>\n" for loc in locs)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            f"{maps}</sitemapindex>\n").encode()


BILLION_LAUGHS = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lol">\n'
                  + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
                            for i in range(1, 10))
                  + ']>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>&lol9;</loc></url></urlset>\n')

SITEMAPS = {
    "/post-sitemap2.xml": "malformed XML",
    "/post-sitemap3.xml": "an XML entity bomb (billion laughs)",
    "/post-sitemap4.xml": "a 100 MB sitemap",
    "/post-sitemap5.xml": "a sitemap index that lists itself",
}


def serve_sitemap(conn: Conn, path: str, site: DemoSite, goods) -> bool:
    xml = "text/xml; charset=UTF-8"
    base = conn.base
    if path == "/sitemap_index.xml":
        locs = [f"{base}/post-sitemap.xml", *(base + p for p in SITEMAPS),
                "http://10.0.0.1/post-sitemap.xml", "http://169.254.169.254/post-sitemap6.xml"]
        conn.send(200, _index(conn, locs), xml)
    elif path == "/post-sitemap.xml":
        entries = "".join(f"<url><loc>{base}{a.path}</loc><lastmod>{a.modified.isoformat()}</lastmod></url>\n"
                          for a in goods)
        conn.send(200, _urlset(entries).encode(), xml)
    elif path == "/post-sitemap2.xml":
        conn.send(200, _urlset(f"<url><loc>{base}{goods[0].path}</loc><lastmod>2024</url>\n<url><loc")[:-12].encode()
                  + b"<<<&&& not xml", xml)
    elif path == "/post-sitemap3.xml":
        conn.send(200, BILLION_LAUGHS.encode(), xml)
    elif path == "/post-sitemap4.xml":
        entry = "".join(f"<url><loc>{base}/2020/01/01/filler-{i}/</loc><lastmod>2020-01-01T00:00:00+00:00</lastmod></url>\n"
                        for i in range(5000)).encode()
        head = b'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'

        def chunks():
            yield head
            while True:
                yield entry
        conn.stream(200, chunks(), 100 * MiB, xml)
    elif path == "/post-sitemap5.xml":
        conn.send(200, _index(conn, [f"{base}/post-sitemap5.xml"]), xml)
    else:
        return False
    return True


# The server ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Hit:
    time: float
    path: str
    host: str


class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        server: ChaosServer = self.server.chaos
        sock = self.request
        sock.settimeout(30)
        try:
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                data = sock.recv(4096)
                if not data:
                    return
                head += data
        except OSError:
            return
        lines = head.split(b"\r\n")
        try:
            method, target, _ = lines[0].decode("latin-1").split(" ", 2)
        except ValueError:
            return
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.decode("latin-1").partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        path = target.split("?", 1)[0]
        server.record(Hit(time.time(), path, headers.get("host", "")))
        try:
            server.respond(Conn(sock, server, path, headers.get("host", "")), path, method)
        except OSError:
            pass  # the client hung up on a fault: that is what faults are for


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


class ChaosServer:
    """Serves the good articles of ``site`` and the ``faults`` among them on 127.0.0.1."""

    def __init__(self, site: DemoSite, faults: list[Fault] = FAULTS, *, robots: str = "ok", n_good: int = 6,
                 host: str = "127.0.0.1", port: int = 0):
        assert robots in ROBOTS_MODES
        self.site, self.faults, self.robots = site, list(faults), robots
        self.goods = [a for a in site.articles if a.behaviour == "normal"][:n_good]
        self._tcp = _TCPServer((host, port), _Handler, bind_and_activate=True)
        self._tcp.chaos = self
        self.host, self.port = self._tcp.server_address[:2]
        self.url = f"http://{self.host}:{self.port}"
        self.section_url = f"{self.url}/category/{SECTION_SLUG}/"
        self.stopping = threading.Event()
        self._hits: list[Hit] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def record(self, hit: Hit) -> None:
        with self._lock:
            self._hits.append(hit)

    @property
    def hits(self) -> list[Hit]:
        with self._lock:
            return list(self._hits)

    def hits_of(self, path: str) -> list[Hit]:
        return [hit for hit in self.hits if hit.path == path]

    def respond(self, conn: Conn, path: str, method: str) -> None:
        now = self.site.now.timestamp() + 7200
        nonce = os.urandom(5).hex()
        by_path = {fault.path: fault for fault in self.faults}
        if path == "/robots.txt":
            return serve_robots(conn, self.robots)
        if serve_sitemap(conn, path, self.site, self.goods):
            return
        base = conn.base
        if path == f"/category/{SECTION_SLUG}/":
            html = P.render_listing(self.site, base, now, nonce, heading="Central Asia",
                                    root=f"/category/{SECTION_SLUG}/", n=1, pages=1, items=self.goods)
            teasers = "".join(f'<li class="mvp-blog-story-wrap left relative"><a href="{base}{fault.path}" '
                              f'rel="bookmark"><h2>{fault.what}</h2></a></li>\n' for fault in self.faults)
            # A link to a private address among the teasers: never to be followed.
            teasers += '<li class="mvp-blog-story-wrap"><a href="http://10.0.0.1/2024/06/01/inside/" rel="bookmark">x</a></li>\n'
            html = html.replace('infinite-content">\n', 'infinite-content">\n' + teasers, 1)
            return conn.send(200, html.encode("utf-8"))
        fault = by_path.get(path) or (by_path.get(path.split("hop")[0]) if "/hop" in path else None)
        if fault is not None:
            return fault.serve(conn)
        article = self.site.article_at(path)
        if article is not None:
            return conn.send(200, P.render_article(self.site, article, base, now, nonce).encode("utf-8"))
        conn.send(404, P.render_404(self.site, base, now, nonce).encode("utf-8"))

    def start(self) -> ChaosServer:
        self._thread = threading.Thread(target=self._tcp.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"chaos:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._tcp.shutdown()
        self._tcp.server_close()

    def __enter__(self) -> ChaosServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
