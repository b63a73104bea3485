"""Demo: a plan scaled to the demo city, over the demo's three plan years (the two before this one
and this one), so the league table, the quarterly ranking, the checkpoints and the assessment
show a race a newcomer can read: each county's targets are the Cangzhou plan's rates (10%, 40%,
80% of its members by the end of each year) applied to the demo's members of that county, and
the months that have ended this year have published bulletins.

The real Cangzhou 2016-2018 plan (1,155,700 cards for 2,157,000 members) is one command away:
`python manage.py load_quotas ../shared/data/cangzhou_plan_2016_2018.csv`; against a few thousand
demo members every county would show a fraction of a percent."""

import csv
import io
from datetime import date

from django.contrib.auth import get_user_model
from django.db.models import Count
from django.utils import timezone

from members.demo import BUNDLED_PLAN_CSV, PLAN_CSV, plan_years
from members.models import Member, Union

from .models import WorkTeam
from .selectors import COUNTY_LEVELS, add_months, month_start
from .services import bulletin_draft, bulletin_publish, quotas_load, weekly_report_save

RATES = (10, 40, 80)  # 附件2: 发展面 by the end of each plan year
TEAMS = (  # seed 002 三: the federation's campaign teams
    ("发行推进组", "深入基层工会发展会员、收集会员资料，卡片制成后送达基层工会"),
    ("商户推进组", "与商户洽谈会员卡服务功能和优惠项目，拓展签约商户"),
    ("合作开发组", "与合作银行、公交公司合作开发、制作会员卡，落实用卡指引"),
    ("管理服务组", "会员卡发行后的管理服务，开发优惠服务项目，报送宣传短信"),
)


def plan_csv(members_by_county: dict[str, int], years: tuple[int, int, int]) -> str:
    """A plan in the shape of the Cangzhou CSV (the loader's format): targets = rate × members."""
    out = io.StringIO()
    writer = csv.writer(out)
    first, *later = years
    header = ["union_name", f"members_{first - 1}", f"issued_{first}", f"rate_{first}"]
    for year in later:
        header += [f"issued_{year}", f"cumulative_{year}", f"rate_{year}"]
    writer.writerow(header)
    for name, members in members_by_county.items():
        cumulative = [round(members * rate / 100) for rate in RATES]
        row = [name, members, cumulative[0], RATES[0]]
        for i in (1, 2):
            row += [cumulative[i] - cumulative[i - 1], cumulative[i], RATES[i]]
        writer.writerow(row)
    return out.getvalue()


def load_cangzhou_plan() -> dict:
    """The real Cangzhou 2016-2018 plan (附件2) exactly, as `load_quotas` loads it (the benchmarks
    measure the league at the plan's own scale)."""
    path = PLAN_CSV if PLAN_CSV.exists() else BUNDLED_PLAN_CSV
    return quotas_load(text=path.read_text(encoding="utf-8"))


def load(*, stdout) -> None:
    years = plan_years()
    counties = Union.objects.filter(level__in=COUNTY_LEVELS).order_by("code")
    members = dict(Member.objects.values_list("union__parent__name").annotate(n=Count("id")).order_by())
    text = plan_csv({c.name: members.get(c.name, 0) for c in counties}, years)
    result = quotas_load(text=text)
    stdout.write(
        f"已加载{years[0]}–{years[2]}年演示发卡任务（按演示会员数的10%、40%、80%）："
        f"{result['unions']}个县级工会，{result['created']}条任务。"
    )
    # This year's bulletins for the months that have ended, published by the city staff login.
    city_staff = get_user_model().objects.filter(username="city").first()
    this_month = month_start(timezone.localdate())
    month = date(years[2], 1, 1)
    published = 0
    while month < this_month and city_staff is not None:
        bulletin_publish(bulletin=bulletin_draft(month=month), actor=city_staff, note="演示")
        published += 1
        month = add_months(month, 1)
    stdout.write(f"已发布{years[2]}年月通报 {published} 期。")
    _teams_and_last_week(city_staff)


def _teams_and_last_week(author) -> None:
    """The four teams, and last week's reports from three of them (one is still missing)."""
    city = Union.objects.filter(level=Union.Level.CITY).order_by("code").first()
    if city is None or author is None:
        return
    teams = [
        WorkTeam.objects.get_or_create(owner=city, name=name, defaults={"duties": duties, "order": i})[0]
        for i, (name, duties) in enumerate(TEAMS)
    ]
    today = timezone.localdate()
    last_monday = date.fromordinal(today.toordinal() - today.weekday() - 7)
    texts = (
        (
            0,
            320,
            "走访新华区、运河区12家基层工会，收齐3个单位的会员资料；第二批卡片已送达8个基层工会。",
            "个别单位身份证复印件不清晰，需重新收集。",
            "完成沧县、青县的资料收集，跟进银行回盘。",
        ),
        (
            5,
            0,
            "与5家商户签订服务协议（眼镜、影院、健身各类），2家在洽谈中。",
            "部分商户对优惠幅度有顾虑。",
            "重点洽谈大型商超和医院。",
        ),
        (0, 0, "与银行核对第二批制卡名单，回盘退回原因已反馈各县。", "", "协调公交功能开通名单的报送格式。"),
    )
    for team, (merchants, members, progress, problems, next_steps) in zip(teams, texts, strict=False):
        weekly_report_save(
            team=team,
            week=last_monday,
            actor=author,
            merchants_enrolled=merchants,
            members_developed=members,
            progress=progress,
            problems=problems,
            next_steps=next_steps,
        )
