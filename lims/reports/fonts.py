"""Find and register a CJK TrueType font that reportlab can embed in a PDF.

reportlab embeds (as subsets) only fonts with TrueType outlines.  CFF-flavoured OpenType
fonts (the Noto / Source Han CJK ``.otf`` files) cannot be embedded, and the built-in CID
fonts (``STSong-Light``) are never embedded, so a report set in them is not self-contained
(PDF/A and archiving need embedded fonts).  WenQuanYi Micro Hei (``wqy-microhei.ttc``, a
TrueType collection) embeds and extracts back to correct Chinese text.

Search order:

1. the file named by the environment variable ``LIMS_CJK_FONT`` (``.ttf`` or ``.ttc``);
2. ``fonts/wqy-microhei.ttc`` inside the PyPI package ``paperang_p2_fonts_cjk``;
3. Debian's ``fonts-wqy-microhei``: ``/usr/share/fonts/truetype/wqy/wqy-microhei.ttc``.

The font is registered once per process under :data:`CJK_FONT_NAME`.
"""

from __future__ import annotations

import importlib.resources
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont

ENV_VAR = "LIMS_CJK_FONT"
CJK_FONT_NAME = "LimsCJK"

#: (package, resource path inside it) of the wheel-shipped font.
PACKAGE_FONT: tuple[str, str] = ("paperang_p2_fonts_cjk", "fonts/wqy-microhei.ttc")

#: System font files tried last, in order.
SYSTEM_FONT_PATHS: tuple[Path, ...] = (Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),)


class FontNotFoundError(LookupError):
    """No embeddable CJK TrueType font was found (or the configured one cannot be embedded)."""


@dataclass(frozen=True)
class FontCandidate:
    """One place looked at: where it came from, the path (None if it could not be resolved), why not."""

    source: str
    path: Path | None
    problem: str | None = None


@dataclass(frozen=True)
class RegisteredFont:
    """The font registered with reportlab: its name and the file it came from."""

    name: str
    path: Path


def _package_candidate() -> FontCandidate:
    package, resource = PACKAGE_FONT
    source = f"PyPI package {package} ({resource})"
    try:
        traversable = importlib.resources.files(package).joinpath(resource)
    except (ModuleNotFoundError, TypeError) as exc:
        return FontCandidate(source, None, f"package not installed ({exc.__class__.__name__})")
    path = Path(str(traversable))
    return FontCandidate(source, path, None if path.is_file() else "file not found")


def font_candidates() -> tuple[FontCandidate, ...]:
    """Every place searched, in order, each marked with its problem (None = usable file)."""
    found: list[FontCandidate] = []
    env_value = os.environ.get(ENV_VAR, "").strip()
    if env_value:
        env_path = Path(env_value).expanduser()
        found.append(FontCandidate(f"${ENV_VAR}", env_path, None if env_path.is_file() else "file not found"))
    else:
        found.append(FontCandidate(f"${ENV_VAR}", None, "not set"))
    found.append(_package_candidate())
    for system_path in SYSTEM_FONT_PATHS:
        found.append(
            FontCandidate("system font", system_path, None if system_path.is_file() else "file not found")
        )
    return tuple(found)


def _not_found_message(candidates: tuple[FontCandidate, ...]) -> str:
    lines = [
        "未找到可嵌入的中文 TrueType 字体 / no embeddable CJK TrueType font found. Looked at:",
    ]
    for c in candidates:
        lines.append(f"  - {c.source}: {c.path if c.path else '-'} ({c.problem})")
    lines.append(
        f"设置 {ENV_VAR} 为 .ttf/.ttc 字体文件路径，或安装 paperang-p2-fonts-cjk / fonts-wqy-microhei. "
        f"Set {ENV_VAR} to a .ttf/.ttc file (TrueType outlines; CFF .otf cannot be embedded), "
        "or install the PyPI package paperang-p2-fonts-cjk or Debian's fonts-wqy-microhei."
    )
    return "\n".join(lines)


def find_cjk_font() -> Path:
    """The first usable CJK font file in the search order; raises :class:`FontNotFoundError`."""
    candidates = font_candidates()
    for c in candidates:
        if c.problem is None and c.path is not None:
            return c.path
    raise FontNotFoundError(_not_found_message(candidates))


def missing_glyphs(font: RegisteredFont, text: str) -> tuple[str, ...]:
    """Characters of ``text`` the font would print as nothing: unmapped, or mapped to an empty glyph.

    Whitespace is exempt.  (WenQuanYi Micro Hei maps U+2103 ℃ to an empty outline, for one.)
    """
    face = pdfmetrics.getFont(font.name).face
    missing: list[str] = []
    for ch in dict.fromkeys(text):
        if ch.isspace():
            continue
        glyph = face.charToGlyph.get(ord(ch))
        if glyph is None or face.glyphPos[glyph + 1] == face.glyphPos[glyph]:
            missing.append(ch)
    return tuple(missing)


_lock = threading.Lock()
_registered: RegisteredFont | None = None


def register_cjk_font() -> RegisteredFont:
    """Register the CJK font with reportlab (once per process) and return it.

    Bold and italic map to the same face (the font has none), so ``<b>`` in a paragraph
    never falls back to a non-embedded Helvetica.
    """
    global _registered
    with _lock:
        if _registered is not None:
            return _registered
        path = find_cjk_font()
        try:
            font = TTFont(CJK_FONT_NAME, str(path), subfontIndex=0)
        except (TTFError, OSError) as exc:
            raise FontNotFoundError(
                f"字体无法嵌入 / font cannot be embedded: {path}: {exc} "
                "(需要 TrueType 轮廓 / TrueType outlines required; CFF .otf cannot be embedded)"
            ) from exc
        pdfmetrics.registerFont(font)
        for bold in (0, 1):
            for italic in (0, 1):
                addMapping(CJK_FONT_NAME, bold, italic, CJK_FONT_NAME)
        _registered = RegisteredFont(CJK_FONT_NAME, path)
        return _registered
