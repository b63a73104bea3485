"""Where apps plug into shared pages without the shared code importing them.

Each app registers, in its AppConfig.ready(), its navigation entries, its dashboard panels, its
panels on the member page, and what it does when members are registered (issuance applies for
their cards). Dependencies keep pointing one way: `members` renders the member
page and never imports `issuance`; `issuance` registers a panel that shows the member's cards.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import import_module
from types import ModuleType


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    # Shown to holders of this capability (members.access.Cap, by name); None: every staff user.
    capability: str | None = None
    order: int = 100


@dataclass(frozen=True)
class Panel:
    """`render(request, obj)` returns a context dict for `template`, or None to hide the panel."""

    template: str
    render: Callable
    order: int = 100


@dataclass
class Registry:
    nav: list[NavItem] = field(default_factory=list)
    dashboard: list[Panel] = field(default_factory=list)
    member: list[Panel] = field(default_factory=list)
    # Called as hook(member_ids=[pk, ...], actor=user) inside the registering transaction, ids in
    # ascending order; a hook that needs more than the id reads it (in bulk) itself.
    members_registered: list[Callable] = field(default_factory=list)

    def add_nav(self, item: NavItem) -> None:
        if item not in self.nav:
            self.nav.append(item)
            self.nav.sort(key=lambda i: i.order)

    def add_dashboard(self, panel: Panel) -> None:
        if panel not in self.dashboard:
            self.dashboard.append(panel)
            self.dashboard.sort(key=lambda p: p.order)

    def add_member(self, panel: Panel) -> None:
        if panel not in self.member:
            self.member.append(panel)
            self.member.sort(key=lambda p: p.order)

    def on_members_registered(self, hook: Callable) -> None:
        if hook not in self.members_registered:
            self.members_registered.append(hook)

    def notify_members_registered(self, *, member_ids: list[int], actor) -> None:
        for hook in self.members_registered:
            hook(member_ids=member_ids, actor=actor)


registry = Registry()

# The apps above members, in floor order (tests/test_layering.py): the root URLconf, the API's and
# the demo loader name them by string, so the bottom layer never imports them.
UPPER_APPS = ("issuance", "merchants", "benefits", "quotas")


def app_modules(name: str, apps: tuple[str, ...] = UPPER_APPS) -> Iterator[tuple[str, ModuleType]]:
    """(app, module) for each app that has the module `<app>.<name>` (an app without one is
    skipped; an import error inside one is raised)."""
    for app in apps:
        try:
            module = import_module(f"{app}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{app}.{name}":
                raise
            continue
        yield app, module


def render_panels(panels: list[Panel], request, obj=None) -> list[dict]:
    rendered = []
    for panel in panels:
        context = panel.render(request, obj)
        if context is not None:
            rendered.append({"template": panel.template, **context})
    return rendered
