"""Sphinx extension: label the bibliography by author and year, like the citations in the text.

The book cites with sphinxcontrib-bibtex's `author_year` reference style ("Kingma and Ba [2015]"),
but pybtex's "plain" style numbers the bibliography entries ([1], [2], ...), so a citation and the
entry it links to would not share a label. This registers the pybtex formatting style
`plain_author_year`, which formats entries exactly like "plain" (sorted by author, year, title)
and labels them "Kingma and Ba, 2015" / "Duchi et al., 2011", with a, b, ... appended when two
entries would otherwise share a label. _config.yml selects it with `bibtex_default_style`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle


def _last_names(entry) -> list[str]:
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    # "Doll{\'a}r" -> "Dollár": decode the LaTeX of each name to plain text
    return [
        Text.from_latex(" ".join(person.prelast_names + person.last_names)).render_as("text")
        for person in persons
    ]


def _base_label(entry) -> str:
    names = _last_names(entry)
    if not names:
        who = entry.fields.get("key") or entry.fields.get("title", entry.key)
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabelStyle(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        sorted_entries = list(sorted_entries)
        bases = [_base_label(entry) for entry in sorted_entries]
        counts = Counter(bases)
        seen: Counter = Counter()
        for base in bases:
            if counts[base] == 1:
                yield base
            else:
                # "Liu et al., 2020a": the suffix goes on the year
                yield f"{base}{'abcdefghijklmnopqrstuvwxyz'[seen[base]]}"
                seen[base] += 1


class PlainAuthorYearStyle(PlainStyle):
    default_label_style = "author_year"


def setup(app) -> dict[str, Any]:
    register_plugin("pybtex.style.labels", "author_year", AuthorYearLabelStyle)
    register_plugin("pybtex.style.formatting", "plain_author_year", PlainAuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
