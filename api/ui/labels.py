"""Words of the web UI: navigation, refusal texts by stable code, permissions and roles, form fields.

Refusals are shown in Chinese by their stable ``code`` (:data:`ERROR_ZH`, lims.services.errors), never by
the wording of the English message, which follows in small print.
"""

from __future__ import annotations

from api.security import CSRF_FAILED, Permission
from lims.db.models import Role

P = Permission

#: Navigation: (Chinese, English caption, path, permission needed to see the item).
NAV = (("样品", "Samples", "/samples", P.SAMPLES_READ), ("待审核", "Review", "/review", P.RESULTS_READ),
       ("批次", "Batches", "/batches", P.RESULTS_READ), ("报告", "Reports", "/reports", P.REPORTS_READ),
       ("能力验证", "PT", "/pt", P.PT_READ), ("仪器", "Instruments", "/instruments", P.INSTRUMENTS_READ),
       ("审计", "Audit", "/audit", P.AUDIT_READ))
SAMPLE_STATUS_ZH = {"registered": "已登记", "received": "已接收", "in_analysis": "检测中", "to_be_reviewed": "待审核",
                    "reviewed": "已审核", "approved": "已批准", "reported": "已出报告", "rejected": "已退回",
                    "retest": "待复检", "amended": "已更正"}
RESULT_STATUS_ZH = {"to_be_reviewed": "待审核", "reviewed": "已审核", "certified": "已批准", "reported": "已出报告",
                    "rejected": "已退回", "retest": "复检", "superseded": "已被更正版本替代"}
VERDICT_ZH = {"compliant": "合格", "non_compliant": "不合格", "compliant_within_uncertainty": "合格（在不确定度范围内）",
              "not_evaluated": "未判定", "banned_substance_detected": "检出禁用药物",
              "screen_negative": "筛查阴性", "screen_positive": "筛查阳性（需确证）", "screen_invalid": "筛查无效"}
ANALYSIS_STATUS_ZH = {"pending": "待检测", "in_analysis": "检测中", "to_be_reviewed": "已出结果", "rejected": "已退回"}
QUALITATIVE_ZH = {"negative": "阴性", "positive": "阳性", "invalid": "无效"}
ANALYSIS_KIND_ZH = {"screening": "快速筛查", "confirmatory": "确证检测"}
BATCH_STATUS_ZH = {"open": "进行中", "qc_passed": "质控通过", "qc_failed": "质控失败（结果暂停）", "closed": "已关闭"}
QC_KIND_ZH = {"reagent_blank": "试剂空白", "matrix_blank": "基质空白", "spike": "加标回收", "duplicate": "平行样",
              "ccv": "连续校准核查 CCV", "reference_material": "标准物质"}
QC_OUTCOME_ZH = {"pass": "通过", "fail": "不通过", "pending": "待判定"}
CUSTODY_ZH = {"received": "接收", "stored": "入库", "subsampled": "分样", "moved": "流转", "retained": "留样",
              "disposed": "处置"}
REPORT_STATUS_ZH = {"issued": "有效", "superseded": "已被更正报告替代"}
CAPTURE_STATUS_ZH = {"pending": "待解析", "parsed": "已解析", "error": "解析错误", "rejected": "已拒收",
                     "incomplete": "不完整", "duplicate": "重复"}
AUDIT_ACTION_ZH = {"create": "新建", "update": "修改", "delete": "删除", "sign": "签名", "login": "登录"}
#: Confirmation lines after a successful signature (PRG: the POST redirects to /review?done=...).
DONE_ZH = {"review": "已审核签名", "approval": "已批准签发", "rejection": "已退回"}

#: Refusal codes (``detail.code``: lims.services.errors, api.security, the forms below) → the Chinese shown
#: first on the page. tests/api/test_error_codes.py fails on a code raised without an entry here.
ERROR_ZH = {
    "auth.wrong_password": "密码错误，未签名。请重新输入您本人的登录密码",
    CSRF_FAILED: "表单已失效，请刷新页面后重试",
    "signoff.reviewer_is_analyst": "职责分离：审核人不得为该结果的检验人",
    "signoff.approver_not_independent": "职责分离：批准人不得为该结果的检验人或审核人",
    "signoff.no_signatory_authority": "您没有该检测方法的授权签字人资格",
    "signoff.missing_role": "您不具备该签名所需的角色",
    "signoff.not_authored": "检验人尚未签名（检验），不能审核",
    "signoff.rejection_needs_reason": "退回必须填写原因（至少 5 个字）",
    "batch.qc_failed": "批次质控未通过，结果暂停，不能审核",
    "batch.qc_pending": "批次质控尚未判定，结果暂停，不能审核",
    "result.not_to_be_reviewed": "结果不是“待审核”状态",
    "result.not_reviewed": "结果尚未审核，不能批准",
    "result.not_rejectable": "只能退回尚未批准的结果",
    "report.no_certified_results": "该样品没有已批准的结果，不能出具报告",
    "report.needs_amendment_reason": "该样品已有报告；如需更正，请填写更正原因",
    "report.language_invalid": "报告语言只能是中文或英文",
    "report.no_sample_chosen": "请选择样品",
    "ui.no_result_selected": "请至少勾选一条结果",
    "ui.password_required": "电子签名须重新输入您的登录密码",
    "not_found": "记录不存在",
    "workflow.illegal_transition": "记录的当前状态不允许此操作",
}
#: A refusal without a code (or with one not listed): said plainly, the service's English follows.
GENERIC_ERROR_ZH = "操作未完成，未写入任何数据"
#: Permissions in words (Chinese, English) for the 403 page; the value itself is shown too.
PERMISSION_ZH = {
    P.SAMPLES_READ: ("查看样品", "view samples"), P.SAMPLES_WRITE: ("登记、修改样品", "register and edit samples"),
    P.RESULTS_READ: ("查看检测结果", "view results"), P.RESULTS_ENTER: ("录入检测结果", "enter results"),
    P.RESULTS_REVIEW: ("审核检测结果", "review results"),
    P.RESULTS_APPROVE: ("批准签发检测结果", "approve results"),
    P.REPORTS_READ: ("查看检验报告", "view reports"), P.REPORTS_ISSUE: ("签发检验报告", "issue reports"),
    P.LIMITS_READ: ("查看限量标准", "view MRLs"), P.LIMITS_MANAGE: ("维护限量标准", "manage MRLs"),
    P.PT_READ: ("查看能力验证", "view proficiency testing"), P.PT_SUBMIT: ("提交能力验证结果", "submit PT results"),
    P.PT_MANAGE: ("组织能力验证", "manage PT rounds"), P.AUDIT_READ: ("查看审计追踪", "read the audit trail"),
    P.INSTRUMENTS_READ: ("查看仪器状态", "view instruments"),
    P.INSTRUMENTS_WRITE: ("管理仪器（重新解析等）", "manage instruments (re-parse…)"),
    P.USERS_MANAGE: ("管理用户账户", "manage user accounts"), P.TASKS_READ: ("查看监测任务", "view monitoring tasks"),
    P.TASKS_MANAGE: ("管理监测任务", "manage monitoring tasks"), P.AUTHENTICATED: ("登录", "sign in"),
    P.ACCOUNT_SELF: ("管理本人账户", "manage one's own account"), P.PUBLIC: ("公开访问", "public"),
}
ROLE_ZH: dict[str, str] = {Role.TECHNICIAN: "检验员", Role.REVIEWER: "审核员", Role.APPROVER: "批准人（授权签字人）",
                           Role.QA_MANAGER: "质量负责人", Role.ADMIN: "系统管理员"}
FIELD_ZH = {"password": "密码", "result_ids": "所选结果", "reason": "退回原因", "sample_code": "样品",
            "amendment_reason": "更正原因", "language": "报告语言", "profile": "仪器配置", "code": "编号"}

