"""Member sessions, kept apart from staff sessions.

A member is not a django.contrib.auth user: the member sign-in writes its own session keys
(MEMBER_KEY, and the member's phone hash at sign-in), `MemberMiddleware` turns them into
`request.member`, and member pages use `member_required`. Staff pages check `request.user`, which
a member session never sets, so a member cookie reaches no staff page or API; `request.member`
is never set while a staff user is signed in, so a staff login is not a member login either.
Signing in as one kind of account in a browser ends the other kind's session there."""

from datetime import timedelta
from functools import wraps
from urllib.parse import urlencode

from django.contrib.auth import logout as staff_logout
from django.shortcuts import redirect
from django.urls import reverse

from members.models import Member

MEMBER_KEY = "_member_id"
PHONE_KEY = "_member_phone_hash"
SESSION_DAYS = 30


def member_session_start(request, member: Member) -> None:
    if request.user.is_authenticated:
        staff_logout(request)  # flushes the session: no staff login survives a member sign-in
    else:
        request.session.cycle_key()  # a new session id: the pre-sign-in one cannot be fixated
    request.session[MEMBER_KEY] = member.pk
    request.session[PHONE_KEY] = member.phone_hash
    request.session.set_expiry(timedelta(days=SESSION_DAYS))
    request.member = member


def member_session_end(request) -> None:
    request.session.flush()
    request.member = None


def _session_member(request) -> Member | None:
    if request.user.is_authenticated:
        return None
    member_id = request.session.get(MEMBER_KEY)
    if member_id is None:
        return None
    member = Member.objects.select_related("union", "union__parent").filter(pk=member_id).first()
    # A changed registry phone (or a deleted member) ends the sessions signed in with the old one.
    if member is None or member.phone_hash != request.session.get(PHONE_KEY):
        request.session.flush()
        return None
    return member


class MemberMiddleware:
    """Sets request.member (a Member or None). Placed after AuthenticationMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.member = _session_member(request)
        return self.get_response(request)


def member_required(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if getattr(request, "member", None) is None:
            return redirect(f"{reverse('membersite:login')}?{urlencode({'next': request.get_full_path()})}")
        return view(request, *args, **kwargs)

    return wrapped
