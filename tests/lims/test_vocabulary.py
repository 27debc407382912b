"""The domain vocabulary (lims.vocabulary): stored values unchanged, every member labelled in both languages,
and the Chinese labels exactly the words the web UI showed before they moved beside their enums."""

from __future__ import annotations

import pytest

from lims.vocabulary import (
    VOCABULARY,
    AnalysisKind,
    AnalysisStatus,
    AuditAction,
    BatchStatus,
    CustodyKind,
    Labelled,
    ParseStatus,
    Permission,
    ProducerKind,
    ProgrammeType,
    QcKind,
    QcOutcome,
    Qualitative,
    ReportStatus,
    ResultStatus,
    Role,
    RoundStatus,
    SampleStatus,
    SamplingLink,
    SignatureMeaning,
    SignOffDone,
    Verdict,
)

#: The web UI's label tables as they were in api/ui.py (and lims/pt/views.py, lims/services/sampling.py).
BEFORE: dict[type[Labelled], dict[str, str]] = {
    SampleStatus: {"registered": "已登记", "received": "已接收", "in_analysis": "检测中", "to_be_reviewed": "待审核",
                   "reviewed": "已审核", "approved": "已批准", "reported": "已出报告", "rejected": "已退回",
                   "retest": "待复检", "amended": "已更正"},
    ResultStatus: {"to_be_reviewed": "待审核", "reviewed": "已审核", "certified": "已批准", "reported": "已出报告",
                   "rejected": "已退回", "retest": "复检", "superseded": "已被更正版本替代"},
    Verdict: {"compliant": "合格", "non_compliant": "不合格", "compliant_within_uncertainty": "合格（在不确定度范围内）",
              "not_evaluated": "未判定", "banned_substance_detected": "检出禁用药物",
              "screen_negative": "筛查阴性", "screen_positive": "筛查阳性（需确证）", "screen_invalid": "筛查无效"},
    AnalysisStatus: {"pending": "待检测", "in_analysis": "检测中", "to_be_reviewed": "已出结果", "rejected": "已退回"},
    Qualitative: {"negative": "阴性", "positive": "阳性", "invalid": "无效"},
    AnalysisKind: {"screening": "快速筛查", "confirmatory": "确证检测"},
    BatchStatus: {"open": "进行中", "qc_passed": "质控通过", "qc_failed": "质控失败（结果暂停）", "closed": "已关闭"},
    QcKind: {"reagent_blank": "试剂空白", "matrix_blank": "基质空白", "spike": "加标回收", "duplicate": "平行样",
             "ccv": "连续校准核查 CCV", "reference_material": "标准物质"},
    QcOutcome: {"pass": "通过", "fail": "不通过", "pending": "待判定"},
    CustodyKind: {"received": "接收", "stored": "入库", "subsampled": "分样", "moved": "流转", "retained": "留样",
                  "disposed": "处置"},
    ReportStatus: {"issued": "有效", "superseded": "已被更正报告替代"},
    ParseStatus: {"pending": "待解析", "parsed": "已解析", "error": "解析错误", "rejected": "已拒收",
                  "incomplete": "不完整", "duplicate": "重复"},
    SignOffDone: {"review": "已审核签名", "approval": "已批准签发", "rejection": "已退回"},
    Role: {"technician": "检验员", "reviewer": "审核员", "approver": "批准人（授权签字人）", "qa_manager": "质量负责人",
           "admin": "系统管理员", "pt_participant": "能力验证参加者（外部实验室）"},  # the last one: issue 11
    RoundStatus: {"draft": "草稿", "open": "接收结果中", "closed": "已截止", "scored": "已评价", "published": "已发布"},
    ProgrammeType: {"routine": "例行监测", "special": "专项监测", "supervisory": "监督抽查", "risk": "风险监测"},
    SamplingLink: {"production_base": "生产基地", "before_harvest": "采收前", "before_market": "上市前",
                   "before_slaughter": "屠宰前", "wholesale": "批发市场", "retail": "零售市场"},
    ProducerKind: {"enterprise": "企业", "cooperative": "农民专业合作社", "family_farm": "家庭农场",
                   "farmer": "种养殖户"},
}


@pytest.mark.parametrize("enum", list(BEFORE), ids=lambda e: e.__name__)
def test_chinese_labels_are_the_words_the_ui_showed(enum: type[Labelled]):
    assert enum.labels() == BEFORE[enum]  # same values, same order, same words


def test_audit_actions_keep_the_five_words_and_name_the_two_that_had_none():
    assert {k: v for k, v in AuditAction.labels().items() if k in ("create", "update", "delete", "sign", "login")} \
        == {"create": "新建", "update": "修改", "delete": "删除", "sign": "签名", "login": "登录"}
    assert AuditAction("logout").label() == "退出登录" and AuditAction("revoke").label() == "吊销令牌"


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


@pytest.mark.parametrize("enum", list(VOCABULARY.values()), ids=lambda e: e.__name__)
def test_every_member_has_a_chinese_and_an_english_label(enum: type[Labelled]):
    assert len(enum) > 0
    for member in enum:
        assert isinstance(member, str) and member == member.value  # stored as its plain string
        assert member.label("zh-CN") == member.zh and not member.zh.isascii(), member
        assert member.label("en") == member.en and member.en and not _has_cjk(member.en), member
    assert len({m.value for m in enum}) == len(enum)


def test_a_value_outside_the_vocabulary_is_shown_as_it_is():
    assert SampleStatus.label_of("reviewed") == "已审核"
    assert SampleStatus.label_of("reviewed", "en") == "reviewed"
    assert SampleStatus.label_of("archived") == "archived"
    assert SampleStatus.label_of(None) == ""


def test_one_verdict_for_decisions_results_and_reports():
    from lims.limits import Verdict as DecisionVerdict
    from lims.reports import Verdict as ReportVerdict

    assert DecisionVerdict is Verdict is ReportVerdict
    assert Verdict.BANNED_SUBSTANCE_DETECTED == "banned_substance_detected"  # the value stored on results
    assert Verdict.screening("positive") is Verdict.SCREEN_POSITIVE
    assert {v for v in Verdict if v.is_conformity} == {Verdict.COMPLIANT, Verdict.NON_COMPLIANT,
                                                       Verdict.COMPLIANT_WITHIN_UNCERTAINTY, Verdict.NOT_EVALUATED,
                                                       Verdict.BANNED_SUBSTANCE_DETECTED}
    assert {v for v in Verdict if v.fails} == {Verdict.NON_COMPLIANT, Verdict.BANNED_SUBSTANCE_DETECTED}


def test_signature_meanings_as_shown_and_as_printed():
    assert [m.manifestation for m in SignatureMeaning] == [
        "检验 / Tested by", "审核 / Reviewed by", "批准 / Approved by", "退回 / Rejected by"]
    assert [m.printed for m in SignatureMeaning][:3] == ["检验 / Tested", "审核 / Reviewed", "批准 / Approved"]


def test_permissions_carry_the_words_of_the_403_page():
    assert Permission.RESULTS_APPROVE.label() == "批准签发检测结果"
    assert Permission.INSTRUMENTS_WRITE.label("en") == "manage instruments (re-parse…)"


def test_the_vocabulary_and_the_workflow_need_no_database():
    import subprocess
    import sys

    probe = ("import sys, lims.vocabulary, lims.workflow; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'fastapi', 'api') "
             "or m.startswith('lims.db')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
