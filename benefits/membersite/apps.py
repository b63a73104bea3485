from django.apps import AppConfig


class MembersiteConfig(AppConfig):
    """The members' own site (/me/): sign-in by ID number + SMS code, my card, my details.
    Reads members and issuance; staff pages never import it."""

    name = "benefits.membersite"
    label = "membersite"
    verbose_name = "会员网站"

    def ready(self) -> None:
        from cardportal.audit import register_verbs

        register_verbs(
            {
                "member.signin_code_requested": "会员申请登录验证码",
                "member.signed_in": "会员登录会员网站",
                "member.signed_out": "会员退出会员网站",
                "member.phone_changed": "会员更换手机号",
                "member.api_token_issued": "会员接口令牌签发",
            }
        )
