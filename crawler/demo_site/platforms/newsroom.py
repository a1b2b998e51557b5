"""The news of one fixture platform, as data: stories, their sections, tags and
authors, and the ground truth a crawl of the Central Asia section must reproduce.

The bodies come from the demo site's deterministic Writer, so every platform reads
like the Modern Diplomacy demo while its markup (its own module) differs.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cached_property
from html import escape

from ..content import ANCHOR, Writer, _description, _voc, slugify, title_case

SECTION, SECTION_SLUG = "Central Asia", "central-asia"
OTHER_SECTIONS = {"europe": "Europe", "middle-east": "Middle East", "economy": "Economy"}
SECTIONS = {SECTION_SLUG: SECTION, **OTHER_SECTIONS}


@dataclass(eq=False)
class Story:
    id: int                      # post / node id, grows with time
    slug: str
    title: str
    authors: list[str]           # everyone in the byline, in order
    published: datetime          # in the site's time zone
    modified: datetime
    sections: list[str]          # section slugs, the primary one first
    tags: list[str]              # tag names
    paragraphs: list[str]
    block_types: list[str]       # "p" | "h2" | "h3" | "li", parallel to paragraphs

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)

    @property
    def section(self) -> str:
        return self.sections[0]

    @cached_property
    def description(self) -> str:
        return _description(self.paragraphs, self.block_types)


@dataclass(frozen=True)
class TruthArticle:
    """What a crawl of the section must store for one article."""
    url: str                     # canonical, absolute
    title: str
    authors: tuple[str, ...]
    published: datetime          # time-zone aware
    modified: datetime
    text: str                    # body blocks joined by blank lines
    sections: tuple[str, ...]    # section names, primary first


def body_html(story: Story) -> str:
    """<p>/<h2>/<h3> blocks, consecutive list items in one <ul>."""
    out, in_list = [], False
    for kind, text in zip(story.block_types, story.paragraphs):
        if in_list and kind != "li":
            out.append("</ul>\n")
            in_list = False
        if kind == "li":
            out.append(("" if in_list else "<ul>\n") + f"<li>{escape(text, quote=False)}</li>\n")
            in_list = True
        else:
            out.append(f"<{kind}>{escape(text, quote=False)}</{kind}>\n")
    if in_list:
        out.append("</ul>\n")
    return "".join(out)


@dataclass(eq=False)
class Newsroom:
    stories: list[Story]         # every public story, newest first
    private: Story               # behind the platform's robots.txt Disallow
    tz: timezone

    def in_section(self, slug: str) -> list[Story]:
        """Newest first; a story filed under two sections is listed by both."""
        return [s for s in self.stories if slug in s.sections]

    def tagged(self, tag_slug: str) -> list[Story]:
        return [s for s in self.stories if tag_slug in {slugify(t) for t in s.tags}]

    def by_author(self, author_slug: str) -> list[Story]:
        return [s for s in self.stories if author_slug in {slugify(a) for a in s.authors}]

    def by_slug(self, slug: str) -> Story | None:
        return next((s for s in (*self.stories, self.private) if s.slug == slug), None)

    def by_id(self, story_id: int) -> Story | None:
        return next((s for s in (*self.stories, self.private) if s.id == story_id), None)

    def in_month(self, year: int, month: int) -> list[Story]:
        return [s for s in self.stories if (s.published.year, s.published.month) == (year, month)]

    def tag_names(self) -> dict[str, str]:
        return {slugify(t): t for s in self.stories for t in s.tags}

    def author_names(self) -> dict[str, str]:
        return {slugify(a): a for s in self.stories for a in s.authors}

    def months(self) -> list[tuple[int, int]]:
        return sorted({(s.published.year, s.published.month) for s in self.stories}, reverse=True)

    @property
    def now(self) -> datetime:
        return max(s.modified for s in self.stories)


def build_newsroom(seed: int, tz: timezone, n_section: int = 23, n_other: int = 10) -> Newsroom:
    """``n_section`` stories filed under Central Asia first, ``n_other`` elsewhere, one of
    which (an Economy story) is filed under Central Asia too; one story in four has two
    authors. Deterministic for a seed."""
    rng = random.Random(f"platform:{seed}")
    writer, used, stories = Writer(rng), set(), []
    t = ANCHOR
    others = list(OTHER_SECTIONS)
    kinds = ["section"] * n_section + ["other"] * n_other
    rng.shuffle(kinds)
    kinds[3] = "section"          # the newest pages always show section stories
    kinds[5] = "both"             # an Economy story filed under Central Asia too
    authors_pool = _voc("authors")
    for i, kind in enumerate(kinds):
        t = (t - timedelta(hours=rng.uniform(20, 70))).replace(second=0, microsecond=0)
        country, topic = rng.choice(_voc("countries")), rng.choice(_voc("topics"))
        title = writer.title(country, topic)
        slug = base = slugify(title)
        k = 2
        while slug in used:
            slug, k = f"{base}-{k}", k + 1
        used.add(slug)
        if kind == "section":
            sections = [SECTION_SLUG]
        elif kind == "both":
            sections = ["economy", SECTION_SLUG]
        else:   # round the other sections, so each has stories
            sections = [others[sum(k == "other" for k in kinds[:i]) % len(others)]]
        authors = rng.sample(authors_pool, 2) if i % 4 == 1 else [rng.choice(authors_pool)]
        texts, types = writer.body(country, topic)
        published = t.astimezone(tz)
        modified = published + timedelta(minutes=rng.choice((0, 0, 12, 95, 1440)))
        tags = list(dict.fromkeys([country] + rng.sample(_voc("tags"), rng.randint(1, 2))))
        stories.append(Story(0, slug, title, authors, published, min(modified, ANCHOR.astimezone(tz)),
                             sections, tags, texts, types))
    for i, s in enumerate(reversed(stories)):
        s.id = 100 + 3 * i
    texts, types = Writer(random.Random(f"platform:{seed}:private")).body("Kazakhstan", "energy security")
    when = datetime(2021, 6, 1, 9, 0, tzinfo=tz)
    private = Story(99, "members-briefing-caspian-energy", title_case("members briefing: the Caspian energy outlook"),
                    [authors_pool[0]], when, when, [SECTION_SLUG], ["Energy"], texts, types)
    return Newsroom(stories, private, tz)
