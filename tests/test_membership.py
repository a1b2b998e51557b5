"""archive.membership on the fixture platforms' real article markup: every article of
the section says it belongs there (one filed under two sections too), no article of
another section does, whatever the menus and sidebars link to."""
from __future__ import annotations

import pytest

from archive.membership import section_slug, says_in_section
from crawler.demo_site.platforms import PLATFORMS

BASE = "http://127.0.0.1:8999"   # rendering only: nothing listens there


@pytest.mark.parametrize("name", sorted(PLATFORMS))
def test_articles_say_which_section_they_belong_to(name):
    platform = PLATFORMS[name]()
    section = BASE + platform.section_path

    def says(url: str) -> bool:
        response = platform.respond(url.removeprefix(BASE), BASE)
        assert response.status == 200, url
        return says_in_section(response.body.decode("utf-8"), url, section)

    assert all(says(t.url) for t in platform.truth(BASE))
    others = platform.off_section_urls(BASE)
    assert others and not any(says(url) for url in others)


def test_the_section_slug_comes_from_the_listing_url_whatever_its_page():
    assert section_slug("https://moderndiplomacy.eu/category/central-asia/") == "central-asia"
    assert section_slug("http://127.0.0.1:1/news/central-asia?page=2") == "central-asia"
    assert section_slug("http://127.0.0.1:1/tag/central-asia/page/3/") == "central-asia"
    assert section_slug("http://127.0.0.1:1/") == ""


def test_an_article_under_the_sections_path_belongs_to_it_whatever_its_page_says():
    page = "<html><body><nav><a href='/design/'>Design</a></nav><article><p>Text.</p></article></body></html>"
    assert says_in_section(page, "https://city.example/design/2019/04/neon-signs/587084/", "https://city.example/design/")
    assert not says_in_section(page, "https://city.example/transport/2019/04/buses/", "https://city.example/design/")
    # A menu links to every section: it says nothing of the page's.
    assert not says_in_section(page, "https://city.example/2019/04/neon-signs/", "https://city.example/design/")
