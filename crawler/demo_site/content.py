"""Article data of the demo site: the 8 real seed articles, a deterministic
generator for the rest of the section, and epochs (the site changing between crawls).

Everything here is pure data; nothing depends on the wall clock, so two builds
with the same arguments are identical.
"""
from __future__ import annotations

import json
import random
import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path


SECTION = "Central Asia"
SECTION_SLUG = "central-asia"
PER_PAGE = 10
BEHAVIOURS = ("normal", "gzip", "meta_charset_only", "malformed_html", "wrong_charset",
              "empty_body", "timeout", "redirect_loop", "retry_after_503", "slow")
NOT_EXPECTED = frozenset({"empty_body", "timeout", "redirect_loop"})
# Rank among generated articles (0 = newest) -> behaviour: low ranks so that even
# a 30-article site shows every special case on its first listing pages.
SPECIAL_SLOTS = {1: "retry_after_503", 3: "malformed_html", 4: "slow", 6: "wrong_charset",
                 8: "empty_body", 10: "redirect_loop", 12: "timeout"}
# Fixed "now" of a fresh build: the newest generated article is published then.
ANCHOR = datetime(2021, 9, 20, 10, 0, tzinfo=timezone(timedelta(hours=2)))
OFFSETS = tuple(timezone(timedelta(hours=h)) for h in (2, 2, 1, 0, 5, 6))
PRIVATE_PATH = "/private/2021/01/01/members-only/"
DATA = Path(__file__).with_name("data") / "seed_articles.json"


@lru_cache(maxsize=8192)
def slugify(text: str) -> str:
    """WordPress-like sanitize_title: apostrophes vanish, the rest becomes hyphens."""
    text = text.replace("’", "").replace("'", "")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


@dataclass(eq=False)
class DemoArticle:
    slug: str
    path: str                      # "/YYYY/MM/DD/slug/"
    title: str
    authors: list[str]             # everyone credited, incl. "Authors: A and B*" co-authors
    byline: str | None             # the one name of the author box, None = no author line
    published: datetime
    modified: datetime
    section: str = SECTION
    tags: list[str] = field(default_factory=list)
    description: str | None = None    # meta description (lazy, like the body)
    image_url: str | None = None   # site-relative ("/wp-content/uploads/...")
    image_caption: str | None = None
    paragraphs: list[str] | None = None   # ground-truth body blocks (lazy for generated ones)
    block_types: list[str] | None = None  # "p" | "h2" | "h3" | "li", parallel to paragraphs
    seed_file: str | None = None
    behaviour: str = "normal"      # one of BEHAVIOURS
    post_id: int = 0
    followons: int = 0             # older section articles auto-loaded below it (0-3)
    followon_markup: str = "cont-read"   # "cont-read" | "post-add"
    expander: bool = False         # the theme's non-link "Continue Reading" on the main article
    comments: int = 0
    former_paths: tuple[str, ...] = ()   # old slugs, answering 301 (renames)
    recipe: tuple | None = field(default=None, repr=False)  # how to generate the body on demand
    cache: dict = field(default_factory=dict, init=False, repr=False)  # rendered fragments

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)

    @property
    def expected(self) -> bool:
        """True when a correct crawler must store this article."""
        return self.behaviour not in NOT_EXPECTED

    @property
    def section_slug(self) -> str:
        return slugify(self.section)

    @property
    def amp_path(self) -> str:
        return self.path + "amp/"

    def url(self, base: str) -> str:
        return base + self.path

    def _materialise(self) -> None:
        # Generated bodies are built on first use: build(10_000) stays cheap.
        key, country, topic, coauthors, behaviour = self.recipe
        texts, types = Writer(random.Random(key)).body(country, topic, coauthors)
        if behaviour == "wrong_charset":   # make sure there is non-ASCII text to garble
            texts[-1] += " In Öskemen, traders call it “the Türkistan question” — and shrug."
        if behaviour == "malformed_html":  # a bare "<" the page will not escape
            texts[-1] += " Growth stayed at < 3 percent for a second year."
        d = self.__dict__
        if d.get("_paragraphs") is None:
            d["_paragraphs"], d["_block_types"] = texts, types
        if d.get("_description") is None:
            d["_description"] = _description(d["_paragraphs"], d["_block_types"])


def _lazy(name: str) -> property:
    def get(self):
        value = self.__dict__.get("_" + name)
        if value is None and self.recipe is not None:
            self._materialise()
            value = self.__dict__.get("_" + name)
        return value

    def set(self, value):
        self.__dict__["_" + name] = value
    return property(get, set)


for _name in ("paragraphs", "block_types", "description"):
    setattr(DemoArticle, _name, _lazy(_name))


@dataclass
class EpochChanges:
    new: list[DemoArticle]
    edited: list[DemoArticle]
    renamed: list[tuple[str, DemoArticle]]   # (old path, article with its new path)
    removed: list[DemoArticle]


@lru_cache(maxsize=1)
def _seed_data() -> dict:
    return json.loads(DATA.read_text(encoding="utf-8"))


def _voc(key: str) -> list:
    return _seed_data()["vocabulary"][key]


_WORDS = {"P": "countries", "A": "actors", "c": "cities", "t": "topics", "adj": "adjectives",
          "verb": "verbs", "r": "roles", "season": "seasons", "org": "orgs", "agency": "agencies"}
_NUMBERS = {"n": lambda r: str(r.randint(2, 40)), "km": lambda r: str(r.randint(50, 900)),
            "m": lambda r: str(r.randint(10, 950)), "jobs": lambda r: f"{r.randint(2, 90)},{r.randint(1, 9)}00",
            "y": lambda r: str(r.randint(2012, 2020)), "yf": lambda r: str(r.randint(2023, 2030))}
_SMALL = frozenset("a an and at by for from in of on or the to".split())


def title_case(s: str) -> str:
    words = s.split(" ")
    return " ".join(w if (i and w in _SMALL) or w[:1].isupper() else w[:1].upper() + w[1:]
                    for i, w in enumerate(words))


def _description(paragraphs, types) -> str:
    first = next((p for p, t in zip(paragraphs, types) if t == "p" and not p.startswith("Authors:")), "")
    words = first.split()
    return " ".join(words[:30]) + ("…" if len(words) > 30 else "")


def _article_path(published: datetime, slug: str) -> str:
    return f"/{published.year:04d}/{published.month:02d}/{published.day:02d}/{slug}/"


def _image(published: datetime, slug: str) -> str:
    return f"/wp-content/uploads/{published.year:04d}/{published.month:02d}/{slug[:40].rstrip('-')}.jpg"


def _from_seed(d: dict) -> DemoArticle:
    published, modified = datetime.fromisoformat(d["published"]), datetime.fromisoformat(d["modified"])
    types, texts = [b[0] for b in d["blocks"]], [b[1] for b in d["blocks"]]
    return DemoArticle(
        slug=d["slug"], path=_article_path(published, d["slug"]), title=d["title"],
        authors=list(d["authors"]), byline=d["byline"], published=published, modified=modified,
        tags=list(d["tags"]), description=_description(texts, types),
        image_url=_image(published, d["slug"]), image_caption=d["image_caption"],
        paragraphs=texts, block_types=types, seed_file=d["seed_file"], behaviour=d["behaviour"],
        followons=d["followons"], followon_markup=d["followon_markup"], expander=d["expander"],
        comments=2)


class _Picks(dict):
    """format_map() mapping that draws a word only when a template asks for it."""

    def __init__(self, rng: random.Random, country: str, topic: str):
        super().__init__()
        self.rng, self.country, self.topic = rng, country, topic

    def __missing__(self, key):
        r = self.rng
        if key == "P":
            value = self.country if r.random() < 0.5 else r.choice(_voc("countries"))
        elif key == "t":
            value = self.topic if r.random() < 0.4 else r.choice(_voc("topics"))
        elif key == "T":
            value = title_case(self["t"].removeprefix("the "))
        elif key in _NUMBERS:
            value = _NUMBERS[key](r)
        else:
            words = _voc(_WORDS[key.rstrip("2")])
            value = r.choice(words)
            if key.endswith("2"):   # "P and P2" should name two different things
                while value == self[key[:-1]]:
                    value = r.choice(words)
        self[key] = value
        return value


class Writer:
    """Deterministic text generator; all randomness comes from the given rng."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def _fill(self, template: str, country: str, topic: str) -> str:
        s = template.format_map(_Picks(self.rng, country, topic))
        return s[0].upper() + s[1:]

    def paragraph(self, country: str, topic: str) -> str:
        n = self.rng.randint(2, 5)
        return " ".join(self._fill(self.rng.choice(_voc("sentences")), country, topic) for _ in range(n))

    def title(self, country: str, topic: str) -> str:
        return self._fill(self.rng.choice(_voc("titles")), country, topic)

    def body(self, country: str, topic: str, coauthors: list[str] | None = None):
        """-> (texts, types) with 4-12 paragraphs, sometimes subheadings or a list."""
        r = self.rng
        n = r.randint(4, 12)
        texts, types = [], []
        if coauthors:
            texts.append(f"Authors: {coauthors[0]} and {coauthors[1]}*")
            types.append("p")
        heads = {r.randint(2, n - 2)} if n >= 7 and r.random() < 0.4 else set()
        list_at = r.randint(1, n - 2) if r.random() < 0.12 else -1
        for i in range(n):
            if i in heads:
                texts.append(self._fill(r.choice(_voc("headings")), country, topic))
                types.append(r.choice(("h2", "h2", "h3")))
            texts.append(self.paragraph(country, topic))
            types.append("p")
            if i == list_at:
                for _ in range(3):
                    texts.append(self._fill(r.choice(_voc("list_items")), country, topic))
                    types.append("li")
        if coauthors:
            texts.append(f"*{coauthors[1]} is {r.choice(_voc('bios'))} in {r.choice(_voc('cities'))}.")
            types.append("p")
        return texts, types

    def article(self, published: datetime, used_slugs: set[str], body_key: str,
                behaviour: str = "normal", rank: int = 0) -> DemoArticle:
        r = self.rng
        country, topic = r.choice(_voc("countries")), r.choice(_voc("topics"))
        title = self.title(country, topic)
        slug = base = slugify(title)
        if behaviour == "redirect_loop":
            slug = base = "loop-a"   # its twin "loop-b" redirects back to it
        k = 2
        while slug in used_slugs:
            slug, k = f"{base}-{k}", k + 1
        used_slugs.add(slug)
        roll = r.random()
        if roll < 0.1:
            authors = r.sample(_voc("authors"), 2)
            byline, coauthors = authors[0], authors
        elif roll < 0.65:
            authors, coauthors = [r.choice(_voc("authors"))], None
            byline = authors[0]
        else:
            authors, byline, coauthors = [], None, None
        tags = [country] + r.sample(_voc("tags"), r.randint(0, 3))
        modified = published + timedelta(minutes=r.choice((0, 0, 7, 45, 300, 1500, 2900)))
        has_img = r.random() < 0.9
        return DemoArticle(
            slug=slug, path=_article_path(published, slug), title=title, authors=authors,
            byline=byline, published=published, modified=modified, tags=list(dict.fromkeys(tags)),
            image_url=_image(published, slug) if has_img else None,
            image_caption=self._fill(r.choice(_voc("captions")), country, topic) if has_img and r.random() < 0.4 else None,
            behaviour=behaviour, recipe=(body_key, country, topic, coauthors, behaviour),
            followons=r.choice((0, 1, 2, 3, 3)), followon_markup=("cont-read", "post-add")[rank % 2],
            expander=r.random() < 0.3, comments=r.choice((0, 0, 1, 2, 3)))


def _other_articles(rng: random.Random) -> list[DemoArticle]:
    w, out = Writer(rng), []
    for i, d in enumerate(_seed_data()["other_sections"]):
        published = (ANCHOR - timedelta(hours=1 + 2 * i, minutes=13 * i)).astimezone(OFFSETS[i % 2])
        slug = slugify(d["title"])
        first = d["excerpt"].removesuffix("...").rstrip()
        texts = ([d["byline_line"]] if "byline_line" in d else []) + [first + " …"]
        texts += [w.paragraph(rng.choice(_voc("countries")), rng.choice(_voc("topics"))) for _ in range(3)]
        authors = d["byline_line"].removeprefix("Authors: ").split(" and ") if "byline_line" in d else []
        out.append(DemoArticle(
            slug=slug, path=_article_path(published, slug), title=d["title"], authors=authors,
            byline=authors[0] if authors else None, published=published, modified=published,
            section=d["section"], tags=[d["section"]], description=first,
            image_url=_image(published, slug), paragraphs=texts, block_types=["p"] * len(texts)))
    return out


def _private_article(rng: random.Random) -> DemoArticle:
    published = datetime(2021, 1, 1, 9, 0, tzinfo=OFFSETS[2])
    texts, types = Writer(rng).body("Kazakhstan", "energy security")
    return DemoArticle(
        slug="members-only", path=PRIVATE_PATH, title="Members only: The Caspian Energy Outlook",
        authors=[], byline=None, published=published, modified=published, tags=["Energy"],
        description=_description(texts, types), paragraphs=texts, block_types=types)


def build_articles(n_articles: int, seed: int):
    """-> (central asia articles newest first, other-section articles, private article)."""
    seeds = [_from_seed(d) for d in _seed_data()["articles"]]
    n_gen = n_articles - len(seeds)
    if n_gen <= max(SPECIAL_SLOTS):
        raise ValueError(f"n_articles must be at least {len(seeds) + max(SPECIAL_SLOTS) + 1}")
    rng = random.Random(seed)
    writer, used = Writer(rng), {a.slug for a in seeds}
    # about 1-3 days apart; big sites get denser so they still span ~12 years
    mean_gap = min(2.0, 4380.0 / n_gen)
    t, generated = ANCHOR, []
    for rank in range(n_gen):
        if rank:
            t -= timedelta(days=mean_gap * rng.uniform(0.5, 1.5))
            t = t.replace(second=0, microsecond=0)
        behaviour = SPECIAL_SLOTS.get(rank) or (
            "gzip" if rank % 7 == 5 else "meta_charset_only" if rank % 11 == 9 else "normal")
        published = t.astimezone(rng.choice(OFFSETS))
        generated.append(writer.article(published, used, f"{seed}:{rank}", behaviour, rank))
    articles = sorted(seeds + generated, key=lambda a: a.published, reverse=True)
    for a in articles:   # never modified after the site's "now"
        if a.modified > ANCHOR:
            a.modified = ANCHOR.astimezone(a.modified.tzinfo)
    others = _other_articles(random.Random(f"{seed}:others"))
    private = _private_article(random.Random(f"{seed}:private"))
    for i, a in enumerate(sorted(articles + others, key=lambda a: a.published)):
        a.post_id = 1000 + 7 * i   # WordPress IDs grow with time; gaps are attachments
    private.post_id = 999
    return articles, others, private


def evolve(articles: list[DemoArticle], redirects: dict[str, str], seed: int, epoch: int,
           new: int, edit: int, rename: int, remove: int):
    """One epoch of change. -> (articles, redirects, removed, EpochChanges). Inputs untouched."""
    rng = random.Random(f"{seed}:epoch:{epoch}")
    writer = Writer(rng)
    clock = max(max(a.published, a.modified) for a in articles)
    pool = [a for a in articles[:60] if a.seed_file is None
            and a.behaviour in ("normal", "gzip", "meta_charset_only")]
    if edit + rename + remove > len(pool):
        raise ValueError("not enough articles to change")
    picks = rng.sample(pool, edit + rename + remove)
    to_edit, to_rename, to_remove = picks[:edit], picks[edit:edit + rename], picks[edit + rename:]
    used = {a.slug for a in articles} | {p.rstrip("/").rsplit("/", 1)[1] for p in redirects}
    next_id = max(a.post_id for a in articles) + 7
    fresh, t = [], clock
    for i in range(new):
        t = (t + timedelta(hours=rng.uniform(6, 30))).replace(second=0, microsecond=0)
        a = writer.article(t.astimezone(rng.choice(OFFSETS)), used, f"{seed}:epoch:{epoch}:{i}",
                           "normal", epoch * 7 + i)
        a.post_id, next_id = next_id, next_id + 7
        fresh.insert(0, a)
    stamp = t + timedelta(hours=1, minutes=rng.randint(0, 50))   # edits follow the news
    swap: dict[int, DemoArticle | None] = {}
    edited, renamed = [], []
    for a in to_edit:
        idx = [i for i, k in enumerate(a.block_types) if k == "p" and not a.paragraphs[i].startswith(("Authors:", "*"))]
        i = rng.choice(idx)
        texts = list(a.paragraphs)
        texts[i] = "Update: " + writer.paragraph(a.tags[0], rng.choice(_voc("topics")))
        b = replace(a, paragraphs=texts, modified=stamp.astimezone(a.modified.tzinfo),
                    description=_description(texts, a.block_types))
        swap[id(a)] = b
        edited.append(b)
    redirects = dict(redirects)
    for a in to_rename:
        slug = base = f"{a.slug}-{rng.choice(_voc('rename_suffixes'))}"
        k = 2
        while slug in used:
            slug, k = f"{base}-{k}", k + 1
        used.add(slug)
        b = replace(a, slug=slug, path=_article_path(a.published, slug),
                    former_paths=a.former_paths + (a.path,))
        for old, target in redirects.items():
            if target == a.path:
                redirects[old] = b.path
        redirects[a.path] = b.path
        swap[id(a)] = b
        renamed.append((a.path, b))
    for a in to_remove:
        swap[id(a)] = None
        for old in a.former_paths:
            redirects.pop(old, None)
    kept = [swap.get(id(a), a) for a in articles]
    out = fresh + [a for a in kept if a is not None]
    return out, redirects, list(to_remove), EpochChanges(fresh, edited, renamed, list(to_remove))


@dataclass(eq=False)
class DemoSite:
    """One state of the demo site. Treat as immutable: next_epoch() returns a new one."""

    articles: list[DemoArticle]            # Central Asia, newest first
    other_articles: list[DemoArticle]      # other sections: served, but not to be crawled
    private_article: DemoArticle           # behind robots.txt's Disallow: /private/
    seed: int = 1
    epoch: int = 0
    redirects: dict[str, str] = field(default_factory=dict)   # renamed: old path -> new path
    removed: list[DemoArticle] = field(default_factory=list)  # taken down: 410
    changes: EpochChanges | None = None    # what the last next_epoch() did

    @classmethod
    def build(cls, n_articles: int = 40, seed: int = 1) -> "DemoSite":
        articles, others, private = build_articles(n_articles, seed)
        return cls(articles, others, private, seed)

    def __post_init__(self):
        everything = (*self.articles, *self.other_articles, self.private_article)
        self._by_path = {a.path: a for a in everything}
        self._position = {id(a): i for i, a in enumerate(self.articles)}
        self._gone = {p for a in self.removed for p in (a.path, *a.former_paths)}
        self.loops: dict[str, str] = {}
        for a in self.articles:
            if a.behaviour == "redirect_loop":
                twin = a.path.replace("/loop-a/", "/loop-b/")
                self.loops.update({a.path: twin, twin: a.path})
        self._tags: dict[str, list[DemoArticle]] = {}
        self._authors: dict[str, list[DemoArticle]] = {}
        self._names: dict[str, str] = {}
        for a in (*self.articles, *sorted(self.other_articles, key=lambda a: a.published, reverse=True)):
            for tag in a.tags:
                self._tags.setdefault(slugify(tag), []).append(a)
                self._names["tag:" + slugify(tag)] = tag
            if a.byline:
                self._authors.setdefault(slugify(a.byline), []).append(a)
                self._names["author:" + slugify(a.byline)] = a.byline
        self.now = max(max(a.published, a.modified) for a in (*self.articles, *self.other_articles))

    @property
    def listing_pages(self) -> int:
        return max(1, -(-len(self.articles) // PER_PAGE))

    def expected_articles(self) -> list[DemoArticle]:
        return [a for a in self.articles if a.expected]

    def page(self, n: int) -> list[DemoArticle]:
        return self.articles[(n - 1) * PER_PAGE:n * PER_PAGE]

    def article_at(self, path: str) -> DemoArticle | None:
        return self._by_path.get(path)

    def is_gone(self, path: str) -> bool:
        return path in self._gone

    def position(self, article: DemoArticle) -> int | None:
        return self._position.get(id(article))

    def followons(self, article: DemoArticle) -> list[DemoArticle]:
        """The next older section articles its page auto-loads (fewer for the oldest)."""
        i = self._position.get(id(article))
        return [] if i is None else self.articles[i + 1:i + 1 + article.followons]

    def tagged(self, tag_slug: str) -> list[DemoArticle]:
        return self._tags.get(tag_slug, [])

    def by_author(self, author_slug: str) -> list[DemoArticle]:
        return self._authors.get(author_slug, [])

    def name_of(self, kind: str, slug: str) -> str:
        return self._names.get(f"{kind}:{slug}", slug)

    def sections(self) -> dict[str, str]:
        """slug -> name of every section, Central Asia first."""
        out = {SECTION_SLUG: SECTION}
        out.update((a.section_slug, a.section) for a in self.other_articles)
        return out

    def in_section(self, section_slug: str) -> list[DemoArticle]:
        if section_slug == SECTION_SLUG:
            return self.articles
        return [a for a in self.other_articles if a.section_slug == section_slug]

    def next_epoch(self, new: int = 3, edit: int = 1, rename: int = 1, remove: int = 1) -> "DemoSite":
        articles, redirects, removed, changes = evolve(
            self.articles, self.redirects, self.seed, self.epoch + 1, new, edit, rename, remove)
        return DemoSite(articles, self.other_articles, self.private_article, self.seed,
                        self.epoch + 1, redirects, self.removed + removed, changes)
