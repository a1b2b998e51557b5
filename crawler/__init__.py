"""The crawl side of steppe: Scrapy fetches, decides what to fetch, and hands every
response to ``archive`` (WARC first, then the database). Data flows one way:
crawler → archive, never back."""
