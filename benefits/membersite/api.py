"""The member API (/api/me/): the members' site's reads for a future WeChat mini-program, plus
the SMS sign-in that gives a member token. Member authentication only (api_auth.py); every read
is of the authenticated member's own records, through the same selectors as the pages."""

from django.core import signing
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from cardportal.audit import client_ip
from cardportal.errors import ApplicationError
from issuance.services.functions import member_function_line
from members import corrections

from . import selectors, services
from .api_auth import (
    IsMember,
    MemberRateThrottle,
    MemberSessionAuthentication,
    MemberTokenAuthentication,
    member_token_issue,
    member_token_revoke,
)

CHALLENGE_SALT = "membersite.api.challenge"
CHALLENGE_MAX_AGE = 15 * 60


class MemberApi(APIView):
    """Base of every signed-in member endpoint: member authentication only."""

    authentication_classes = [MemberTokenAuthentication, MemberSessionAuthentication]
    permission_classes = [IsMember]
    throttle_classes = [MemberRateThrottle]

    @property
    def member(self):
        return self.request.user.member


# --- sign-in ------------------------------------------------------------------------------------


class MemberCodeRequestSerializer(serializers.Serializer):
    id_number = serializers.CharField(label="身份证号", max_length=30)


class MemberTokenRequestSerializer(serializers.Serializer):
    challenge = serializers.CharField(label="获取验证码时返回的 challenge", max_length=200)
    code = serializers.CharField(label="短信验证码", max_length=10)


class MemberSigninCodeApi(APIView):
    """Step 1: text a sign-in code to the registry phone of this ID number. The same answer
    whether or not the number is registered (no member enumeration); the same limits as the
    site. The `challenge` is signed and opaque: a client cannot point step 2 at someone else's."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=MemberCodeRequestSerializer,
        responses={
            202: inline_serializer("MemberCodeSent", {"challenge": serializers.CharField()}),
            400: OpenApiResponse(description="身份证号格式不对或获取过于频繁"),
        },
    )
    def post(self, request):
        given = MemberCodeRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        challenge = services.signin_code_request(
            id_number=given.validated_data["id_number"], ip=client_ip(request)
        )
        sealed = signing.dumps(challenge.pk, salt=CHALLENGE_SALT)
        return Response({"challenge": sealed}, status=status.HTTP_202_ACCEPTED)


class MemberSigninTokenApi(APIView):
    """Step 2: the code from the SMS gives a member token (`Authorization: Member <token>`,
    30 days; ends on sign-out or when the registry phone changes). Five tries per code."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=MemberTokenRequestSerializer,
        responses={
            200: inline_serializer(
                "MemberToken", {"token": serializers.CharField(), "expires_at": serializers.DateTimeField()}
            ),
            400: OpenApiResponse(description="验证码不正确、已过期、已使用或尝试次数过多"),
        },
    )
    def post(self, request):
        given = MemberTokenRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            challenge_id = signing.loads(
                given.validated_data["challenge"], salt=CHALLENGE_SALT, max_age=CHALLENGE_MAX_AGE
            )
        except signing.BadSignature as exc:
            raise ApplicationError("请先获取验证码", code="no_challenge") from exc
        ip = client_ip(request)
        member = services.signin_code_verify(
            challenge_id=challenge_id, code=given.validated_data["code"], ip=ip
        )
        token, text = member_token_issue(member=member, ip=ip)
        return Response({"token": text, "expires_at": token.expires_at})


class MemberSignoutApi(MemberApi):
    """Revoke the token this request carries (a session signs out on the site)."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        if request.auth is not None:
            member_token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- reads --------------------------------------------------------------------------------------


class MemberProfileSerializer(serializers.Serializer):
    name = serializers.CharField()
    id_number = serializers.CharField(source="masked_id", help_text="脱敏身份证号")
    phone = serializers.CharField(source="masked_phone", help_text="脱敏手机号")
    union = serializers.CharField(source="union.name")
    work_unit = serializers.CharField()
    consent = serializers.SerializerMethodField(
        help_text="最近一次办卡意愿：同意 true / 不同意 false / 未确认 null"
    )
    consent_at = serializers.SerializerMethodField()

    def _consent(self, member):
        if not hasattr(self, "_cached"):
            self._cached = corrections.consent_current(member=member)
        return self._cached

    def get_consent(self, member) -> bool | None:
        consent = self._consent(member)
        return consent.agreed if consent else None

    def get_consent_at(self, member) -> str | None:
        consent = self._consent(member)
        return consent.at.isoformat() if consent else None


class MemberProfileApi(MemberApi):
    """我的信息: the member's own registry data, masked."""

    @extend_schema(responses=MemberProfileSerializer)
    def get(self, request):
        return Response(MemberProfileSerializer(self.member).data)


class MemberStageSerializer(serializers.Serializer):
    label = serializers.CharField()
    at = serializers.DateTimeField(allow_null=True)
    state = serializers.ChoiceField(choices=["done", "current", "todo"])
    hint = serializers.CharField()


class MemberCardSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    number_tail = serializers.CharField(help_text="卡号后四位（未制卡为空）")
    status = serializers.CharField(source="get_status_display")
    is_replacement = serializers.SerializerMethodField()
    applied_at = serializers.DateTimeField()
    stages = serializers.SerializerMethodField()
    next_step = serializers.SerializerMethodField()
    functions = serializers.SerializerMethodField(help_text="卡片功能（如：交通功能：已开通）")

    def get_is_replacement(self, card) -> bool:
        return card.replaces_id is not None

    @extend_schema_field(MemberStageSerializer(many=True))
    def get_stages(self, card) -> list[dict]:
        return MemberStageSerializer(selectors.card_timeline(card), many=True).data

    def get_next_step(self, card) -> str:
        return selectors.next_step(card, self.context["member"])

    def get_functions(self, card) -> list[str]:
        return [member_function_line(fn) for fn in card.functions.all()]


class MemberCardListApi(MemberApi):
    """我的会员卡: the member's cards (newest first) with the five-stage timeline."""

    @extend_schema(responses=MemberCardSerializer(many=True))
    def get(self, request):
        cards = selectors.member_card_list(member=self.member)
        return Response(MemberCardSerializer(cards, many=True, context={"member": self.member}).data)


class MemberBenefitSerializer(serializers.Serializer):
    programme = serializers.CharField(source="programme.name")
    eligible = serializers.BooleanField(source="result.eligible")
    amount = serializers.DecimalField(
        source="result.amount", max_digits=12, decimal_places=2, allow_null=True
    )
    tier = serializers.CharField(source="result.tier_label")
    reasons = serializers.ListField(child=serializers.CharField(), source="result.reasons")
    may_claim = serializers.BooleanField()
    claim_refusal = serializers.CharField()


class MemberBenefitListApi(MemberApi):
    """我的权益: every programme open to the member, decided by the staff's eligibility rules."""

    @extend_schema(responses=MemberBenefitSerializer(many=True))
    def get(self, request):
        return Response(
            MemberBenefitSerializer(selectors.member_benefit_list(member=self.member), many=True).data
        )


class MemberClaimSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    programme = serializers.CharField(source="programme.name")
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    status = serializers.CharField(source="get_status_display")
    created_at = serializers.DateTimeField()
    reviewed_at = serializers.DateTimeField(allow_null=True)
    review_note = serializers.CharField()


class MemberClaimListApi(MemberApi):
    """The member's claims with their status."""

    @extend_schema(responses=MemberClaimSerializer(many=True))
    def get(self, request):
        return Response(
            MemberClaimSerializer(selectors.member_claim_list(member=self.member), many=True).data
        )


class MemberFundSerializer(serializers.Serializer):
    on = serializers.DateField()
    programme = serializers.CharField()
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    status = serializers.CharField(source="status_label")
    card_tail = serializers.CharField()
    note = serializers.CharField()


class MemberFundListApi(MemberApi):
    """到卡资金: aid paid (or being paid) to the member's card from approved batches."""

    @extend_schema(responses=MemberFundSerializer(many=True))
    def get(self, request):
        return Response(MemberFundSerializer(selectors.member_aid_list(member=self.member), many=True).data)


class MemberNoticeSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    kind = serializers.CharField()
    title = serializers.CharField()
    text = serializers.CharField()
    at = serializers.DateTimeField()
    unread = serializers.BooleanField()


class MemberNoticeListApi(MemberApi):
    """消息: the member's latest notices (reading them here does not mark them read)."""

    @extend_schema(responses=MemberNoticeSerializer(many=True))
    def get(self, request):
        return Response(
            MemberNoticeSerializer(selectors.member_notice_list(member=self.member), many=True).data
        )
