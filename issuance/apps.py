from django.apps import AppConfig


class IssuanceConfig(AppConfig):
    name = "issuance"
    verbose_name = "发卡"

    def ready(self) -> None:
        from cardportal.registry import registry

        from .lifecycle import cards_apply

        # Registering a member is applying for their card (status `applied`).
        registry.on_members_registered(lambda *, members, actor: cards_apply(members=members, actor=actor))
