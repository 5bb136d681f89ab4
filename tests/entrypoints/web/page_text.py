"""Reading a rendered page the way a person reads it: the text of a table's rows, of a section."""

from __future__ import annotations

import re


def plain(html: str) -> str:
    """The text of an HTML fragment, tags dropped and white space collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def rows_of(html: str, table_id: str) -> list[str]:
    """The text of each body row of the table ``table_id``."""
    table = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    return [plain(row) for row in body.split("</tr>")[:-1]]


def text_of(html: str, heading_id: str) -> str:
    """The text of the section headed by the element ``heading_id``."""
    return plain(html.split(f'id="{heading_id}"', 1)[1].split("</section>", 1)[0])


def marked_text(html: str, name: str) -> str:
    """The text of the element marked ``data-testid="name"``."""
    match = re.search(rf'data-testid="{name}"[^>]*>(.*?)</(?:dd|p|span|div)>', html, re.S)
    assert match is not None, f"no element {name!r} on the page"
    return plain(match.group(1))
