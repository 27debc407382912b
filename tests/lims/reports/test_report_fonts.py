"""CJK font discovery: LIMS_CJK_FONT, then the paperang_p2_fonts_cjk wheel, then Debian's path."""

from __future__ import annotations

from pathlib import Path

import pytest

from lims.reports import fonts
from lims.reports.fonts import FontNotFoundError, find_cjk_font, register_cjk_font


def _package_font() -> Path:
    candidate = fonts._package_candidate()
    assert candidate.problem is None, candidate
    assert candidate.path is not None
    return candidate.path


def test_wheel_font_is_found_when_env_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(fonts.ENV_VAR, raising=False)
    path = find_cjk_font()
    assert path == _package_font()
    assert path.name == "wqy-microhei.ttc"


def test_env_var_comes_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    copy = tmp_path / "my-cjk.ttc"
    copy.write_bytes(_package_font().read_bytes())
    monkeypatch.setenv(fonts.ENV_VAR, str(copy))
    assert find_cjk_font() == copy


def test_missing_everywhere_raises_bilingual_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing_env = tmp_path / "nowhere.ttf"
    missing_system = tmp_path / "no-system-font.ttc"
    monkeypatch.setenv(fonts.ENV_VAR, str(missing_env))
    monkeypatch.setattr(fonts, "PACKAGE_FONT", ("lims_no_such_font_package", "fonts/none.ttc"))
    monkeypatch.setattr(fonts, "SYSTEM_FONT_PATHS", (missing_system,))
    with pytest.raises(FontNotFoundError) as info:
        find_cjk_font()
    message = str(info.value)
    assert "未找到可嵌入的中文 TrueType 字体" in message
    assert "no embeddable CJK TrueType font found" in message
    assert str(missing_env) in message and "LIMS_CJK_FONT" in message
    assert "lims_no_such_font_package" in message
    assert str(missing_system) in message


def test_unembeddable_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bogus = tmp_path / "not-a-font.ttf"
    bogus.write_bytes(b"OTTO" + bytes(64))  # a CFF OpenType signature, no TrueType tables
    monkeypatch.setenv(fonts.ENV_VAR, str(bogus))
    monkeypatch.setattr(fonts, "_registered", None)
    with pytest.raises(FontNotFoundError, match="cannot be embedded"):
        register_cjk_font()


def test_registered_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    first = register_cjk_font()
    monkeypatch.setenv(fonts.ENV_VAR, "/nonexistent/elsewhere.ttc")
    assert register_cjk_font() is first
    assert first.name == fonts.CJK_FONT_NAME


def test_missing_glyphs_reports_empty_and_unmapped_characters() -> None:
    font = register_cjk_font()
    if font.path.name != "wqy-microhei.ttc":
        pytest.skip(f"glyph facts below are about WenQuanYi Micro Hei, not {font.path.name}")
    assert fonts.missing_glyphs(font, "韭菜 0.56 mg/kg ≤ ± μg/kg 合格证") == ()
    # U+2103 is mapped to an empty outline in wqy-microhei; U+1F96C (leafy green) is not mapped
    assert fonts.missing_glyphs(font, "4 ℃ \U0001f96c") == ("℃", "\U0001f96c")
