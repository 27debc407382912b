"""Words of the web UI: navigation, refusal texts by stable code, form fields.

Statuses, verdicts, kinds, roles and permissions carry their own labels (:mod:`lims.vocabulary`); pages
show them with the ``label`` filter (``{{ sample.status | label(SampleStatus) }}``).

Refusals are shown in Chinese by their stable ``code`` (:data:`ERROR_ZH`, lims.services.errors), never by
the wording of the English message, which follows in small print.
"""

from __future__ import annotations

from api.security import CSRF_FAILED, Permission

P = Permission

#: Navigation: (Chinese, English caption, path, permission needed to see the item).
NAV = (("样品", "Samples", "/samples", P.SAMPLES_READ), ("待审核", "Review", "/review", P.RESULTS_READ),
       ("批次", "Batches", "/batches", P.RESULTS_READ), ("报告", "Reports", "/reports", P.REPORTS_READ),
       ("能力验证", "PT", "/pt", P.PT_READ), ("仪器", "Instruments", "/instruments", P.INSTRUMENTS_READ),
       ("审计", "Audit", "/audit", P.AUDIT_READ), ("用户", "Accounts", "/admin/users", P.USERS_MANAGE))
#: Refusal codes (``detail.code``: lims.services.errors, api.security, the forms below) → the Chinese shown
#: first on the page. tests/api/test_error_codes.py fails on a code raised without an entry here.
ERROR_ZH = {
    "upstream.payload_invalid": "上报数据不符合数据结构（JSON Schema），未批准：请按提示更正所列字段",
    "upstream.unknown_status": "未知的上报状态（待发送 / 已送达 / 投递失败）",
    "upstream.nothing_to_requeue": "请指定要重新投递的消息，或选择全部投递失败的消息",
    "upstream.not_dead": "该消息不处于投递失败状态，无需重新投递",
    "upstream.unknown_schema": "没有此名称的数据结构",
    "auth.wrong_password": "密码错误，未签名。请重新输入您本人的登录密码",
    "auth.login_failed": "登录失败：用户名或密码错误",
    "auth.account_disabled": "该账户已停用，请联系系统管理员",
    "auth.login_throttled": "登录失败次数过多，请按提示的秒数等待后重试",
    "auth.login_busy": "同时登录的请求过多，请 1 秒后重试",
    "auth.signature_throttled": "签名密码错误次数过多，请按提示的秒数等待后重试",
    "auth.token_for_other": "令牌只能由本人为自己创建；程序访问请使用服务账户及其接口密钥",
    "auth.weak_password": "密码不符合要求：至少 12 个字符，不得为常见密码，不得包含用户名",
    "auth.bad_username": "用户名不符合要求：1–60 个字符，不得含空格、控制字符、不可见字符或冒号",
    "auth.not_admin": "只有系统管理员可以管理账户",
    "auth.last_admin": "不能停用或撤销最后一名在用系统管理员",
    "auth.self_disable": "不能停用本人的账户",
    "auth.service_no_password": "服务账户没有密码，只使用接口密钥",
    "auth.old_password_wrong": "原密码错误",
    "db.unavailable": "数据库暂时无法连接，系统将在数据库恢复后自动恢复服务",
    "db.busy": "数据库繁忙，请稍后重试",
    "ui.passwords_differ": "两次输入的新密码不一致",
    CSRF_FAILED: "表单已失效，请刷新页面后重试",
    "signoff.reviewer_is_analyst": "职责分离：审核人不得为该结果的检验人",
    "signoff.approver_not_independent": "职责分离：批准人不得为该结果的检验人或审核人",
    "signoff.no_signatory_authority": "您没有该检测方法的授权签字人资格",
    "signoff.missing_role": "您不具备该签名所需的角色",
    "signoff.not_authored": "检验人尚未签名（检验），不能审核",
    "signoff.rejection_needs_reason": "退回必须填写原因（至少 5 个字）",
    "signoff.limit_judgement_required": "该结果无限量标准：批准前须由批准人明确判定（不适用限量，或依据指定标准、给定限量值及其出处判定）",
    "limits.unknown_name": "限量查询：未找到该产品或检测项目（可用中文名、英文名或代码）",
    "limits.ambiguous_name": "限量查询：名称对应多个产品或项目，请使用代码",
    "limits.judgement_incomplete": "限量判定不完整：请填写理由、标准名称及条款，或限量值及其出处",
    "limits.judgement_not_applicable": "该结果已有适用限量（或已判定），无需批准人另行判定",
    "batch.qc_failed": "批次质控未通过，结果暂停，不能审核",
    "batch.qc_pending": "批次质控尚未判定，结果暂停，不能审核",
    "result.not_to_be_reviewed": "结果不是“待审核”状态",
    "result.not_reviewed": "结果尚未审核，不能批准",
    "result.not_rejectable": "只能退回尚未批准的结果",
    "result.not_identified": "保留时间或离子丰度比不符合确证鉴定要求，不能报告为检出，请复测",
    "result.already_current": "该检测项目已有当前或已批准的结果，不能再生成新结果；如需更正，请走更正（修订）流程",
    "result.amendment_in_progress": "该结果已有正在进行的更正，请刷新后查看",
    "result.needs_batch_qc": "确证方法的结果必须属于已通过质控的批次，不能在无批次质控的情况下手工录入",
    "signoff.already_signed": "该结果的此项签名已由他人或另一次提交完成，请刷新后查看",
    "batches.curve_fit_missing": "该标准曲线没有保存拟合结果（早期版本），请重新保存曲线（新版本）后再定量",
    "batches.is_response_missing": "内标法定量需要内标峰响应值（大于 0）",
    "batches.solvent_curve_missing": "基质匹配校准须同时提供溶剂标准曲线，以记录基质效应 ME %",
    "batches.standard_addition_sample": "标准加入法曲线只能用于其所加标的那份样品",
    "batches.bracketing_ccv_missing": "穿插校准须指定样品前后各一个本批次该组分的连续校准核查（CCV）",
    "batches.bracketing_ccv_failed": "样品前后的连续校准核查（CCV）偏差超出方法限值，请重新进样",
    "report.no_certified_results": "该样品没有已批准的结果，不能出具报告",
    "report.needs_amendment_reason": "该样品已有报告；如需更正，请填写更正原因",
    "report.language_invalid": "报告语言只能是中文或英文",
    "report.no_sample_chosen": "请选择样品",
    "report.file_altered": "报告文件与签发时的文件不一致（哈希值不符），已拒绝下载，请联系质量负责人",
    "report.file_missing": "报告文件不在归档中，请联系质量负责人",
    "ui.no_result_selected": "请至少勾选一条结果",
    "ui.password_required": "电子签名须重新输入您的登录密码",
    "not_found": "记录不存在",
    "sample.reported": "该样品已出具报告：样品信息的更正须通过更正报告（报告修订）进行",
    "request.nul_character": "提交的内容含有空字符（NUL），无法保存，请删除后重试",
    "request.too_large": "提交的内容过大，超过该功能允许的大小，未写入任何数据",
    "pt.participant_not_bound": "该参加者代码未绑定到您的账号：不能提交或修改其他参加者的结果",
    "workflow.illegal_transition": "记录的当前状态不允许此操作",
    "quality.unknown_value": "取值不在允许范围内，请从列出的选项中选择",
    "quality.missing_text": "必填项未填写",
    "quality.dates_out_of_order": "日期先后顺序不正确（如到期日早于开始日、有效期早于生产日期，或日期在将来）",
    "quality.bad_value": "数值无效（须为有限的正数或非负数）",
    "quality.file_too_large": "附件文件超过大小限制，未保存",
    "quality.exception_too_long": "仪器特例使用期限过长：特例须限期（最长 30 天）",
    "quality.limits_out_of_order": "限值上限低于下限，请更正",
    "material.expired": "该试剂/标准物质批次已过期（或开封后超过使用期限），不能用于本批次或标准曲线",
    "material.exists": "该试剂/标准物质批次编号已存在",
    "staff.not_authorised": "按人员授权矩阵，您未被授权对该方法（或仪器）进行此项工作，或授权已过期",
    "env.exists": "该环境监控点编号已存在",
    "env.duplicate": "该监控点在此时间已有记录",
    "env.sensor_unreachable": "无法读取温湿度传感器（Modbus），请检查传感器连接",
    "env.no_sensor": "该监控点未配置传感器",
    "env.probe_fault": "温湿度传感器报告探头故障，未记录读数",
    "quality.containment_mismatch": "该控制措施不适用于此类记录（暂停工作针对方法或仪器，召回针对已发报告）",
    "quality.nc_closed": "该不符合工作已关闭（或已验证），不能再修改",
    "quality.report_not_issued": "没有该编号的现行已发报告，不能召回",
    "quality.action_done": "该纠正措施已完成",
    "quality.no_actions": "尚未制定纠正措施",
    "quality.actions_open": "还有纠正措施未完成",
    "quality.not_effective": "纠正措施未见效：请制定并完成新的措施后再验证",
    "quality.bad_target": "质控靶值无效：标准差须大于 0",
    "quality.too_few_runs": "本实验室该质控品的可接受运行次数不足 20 次，不能据此计算靶值",
    "quality.unknown_rule": "无法识别的 Westgard 规则（如 1-3s、2-2s、R-4s、4-1s、10x）",
    "quality.no_target": "该质控品水平尚未设定靶值和标准差",
    "quality.bad_qc_values": "质控数据无效（须为有限数值，按运行顺序排列）",
    "quality.unknown_clause": "条款编号不在条款库中",
    "quality.duplicate_code": "该编号已存在",
    "quality.audit_completed": "该审核已完成，不能再添加发现",
    "quality.report_withheld": "该样品的报告因未关闭的不符合工作而暂停发放，须先处理该不符合",
    "quality.document_not_approved": "只有已批准的现行版本才能分发",
    "workflow.guard_refused": "不满足该状态变更的前提条件（如职责分离、必填记录）",
}
#: A refusal without a code (or with one not listed): said plainly, the service's English follows.
GENERIC_ERROR_ZH = "操作未完成，未写入任何数据"
FIELD_ZH = {"password": "密码", "result_ids": "所选结果", "reason": "退回原因", "sample_code": "样品",
            "amendment_reason": "更正原因", "language": "报告语言", "profile": "仪器配置", "code": "编号"}

