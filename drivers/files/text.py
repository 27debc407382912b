"""Text of an export: encodings, line ends and numbers as chromatography data systems write them.

Encodings: a UTF-16 byte-order mark or a UTF-8 one is obeyed; BOM-less UTF-16 (every other byte NUL)
is recognised; otherwise strict UTF-8, then the Chinese code pages (GB18030 for mainland Windows,
Big5 for Taiwan/Hong Kong LabSolutions) when detection is unambiguous (see :func:`_cjk`), and lastly
Windows-1252 (the Western Windows default; a stray byte in a path never stops a file).

Line ends: CRLF, LF and CR-only (Waters Empower), mixed in one file (Chromeleon 7 exports were seen
with both) — :func:`lines` splits on all three and nothing else (``str.splitlines`` would also split on
U+0085, form feed and others that can sit in a Windows-1252 text field).
"""

from __future__ import annotations

import math
import re

from drivers.files.errors import ChromatogramFileError

_LINE_END = re.compile(r"\r\n|\r|\n")
#: LabSolutions writes the time of day with 上午/下午 (a.m./p.m.) on Chinese Windows.
_CJK_MARKERS = ("上午", "下午")
#: Chinese is written in words of two or more characters; one high byte before an ASCII letter (µ in
#: Windows-1252 text) also decodes to a single CJK character and must not make a file Chinese.
_HAN_RUN = re.compile(r"[\u3400-\u9fff]{2}")


def lines(text: str) -> list[str]:
    """The lines of ``text`` for any mix of CRLF, LF and CR-only line ends."""
    out = _LINE_END.split(text)
    if out and out[-1] == "":
        out.pop()
    return out


def decode(raw: bytes, name: str) -> tuple[str, str]:
    """(text, encoding name) of an export's bytes; undecodable UTF-16 is an error naming the offset."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return _strict(raw, "utf-16", name), "utf-16"
    if raw[:3] == b"\xef\xbb\xbf":
        return _strict(raw, "utf-8-sig", name), "utf-8"
    head = raw[:4096]
    if len(head) >= 8 and head[1::2].count(0) > 0.9 * (len(head) // 2):
        return _strict(raw, "utf-16-le", name), "utf-16-le"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    cjk = _cjk(raw)
    if cjk is not None:
        return raw.decode(cjk), cjk
    return raw.decode("cp1252", errors="replace"), "cp1252"


def _strict(raw: bytes, encoding: str, name: str) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ChromatogramFileError(f"invalid {encoding.upper()} text", file=name, byte_offset=exc.start) from None


def _cjk(raw: bytes) -> str | None:
    """GB18030 or Big5 when the bytes say so unambiguously, else None.

    Both code pages accept most byte pairs, so decoding alone does not decide. A candidate is kept when
    every Chinese character it yields is a common one of its own script — GB2312 (the 6,763 characters
    of everyday simplified Chinese) for GB18030, Big5 level 1 (lead bytes A4–C6, the 5,401 frequent
    traditional characters) for Big5 — at least two in a row, and the other candidate fails; text naming 上午/下午 (how
    LabSolutions writes a.m./p.m.) settles a tie. A GB2312 character is two bytes ≥ 0xA1, and a Chinese
    word in Big5 nearly always has two high bytes in a row too; Western text almost never does. Bytes fitting neither are not Chinese (None)."""
    if not re.search(rb"[\x80-\xff]{2}", raw):
        return None  # Windows-1252 units such as µV·s (B5 56 B7 73) decode as two Big5 characters
    fits: list[str] = []
    for enc, common in (("gb18030", _in_gb2312), ("big5", _in_big5_level1)):
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError:
            continue
        hans = [c for c in text if ord(c) > 0x2E7F]
        if _HAN_RUN.search(text) and all(common(c) for c in hans):
            fits.append(enc)
            if any(m in text for m in _CJK_MARKERS):
                return enc
    return fits[0] if len(fits) == 1 else None


def _in_gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def _in_big5_level1(ch: str) -> bool:
    try:
        b = ch.encode("big5")
    except UnicodeEncodeError:
        return False
    return len(b) == 2 and (0xA1 <= b[0] <= 0xA3 or 0xA4 <= b[0] <= 0xC6)


def cells(line: str) -> list[str]:
    """Fields of a tab- or comma-separated line (tab when the line has one), stripped."""
    return [c.strip() for c in (line.split("\t") if "\t" in line else line.split(","))]


def number(text: str, name: str, line: int, field: str, *, comma_decimal: bool = False) -> float:
    """A finite number, or an error naming the file, line and field."""
    s = text.strip().strip('"')
    if comma_decimal:  # 1.169,465667: period groups thousands, comma is the decimal mark
        s = s.replace(".", "").replace(",", ".")
    try:
        v = float(s)
    except ValueError:
        raise ChromatogramFileError(f"not a number: {text.strip()!r}", file=name, line=line, field=field) from None
    if not math.isfinite(v):
        raise ChromatogramFileError(f"not a finite number: {text.strip()!r}", file=name, line=line, field=field)
    return v


def opt_number(text: str, *, comma_decimal: bool = False) -> float | None:
    """A finite number, or None for an empty, non-numeric or non-finite cell."""
    s = text.strip().strip('"')
    if comma_decimal:
        s = s.replace(".", "").replace(",", ".")
    try:
        v = float(s)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def vendor_value(text: str) -> float | None:
    """A peak-table number as a data system writes it: empty, non-numeric or -1 (the 'not written'
    value of LabSolutions and ChemStation peak tables, e.g. a height never computed) is None."""
    v = opt_number(text)
    return None if v is None or v == -1 else v
