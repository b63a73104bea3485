"""Issue (rotate) or revoke a partner's API token from the server, e.g. for the first token of a
new bank integration. The token is printed once; only its digest is stored."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from cardportal.api_tokens import api_token_issue, api_token_revoke_all, token_prefix
from cardportal.errors import ApplicationError
from cardportal.models import ApiToken


class Command(BaseCommand):
    help = (
        "rotate USERNAME: issue a new API token for a bank/issuer operator account, revoking its old one "
        "(printed once); revoke USERNAME: revoke the account's tokens; list USERNAME: prefixes and expiry."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["rotate", "revoke", "list"])
        parser.add_argument("username")

    def handle(self, *args, action, username, **options):
        try:
            user = get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"没有用户名为 {username} 的账号") from None
        if action == "rotate":
            try:
                token, text = api_token_issue(user=user, actor=None, via="command")
            except ApplicationError as exc:
                raise CommandError(exc.message) from None
            self.stdout.write(text)
            self.stderr.write(
                f"令牌只显示这一次；有效期至 {timezone.localtime(token.expiry):%Y-%m-%d %H:%M}，原令牌已作废。"
            )
        elif action == "revoke":
            count = api_token_revoke_all(user=user, actor=None)
            self.stdout.write(f"已作废 {count} 个令牌")
        else:
            for token in ApiToken.objects.filter(user=user).order_by("created"):
                self.stdout.write(
                    f"{token_prefix(token)}…  签发 {timezone.localtime(token.created):%Y-%m-%d}  有效期至 {timezone.localtime(token.expiry):%Y-%m-%d}"
                )
