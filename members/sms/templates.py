"""SMS templates: one text per template name, with {placeholders} for its parameters. A real
provider registers the same names as its own template ids (短信模板报备) and gets the parameters;
the console gateway formats the text itself."""

SIGNATURE = "【工会会员卡】"

TEMPLATES: dict[str, dict] = {
    "member_signin_code": {
        "label": "会员登录验证码",
        "text": "您的登录验证码为{code}，5分钟内有效。如非本人操作，请忽略本短信。",
        "secret": ("code",),
    },
    "member_phone_code": {
        "label": "更换手机号验证码",
        "text": "您正在将工会会员网站的手机号更换为本号码，验证码为{code}，5分钟内有效。如非本人操作，请忽略本短信。",
        "secret": ("code",),
    },
    "member_phone_changed": {
        "label": "手机号变更提醒（原号码）",
        "text": "您在工会登记的手机号已更换为{new_phone}。如非本人操作，请立即联系所在工会。",
    },
    # One template per member notice (members/sms/notices.py): the notice and its SMS say the same.
    "notice_card_ready": {
        "label": "卡片已到工会",
        "text": "您的工会会员卡（尾号{tail}）已到{union}，请带本人身份证到工会领取。",
    },
    "notice_card_activated": {
        "label": "卡片已激活",
        "text": "您的工会会员卡（尾号{tail}）已激活，可在特约商户享受会员优惠。",
    },
    "notice_aid_paid": {
        "label": "资金已到卡",
        "text": "{programme}{amount}元已发放到您的工会会员卡（尾号{tail}），请注意查收。",
    },
    "notice_claim_decided": {
        "label": "申请审核结果",
        "text": "您申请的{programme}（{amount}元）已审核：{decision}。详情请登录会员网站查看。",
    },
    "notice_activity": {
        "label": "工会活动",
        "text": "{title}，{when}。详情请登录会员网站查看。",
    },
}


def render_text(template: str, params: dict) -> str:
    return SIGNATURE + TEMPLATES[template]["text"].format(**params)


def label(template: str) -> str:
    return TEMPLATES.get(template, {}).get("label", template)
