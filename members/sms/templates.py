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
}


def render_text(template: str, params: dict) -> str:
    return SIGNATURE + TEMPLATES[template]["text"].format(**params)


def label(template: str) -> str:
    return TEMPLATES.get(template, {}).get("label", template)
