"""OpenAPI description of the partner token (drf-spectacular knows knox's class, not our subclass)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class PartnerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "cardportal.authentication.PartnerTokenAuthentication"
    name = "partnerToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "银行/发卡机构经办账号的令牌：`Token cp_…`（POST /api/token/ 获取，90 天有效）",
        }
