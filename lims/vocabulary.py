"""The domain vocabulary: every status, verdict, kind and meaning, with its zh-CN and English labels.

One place for the words the lab uses. Each enum's *value* is the string stored in the database (so a
member compares equal to the column's text and no data migration is ever needed); each member carries
its Chinese label (the UI's wording, zh-CN is the default language) and its English label beside it::

    SampleStatus.REVIEWED.label()          # '已审核'
    SampleStatus.REVIEWED.label("en")      # 'reviewed'
    SampleStatus.label_of("odd", "zh-CN")  # 'odd' (a value outside the vocabulary is shown as is)

Pure: this module imports nothing from the database, the services or the API, so the ORM models,
database-free services, the report renderer and the web UI all share it. Which status may follow which
is in :mod:`lims.workflow`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

ZH = "zh-CN"
EN = "en"


class Labelled(StrEnum):
    """A string enum whose members are declared as ``NAME = value, zh-CN label, English label``."""

    zh: str
    en: str

    def __new__(cls, value: str, zh: str = "", en: str = "") -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.zh = zh or value
        member.en = en or value.replace("_", " ")
        return member

    def label(self, lang: str = ZH) -> str:
        """The member's label in ``lang`` ("zh-CN", the default, or "en")."""
        return self.en if lang == EN else self.zh

    @classmethod
    def labels(cls, lang: str = ZH) -> dict[str, str]:
        """value → label in ``lang``, in declaration order."""
        return {m.value: m.label(lang) for m in cls}

    @classmethod
    def label_of(cls, value: object, lang: str = ZH) -> str:
        """The label of a stored value; a value outside the vocabulary (or None) is shown as it is."""
        if value is None:
            return ""
        try:
            return cls(str(value)).label(lang)
        except ValueError:
            return str(value)


# ---------------------------------------------------------------------------------------- people


class Role(Labelled):
    """A user's role (ISO/IEC 17025 6.2: authorised personnel)."""

    TECHNICIAN = "technician", "检验员", "technician"
    REVIEWER = "reviewer", "审核员", "reviewer"
    APPROVER = "approver", "批准人（授权签字人）", "approver (authorised signatory)"
    QA_MANAGER = "qa_manager", "质量负责人", "quality manager"
    ADMIN = "admin", "系统管理员", "administrator"
    #: An external laboratory taking part in a PT round this lab provides: submits and reads only the results of
    #: the participant codes bound to its account (lims.pt.submissions), nothing of the lab's own records.
    PT_PARTICIPANT = "pt_participant", "能力验证参加者（外部实验室）", "PT participant (external laboratory)"


class UserKind(Labelled):
    """Who an account is: a person (logs in, signs) or a service account (API keys only, never signs)."""

    PERSON = "person", "人员账户", "person"
    SERVICE = "service", "服务账户（仪器、接口）", "service account"


class Permission(Labelled):
    """What a request may do; roles grant them (api.security.ROLE_PERMISSIONS)."""

    SAMPLES_READ = "samples:read", "查看样品", "view samples"
    SAMPLES_WRITE = "samples:write", "登记、修改样品", "register and edit samples"
    RESULTS_READ = "results:read", "查看检测结果", "view results"
    RESULTS_ENTER = "results:enter", "录入检测结果", "enter results"
    RESULTS_REVIEW = "results:review", "审核检测结果", "review results"
    RESULTS_APPROVE = "results:approve", "批准签发检测结果", "approve results"
    REPORTS_READ = "reports:read", "查看检验报告", "view reports"
    REPORTS_ISSUE = "reports:issue", "签发检验报告", "issue reports"
    LIMITS_READ = "limits:read", "查看限量标准", "view MRLs"
    LIMITS_MANAGE = "limits:manage", "维护限量标准", "manage MRLs"
    PT_READ = "pt:read", "查看能力验证", "view proficiency testing"
    PT_SUBMIT = "pt:submit", "提交能力验证结果", "submit PT results"
    PT_MANAGE = "pt:manage", "组织能力验证", "manage PT rounds"
    AUDIT_READ = "audit:read", "查看审计追踪", "read the audit trail"
    INSTRUMENTS_READ = "instruments:read", "查看仪器状态", "view instruments"
    INSTRUMENTS_WRITE = "instruments:write", "管理仪器（重新解析等）", "manage instruments (re-parse…)"
    USERS_MANAGE = "users:manage", "管理用户账户", "manage user accounts"
    TASKS_READ = "tasks:read", "查看监测任务", "view monitoring tasks"
    TASKS_MANAGE = "tasks:manage", "管理监测任务", "manage monitoring tasks"
    METHODS_MANAGE = "methods:manage", "维护方法质控限值与方法确认数据", "manage method QC limits and validation data"
    UPSTREAM_MANAGE = "upstream:manage", "重新投递上报失败的消息", "re-queue dead-lettered upstream messages"
    QUALITY_READ = "quality:read", "查看质量体系记录", "view quality records (NC, audits, complaints, documents)"
    QUALITY_RAISE = "quality:raise", "登记不符合工作和投诉", "raise nonconformities and complaints"
    QUALITY_MANAGE = "quality:manage", "管理不符合、纠正措施、审核和受控文件", "manage NC/CAPA, audits and documents"
    REGISTERS_READ = "registers:read", "查看仪器、标准物质、人员和环境记录", "view instrument, material, staff, environment records"
    REGISTERS_WRITE = "registers:write", "登记仪器、标准物质、人员和环境记录", "record instrument, material, staff, environment data"
    REGISTERS_EXCEPT = "registers:exception", "批准仪器限期使用特例", "grant an instrument's time-limited exception"
    #: Any authenticated principal, API keys included (who am I).
    AUTHENTICATED = "authenticated", "登录", "sign in"
    #: A person's own account: own tokens, logout (every role; never an API key).
    ACCOUNT_SELF = "account:self", "管理本人账户", "manage one's own account"
    #: Deliberately open; never granted, only declared with ``api.security.public``.
    PUBLIC = "public", "公开访问", "public"


# ---------------------------------------------------------------------------------------- samples


class SampleStatus(Labelled):
    """Where a sample is in the lab (transitions: lims.workflow)."""

    REGISTERED = "registered", "已登记", "registered"
    RECEIVED = "received", "已接收", "received"
    IN_ANALYSIS = "in_analysis", "检测中", "in analysis"
    TO_BE_REVIEWED = "to_be_reviewed", "待审核", "to be reviewed"
    REVIEWED = "reviewed", "已审核", "reviewed"
    APPROVED = "approved", "已批准", "approved"
    REPORTED = "reported", "已出报告", "reported"
    REJECTED = "rejected", "已退回", "rejected"
    RETEST = "retest", "待复检", "to be re-tested"
    AMENDED = "amended", "已更正", "amended"


class CustodyKind(Labelled):
    """A chain-of-custody event (样品流转)."""

    RECEIVED = "received", "接收", "received"
    STORED = "stored", "入库", "stored"
    SUBSAMPLED = "subsampled", "分样", "sub-sampled"
    MOVED = "moved", "流转", "moved"
    RETAINED = "retained", "留样", "retained"
    DISPOSED = "disposed", "处置", "disposed"


class ProgrammeType(Labelled):
    """The kind of monitoring task."""

    ROUTINE = "routine", "例行监测", "routine monitoring"
    SPECIAL = "special", "专项监测", "special monitoring"
    SUPERVISORY = "supervisory", "监督抽查", "supervisory sampling"
    RISK = "risk", "风险监测", "risk monitoring"


class ProducerKind(Labelled):
    """A producer in the supervision directory (监管名录库)."""

    ENTERPRISE = "enterprise", "企业", "enterprise"
    COOPERATIVE = "cooperative", "农民专业合作社", "farmers' cooperative"
    FAMILY_FARM = "family_farm", "家庭农场", "family farm"
    FARMER = "farmer", "种养殖户", "farmer"


class SamplingLink(Labelled):
    """Where in the supply chain a sample was taken; the Chinese label is what the sample records."""

    PRODUCTION_BASE = "production_base", "生产基地", "production base"
    BEFORE_HARVEST = "before_harvest", "采收前", "before harvest"
    BEFORE_MARKET = "before_market", "上市前", "before market"
    BEFORE_SLAUGHTER = "before_slaughter", "屠宰前", "before slaughter"
    WHOLESALE = "wholesale", "批发市场", "wholesale market"
    RETAIL = "retail", "零售市场", "retail market"


class AssignmentStatus(Labelled):
    """One line of a task's sampling plan (双随机 draw)."""

    PLANNED = "planned", "待抽样", "planned"
    SAMPLED = "sampled", "已抽样", "sampled"
    CANCELLED = "cancelled", "已取消", "cancelled"


# ---------------------------------------------------------------------------------------- analyses


class AnalysisKind(Labelled):
    """Rapid screening or chromatographic confirmation."""

    SCREENING = "screening", "快速筛查", "screening"
    CONFIRMATORY = "confirmatory", "确证检测", "confirmatory"


class AnalysisStatus(Labelled):
    PENDING = "pending", "待检测", "pending"
    IN_ANALYSIS = "in_analysis", "检测中", "in analysis"
    TO_BE_REVIEWED = "to_be_reviewed", "已出结果", "result entered"
    REJECTED = "rejected", "已退回", "rejected"


class ResultStatus(Labelled):
    TO_BE_REVIEWED = "to_be_reviewed", "待审核", "to be reviewed"
    REVIEWED = "reviewed", "已审核", "reviewed"
    CERTIFIED = "certified", "已批准", "certified"
    REPORTED = "reported", "已出报告", "reported"
    REJECTED = "rejected", "已退回", "rejected"
    RETEST = "retest", "复检", "re-test"
    SUPERSEDED = "superseded", "已被更正版本替代", "superseded by a correction"


#: Statuses in which a result's content is frozen (ISO/IEC 17025 7.5, 21 CFR 11.10(e)).
FROZEN_RESULT_STATUSES = frozenset({ResultStatus.CERTIFIED, ResultStatus.REPORTED, ResultStatus.SUPERSEDED})


class Qualitative(Labelled):
    """A qualitative (screening) call."""

    NEGATIVE = "negative", "阴性", "negative"
    POSITIVE = "positive", "阳性", "positive"
    INVALID = "invalid", "无效", "invalid"


class Verdict(Labelled):
    """A result's evaluation, as stored on it: a conformity decision against its limit (ISO/IEC 17025
    7.8.6; the EFSA SSD2 evaluation codes), or a screening call (``screen_*``), which is no conformity
    decision and is printed on a report as not evaluated."""

    COMPLIANT = "compliant", "合格", "compliant"
    NON_COMPLIANT = "non_compliant", "不合格", "non-compliant"
    COMPLIANT_WITHIN_UNCERTAINTY = (
        "compliant_within_uncertainty", "合格（在不确定度范围内）", "compliant within uncertainty")
    NOT_EVALUATED = "not_evaluated", "未判定", "not evaluated"
    BANNED_SUBSTANCE_DETECTED = "banned_substance_detected", "检出禁用药物", "banned substance detected"
    SCREEN_NEGATIVE = "screen_negative", "筛查阴性", "screening negative"
    SCREEN_POSITIVE = "screen_positive", "筛查阳性（需确证）", "screening positive (to be confirmed)"
    SCREEN_INVALID = "screen_invalid", "筛查无效", "screening invalid"

    @classmethod
    def screening(cls, call: Qualitative | str) -> Verdict:
        """The verdict recorded for a screening call."""
        return cls(f"screen_{Qualitative(call).value}")

    @property
    def is_conformity(self) -> bool:
        """True for a conformity decision (the five values a report prints)."""
        return self in CONFORMITY_VERDICTS

    @property
    def fails(self) -> bool:
        """True when the result does not conform (non-compliant or a banned substance detected)."""
        return self in (Verdict.NON_COMPLIANT, Verdict.BANNED_SUBSTANCE_DETECTED)


CONFORMITY_VERDICTS = frozenset({Verdict.COMPLIANT, Verdict.NON_COMPLIANT, Verdict.COMPLIANT_WITHIN_UNCERTAINTY,
                                 Verdict.NOT_EVALUATED, Verdict.BANNED_SUBSTANCE_DETECTED})


# ---------------------------------------------------------------------------------------- limits


class CommodityLevel(Labelled):
    """A node of the commodity classification (GB 2763-2021 Appendix A; GB 31650-2019 target tissues)."""

    GROUP = "group", "类别", "group"
    SUBGROUP = "subgroup", "亚类", "subgroup"
    COMMODITY = "commodity", "产品", "commodity"


class MatchedVia(Labelled):
    """Which row a result is judged against: one set for the commodity itself, or for a group of it."""

    COMMODITY = "commodity", "该产品本身的限量", "the commodity's own limit"
    GROUP = "group", "所属类别的限量", "the limit set for its group"


class LimitFlag(Labelled):
    """What a person must see about the limit a result is judged against (review screen, working copy)."""

    NO_LIMIT = "no_limit", "无限量标准", "no applicable limit"
    UNVERIFIED = "unverified_limit", "限量未经核对（按未核对的限量判定）", "limit not verified against the standard"
    VERIFIED = "verified_limit", "限量已核对", "limit verified against the standard"
    BANNED = "banned", "禁用物质（检出即不合格）", "banned substance (non-compliant when detected)"


class LimitJudgementKind(Labelled):
    """The approver's explicit judgement of a result for which the limit table has no limit."""

    NO_LIMIT_APPLIES = "no_limit_applies", "无适用限量，不作符合性判定", "no limit applies; conformity not evaluated"
    NAMED_STANDARD = "named_standard", "依据指定标准的限量判定", "judged against a named standard"
    VALUE_WITH_SOURCE = "value_with_source", "依据给定限量值（注明出处）判定", "judged against a given value with its source"


class Detection(Labelled):
    """Whether the analyte was found (a banned substance reads 未检出 / 检出)."""

    DETECTED = "detected", "检出", "detected"
    NOT_DETECTED = "not_detected", "未检出", "not detected"


class BatchStatus(Labelled):
    OPEN = "open", "进行中", "open"
    QC_PASSED = "qc_passed", "质控通过", "QC passed"
    QC_FAILED = "qc_failed", "质控失败（结果暂停）", "QC failed (results held)"
    CLOSED = "closed", "已关闭", "closed"


class QcKind(Labelled):
    """A batch QC sample (SANTE/11312/2021)."""

    REAGENT_BLANK = "reagent_blank", "试剂空白", "reagent blank"
    MATRIX_BLANK = "matrix_blank", "基质空白", "matrix blank"
    SPIKE = "spike", "加标回收", "spike recovery"
    DUPLICATE = "duplicate", "平行样", "duplicate"
    CCV = "ccv", "连续校准核查 CCV", "continuing calibration verification"
    REFERENCE_MATERIAL = "reference_material", "标准物质", "reference material"


class QcOutcome(Labelled):
    PASS = "pass", "通过", "pass"
    FAIL = "fail", "不通过", "fail"
    PENDING = "pending", "待判定", "pending"


class CalibrationStrategy(Labelled):
    """How a method calibrates (SANTE/11312/2021 v2 §C; lims.db.models_method.MethodQc)."""

    EXTERNAL_STANDARD = "external_standard", "外标法", "external standard"
    INTERNAL_STANDARD = "internal_standard", "内标法", "internal standard"
    MATRIX_MATCHED = "matrix_matched", "基质匹配外标法", "matrix-matched calibration"
    BRACKETING = "bracketing", "标准溶液穿插（包围）校准", "bracketing calibration"
    STANDARD_ADDITION = "standard_addition", "标准加入法", "standard addition"


class UncertaintySource(Labelled):
    """Where a result's expanded uncertainty comes from (Nordtest TR 537 top-down, or the SANTE default)."""

    VALIDATION = "validation", "方法确认数据（回收率与期间精密度）", "method validation data (recovery, intermediate precision)"
    QC_HISTORY = "qc_history", "长期质控数据（加标回收、能力验证）", "long-run QC data (spike recoveries, PT results)"
    DEFAULT_SANTE_50 = "default_sante_50", "默认值 50 %（SANTE，无本实验室数据）", "default 50 % (SANTE; no laboratory data)"


# ---------------------------------------------------------------------------------------- sign-off, reports


class SignatureMeaning(Labelled):
    """The meaning of an electronic signature (21 CFR 11.50(a)(3)); English as shown: "Tested by"."""

    AUTHORSHIP = "authorship", "检验", "Tested by"
    REVIEW = "review", "审核", "Reviewed by"
    APPROVAL = "approval", "批准", "Approved by"
    REJECTION = "rejection", "退回", "Rejected by"

    @property
    def manifestation(self) -> str:
        """As shown beside a signed record: "审核 / Reviewed by"."""
        return f"{self.zh} / {self.en}"

    @property
    def printed(self) -> str:
        """As printed in a report's signature block: "审核 / Reviewed"."""
        return f"{self.zh} / {self.en.removesuffix(' by')}"


class SignOffDone(Labelled):
    """The confirmation shown after a sign-off request succeeded, by what was signed."""

    REVIEW = "review", "已审核签名", "reviewed and signed"
    APPROVAL = "approval", "已批准签发", "approved and released"
    REJECTION = "rejection", "已退回", "sent back"


class ReportStatus(Labelled):
    ISSUED = "issued", "有效", "valid"
    SUPERSEDED = "superseded", "已被更正报告替代", "superseded by an amended report"


# ---------------------------------------------------------------------------------------- instruments, outbox, audit


class ParseStatus(Labelled):
    """What became of a raw capture (every byte is stored before it is parsed)."""

    PENDING = "pending", "待解析", "pending"
    PARSED = "parsed", "已解析", "parsed"
    ERROR = "error", "解析错误", "parse error"
    REJECTED = "rejected", "已拒收", "rejected (framing)"
    INCOMPLETE = "incomplete", "不完整", "incomplete"
    DUPLICATE = "duplicate", "重复", "duplicate"


class OutboxStatus(Labelled):
    """An upstream message in the transactional outbox."""

    PENDING = "pending", "待发送", "pending"
    DELIVERED = "delivered", "已送达", "delivered"
    DEAD = "dead", "投递失败（待人工处理）", "dead-lettered"


class AuditAction(Labelled):
    CREATE = "create", "新建", "create"
    UPDATE = "update", "修改", "update"
    DELETE = "delete", "删除", "delete"
    SIGN = "sign", "签名", "sign"
    LOGIN = "login", "登录", "log in"
    LOGOUT = "logout", "退出登录", "log out"
    REVOKE = "revoke", "吊销令牌", "revoke a token"
    REDACT = "redact", "涂销密文（保留指纹）", "redact a secret (fingerprint kept)"


# ---------------------------------------------------------------------------------------- proficiency testing


class RoundStatus(Labelled):
    """A PT round run by this lab as provider (ISO/IEC 17043)."""

    DRAFT = "draft", "草稿", "draft"
    OPEN = "open", "接收结果中", "open for results"
    CLOSED = "closed", "已截止", "closed"
    SCORED = "scored", "已评价", "scored"
    PUBLISHED = "published", "已发布", "published"


class NonconformityStatus(Labelled):
    """Nonconforming work and its corrective action (ISO/IEC 17025:2017 7.10, 8.7)."""

    OPEN = "open", "已登记", "open"
    ROOT_CAUSE = "root_cause", "已分析原因", "root cause found"
    ACTION = "action", "已采取措施", "action taken"
    VERIFIED = "verified", "已验证有效性", "effectiveness verified"
    CLOSED = "closed", "已关闭", "closed"


#: Every labelled enum of the domain, by class name (for the web UI's ``label`` filter and for tests).
VOCABULARY: dict[str, type[Labelled]] = {cls.__name__: cls for cls in (
    Role, UserKind, Permission, SampleStatus, CustodyKind, ProgrammeType, ProducerKind, SamplingLink, AssignmentStatus,
    AnalysisKind, AnalysisStatus, ResultStatus, Qualitative, Verdict, BatchStatus, QcKind, QcOutcome,
    SignatureMeaning, SignOffDone, ReportStatus, ParseStatus, OutboxStatus, AuditAction, RoundStatus,
    NonconformityStatus, CommodityLevel, MatchedVia, LimitFlag, LimitJudgementKind, Detection)}


# The quality system's enums (issue 15) live in lims.quality.vocabulary; registered here as well.
from lims.quality import vocabulary as _quality_vocabulary  # noqa: E402

VOCABULARY.update(_quality_vocabulary.ENUMS)
from lims.quality import registers_vocab as _registers_vocab  # noqa: E402

VOCABULARY.update(_registers_vocab.ENUMS)
