"""Sources: the sections one crawl archives, from ``--start-url`` options or a sources
file (TOML), each with its own name and politeness.

    [[source]]
    url = "https://moderndiplomacy.eu/category/central-asia/"
    name = "modern-diplomacy"            # optional: default, the URL less its scheme
    contact = "mailto:you@example.org"   # optional: goes into the User-Agent
    delay = 2.0                          # optional: seconds between requests to its host
    layout = "zox-news"                  # optional: auto (default), generic, zox-news
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from archive.layouts import LAYOUTS
from crawler.settings import user_agent
from crawler.site import SiteProfile, profile_for


@dataclass(frozen=True)
class Source:
    url: str | None = None  # None: Modern Diplomacy's Central Asia section
    name: str | None = None
    contact: str | None = None
    delay: float | None = None
    layout: str | None = None
    section: str | None = None  # another category of Modern Diplomacy, by its slug

    def profile(self) -> SiteProfile:
        return profile_for(self.url, self.section, name=self.name, layout=self.layout)

    def settings(self) -> dict:
        """Scrapy settings of this source's crawl, over the run's own."""
        settings: dict = {}
        if self.contact:
            settings["USER_AGENT"] = user_agent(self.contact)
        if self.delay is not None:
            # AutoThrottle starts from, and never goes under, the source's delay.
            settings.update(DOWNLOAD_DELAY=self.delay, AUTOTHROTTLE_START_DELAY=self.delay)
        return settings


def read_sources(path: str | Path) -> list[Source]:
    """The sources of a TOML file; raises ValueError saying what is wrong, and where."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path} is not valid TOML: {exc}") from None
    entries = data.get("source")
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path} lists no [[source]] with a url")
    known = {f.name for f in fields(Source)} - {"section"}
    sources = []
    for n, entry in enumerate(entries, start=1):
        where = f"{path}, source {n}"
        unknown = set(entry) - known
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(known))})")
        if not isinstance(entry.get("url"), str):
            raise ValueError(f"{where}: a url is required")
        if "delay" in entry and (not isinstance(entry["delay"], (int, float)) or entry["delay"] < 0):
            raise ValueError(f"{where}: delay must be a number of seconds, 0 or more")
        if "layout" in entry and entry["layout"] not in LAYOUTS:
            raise ValueError(f"{where}: layout must be one of {', '.join(sorted(LAYOUTS))}")
        sources.append(Source(**entry))
    return sources


def check_sources(sources: list[Source]) -> list[SiteProfile]:
    """Their profiles; raises ValueError on a URL no crawl can start from, or on two
    sources of one name or one section."""
    profiles = [source.profile() for source in sources]
    for attribute in ("section_url", "name"):
        values = [getattr(profile, attribute) for profile in profiles]
        twice = sorted({value for value in values if values.count(value) > 1})
        if twice:
            raise ValueError(f"two sources have the same {attribute.replace('_', ' ')}: {', '.join(twice)}")
    return profiles
