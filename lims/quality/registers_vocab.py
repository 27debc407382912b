"""Enums of the quality registers (instruments, materials, staff, environment) with zh-CN/English labels.

Pure like :mod:`lims.vocabulary`, which registers them in its ``VOCABULARY``."""

from __future__ import annotations

from lims.vocabulary import Labelled


class InstrumentCheckKind(Labelled):
    """What was done to an instrument (RB/T 214 4.4.3; ISO/IEC 17025:2017 6.4.7, 6.4.10, 6.4.13)."""

    CALIBRATION = "calibration", "校准", "calibration"
    VERIFICATION = "verification", "检定", "verification (legal metrology)"
    INTERMEDIATE = "intermediate_check", "期间核查", "intermediate check"
    MAINTENANCE = "maintenance", "维护保养", "maintenance"
    REPAIR = "repair", "维修", "repair"


class CheckOutcome(Labelled):
    PASS = "pass", "合格", "pass"
    FAIL = "fail", "不合格", "fail"
    NOT_APPLICABLE = "n/a", "不适用", "not applicable"


class Fitness(Labelled):
    """Whether an instrument may feed results now."""

    FIT = "fit", "可用", "fit for use"
    OVERDUE = "overdue", "检定/校准过期", "calibration overdue"
    FAILED = "failed", "检定/校准或核查不合格", "calibration or check failed"
    NEVER = "never_calibrated", "无检定/校准记录", "never calibrated"
    OUT_OF_SERVICE = "out_of_service", "停用", "out of service"
    EXCEPTION = "exception", "质量负责人特批（限期）", "QA manager's time-limited exception"


class MaterialKind(Labelled):
    REAGENT = "reagent", "试剂", "reagent"
    STANDARD = "standard", "标准物质（标准品）", "standard"
    REFERENCE = "reference_material", "有证标准物质", "certified reference material"
    SOLUTION = "solution", "实验室配制标准溶液", "standard solution prepared in the lab"


class TrainingKind(Labelled):
    TRAINING = "training", "培训", "training"
    COMPETENCE = "competence", "能力评估（上岗考核）", "competence assessment"


class EnvLocationKind(Labelled):
    ROOM = "room", "实验室房间", "room"
    REFRIGERATOR = "refrigerator", "冰箱/冷藏柜", "refrigerator"
    SAMPLE_STORAGE = "sample_storage", "样品储存区", "sample storage"


ENUMS: dict[str, type[Labelled]] = {cls.__name__: cls for cls in (
    InstrumentCheckKind, CheckOutcome, Fitness, MaterialKind, TrainingKind, EnvLocationKind)}
