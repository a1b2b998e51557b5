"""WARC files as written by WarcWriter, checked with warcio's own tools."""

import gzip
import os
import json
import threading
import time
import zlib
from datetime import datetime, timezone

from warcio.archiveiterator import ArchiveIterator

from archive.warc import OPEN_SUFFIX, HttpExchange, WarcWriter, decode_content, iter_responses, read_response

from conftest import html_exchange, warcio


def exchange(i: int, body: bytes, encoding: str | None = None) -> HttpExchange:
    headers = [("Content-Type", "text/html"), ("Content-Length", str(len(body)))]
    if encoding:
        headers.append(("Content-Encoding", encoding))
    return HttpExchange(url=f"http://127.0.0.1:9/page/{i}/?q={i}#frag", sent_at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc),
                        method="GET", request_headers=[("Accept-Encoding", "gzip")], status=200, response_headers=headers,
                        body=body, ip_address="127.0.0.1")


def test_rotates_renames_and_passes_warcio_check(tmp_path):
    body = gzip.compress(os.urandom(3000))  # incompressible: each exchange is ~3 kB on disk
    with WarcWriter(tmp_path, "steppe-t", info={"crawl-id": "t"}, max_file_size=4000) as writer:
        locations = [writer.write_exchange(exchange(i, body, "gzip")).location for i in range(6)]
        assert len(list(tmp_path.glob("*.warc.gz.open"))) == 1  # the file being written
    files = sorted(tmp_path.iterdir())
    assert len(files) >= 3 and all(f.name.endswith(".warc.gz") for f in files)
    assert {loc.filename for loc in locations} == {f.name for f in files}
    for f in files:
        check = warcio("check", "-v", str(f))
        assert check.returncode == 0, check.stdout + check.stderr
        assert "digest pass" in check.stdout
        index = warcio("index", "-f", "warc-type,warc-target-uri,offset", str(f))
        assert index.returncode == 0
        types = [json.loads(line)["warc-type"] for line in index.stdout.splitlines()]
        assert types[0] == "warcinfo" and types.count("request") == types.count("response") >= 1
        assert gzip_members(f) == len(types)  # one a record: any record reads alone from its offset


def gzip_members(path) -> int:
    data, members = path.read_bytes(), 0
    while data:
        member = zlib.decompressobj(16 + zlib.MAX_WBITS)
        member.decompress(data)
        assert member.eof
        data, members = member.unused_data, members + 1
    return members


def test_records_are_linked_dated_and_keep_the_wire_body(tmp_path):
    body = gzip.compress("<p>“Typography” — kept</p>".encode())
    with WarcWriter(tmp_path, "steppe-t", info={"crawl-id": "t"}) as writer:
        location = writer.write_exchange(exchange(1, body, "gzip")).location
    with open(writer.closed_files[0], "rb") as fh:
        records = list((r.rec_type, dict(r.rec_headers.headers), r.content_stream().read() if r.rec_type == "response" else None)
                       for r in ArchiveIterator(fh))
    (_, info, _), (_, request, _), (_, response, decoded) = records
    assert response["WARC-Concurrent-To"] == request["WARC-Record-ID"]
    assert response["WARC-Date"] == request["WARC-Date"] == "2026-01-02T03:04:05.678901Z"
    assert response["WARC-Target-URI"] == "http://127.0.0.1:9/page/1/?q=1#frag"
    assert response["WARC-IP-Address"] == "127.0.0.1"
    assert response["WARC-Payload-Digest"].startswith("sha1:") and response["WARC-Block-Digest"]
    assert decoded == "<p>“Typography” — kept</p>".encode()  # warcio decodes what we kept encoded
    archived = read_response(tmp_path, location)
    assert archived.payload == body  # as sent on the wire
    assert archived.content() == (decoded, None)
    assert archived.warcinfo["crawl-id"] == "t"
    assert [r.location for r in iter_responses(writer.closed_files[0])] == [location]


def test_decode_content_reports_truncation_and_garbage():
    data = "x".encode() * 5000
    packed = gzip.compress(data)
    assert decode_content(packed, "gzip") == (data, None)
    partial, problem = decode_content(packed[: len(packed) // 2], "gzip")
    assert problem == "truncated gzip content" and data.startswith(partial)
    assert decode_content(b"not gzip at all", "gzip")[1].startswith("corrupt gzip content")
    assert decode_content(b"plain", None) == (b"plain", None)


def test_records_are_read_while_their_file_is_closed_under_the_reader(tmp_path):
    """Ingest workers read a crawl's last records while the crawl closes its file (a
    rename from .open), at any moment, also between two looks at the folder."""
    writer = WarcWriter(tmp_path, "steppe-closing", info={"crawl-id": "closing"})
    locations = [writer.write_exchange(html_exchange(f"http://127.0.0.1:9/a/{k}/", f"<p>page {k}</p>")).location
                 for k in range(20)]
    (opened,) = tmp_path.glob(f"*{OPEN_SUFFIX}")
    closed = opened.with_name(opened.name.removesuffix(OPEN_SUFFIX))
    stop = threading.Event()

    def close_and_open_again():   # a crawl closes its file once; again and again here, to meet every moment
        while not stop.is_set():
            os.replace(opened, closed)
            time.sleep(0.001)
            os.replace(closed, opened)
            time.sleep(0.001)

    renamer = threading.Thread(target=close_and_open_again)
    renamer.start()
    try:
        for k in range(1000):
            response = read_response(tmp_path, locations[k % 20])
            assert response.url == f"http://127.0.0.1:9/a/{k % 20}/" and response.warcinfo["crawl-id"] == "closing"
    finally:
        stop.set()
        renamer.join()
        writer.close()
