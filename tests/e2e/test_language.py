"""The English switch in the header: kept per user, the pages in English, and back to Chinese."""

from __future__ import annotations

import re
from typing import Any

HAN = re.compile(r"[\u4e00-\u9fff]")
#: Pages whose own words are all in the user's language (the records on them may still be Chinese).
PAGES = {"/": "Dashboard", "/audit": "Audit trail", "/instruments": "Instruments", "/admin/users": "Accounts",
         "/account/password": "Change your password", "/search?q=zz": "Search"}


def test_english_is_kept_per_user_and_switched_back(page: Any, login: Any, as_user: Any) -> None:
    login(page, "admin")
    assert page.get_attribute("html", "lang") == "zh-CN"  # Chinese by default
    with page.expect_navigation():
        page.click("header button[value='en']")
    try:
        for path, heading in PAGES.items():
            page.goto(path)
            assert page.get_attribute("html", "lang") == "en", path
            assert heading in page.inner_text("h1"), path
            assert not HAN.search(page.inner_text("header nav")), path
        # domain terms keep their standard Chinese names beside the English (ARCHITECTURE.md)
        assert "Sample code, trace code (追溯码), certificate (合格证)" in page.inner_text("main form")
        other = as_user("admin")  # another browser: the choice is the account's, not the cookie's
        assert other.get_attribute("html", "lang") == "en"
    finally:
        with page.expect_navigation():
            page.click("header button[value='zh-CN']")
    assert page.get_attribute("html", "lang") == "zh-CN" and "搜索" in page.inner_text("h1")
