"""File layouts of an issuing partner: the hand-off list (批量办理借记卡明细清单) and the return
file. A partner's JSON (edited in admin) is merged over these defaults, and checked here."""

from django.core.exceptions import ValidationError

# What a hand-off column can hold. Full ID numbers and phones appear only in this file.
HANDOFF_FIELDS = {
    "seq": "序号",
    "name": "姓名",
    "id_type": "证件类型",
    "id_number": "证件号码",
    "gender": "性别",
    "birth_date": "出生日期",
    "phone": "手机号码",
    "work_unit": "工作单位",
    "union": "基层工会",
    "union_code": "基层工会代码",
    "hardship": "困难职工",
    "replacement": "补卡",
    "card_ref": "申请编号",
}

DEFAULT_HANDOFF = {
    "sheet": "批量办理借记卡明细清单",
    "filename": "{partner}_批量办理借记卡明细清单_{batch}_{date}",
    "format": "xlsx",
    "columns": [
        {"title": "序号", "field": "seq"},
        {"title": "姓名", "field": "name"},
        {"title": "证件类型", "field": "id_type"},
        {"title": "证件号码", "field": "id_number"},
        {"title": "性别", "field": "gender"},
        {"title": "手机号码", "field": "phone"},
        {"title": "单位名称", "field": "work_unit"},
        {"title": "基层工会", "field": "union"},
        {"title": "困难职工", "field": "hardship"},
        {"title": "补卡", "field": "replacement"},
    ],
}

# Return file: each logical column is found by any of these header titles.
DEFAULT_RETURN = {
    "id_number": ["证件号码", "身份证号", "身份证号码", "证件号", "id_number"],
    "number": ["卡号", "银行卡号", "借记卡号", "账号", "card_number"],
    "status": ["状态", "开卡状态", "处理结果", "结果", "status"],
    "reason": ["失败原因", "原因", "备注", "reason"],
    "success_values": ["成功", "开卡成功", "已开卡", "正常", "success", "ok", "0", "00"],
}

DEFAULT_ACTIVATION = {
    "number": ["卡号", "银行卡号", "借记卡号", "card_number"],
    "date": ["激活日期", "启用日期", "日期", "activated_on", "date"],
}


# A function partner (IssuingPartner.role "function": the transit company) gets the cards the bank
# made: it needs the card number (in full, as the bank's hand-off has full ID numbers: an audited
# download for the BANK_FILES roles only) and no more than a masked ID to tell the holder.
FUNCTION_HANDOFF_FIELDS = {
    "seq": "序号",
    "name": "姓名",
    "id_masked": "证件号码（脱敏）",
    "card_number": "卡号",
    "union": "基层工会",
    "card_ref": "申请编号",
}

DEFAULT_FUNCTION_HANDOFF = {
    "sheet": "交通功能开通清单",
    "filename": "{partner}_交通功能开通清单_{batch}_{date}",
    "format": "xlsx",
    "columns": [
        {"title": "序号", "field": "seq"},
        {"title": "卡号", "field": "card_number"},
        {"title": "姓名", "field": "name"},
        {"title": "证件号码", "field": "id_masked"},
        {"title": "基层工会", "field": "union"},
    ],
}

# A function return names each card by its number, with the partner's verdict and reason.
DEFAULT_FUNCTION_RETURN = {
    "number": ["卡号", "银行卡号", "会员卡号", "card_number"],
    "status": ["开通结果", "处理结果", "状态", "结果", "status"],
    "reason": ["未开通原因", "失败原因", "原因", "备注", "reason"],
    "success_values": ["已开通", "开通成功", "成功", "success", "ok"],
    "failure_values": ["未开通", "开通失败", "失败", "拒绝", "failed", "refused"],
}


def is_function_partner(partner) -> bool:
    return partner is not None and partner.role == "function"


def handoff_layout(partner) -> dict:
    if is_function_partner(partner):
        layout = {**DEFAULT_FUNCTION_HANDOFF, **(partner.handoff_layout or {})}
        validate_function_handoff_layout(layout)
        return layout
    layout = {**DEFAULT_HANDOFF, **(partner.handoff_layout or {})}
    validate_handoff_layout(layout)
    return layout


def return_layout(partner) -> dict:
    if is_function_partner(partner):
        return {**DEFAULT_FUNCTION_RETURN, **(partner.return_layout or {})}
    return {**DEFAULT_RETURN, **(partner.return_layout or {})} if partner else dict(DEFAULT_RETURN)


def _validate_columns(layout: dict, fields: dict, required: str, required_title: str) -> None:
    columns = layout.get("columns")
    if not isinstance(columns, list) or not columns:
        raise ValidationError("报送文件格式须有 columns 列表")
    for i, col in enumerate(columns, start=1):
        if not isinstance(col, dict) or col.get("field") not in fields or not col.get("title"):
            raise ValidationError(
                f'第{i}列格式不对：须为 {{"title": 表头, "field": 字段}}，字段可选 {", ".join(fields)}'
            )
    if not any(c["field"] == required for c in columns):
        raise ValidationError(f"报送文件须包含{required_title}列（field: {required}）")


def validate_function_handoff_layout(layout: dict) -> None:
    """A function partner's hand-off: its own fields (no full ID number, no phone)."""
    _validate_columns(layout, FUNCTION_HANDOFF_FIELDS, "card_number", "卡号")
    _validate_file_options(layout)


def validate_handoff_layout(layout: dict) -> None:
    _validate_columns(layout, HANDOFF_FIELDS, "id_number", "证件号码")
    _validate_file_options(layout)


def _validate_file_options(layout: dict) -> None:
    if layout.get("format", "xlsx") not in ("xlsx", "csv"):
        raise ValidationError("format 只能是 xlsx 或 csv")
    if len(str(layout.get("sheet", ""))) > 31:
        raise ValidationError("工作表名不能超过31个字符")


def validate_return_layout(layout: dict) -> None:
    for key in ("id_number", "number", "status", "reason", "success_values", "failure_values"):
        value = layout.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise ValidationError(f"回盘文件格式的 {key} 须为字符串列表")
