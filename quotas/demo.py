"""Demo: the Cangzhou 2016–2018 plan exactly as 附件2 states it (the same CSV the members demo
built the 22 county unions from, so every name matches)."""

from members.demo import BUNDLED_PLAN_CSV, PLAN_CSV

from .services import quotas_load


def load(*, stdout) -> None:
    path = PLAN_CSV if PLAN_CSV.exists() else BUNDLED_PLAN_CSV
    result = quotas_load(text=path.read_text(encoding="utf-8"))
    stdout.write(f"已加载2016–2018年发卡任务：{result['unions']}个县级工会，{result['created']}条任务。")
