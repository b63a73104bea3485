"""Writes of the analytics pages: audited downloads and segment notices. Each download's file and
its audit row come from one call (architecture.md, "Thin edges")."""

import hashlib
from datetime import date

from django.db import transaction

from cardportal.audit import audit_record
from cardportal.errors import ApplicationError
from cardportal.jobs import job_fail, job_finish, job_progress, job_queue, job_start
from members.access import Cap, access_for
from members.sms.models import Notice
from members.sms.notices import notices_send_many

from . import exports, selectors, sources
from .models import SegmentNotice
from .segments import Segment, params_from_json, params_json, segment_members, segment_snapshot_count
from .terms import NOTES

# A segment up to this size is notified in the request; a larger one in a Celery task.
INLINE_LIMIT = 1000
CHUNK = 2000


def _audit(actor, verb, label, data):
    union = access_for(actor).union
    audit_record(actor=actor, verb=verb, target=union or actor, union=union, data=data, label=label)


def page_export(*, actor, page: str, month: date | None = None, county=None) -> tuple[bytes, str]:
    """The page's figures in the actor's scope as .xlsx, and its file name; audited."""
    access_for(actor).require(Cap.USAGE_ANALYTICS)
    if page == "active":
        sheets = [exports.activity_sheet(selectors.activity_table(user=actor, county=county))]
    elif page == "spending":
        sheets = exports.spend_sheets(selectors.spend_table(user=actor, month=month))
    elif page == "merchants":
        rows, unused = selectors.merchant_ranking(user=actor, month=month)
        sheets = exports.merchant_sheets(rows, unused, month)
    else:
        sheets = _uptake_sheets(actor)
    _audit(
        actor,
        "analytics.exported",
        "用卡分析导出",
        {"page": page, "month": month.isoformat() if month else ""},
    )
    return exports.workbook(sheets, NOTES), f"analytics-{page}{f'-{month:%Y-%m}' if month else ''}.xlsx"


def _uptake_sheets(actor) -> list[tuple]:
    benefit = [
        [r.label, r.members, r.lines, r.approved, r.paid, r.failed, r.spent_rate]
        for r in selectors.benefit_uptake(user=actor)
    ]
    subsidy = [
        [c.name, c.budget, c.spent, c.spent_rate, c.members, c.earned]
        for c in sources.subsidy_uptake(user=actor)
    ]
    people = [
        [r["name"], r["member__union__name"], r["disbursement__programme__name"] or r["disbursement__name"],
         r["amount"], r["paid_at"].date() if r["paid_at"] else None, "是" if r["member__is_hardship"] else ""]
        for r in selectors.recipients(user=actor, limit=100_000)
    ]  # fmt: skip
    return [
        ("帮扶资金", "帮扶资金发放", ["项目", "到账人数", "明细笔数", "审批金额", "已到账", "发放失败", "到账率（%）"], benefit),
        ("消费补贴", "消费补贴活动", ["活动", "预算（元）", "已使用预算", "使用率（%）", "本范围获补贴人数", "本范围补贴（元）"], subsidy),
        ("到账名单", "帮扶资金到账名单", ["姓名", "所属工会", "项目", "金额（元）", "到账日期", "困难职工"], people),
    ]  # fmt: skip


def segment_export(*, actor, segment: Segment, params: dict) -> tuple[bytes, str]:
    """The segment's members (masked: no ID number, phone masked) as .xlsx; audited."""
    access_for(actor).require(Cap.USAGE_ANALYTICS)
    members = segment_members(actor, segment, params).select_related("union").order_by("union__path", "pk")
    header, rows = exports.member_list_rows(members.iterator(chunk_size=5000))
    _audit(
        actor,
        "segment.exported",
        f"导出分群名单：{segment.title}",
        {"segment": segment.slug, "rows": len(rows)},
    )
    title = segment.title + (f"（{params['category'].name}）" if params.get("category") else "")
    return exports.workbook([("名单", title, header, rows)], NOTES), f"segment-{segment.slug}.xlsx"


def notice_key(segment: Segment, params: dict, title: str, when: str, path: str) -> str:
    """The same notice (segment, parameters, text, scope) has one key: sending it twice is refused."""
    raw = "|".join([segment.slug, repr(sorted(params_json(params).items())), title, when, path])
    return hashlib.sha256(raw.encode()).hexdigest()[:20]


@transaction.atomic
def segment_notify(
    *, actor, segment: Segment, params: dict, title: str, when: str, expected: int
) -> SegmentNotice:
    """Send `title, when` as an activity notice (and SMS) to every member of the segment in the
    actor's scope. `expected` is the snapshot count the confirmation showed: if the snapshot was
    refreshed since and counts differently, the send is refused, so staff confirm what is sent.
    The recipients (and `planned`) are the segment as it is now, counted live; the audit row
    records both figures. Small segments go now, large ones in a task."""
    access = access_for(actor)
    access.require(Cap.SEGMENT_NOTICE)
    title, when = title.strip()[:60], when.strip()[:40]
    if not title:
        raise ApplicationError("请填写通知内容", code="invalid")
    key = notice_key(segment, params, title, when, access.path or "")
    if SegmentNotice.objects.filter(key=key).exists():
        raise ApplicationError("这条通知已经向这个分群发送过，不会重复发送", code="duplicate")
    snapshot = segment_snapshot_count(actor, segment, params)
    if snapshot is None:
        raise ApplicationError("用卡统计尚未生成，还不能按分群发送通知，请稍后再试", code="no_snapshot")
    if snapshot.count != expected:
        raise ApplicationError(
            f"分群人数已变为{snapshot.count}人（截至{snapshot.as_of:%Y-%m-%d}统计），请重新确认后再发送",
            code="changed",
        )
    count = segment_members(actor, segment, params).count()
    if not count:
        raise ApplicationError("分群目前没有会员，没有发送通知", code="empty")
    notice = SegmentNotice.objects.create(
        segment=segment.slug, params=params_json(params), title=title, when=when, key=key,
        scope_path=access.path or "", created_by=actor, planned=count, progress_total=count,
    )  # fmt: skip
    _audit(
        actor,
        "segment.notified",
        f"分群通知：{segment.title}",
        {"segment": segment.slug, "members": count, "confirmed": snapshot.count,
         "counted_on": snapshot.as_of.isoformat()},
    )  # fmt: skip
    from .tasks import segment_notice_task

    job_queue(notice, phase="send", task=None if count <= INLINE_LIMIT else segment_notice_task)
    if count <= INLINE_LIMIT:
        segment_notice_send(notice.pk)
    return notice


def segment_notice_send(notice_id: int, token: str | None = None) -> None:
    """The body of the send: the segment's members (recomputed in the sender's scope) in chunks;
    each member's notice key is unique, so a re-run adds nothing for those already noticed."""
    from .segments import segment_get

    notice = SegmentNotice.objects.select_related("created_by").get(pk=notice_id)
    if not job_start(notice, phase="send", token=token, total=notice.planned):
        return
    if notice.created_by is None:  # the sender's account is gone: no scope to send within
        job_fail(notice, message="发起人账号已删除，通知未发送", code="no_sender")
        return
    segment = segment_get(notice.segment)
    members = segment_members(notice.created_by, segment, params_from_json(notice.params))
    ids = list(members.order_by("pk").values_list("pk", flat=True))
    params = {"title": notice.title, "when": notice.when}
    sent = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        with transaction.atomic():
            items = [(m, f"seg:{notice.key}:{m}", params) for m in chunk]
            sent += notices_send_many(kind=Notice.Kind.ACTIVITY, items=items)
        job_progress(notice, done=start + len(chunk), total=len(ids))
    SegmentNotice.objects.filter(pk=notice.pk).update(sent=sent)
    job_finish(notice, message=f"已向{len(ids)}名会员发出通知，其中{sent}条短信")
