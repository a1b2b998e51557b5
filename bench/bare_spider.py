"""The baseline of bench/crawl.py: plain Scrapy fetching a list of URLs, storing nothing."""

import scrapy


class BareSpider(scrapy.Spider):
    name = "bare"
    custom_settings = {
        "ROBOTSTXT_OBEY": False,  # robots.txt is in the URL list, fetched like any page
        "REDIRECT_ENABLED": False,
        "RETRY_ENABLED": False,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
    }

    def __init__(self, urls: str, **kwargs):
        super().__init__(**kwargs)
        with open(urls, encoding="utf-8") as f:
            self.urls = [line.strip() for line in f if line.strip()]

    async def start(self):
        for url in self.urls:
            yield scrapy.Request(url, callback=self.parse, errback=self.parse, dont_filter=True)

    def parse(self, response):
        self.crawler.stats.inc_value("bare/pages")
