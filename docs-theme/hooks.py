"""MkDocs hooks for the guides.

docs/ledger-spec.md tags its test vectors in the fence's info string (```json example:block-0,
read by tests/ledger), which Python-Markdown's fenced_code does not accept: it would render the
rest of the page as code. Keep only the language word for the HTML; the Markdown file is unchanged.
"""

from __future__ import annotations

import re

FENCE_INFO = re.compile(
    r"^(?P<indent>[ ]{0,3})(?P<fence>`{3,}|~{3,})(?P<lang>[\w+-]+)[ \t]+[^`\n]+$", re.M
)


def on_page_markdown(markdown: str, **kwargs) -> str:
    return FENCE_INFO.sub(r"\g<indent>\g<fence>\g<lang>", markdown)
