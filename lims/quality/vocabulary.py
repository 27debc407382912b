"""The quality system's enums (nonconformities, audits, complaints, documents) with zh-CN/English labels.

Pure like :mod:`lims.vocabulary`, which registers them in its ``VOCABULARY``."""

from __future__ import annotations

from lims.vocabulary import Labelled


class NcRisk(Labelled):
    """Risk grade of a nonconformity (ISO/IEC 17025:2017 7.10.1 b): decides the containment."""

    LOW = "low", "低风险", "low"
    MEDIUM = "medium", "中风险", "medium"
    HIGH = "high", "高风险", "high"


class NcSource(Labelled):
    """Where a nonconformity was raised from."""

    MANUAL = "manual", "人工登记", "raised by hand"
    AUDIT = "audit", "审核发现", "audit finding"
    QC = "qc", "质控失控", "failed QC run"
    PT = "pt", "能力验证不满意", "unsatisfactory PT score"
    COMPLAINT = "complaint", "投诉", "complaint"
    CALIBRATION = "calibration", "仪器检定/校准过期", "overdue calibration"
    MATERIAL = "material", "使用过期标准物质/试剂", "expired material used"
    ENVIRONMENT = "environment", "环境条件超限", "environment out of range"


class NcLinkKind(Labelled):
    """What a nonconformity affects or came from."""

    RESULT = "result", "检测结果", "result"
    REPORT = "report", "检验报告", "report"
    BATCH = "batch", "批次", "batch"
    METHOD = "method", "检测方法", "method"
    INSTRUMENT = "instrument", "仪器", "instrument"
    QC_RUN = "qc_run", "质控运行", "QC run"
    FINDING = "finding", "审核发现", "audit finding"
    COMPLAINT = "complaint", "投诉", "complaint"
    MATERIAL = "material", "试剂/标准物质批次", "material lot"
    ENV_LOCATION = "env_location", "环境监控点", "monitored location"


class Containment(Labelled):
    """Containment of nonconforming work (7.10.1): what is stopped, withheld or recalled."""

    STOP_WORK = "stop_work", "暂停工作", "stop work"
    WITHHOLD = "withhold", "暂停发放报告", "withhold reports"
    RECALL = "recall", "召回已发报告", "recall issued reports"
    NOTE = "note", "仅记录", "recorded only"


class AuditKind(Labelled):
    """Audits and inspections (17025 8.8; RB/T 214; CNAS/CMA assessments)."""

    INTERNAL = "internal", "内部审核", "internal audit"
    EXTERNAL = "external", "外部评审（CNAS/CMA）", "external assessment (CNAS/CMA)"
    FLIGHT = "flight", "飞行检查", "flight inspection"
    SUPERVISORY = "supervisory", "监督检查", "supervisory check"


class AuditStatus(Labelled):
    PLANNED = "planned", "已计划", "planned"
    IN_PROGRESS = "in_progress", "进行中", "in progress"
    COMPLETED = "completed", "已完成", "completed"


class FindingGrade(Labelled):
    MAJOR = "major", "严重不符合", "major"
    MINOR = "minor", "一般不符合", "minor"
    OBSERVATION = "observation", "观察项", "observation"


class ComplaintStatus(Labelled):
    """A complaint (17025 7.9): received → investigating → resolved → closed."""

    RECEIVED = "received", "已受理", "received"
    INVESTIGATING = "investigating", "调查中", "investigating"
    RESOLVED = "resolved", "已处理", "resolved"
    CLOSED = "closed", "已关闭", "closed"


class DocumentStatus(Labelled):
    """A controlled document version (17025 8.3): draft → approved → obsolete."""

    DRAFT = "draft", "草稿", "draft"
    APPROVED = "approved", "已批准（现行）", "approved (current)"
    OBSOLETE = "obsolete", "已作废", "obsolete (withdrawn)"


ENUMS: dict[str, type[Labelled]] = {cls.__name__: cls for cls in (
    NcRisk, NcSource, NcLinkKind, Containment, AuditKind, AuditStatus, FindingGrade, ComplaintStatus, DocumentStatus)}
