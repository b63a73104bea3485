"""The bank operator's API (token auth: POST /api/token/ with username and password, then
`Authorization: Token <token>`; tokens are partner-only, hashed and expiring, see docs/security.md): list batches, download a hand-off file (audited), upload return
and activation files, and poll an import's reconciliation."""

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from cardportal.audit import client_ip
from cardportal.errors import ApplicationError
from cardportal.uploads import raise_if_refused
from members.access import Cap, access_for, api_permissions

from . import selectors
from .models import BankBatch, BankFileImport
from .services.bankfiles import import_create
from .services.handoff import batch_handoff_open


class BatchSerializer(serializers.ModelSerializer):
    partner = serializers.CharField(source="partner.name", read_only=True)
    union = serializers.CharField(source="union.name", read_only=True)
    handoff_ready = serializers.SerializerMethodField()

    class Meta:
        model = BankBatch
        fields = [
            "id",
            "code",
            "partner",
            "union",
            "status",
            "card_count",
            "hardship_count",
            "handoff_ready",
            "handoff_name",
            "handoff_rows",
            "handoff_sha256",
            "handoff_at",
            "created_at",
        ]

    def get_handoff_ready(self, obj) -> bool:
        return bool(obj.handoff_file)


class ImportSerializer(serializers.ModelSerializer):
    batch = serializers.CharField(source="batch.code", read_only=True, default=None)
    counts = serializers.SerializerMethodField()

    class Meta:
        model = BankFileImport
        fields = [
            "id",
            "kind",
            "batch",
            "file_name",
            "sha256",
            "same_as",
            "job_status",
            "job_message",
            "counts",
            "created_at",
        ]

    def get_counts(self, obj) -> dict:
        return (obj.report or {}).get("counts", {})


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True)  # empty: the table kernel's file_empty


BANK_INTERFACE = api_permissions(Cap.BANK_FILES, "您的角色无权使用银行接口")


class NewestFirst(CursorPagination):
    ordering = "-id"
    page_size = 50


class BatchListApi(generics.ListAPIView):
    """Batches in the caller's scope, newest first."""

    permission_classes = BANK_INTERFACE
    serializer_class = BatchSerializer
    pagination_class = NewestFirst

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return BankBatch.objects.none()
        return selectors.batch_list_for_user(user=self.request.user)


class BatchDetailApi(generics.RetrieveAPIView):
    permission_classes = BANK_INTERFACE
    serializer_class = BatchSerializer

    def get_object(self):
        return selectors.batch_get_for_user(user=self.request.user, pk=self.kwargs["pk"])


class BatchHandoffApi(APIView):
    """The hand-off file itself (full ID numbers). Every download is audited."""

    # The file is .xlsx or, for partners whose layout says so, .csv; FileResponse names the type
    # from the file name (the API fuzz test found the schema promising application/octet-stream).
    @extend_schema(
        responses={
            (200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): OpenApiTypes.BINARY,
            (200, "text/csv"): OpenApiTypes.BINARY,
        }
    )
    def get(self, request, pk):
        batch = selectors.batch_get_for_user(user=request.user, pk=pk)
        handle = batch_handoff_open(batch=batch, actor=request.user, ip=client_ip(request), via="api")
        response = FileResponse(handle, as_attachment=True, filename=batch.handoff_name)
        response["X-Content-SHA256"] = batch.handoff_sha256
        return response


class BatchReturnApi(APIView):
    """Upload the bank's return file for a batch; reconciliation runs as a job (poll the import)."""

    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": UploadSerializer}, responses={202: ImportSerializer})
    def post(self, request, pk):
        batch = selectors.batch_get_for_user(user=request.user, pk=pk)
        upload = _file(request)
        imp = import_create(
            kind=BankFileImport.Kind.RETURN,
            union=batch.union,
            batch=batch,
            file_name=upload.name,
            data=upload.read(),
            actor=request.user,
        )
        imp.refresh_from_db()
        return Response(ImportSerializer(imp).data, status=status.HTTP_202_ACCEPTED)


class ActivationApi(APIView):
    """Upload an activation file (card number, activation date) for the caller's scope."""

    parser_classes = [MultiPartParser]
    permission_classes = BANK_INTERFACE

    @extend_schema(request={"multipart/form-data": UploadSerializer}, responses={202: ImportSerializer})
    def post(self, request):
        union = access_for(request.user).union or selectors.report_roots_for_user(user=request.user).first()
        upload = _file(request)
        imp = import_create(
            kind=BankFileImport.Kind.ACTIVATION,
            union=union,
            file_name=upload.name,
            data=upload.read(),
            actor=request.user,
        )
        imp.refresh_from_db()
        return Response(ImportSerializer(imp).data, status=status.HTTP_202_ACCEPTED)


class ImportDetailApi(generics.RetrieveAPIView):
    permission_classes = BANK_INTERFACE
    serializer_class = ImportSerializer

    def get_object(self):
        return selectors.import_get_for_user(user=self.request.user, pk=self.kwargs["pk"])


def _file(request):
    raise_if_refused(request)
    serializer = UploadSerializer(data=request.data)
    if not serializer.is_valid():
        raise ApplicationError("请上传文件（字段名 file）", code="no_file")
    return serializer.validated_data["file"]
