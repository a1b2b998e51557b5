"""CDXJ indexes of WARC files, written by cdxj-indexer (the indexer of pywb and py-wacz).

One line per response, revisit, resource or metadata record: SURT key, 14-digit
timestamp, then JSON (url, mime, status, digest, length, offset, filename). Revisits
carry the mime ``warc/revisit``, which is how replay tools know to resolve them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from cdxj_indexer.main import CDXJIndexer, iter_file_or_dir
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed


class NotIndexable(ValueError):
    """No WARC files among the paths, or a file that is not one: nothing is written."""


class _Indexer(CDXJIndexer):
    # Our own list: importing py-wacz appends "warcinfo" to CDXJIndexer's list in
    # place, which would put warcinfo lines in an index made in the same process.
    DEFAULT_RECORDS = ["response", "revisit", "resource", "metadata"]


def write_index(paths: Iterable[str | os.PathLike], output: str | os.PathLike | None) -> None:
    """Index WARC files and directories of them (``.open`` files only when named).

    Sorted, as a CDX server's binary search needs. The file appears whole or not at
    all: an index cut short by an error would silently hide captures.
    """
    inputs = list(iter_file_or_dir([str(path) for path in paths]))  # as the indexer walks them
    if not inputs:
        raise NotIndexable(f"no WARC files found in {', '.join(map(str, paths))}")
    for path in inputs:
        _check_is_warc(path)
    if output is None:
        _Indexer(None, inputs, sort=True).process_all()  # standard output
        return
    output = Path(output)
    partial = output.with_name(output.name + ".partial")
    try:
        _Indexer(str(partial), inputs, sort=True).process_all()
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)


def _check_is_warc(path: str) -> None:
    """Whether the file starts with a WARC (or ARC) record, as `steppe rebuild` checks."""
    try:
        with open(path, "rb") as stream:
            next(iter(ArchiveIterator(stream)), None)
    except ArchiveLoadFailed as exc:
        raise NotIndexable(f"{path} is not a WARC file ({exc})") from None
