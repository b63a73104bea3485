"""Programmes (staff, scoped) and a member's eligibility (scoped to the caller's subtree; masked)."""

from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from members.selectors import member_get_for_user

from . import selectors
from .models import AmountTier, BenefitProgramme


class TierSerializer(serializers.ModelSerializer):
    class Meta:
        model = AmountTier
        fields = ["label", "amount", "unit_types", "requires_dues_paid"]


class ProgrammeSerializer(serializers.ModelSerializer):
    union = serializers.CharField(source="union.name", read_only=True)
    tiers = TierSerializer(many=True, read_only=True)

    class Meta:
        model = BenefitProgramme
        fields = [
            "id",
            "code",
            "name",
            "kind",
            "union",
            "description",
            "valid_from",
            "valid_until",
            "is_active",
            "card_requirement",
            "requires_in_service",
            "requires_hardship",
            "requires_model_worker",
            "card_applied_before",
            "tiers",
        ]


class ProgrammeListApi(generics.ListAPIView):
    serializer_class = ProgrammeSerializer
    pagination_class = None
    filter_backends: list = []

    def get_queryset(self):
        return selectors.programme_list_for_user(user=self.request.user)


class CheckSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    text = serializers.CharField()


class EligibilitySerializer(serializers.Serializer):
    programme_id = serializers.IntegerField(source="programme.pk")
    programme = serializers.CharField(source="programme.name")
    eligible = serializers.BooleanField()
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    tier = serializers.CharField(source="tier_label")
    checks = CheckSerializer(many=True)


class MemberEligibilityResponse(serializers.Serializer):
    member_id = serializers.IntegerField()
    name = serializers.CharField()
    id_number = serializers.CharField(help_text="脱敏身份证号")
    programmes = EligibilitySerializer(many=True)


class MemberEligibilityApi(APIView):
    """Every programme open to the member's unions, with the checks that decide it. 404 outside
    the caller's subtree."""

    serializer_class = MemberEligibilityResponse

    def get(self, request, pk):
        member = member_get_for_user(user=request.user, pk=pk)
        results = selectors.member_eligibility(member=member)
        data = {
            "member_id": member.pk,
            "name": member.name,
            "id_number": member.masked_id,
            "programmes": results,
        }
        return Response(MemberEligibilityResponse(data).data)
