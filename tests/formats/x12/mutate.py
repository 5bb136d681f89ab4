"""A Hypothesis strategy that damages a valid transaction body, for "never raises" tests."""

from __future__ import annotations

from hypothesis import strategies as st

from rcmflow.formats.x12.parser import X12Document

# Delimiters other than the segment terminator may appear: they shift elements and components.
GARBAGE = st.text(alphabet="AZ09*:^-. ", max_size=12)


@st.composite
def mutated(draw: st.DrawFn, body: tuple[str, ...]) -> list[str]:
    """The body with a few segments deleted, duplicated, moved or with one element garbled."""
    segments = list(body)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        if not segments:
            break
        index = draw(st.integers(min_value=0, max_value=len(segments) - 1))
        action = draw(st.sampled_from(["delete", "duplicate", "move", "garble", "truncate"]))
        if action == "delete":
            del segments[index]
        elif action == "duplicate":
            segments.insert(index, segments[index])
        elif action == "move":
            segments.insert(draw(st.integers(min_value=0, max_value=len(segments) - 1)), segments.pop(index))
        elif action == "garble":
            elements = segments[index].split("*")
            position = draw(st.integers(min_value=1, max_value=len(elements)))
            elements[position:position + 1] = [draw(GARBAGE)]
            segments[index] = "*".join(elements)
        else:
            elements = segments[index].split("*")
            segments[index] = "*".join(elements[: draw(st.integers(min_value=1, max_value=len(elements)))])
    return segments


def assert_located(document: X12Document) -> None:
    """Every issue names a real place: a segment position inside the input, an element or none."""
    last = sum(tx.segment_count for tx in document.transactions) + 2 * len(document.groups) + 2
    for issue in document.issues:
        assert 0 <= issue.segment_index <= last + 1, issue
        assert issue.element is None or issue.element >= 1, issue
        assert issue.message
