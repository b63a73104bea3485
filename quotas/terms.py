"""Defined terms, shown on every page and sheet that uses them (worded from the settings in use)."""

from .scoring import fmt

STAGE = {"issued": "银行已制卡", "distributed": "已发放到会员手中"}


def terms_for(conf: dict) -> list[tuple[str, str]]:
    issued = STAGE.get(conf["ISSUED_METRIC"], conf["ISSUED_METRIC"])
    base = "累计发卡" if conf["ACTIVATION_DENOMINATOR"] == "issued" else "累计发放"
    rounding = {
        "truncate": "只计整数个百分点（不足1个百分点的部分不计）",
        "round": "四舍五入到整数个百分点",
        "exact": "按实际百分点（保留两位小数）",
    }[conf["POINT_ROUNDING"]]
    ties = (
        "并列者取较高名次，下一名次顺延（如 1、2、2、4）"
        if conf["RANK_TIES"] == "shared"
        else "并列者取较高名次，下一名次不顺延（如 1、2、2、3）"
    )
    return [
        (
            "发卡",
            f"会员的第一张卡达到“{issued}”状态，每名会员只计一次，按首次达到该状态的月份计入；补办卡不重复计数。",
        ),
        ("累计发卡", "截至所选月份月底的发卡人数（自启动以来累计）。"),
        ("完成率", "累计发卡 ÷ 当年年度累计任务（附件2的累计张数）。"),
        ("发放", "会员在发放表上签收了卡（首次），按签收月份计入。"),
        ("激活", "会员在银行激活并修改初始密码（首次），按激活月份计入。"),
        ("激活率", f"累计激活 ÷ {base}。"),
        ("会员基数", "市总下达任务时依据的会员人数（2015年度实名制录入数据）。"),
        ("已申请办卡会员", "已登记并已提交办卡申请的会员人数（会员登记审核通过即申请办卡）。"),
        ("服务项目", "本县会员可享受的特约商户优惠项目与普惠服务项目数。"),
        ("名次", f"按完成率排名，{ties}。"),
        ("百分点计分", f"超额、激活率和服务项目的加减分{rounding}。"),
        (
            "季排队",
            f"每季度末按完成率排名，第一名 {fmt(conf['QUARTER_FIRST_POINTS'])} 分，每后一名少 {fmt(conf['QUARTER_STEP'])} 分，最低 {fmt(conf['QUARTER_MIN_POINTS'])} 分；2016年从第二季度开始。",
        ),
    ]
