"""Generic extraction: steppe against trafilatura's defaults, on a dev set of real pages.

    python bench/extract.py [--devset ../shared/extraction-devset] [--pages N] [--show]

For every folder of the dev set (``source.html.gz``, ``expected.html.gz``,
``expected-metadata.json``) both extractors read the source page, in one run:
- steppe: ``archive.extract.read_page`` with the generic layout (text and metadata);
- trafilatura: ``trafilatura.extract(html)`` and ``trafilatura.extract_metadata(html)``.

Scores, the same for both:
- text: bag-of-words precision, recall and F1 against the text of ``expected.html``
  (words: casefolded runs of letters and digits, counted with multiplicity), per page
  and averaged over all pages (a page with no output scores 0), and pooled over all
  the words of all pages;
- title: normalised equality (NFKC, casefolded, punctuation and spaces folded) with
  the expected title or with the expected title less a trailing site-name part
  (" | Site", " - Site": the reference keeps that suffix on some pages, drops it on
  others), over pages with an expected title;
- byline: the set of name words equal to the expected byline's, over pages with an
  expected byline; on both sides, words that are not names are dropped first: a
  leading "By"/"Par"/"Por"/"Von"/"Written by", "and" and its kin, URLs, e-mail
  addresses, numbers, month names, am/pm, "updated", "edited" (the reference keeps
  the dates and labels around the names on some pages);
- date: the day of publication equal to the expected publishedTime's, over pages
  with one (trafilatura gives a day only, so the time and zone are not compared);
- ms/page: wall time of each extractor alone, text and metadata together.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import lxml.html
import trafilatura

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from archive.extract import read_page  # noqa: E402
from archive.layouts import GENERIC  # noqa: E402

WORD = re.compile(r"\w+")
# A trailing part set off by a separator with spaces around it: " | Site", " - Site".
SITE_SUFFIX = re.compile(r"\s+(?:[|\-–—·•»:]|::)\s+[^|\-–—·•»]+$")
BYLINE_LEAD = re.compile(r"^\s*(?:written\s+)?(?:by|par|por|von|di|door)\b[:\s]*", re.IGNORECASE)
URL = re.compile(r"\S+@\S+|https?://\S+")
# Not names: what joins names, and the dates and labels a byline may carry beside them.
BYLINE_FILLER = frozenset(
    "by and written edited updated last published posted at am pm par por von et y und avec with".split()
    + "january february march april may june july august september october november december".split()
    + "jan feb mar apr jun jul aug sep sept oct nov dec".split())


@dataclass
class Page:
    name: str
    html: str
    expected_words: Counter
    title: str | None
    byline: str | None
    published: str | None


@dataclass
class Score:
    common_words: int = 0  # pooled over all pages, so that long pages weigh more
    got_words: int = 0
    expected_words: int = 0
    precision: list[float] = field(default_factory=list)
    recall: list[float] = field(default_factory=list)
    f1: list[float] = field(default_factory=list)
    titles: list[bool] = field(default_factory=list)
    bylines: list[bool] = field(default_factory=list)
    dates: list[bool] = field(default_factory=list)
    seconds: float = 0.0
    misses: list[str] = field(default_factory=list)

    def add(self, page: Page, text: str, title: str | None, authors: list[str], published: str | None) -> None:
        got = words(text)
        common = sum((got & page.expected_words).values())
        self.common_words += common
        self.got_words += sum(got.values())
        self.expected_words += sum(page.expected_words.values())
        precision = common / sum(got.values()) if got else 0.0
        recall = common / sum(page.expected_words.values()) if page.expected_words else 0.0
        self.precision.append(precision)
        self.recall.append(recall)
        self.f1.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
        if page.title:
            ok = title_matches(title, page.title)
            self.titles.append(ok)
            if not ok:
                self.misses.append(f"{page.name}: title {title!r} expected {page.title!r}")
        if page.byline:
            ok = byline_words(", ".join(authors)) == byline_words(page.byline)
            self.bylines.append(ok)
            if not ok:
                self.misses.append(f"{page.name}: byline {authors!r} expected {page.byline!r}")
        if page.published:
            self.dates.append((published or "")[:10] == page.published[:10])


def words(text: str | None) -> Counter:
    return Counter(WORD.findall(unicodedata.normalize("NFKC", text or "").casefold()))


def normal(text: str | None) -> str:
    return " ".join(WORD.findall(unicodedata.normalize("NFKC", text or "").casefold()))


def title_matches(got: str | None, expected: str) -> bool:
    if not got:
        return False
    return normal(got) in {normal(expected), normal(SITE_SUFFIX.sub("", expected))}


def byline_words(byline: str) -> frozenset[str]:
    byline = URL.sub(" ", BYLINE_LEAD.sub("", unicodedata.normalize("NFKC", byline)))
    return frozenset(word for word in WORD.findall(byline.casefold()) if not word.isdigit()) - BYLINE_FILLER


def load(devset: Path, limit: int | None) -> list[Page]:
    pages = []
    for folder in sorted(p for p in (devset / "pages").iterdir() if p.is_dir())[:limit]:
        html = gzip.decompress((folder / "source.html.gz").read_bytes()).decode("utf-8", "replace")
        expected_html = gzip.decompress((folder / "expected.html.gz").read_bytes()).decode("utf-8", "replace")
        expected = lxml.html.fromstring(expected_html) if expected_html.strip() else None
        metadata = json.loads((folder / "expected-metadata.json").read_text())
        pages.append(Page(folder.name, html, words(expected.text_content() if expected is not None else ""),
                          metadata.get("title") or None, (metadata.get("byline") or "").strip() or None,
                          metadata.get("publishedTime") or None))
    return pages


def read_with_steppe(page: Page) -> tuple[str, str | None, list[str], str | None]:
    record = read_page(page.html, f"http://devset.invalid/{page.name}/", GENERIC).article
    return (record.text, record.title, record.authors, record.published) if record else ("", None, [], None)


def read_with_trafilatura(page: Page) -> tuple[str, str | None, list[str], str | None]:
    text = trafilatura.extract(page.html)
    metadata = trafilatura.extract_metadata(page.html)
    authors = metadata.author.split("; ") if metadata and metadata.author else []
    return text or "", metadata.title if metadata else None, authors, metadata.date if metadata else None


EXTRACTORS = {"steppe": read_with_steppe, "trafilatura": read_with_trafilatura}


def run(pages: list[Page], scores: dict[str, Score]) -> None:
    # Page by page, both extractors in turn: a machine busy with other work slows both alike.
    for page in pages:
        for name, read in EXTRACTORS.items():
            started = time.perf_counter()
            text, title, authors, published = read(page)
            scores[name].seconds += time.perf_counter() - started
            scores[name].add(page, text, title, authors, published)


def mean(values: list) -> float:
    return sum(values) / len(values) if values else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devset", type=Path, default=REPO.parent / "shared" / "extraction-devset",
                        help="the dev set folder (default: ../shared/extraction-devset beside the repository)")
    parser.add_argument("--pages", type=int, default=None, help="only the first N pages")
    parser.add_argument("--show", choices=["steppe", "trafilatura"], help="list that extractor's title and byline misses")
    args = parser.parse_args()
    pages = load(args.devset, args.pages)
    scores = {name: Score() for name in EXTRACTORS}
    run(pages, scores)
    print(f"{len(pages)} pages of {args.devset}; text: bag-of-words against expected.html, mean over pages;"
          f" title over {len(scores['steppe'].titles)} pages, byline over {len(scores['steppe'].bylines)},"
          f" date over {len(scores['steppe'].dates)}")
    print(f"{'extractor':<12} {'precision':>9} {'recall':>7} {'F1':>6} {'title':>6} {'byline':>6} {'date':>6}"
          f" {'ms/page':>8}")
    for name, score in scores.items():
        print(f"{name:<12} {mean(score.precision):>9.3f} {mean(score.recall):>7.3f} {mean(score.f1):>6.3f}"
              f" {mean(score.titles):>6.3f} {mean(score.bylines):>6.3f} {mean(score.dates):>6.3f}"
              f" {1000 * score.seconds / len(pages):>8.1f}")
    print("pooled over all words of all pages (long pages weigh more):")
    for name, score in scores.items():
        precision, recall = score.common_words / max(score.got_words, 1), score.common_words / max(score.expected_words, 1)
        print(f"{name:<12} {precision:>9.3f} {recall:>7.3f} {2 * precision * recall / max(precision + recall, 1e-9):>6.3f}")
    if args.show:
        print("\n".join(scores[args.show].misses))


if __name__ == "__main__":
    main()
