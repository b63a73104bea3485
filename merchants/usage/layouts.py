"""Transaction-feed layouts of an issuing partner (交易明细文件格式), defined like the hand-off and
return layouts of `issuance.layouts`: defaults here, a partner's JSON (`PartnerFeed.layout`,
edited in the admin) merged over the default it names, and checked here.

A layout says how to find each field and how to read its values:

* `base`: which default it starts from ("bank": a header row, .csv/.xlsx/.txt; "bank_fixed": a
  fixed-width .txt without a header; "transit": a "|"-delimited .txt without a header);
* `columns`: field -> header titles (files with a header row), or `positional`: the fields in
  column order (headerless .txt), with `delimiter` or fixed `widths` (byte spans) and
  `skip_lines` (a header record);
* `time_formats` (strptime), `amount_unit` ("yuan" or "fen"), `channel_values` and `kind_values`
  (the partner's codes for our channel and kind), `default_channel` (a transit partner sends none).
"""

from django.core.exceptions import ValidationError

from cardportal.tables import HeaderSpec, TextLayout

FIELDS = {
    "reference": "交易参考号",
    "card_number": "卡号",
    "txn_at": "交易时间",
    "amount": "交易金额",
    "mid": "商户号",
    "merchant_name": "商户名称",
    "mcc": "MCC",
    "channel": "渠道",
    "kind": "交易类型",
    "original_reference": "原交易参考号",
}
REQUIRED = ("reference", "card_number", "txn_at", "amount")

_VALUES = {
    "channel_values": {
        "pos": ["pos", "POS", "刷卡", "POS消费", "01"],
        "online": ["online", "线上", "网上支付", "快捷支付", "02"],
        "atm": ["atm", "ATM", "取现", "03"],
        "transit": ["transit", "公交", "地铁", "交通", "04"],
    },
    "kind_values": {
        "purchase": ["purchase", "消费", "00", ""],
        "refund": ["refund", "退货", "退款", "20"],
        "reversal": ["reversal", "冲正", "撤销", "40"],
    },
    "time_formats": ["%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y%m%d%H%M%S", "%Y-%m-%d %H:%M"],
    "amount_unit": "yuan",
    "default_channel": "",
}

DEFAULT_FEEDS = {
    "bank": {
        "label": "银行日交易明细（含表头：.csv / .xlsx / .txt）",
        "columns": {
            "reference": ["交易参考号", "参考号", "交易流水号", "流水号", "reference"],
            "card_number": ["卡号", "交易卡号", "银行卡号", "card_number"],
            "txn_at": ["交易时间", "交易日期时间", "txn_at"],
            "amount": ["交易金额", "金额", "amount"],
            "mid": ["商户号", "商户编号", "mid"],
            "merchant_name": ["商户名称", "商户名", "merchant_name"],
            "mcc": ["MCC", "商户类别码", "mcc"],
            "channel": ["渠道", "交易渠道", "channel"],
            "kind": ["交易类型", "类型", "kind"],
            "original_reference": ["原交易参考号", "原参考号", "原流水号", "original_reference"],
        },
        **_VALUES,
    },
    "bank_fixed": {
        "label": "银行日交易明细（定长 .txt）",
        # 交易参考号(24) 卡号(19) 交易时间 yyyymmddHHMMSS(14) 金额 分(12) 商户号(15) MCC(4) 渠道(2)
        # 交易类型(2) 原交易参考号(24) 商户名称(40, GBK 字节)
        "positional": [
            "reference",
            "card_number",
            "txn_at",
            "amount",
            "mid",
            "mcc",
            "channel",
            "kind",
            "original_reference",
            "merchant_name",
        ],  # fmt: skip
        "widths": [
            [0, 24],
            [24, 43],
            [43, 57],
            [57, 69],
            [69, 84],
            [84, 88],
            [88, 90],
            [90, 92],
            [92, 116],
            [116, 156],
        ],
        "skip_lines": 1,
        **_VALUES,
        "amount_unit": "fen",
    },
    "transit": {
        "label": "公交/地铁刷卡明细（“|”分隔 .txt）",
        "positional": [
            "reference",
            "card_number",
            "txn_at",
            "amount",
            "mid",
            "merchant_name",
            "kind",
            "original_reference",
        ],
        "delimiter": "|",
        "skip_lines": 0,
        **_VALUES,
        "default_channel": "transit",
    },
}


def feed_layout(base: str, overrides: dict | None = None) -> dict:
    """The layout `base` with a partner's `overrides` merged over it (checked)."""
    if base not in DEFAULT_FEEDS:
        raise ValidationError(f"未知的文件格式“{base}”，可选：{'、'.join(DEFAULT_FEEDS)}")
    layout = {**DEFAULT_FEEDS[base], **(overrides or {})}
    validate_feed_layout(layout)
    return layout


def validate_feed_layout(layout: dict) -> None:
    columns, positional = layout.get("columns"), layout.get("positional")
    if bool(columns) == bool(positional):
        raise ValidationError("交易明细格式须有 columns（按表头）或 positional（按列序）之一")
    named = set(columns or {}) | {f for f in positional or [] if f}
    unknown = named - set(FIELDS)
    if unknown:
        raise ValidationError(f"未知字段：{'、'.join(sorted(unknown))}；可选 {', '.join(FIELDS)}")
    missing = [FIELDS[f] for f in REQUIRED if f not in named]
    if missing:
        raise ValidationError(f"交易明细格式缺少必需字段：{'、'.join(missing)}")
    if columns and not all(
        isinstance(v, list) and all(isinstance(t, str) for t in v) for v in columns.values()
    ):
        raise ValidationError("columns 的每个字段须为表头名称的列表")
    widths = layout.get("widths") or []
    if widths and (
        len(widths) != len(positional or [])
        or not all(isinstance(w, list) and len(w) == 2 and 0 <= w[0] < w[1] <= 4096 for w in widths)
    ):
        raise ValidationError("widths 须与 positional 一一对应，每项为 [起始字节, 结束字节]")
    if layout.get("amount_unit") not in ("yuan", "fen"):
        raise ValidationError("amount_unit 只能是 yuan（元）或 fen（分）")
    if not layout.get("time_formats"):
        raise ValidationError("time_formats 不能为空")


def header_spec(layout: dict) -> HeaderSpec:
    if layout.get("positional"):
        return HeaderSpec({}, (), positional=tuple(layout["positional"]))
    aliases = {title: name for name, titles in layout["columns"].items() for title in titles}
    required = tuple(f for f in REQUIRED if f in layout["columns"])
    return HeaderSpec(aliases, required, missing_message=missing_header_message(layout))


def text_layout(layout: dict) -> TextLayout | None:
    if not layout.get("positional"):
        return None
    return TextLayout(
        delimiter=layout.get("delimiter", ""),
        widths=tuple(tuple(w) for w in layout.get("widths") or ()),
        skip_lines=int(layout.get("skip_lines", 0)),
    )


def missing_header_message(layout: dict) -> str:
    titles = "、".join(layout["columns"][f][0] for f in REQUIRED if f in layout["columns"])
    return f"找不到表头：前30行中没有同时包含{titles}的一行，请确认上传的是交易明细文件"


def value_map(layout: dict, key: str) -> dict[str, str]:
    """The partner's code (as in the file, stripped) -> our value."""
    return {code.strip(): ours for ours, codes in layout[key].items() for code in codes}
