"""Write and read WARC files with warcio.

Files are ``.warc.gz`` with one gzip member per record, so any record can be read
alone from its (filename, offset). The file being written carries an ``.open``
suffix until it is closed, which tells a reader (and a later run) that it may end
in a torn record.
"""

from __future__ import annotations

import base64
import hashlib
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from http import HTTPStatus
from io import BytesIO
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import ChunkedDataReader
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from .problems import Problem

WARC_VERSION = "1.1"  # 1.1 gives WARC-Date microseconds: fetch order survives a rebuild
OPEN_SUFFIX = ".open"
DEFAULT_MAX_FILE_SIZE = 10**9
# Pages are parsed whole; a larger body (a video, a dump) is archived but not loaded.
MAX_LOADED_PAYLOAD = 50 * 2**20
# What most archiving tools use (zlib's default): warcio's own level 9 costs 2.3x the
# CPU on real pages (the extraction dev set: 8.1 against 3.5 ms a page) for files 1.2% smaller.
GZIP_LEVEL = 6
# A field of steppe's own on a response record (WARC 1.1 allows fields it does not
# define; readers ignore them): the page whose read-next link the crawl followed here.
FOUND_VIA = "Steppe-Found-Via"

# A hop-by-hop header: Twisted has already removed the chunking from the body we hold.
_DROPPED_RESPONSE_HEADERS = {"transfer-encoding"}


@dataclass(frozen=True)
class HttpExchange:
    """One fetch, as the crawler saw it on the wire."""

    url: str
    sent_at: datetime
    method: str
    request_headers: list[tuple[str, str]]
    status: int
    response_headers: list[tuple[str, str]]
    body: bytes  # still Content-Encoded, exactly as sent by the server
    protocol: str = "HTTP/1.1"
    request_body: bytes = b""
    ip_address: str | None = None
    # Why the body is incomplete ("length": cut at a size limit), as WARC-Truncated.
    truncated: str | None = None
    # The page whose read-next link led here (not the section's listing), as FOUND_VIA:
    # such a page is the section's article only where it says so (archive.membership).
    found_via: str | None = None


@dataclass(frozen=True)
class RecordLocation:
    """Where a response record lives: the file's final name (never ``.open``)."""

    filename: str
    offset: int
    length: int


@dataclass(frozen=True)
class ResponseRef:
    """A response record written: where it is, and what a revisit of it must name."""

    record_id: str
    url: str
    date: str  # its WARC-Date
    payload_digest: str
    location: RecordLocation


REVISIT_PROFILES = {
    "identical-payload-digest": "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest",
    "server-not-modified": "http://netpreserve.org/warc/1.1/revisit/server-not-modified",
}


def payload_digest(body: bytes) -> str:
    """WARC-Payload-Digest of a body, as warcio writes it (sha1, base32)."""
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


@dataclass(frozen=True)
class ArchivedResponse:
    """A WARC response record, read back: the unit that ingest works on."""

    location: RecordLocation
    record_id: str
    url: str
    date: str  # WARC-Date, ISO 8601 UTC
    status: int
    headers: list[tuple[str, str]]
    payload: bytes | None  # None when larger than MAX_LOADED_PAYLOAD
    payload_digest: str | None = None
    ip_address: str | None = None
    warc_headers: dict[str, str] = field(default_factory=dict, repr=False)
    # Fields of the file's warcinfo record (steppe writes its crawl id there).
    warcinfo: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def refers_to(self) -> str | None:
        """For a revisit record: the record id of the response it stands for."""
        if self.warc_headers.get("WARC-Type") != "revisit":
            return None
        return self.warc_headers.get("WARC-Refers-To") or ""

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    @property
    def content_type(self) -> str:
        return (self.header("Content-Type") or "").split(";")[0].strip().lower()

    def content(self) -> tuple[bytes, Problem | None]:
        """The payload with its Content-Encoding undone, and a problem found doing so."""
        return decode_content(self.payload or b"", self.header("Content-Encoding"))


def decode_content(payload: bytes, encoding: str | None) -> tuple[bytes, Problem | None]:
    """Undo gzip/deflate/br. A truncated or corrupt stream keeps what decoded (damage)."""
    encoding = (encoding or "").strip().lower()
    if not payload or encoding in ("", "identity"):
        return payload, None
    if encoding == "br":
        try:
            import brotli
        except ImportError:
            return payload, Problem.note("brotli content, but the brotli module is not installed")
        try:
            return brotli.decompress(payload), None
        except brotli.error as exc:
            return b"", Problem.damage(f"corrupt brotli content: {exc}")
    if encoding in ("gzip", "x-gzip"):
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        # Servers send zlib-wrapped or raw deflate under the same name.
        decoder = zlib.decompressobj(zlib.MAX_WBITS if payload[:1] == b"\x78" else -zlib.MAX_WBITS)
    else:
        return payload, Problem.damage(f"unknown Content-Encoding {encoding!r}")
    try:
        # Bounded: a few KB of gzip can inflate to gigabytes (a compression bomb).
        data = decoder.decompress(payload, MAX_LOADED_PAYLOAD)
    except zlib.error as exc:
        return b"", Problem.damage(f"corrupt {encoding} content: {exc}")
    if decoder.unconsumed_tail:
        return data, Problem.damage(f"{encoding} content inflates past {MAX_LOADED_PAYLOAD} bytes: read no further")
    if not decoder.eof:
        return data, Problem.damage(f"truncated {encoding} content")
    return data, None


class WarcWriter:
    """Appends request/response pairs to rotating ``.warc.gz`` files in one folder."""

    def __init__(
        self,
        directory: str | os.PathLike,
        prefix: str,
        *,
        info: dict[str, str],
        max_file_size: int = DEFAULT_MAX_FILE_SIZE,
    ):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.prefix = prefix
        self.info = info
        self.max_file_size = max_file_size
        self.closed_files: list[Path] = []
        self._serial = 0
        self._file = None
        self._path: Path | None = None
        # Records are built by warcio uncompressed, then written as one gzip member each.
        self._record = BytesIO()
        self._writer = WARCWriter(self._record, gzip=False, warc_version=WARC_VERSION)

    def write_exchange(self, exchange: HttpExchange, revisit_of: ResponseRef | None = None) -> ResponseRef:
        """Write the request and its response; return the response record's reference.

        With ``revisit_of`` the response is a ``revisit`` record without the body: a
        304 (profile server-not-modified) or a body identical to an earlier capture's
        (identical-payload-digest). Replay tools resolve it through WARC-Refers-To*.
        """
        if self._file is None or self._file.tell() >= self.max_file_size:
            self._rotate()
        writer = self._writer
        warc_date = datetime_to_iso_date(
            exchange.sent_at.astimezone(timezone.utc).replace(tzinfo=None), use_micros=True
        )
        request = writer.create_warc_record(
            exchange.url,
            "request",
            payload=BytesIO(exchange.request_body),
            length=len(exchange.request_body),
            http_headers=StatusAndHeaders(
                f"{exchange.method} {_request_target(exchange.url)} {exchange.protocol}",
                _with_host(exchange.url, exchange.request_headers),
                is_http_request=True,
            ),
            warc_headers_dict={"WARC-Date": warc_date},
        )
        response_warc_headers = {
            "WARC-Date": warc_date,
            "WARC-Concurrent-To": request.rec_headers.get_header("WARC-Record-ID"),
        }
        if exchange.ip_address:
            response_warc_headers["WARC-IP-Address"] = exchange.ip_address
        if exchange.truncated:
            response_warc_headers["WARC-Truncated"] = exchange.truncated
        if exchange.found_via:
            response_warc_headers[FOUND_VIA] = exchange.found_via
        http_headers = StatusAndHeaders(
            f"{exchange.status} {_reason(exchange.status)}",
            [(k, v) for k, v in exchange.response_headers if k.lower() not in _DROPPED_RESPONSE_HEADERS],
            protocol=exchange.protocol,
        )
        if revisit_of is None:
            response = writer.create_warc_record(
                exchange.url, "response", payload=BytesIO(exchange.body), length=len(exchange.body),
                http_headers=http_headers, warc_headers_dict=response_warc_headers,
            )
        else:
            response_warc_headers["WARC-Refers-To"] = revisit_of.record_id
            response = writer.create_revisit_record(
                exchange.url, revisit_of.payload_digest, revisit_of.url, revisit_of.date,
                http_headers=http_headers, warc_headers_dict=response_warc_headers,
            )
            profile = "server-not-modified" if exchange.status == 304 else "identical-payload-digest"
            response.rec_headers.replace_header("WARC-Profile", REVISIT_PROFILES[profile])
        self._write(request)
        offset = self._file.tell()
        self._write(response)
        length = self._file.tell() - offset
        # Flushed per exchange: ingest reads the record straight back, and a killed
        # crawl leaves only whole records behind it.
        self._file.flush()
        headers = response.rec_headers
        return ResponseRef(headers.get_header("WARC-Record-ID"), exchange.url, warc_date,
                           headers.get_header("WARC-Payload-Digest"),
                           RecordLocation(self._path.name.removesuffix(OPEN_SUFFIX), offset, length))

    def close(self) -> None:
        if self._file is None:
            return
        self._file.close()
        final = self._path.with_name(self._path.name.removesuffix(OPEN_SUFFIX))
        os.replace(self._path, final)
        self.closed_files.append(final)
        self._file = self._path = None

    def _rotate(self) -> None:
        self.close()
        self._serial += 1
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S%f")
        name = f"{self.prefix}-{stamp}-{self._serial:05d}.warc.gz"
        self._path = self.directory / (name + OPEN_SUFFIX)
        self._file = open(self._path, "xb")
        self._write(self._writer.create_warcinfo_record(name, self.info))

    def _write(self, record) -> None:
        """One record, one gzip member: any record can be read alone from its offset."""
        self._record.seek(0)
        self._record.truncate()
        self._writer.write_record(record)
        compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        self._file.write(compressor.compress(self._record.getvalue()) + compressor.flush())

    def __enter__(self) -> WarcWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _request_target(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _with_host(url: str, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    if any(k.lower() == "host" for k, _ in headers):
        return headers
    return [("Host", urlsplit(url).netloc), *headers]


def _warcinfo_fields(record) -> dict[str, str]:
    fields = {}
    for line in record.content_stream().read().decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def read_warcinfo(path: str) -> dict[str, str]:
    """The fields of a file's leading warcinfo record ({} when it has none)."""
    with open(path, "rb") as fh:
        return _leading_warcinfo(fh)


def _leading_warcinfo(fh) -> dict[str, str]:
    fh.seek(0)
    for record in ArchiveIterator(fh):
        return _warcinfo_fields(record) if record.rec_type == "warcinfo" else {}
    return {}


# A file's warcinfo never changes: read once per file by ingest workers, which read
# many records of few files.
_WARCINFO: dict[str, dict[str, str]] = {}


def _cached_warcinfo(key: str, fh) -> dict[str, str]:
    if key not in _WARCINFO:
        if len(_WARCINFO) >= 64:
            _WARCINFO.pop(next(iter(_WARCINFO)))
        _WARCINFO[key] = _leading_warcinfo(fh)
    return _WARCINFO[key]


def _archived_response(record, location: RecordLocation | None, warcinfo: dict) -> ArchivedResponse:
    http = record.http_headers
    stream = record.raw_stream
    if http and "chunked" in (http.get_header("Transfer-Encoding") or "").lower():
        # Some crawlers (Heritrix, Browsertrix) keep the chunked framing in the record.
        stream = ChunkedDataReader(stream)
    payload = stream.read(MAX_LOADED_PAYLOAD + 1)
    if len(payload) > MAX_LOADED_PAYLOAD:
        payload = None
    headers = record.rec_headers
    status = http.get_statuscode() if http else "0"
    return ArchivedResponse(
        location=location,
        record_id=headers.get_header("WARC-Record-ID"),
        url=headers.get_header("WARC-Target-URI"),
        date=headers.get_header("WARC-Date"),
        status=int(status) if status and status.isdigit() else 0,
        headers=list(http.headers) if http else [],
        payload=payload,
        payload_digest=headers.get_header("WARC-Payload-Digest"),
        ip_address=headers.get_header("WARC-IP-Address"),
        warc_headers=dict(headers.headers),
        warcinfo=warcinfo,
    )


def iter_responses(path: str | os.PathLike) -> Iterator[ArchivedResponse]:
    """Every response (and revisit) record of one WARC file, in file order, streamed."""
    path = Path(path)
    filename = path.name.removesuffix(OPEN_SUFFIX)
    warcinfo: dict[str, str] = {}
    with open(path, "rb") as fh:
        records = ArchiveIterator(fh)
        for record in records:
            if record.rec_type == "warcinfo" and not warcinfo:
                warcinfo = _warcinfo_fields(record)
            if record.rec_type not in ("response", "revisit"):
                continue
            response = _archived_response(record, None, warcinfo)
            # The record's length is known only once it has been read to its end.
            records.read_to_end(record)
            location = RecordLocation(filename, records.get_record_offset(), records.get_record_length())
            yield replace(response, location=location)


def gzip_member_is_whole(fh, offset: int, length: int) -> bool:
    """Whether the gzip member at ``offset`` ends as a gzip stream must: warcio reads a
    member cut short (a crawl killed mid-write, a file copied in part) without a word."""
    fh.seek(offset)
    head = fh.read(2)
    if head != b"\x1f\x8b":
        return True  # an uncompressed record: its Content-Length was already honoured
    fh.seek(offset)
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        decoder.decompress(fh.read(length))
    except zlib.error:
        return False
    return decoder.eof


def open_warc_file(directory: str | os.PathLike, filename: str) -> BinaryIO:
    """The file as closed, or still ``.open`` while its crawl runs (or was killed),
    opened. Its crawl closes it (a rename) at any moment, also between two looks here,
    while records of its last seconds are still being read: the open handle holds on."""
    path = Path(directory) / filename
    for candidate in (path, path.with_name(path.name + OPEN_SUFFIX), path):
        try:
            return open(candidate, "rb")
        except FileNotFoundError:
            continue
    raise FileNotFoundError(f"no WARC file {filename} in {directory}")


def read_response(directory: str | os.PathLike, location: RecordLocation) -> ArchivedResponse:
    """The response record at a known location, read alone."""
    key = str(Path(directory) / location.filename)
    with open_warc_file(directory, location.filename) as fh:
        warcinfo = _cached_warcinfo(key, fh)
        fh.seek(location.offset)
        record = next(iter(ArchiveIterator(fh)))
        if record.rec_type not in ("response", "revisit"):
            raise ValueError(f"{key}@{location.offset} is a {record.rec_type} record, not a response")
        return _archived_response(record, location, warcinfo)
