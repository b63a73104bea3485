"""Reading values that anyone can put in a query string or a form field.

Two traps a hostile or merely odd request springs on the plain `int(value) if value.isdigit()`
and on text passed straight to the database:

- `str.isdigit()` is true for Unicode digits such as "²" or "١", which `int()` rejects (a 500);
- PostgreSQL cannot hold NUL ("\\x00") in text, so a query parameter with one is a 500 there
  (SQLite takes it, so only the PostgreSQL test run sees it).
"""

# Primary keys are BigAutoField (settings.DEFAULT_AUTO_FIELD); a larger number matches nothing.
BIGINT_MAX = 2**63 - 1


def positive_int(value) -> int | None:
    """A positive whole number written in ASCII digits (an id from a query parameter or a ticked
    checkbox), or None for anything else: empty, "0", "-1", "²", "1e3", NUL, out of range."""
    text = str(value or "")
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if 0 < number <= BIGINT_MAX else None


def positive_ints(values) -> list[int]:
    """The valid ids of a multi-valued parameter (`request.POST.getlist("card")`); others dropped."""
    return [n for n in map(positive_int, values) if n is not None]


def query_text(value, max_length: int | None = None) -> str:
    """Free text for a database query or a note: NUL removed (PostgreSQL rejects it and nobody
    types it), surrounding space stripped, cut to `max_length`."""
    text = str(value or "").replace("\x00", "").strip()
    return text[:max_length] if max_length is not None else text
