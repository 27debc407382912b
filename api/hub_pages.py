"""The hub's zh-CN pages (English beside): registered labs and keys (登记机构), and the public list of
non-compliant products (不合格农产品信息公开). Server-rendered from the same read models as /hub/v1."""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from api.deps import FactoryDep
from api.hub_auth import OPERATOR
from lims.hub import analytics, registry

_STYLE = ("body{font-family:'Noto Sans CJK SC','Microsoft YaHei',sans-serif;margin:2em}"
          "table{border-collapse:collapse}td,th{border:1px solid #999;padding:4px 8px}th{background:#eee}")
_VERDICT = {"non_compliant": "不合格", "banned_substance_detected": "检出禁用药物"}


def _page(title: str, head: list[str], rows: list[list[Any]], note: str = "") -> HTMLResponse:
    cells = "".join("<tr>" + "".join(f"<td>{escape('' if v is None else str(v))}</td>" for v in r) + "</tr>"
                    for r in rows)
    body = (f"<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1><p>{escape(note)}</p><table><tr>"
            + "".join(f"<th>{escape(h)}</th>" for h in head) + f"</tr>{cells}</table>"
            + ("" if rows else "<p>暂无记录 / nothing to show</p>") + "</body></html>")
    return HTMLResponse(body)


def add_pages(app: FastAPI) -> None:
    @app.get("/hub/labs", response_class=HTMLResponse, include_in_schema=False, dependencies=OPERATOR)
    def labs_page(factory: FactoryDep) -> HTMLResponse:
        with factory() as s:
            labs = registry.list_labs(s)
        rows = [[v.code, v.name, v.region_code or "不限 / any", "汇交中心 / hub" if v.kind == "hub" else "检测机构 / lab",
                 k.fingerprint, k.created_at.strftime("%Y-%m-%d %H:%M") if k.created_at else "",
                 "已停用 / retired " + k.retired_at.strftime("%Y-%m-%d") if k.retired_at else "有效 / active"]
                for v in labs for k in v.keys]
        return _page("登记机构与密钥 / Registered labs and keys",
                     ["机构代码 / code", "名称 / name", "行政区域 / region", "类型 / kind", "密钥指纹 / key fingerprint",
                      "登记时间 / registered", "状态 / state"], rows)

    @app.get("/hub/public/non-compliant", response_class=HTMLResponse, include_in_schema=False)
    def public_page(factory: FactoryDep) -> HTMLResponse:
        with factory() as s:
            items = analytics.non_compliant_list(s)
        rows = [[r[c] if c != "verdict" else _VERDICT.get(r[c], r[c]) for c in analytics.PUBLIC_COLUMNS]
                for r in items]
        return _page("不合格农产品信息公开 / Non-compliant agricultural products", list(analytics.PUBLIC_HEADERS_ZH),
                     rows, "依据例行监测和监督抽查结果公开；CSV：/hub/v1/non-compliant.csv")
