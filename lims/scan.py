"""What a hand scanner reads from a 承诺达标合格证 or a 追溯码 QR, as fields of the sampling record (抽样单).

Certificates and traceability labels are printed by many provincial platforms, so their QR texts differ:
a URL with query parameters (``…?traceCode=…&hgzbh=…``), ``key：value`` lines or pairs separated by ``;``
``|`` or ``&`` in Chinese or pinyin, a JSON object, or the bare code. :func:`parse_scan` reads all of
them; a bare run of digits is a 追溯码 (the national traceability platform's codes are numeric), any
other bare token a 合格证 number. Nothing is looked up here: names are matched to the directory by the
caller.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl, urlsplit

#: Field of the sampling record ← keys seen on certificates and traceability labels (lower-cased).
KEYS: dict[str, tuple[str, ...]] = {
    "certificate_no": ("合格证编号", "合格证号", "合格证", "证书编号", "编号", "hgzbh", "hgz", "certno",
                       "certificate", "certificate_no", "certificateno", "cert"),
    "trace_code": ("追溯码", "追溯编码", "溯源码", "追溯号", "zsm", "tracecode", "trace_code", "trace", "code"),
    "commodity": ("食用农产品名称", "农产品名称", "产品名称", "品名", "名称", "product", "productname", "cpmc"),
    "producer": ("种植养殖生产者", "生产者名称", "生产者", "生产主体", "主体名称", "开具单位", "生产单位",
                 "producer", "scz", "ztmc"),
    "credit_code": ("统一社会信用代码", "社会信用代码", "信用代码", "uscc", "creditcode", "tyshxydm"),
    "quantity": ("数量（重量）", "数量(重量)", "数量", "重量", "净含量", "quantity", "weight", "sl"),
    "origin": ("产地", "产地地址", "生产地址", "地址", "origin", "address", "cd"),
    "region_code": ("行政区划代码", "区划代码", "region", "regioncode", "xzqh"),
    "issued_on": ("开具日期", "开证日期", "日期", "date", "kjrq"),
}
_FIELD_OF = {key: field for field, keys in KEYS.items() for key in keys}
#: A Chinese key followed by a colon, longest first: where a text whose line breaks were lost (pasted into a
#: one-line field) is cut again.
_ZH_KEY = re.compile("(" + "|".join(sorted((re.escape(k) for k in _FIELD_OF if not k.isascii()), key=len,
                                           reverse=True)) + r")\s*[:：]")
_PAIR = re.compile(r"^\s*([^:：=]{1,20}?)\s*[:：=]\s*(.*?)\s*$")
_SPLIT = re.compile(r"[\r\n;；|&]+")
_MAX = 2000


def _field(key: str) -> str | None:
    return _FIELD_OF.get(re.sub(r"\s+", "", key).lower())


def _from_pairs(pairs: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in pairs:
        field = _field(key)
        if field and value.strip() and field not in out:
            out[field] = value.strip()
    return out


def _from_url(text: str) -> dict[str, str]:
    parts = urlsplit(text)
    found = _from_pairs(parse_qsl(parts.query) + parse_qsl(parts.fragment.partition("?")[2]))
    last = parts.path.rstrip("/").rpartition("/")[2]
    if "trace_code" not in found and "certificate_no" not in found and last.isdigit() and len(last) >= 8:
        found["trace_code"] = last
    return found


def _from_json(text: str) -> dict[str, str] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return _from_pairs([(str(k), str(v)) for k, v in data.items() if isinstance(v, str | int)])


def parse_scan(text: str) -> dict[str, str]:
    """Fields read from a scanned text: any of ``certificate_no``, ``trace_code``, ``commodity``,
    ``producer``, ``credit_code``, ``quantity``, ``origin``, ``region_code``, ``issued_on``; empty when
    nothing is recognised. ``"追溯码：110105…\\n品名：韭菜"`` → ``{"trace_code": "110105…", "commodity": "韭菜"}``."""
    text = text.strip()[:_MAX]
    if not text:
        return {}
    if re.match(r"^https?://", text, re.IGNORECASE):
        return _from_url(text)
    if text.startswith("{"):
        found = _from_json(text)
        if found is not None:
            return found
    pieces = [p for p in _SPLIT.split(_ZH_KEY.sub(lambda m: "\n" + m.group(0), text)) if p.strip()]
    pairs = [(m.group(1), m.group(2)) for m in map(_PAIR.match, pieces) if m]
    if pairs:
        return _from_pairs(pairs)
    token = text.split()[0] if len(text.split()) == 1 else ""
    if not token:
        return {}
    return {"trace_code": token} if token.isdigit() else {"certificate_no": token}
