"""Where a link sits in a page: in the page's own content, or in its navigation,
sidebars, header, footer and widgets. Read from the document alone, for any site."""
from __future__ import annotations

import re

# Names of page regions that are not the page's own content.
BOILERPLATE_NAME = re.compile(
    r"(^|[\s_-])(sidebar|widget|widgets|menu|navbar|navigation|breadcrumbs?|related|popular|trending|latest|recent|"
    r"most-read|most_read|mostread|share|sharing|social|comments?|pager|pagination|tag-?cloud|calendar|archives|"
    r"newsletter|subscribe|promo|sponsored|ads?)($|[\s_-])", re.IGNORECASE)
_BOILERPLATE_TAGS = frozenset({"nav", "aside"})
_BOILERPLATE_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar"})
_SECTIONING = frozenset({"article", "main", "section"})


def region_weight(a) -> float:
    """How much a link's place in the page says "this is the page's own content"."""
    named_aside = in_main = False
    for el in a.iterancestors():
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in ("body", "html"):
            break
        role = el.get("role", "").lower()
        if (tag in _BOILERPLATE_TAGS or role in _BOILERPLATE_ROLES
                # a page's header and footer, not an article's
                or (tag in ("header", "footer") and not any(x.tag in _SECTIONING for x in el.iterancestors()))):
            return 0.05
        named_aside = named_aside or bool(BOILERPLATE_NAME.search(f'{el.get("class", "")} {el.get("id", "")}'))
        in_main = in_main or tag == "main" or role == "main"
    return (0.15 if named_aside else 1.0) * (2.0 if in_main else 1.0)
