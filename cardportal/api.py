"""POST /api/token/: a partner account exchanges its username and password for an API token."""

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from .api_tokens import api_token_issue
from .errors import ApplicationError
from .throttling import TokenIpThrottle, TokenUsernameThrottle


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(label="用户名", max_length=150)
    password = serializers.CharField(label="密码", max_length=128, style={"input_type": "password"})


class TokenObtainApi(APIView):
    """Issues a new token (revoking the account's previous one) to a bank / issuer operator
    account. The token is in this response only; it expires after API_TOKEN_TTL_DAYS.

    The credentials go through a plain `authenticate(request=..., username=..., password=...)`,
    so an authentication backend that counts failures (django-axes) sees every attempt."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [TokenIpThrottle, TokenUsernameThrottle]

    @extend_schema(
        request=TokenRequestSerializer,
        responses=inline_serializer(
            "TokenResponse",
            {"token": serializers.CharField(), "expiry": serializers.DateTimeField()},
        ),
    )
    def post(self, request):
        given = TokenRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        user = authenticate(
            request=request._request,
            username=given.validated_data["username"],
            password=given.validated_data["password"],
        )
        if user is None:
            return Response(
                {"detail": "用户名或密码错误", "code": "invalid_credentials"},
                status=status.HTTP_400_BAD_REQUEST,
            )
        try:
            token, text = api_token_issue(user=user, actor=user, via="api")
        except ApplicationError as exc:
            return Response({"detail": exc.message, "code": "not_partner"}, status=status.HTTP_403_FORBIDDEN)
        return Response({"token": text, "expiry": token.expiry})
