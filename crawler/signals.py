"""Signals of steppe's own (Scrapy signals are plain objects)."""

# Sent by WarcCaptureMiddleware once a response is in a WARC file, flushed:
# handlers get ``request``, ``response``, ``location`` (archive.warc.RecordLocation)
# and ``warc_dir``.
response_archived = object()
