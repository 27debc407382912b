"""Text accepted at the edge: no control characters, no bidi or invisible format characters, and — for
text that will be printed on a report — only characters the report font can print.

A NUL character cannot be stored in PostgreSQL text (psycopg refuses it: once a 500 on anonymous login);
U+202E and the other bidi controls make a record read differently from what it holds; U+200B and the other
invisible format characters make two equal-looking codes differ; a character without a glyph in the report
font (a rare CJK character such as U+20BB7 𠮷 outside WenQuanYi Micro Hei) made every report of that sample
fail forever (lims.reports.pdf.check_printable refuses to print blanks, ALCOA+ legible). So such text is
refused when it is entered, naming the field and the character, and a wrong field is corrected by an
audited edit (``PATCH /api/v1/samples/{code}``).

Characters refused everywhere (:func:`text_problem`): Unicode categories Cc (control; a multi-line field
allows tab, LF and CR), Cf (format: bidi controls U+061C, U+200E/F, U+202A–E, U+2066–9, zero-width
U+200B–D, U+2060, U+FEFF, soft hyphen…), Cs (surrogates), Co (private use) and Cn (unassigned).
Printed fields also refuse what :func:`lims.reports.fonts.missing_glyphs` finds after the report's own
substitutions (:data:`lims.reports.layout.PRINT_SUBSTITUTES`, e.g. ℃ → °C): :func:`unprintable`.
"""

from __future__ import annotations

import unicodedata

#: Unicode general categories refused in any text field.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
#: Control characters a multi-line field (a note, a reason, a description) may hold.
MULTILINE_ALLOWED = frozenset("\t\n\r")

_NAMES = {"\x00": "NUL", "\u202e": "RIGHT-TO-LEFT OVERRIDE", "\u200b": "ZERO WIDTH SPACE", "\ufeff": "BOM"}


def describe(ch: str) -> str:
    """``U+202E (RIGHT-TO-LEFT OVERRIDE)``: a character as a person can find it."""
    name = _NAMES.get(ch) or unicodedata.name(ch, unicodedata.category(ch))
    return f"U+{ord(ch):04X} ({name})"


def text_problem(value: str, *, multiline: bool = False) -> str | None:
    """Why ``value`` is refused (naming the first bad character and its position), or None."""
    for i, ch in enumerate(value):
        if unicodedata.category(ch) in REFUSED_CATEGORIES and not (multiline and ch in MULTILINE_ALLOWED):
            kind = ("control" if unicodedata.category(ch) == "Cc" else
                    "invisible or bidi format" if unicodedata.category(ch) == "Cf" else "unassigned or private")
            return f"{kind} character {describe(ch)} at position {i} is not allowed"
    return None


def unprintable(value: str) -> tuple[str, ...]:
    """Characters of ``value`` the report font cannot print (after the report's substitutions); empty when
    every one prints, or when no report font is installed (reports then fail with their own message)."""
    if value.isascii():
        return ()
    from lims.reports.fonts import FontNotFoundError, missing_glyphs, register_cjk_font
    from lims.reports.layout import printable

    try:
        font = register_cjk_font()
    except FontNotFoundError:
        return ()
    return missing_glyphs(font, printable(value))


def printable_problem(value: str, *, multiline: bool = False) -> str | None:
    """:func:`text_problem`, then characters the report font cannot print."""
    problem = text_problem(value, multiline=multiline)
    if problem is not None:
        return problem
    missing = unprintable(value)
    if missing:
        chars = ", ".join(describe(c) for c in missing)
        return f"{chars} cannot be printed on reports (the report font has no glyph for it); write it another way"
    return None
