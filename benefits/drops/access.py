"""Who may run drops: the access door's `drops.manage` (city staff and above), asked in one place."""

from members.access import Cap, access_for

DROPS_MANAGE = Cap.DROPS_MANAGE


def may_manage_drops(user) -> bool:
    return access_for(user).can(Cap.DROPS_MANAGE)


def require_drop_manager(user) -> None:
    access_for(user).permit(Cap.DROPS_MANAGE)
