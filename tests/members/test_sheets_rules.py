"""Row rules of the registration sheet: every reason code, with a fixed reference date."""

from datetime import date
from pathlib import Path

import pytest

from members.idcard import make_id_number
from members.sheets import SheetData
from members.validation import REASON_CODES, validate_rows

TODAY = date(2026, 4, 1)
COLUMNS = {"seq": 0, "id_number": 1, "name": 2, "gender": 3, "phone": 4, "unit": 5, "hardship": 6}
MALE_ID = make_id_number("110105", date(1985, 6, 15), 11, male=True)
FEMALE_ID = make_id_number("130902", date(1990, 2, 1), 22, male=False)
X_ID = next(
    make_id_number("130902", date(1980, 1, d), s, male=True)
    for d in range(1, 28)
    for s in range(1, 999, 2)
    if make_id_number("130902", date(1980, 1, d), s, male=True).endswith("X")
)


def run(*rows: list, columns: dict | None = None):
    data = SheetData("xlsx", "登记表", 1, columns or COLUMNS, [(n + 2, list(r)) for n, r in enumerate(rows)])
    return validate_rows(data, today=TODAY)


def one(*cells):
    (result,) = run(list(cells))
    return result


def test_a_clean_row_is_accepted_as_typed():
    result = one(1, MALE_ID, "张伟", "男", "13912345678", "第一中学")
    assert (result.outcome, result.reason, result.row) == ("accept", "ok", 2)
    assert result.values() == {
        "id_number": MALE_ID,
        "name": "张伟",
        "gender": "男",
        "phone": "13912345678",
        "unit": "第一中学",
    }
    assert result.birth_date == date(1985, 6, 15)


@pytest.mark.parametrize(
    "typed",
    [
        X_ID.lower(),
        f"  {X_ID}\u3000",
        X_ID.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")),
    ],
)
def test_id_lowercase_x_full_width_and_spaces_are_normalised(typed):
    result = one(1, typed, "张伟", "男", "13912345678", "一中")
    assert (result.outcome, result.reason, result.id_number) == ("accept", "ok_normalised", X_ID)


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "id_missing"),
        ("\u3000 ", "id_missing"),
        (None, "id_missing"),
        ("1309021985061", "id_format"),
        ("13090219850615011A", "id_format"),
        ("130902850615011", "id_15digit"),
        (130902850615011.0, "id_15digit"),
        (float(MALE_ID), "id_excel_damaged"),
        ("1.30902E+17", "id_excel_damaged"),
        (make_id_number("990105", date(1985, 6, 15), 11, male=True), "id_region"),
        (make_id_number("110105", date(2030, 1, 1), 11, male=True), "id_birthdate"),
        (make_id_number("110105", date(2012, 1, 1), 11, male=True), "id_birthdate"),  # 14 years old
        (make_id_number("110105", date(1940, 1, 1), 11, male=True), "id_birthdate"),  # 86 years old
        ("11010519850230001" + "1", "id_birthdate"),  # 30 February
        (MALE_ID[:17] + ("0" if MALE_ID[17] != "0" else "1"), "id_checksum"),
    ],
)
def test_id_rules(typed, reason):
    result = one(1, typed, "张伟", "", "13912345678", "一中")
    assert (result.outcome, result.reason, result.field) == ("reject", reason, "id_number")
    assert result.message


def test_abolished_county_code_stays_valid_when_the_province_is_real():
    old_county = make_id_number("132930", date(1975, 3, 3), 15, male=True)  # 沧州地区 code, abolished
    assert one(1, old_county, "张伟", "男", "13912345678", "一中").reason == "ok"


def test_excel_damage_message_says_the_column_must_be_text():
    result = one(1, float(MALE_ID), "张伟", "男", "13912345678", "一中")
    assert "文本" in result.message and "Excel" in result.message


def test_15_digit_message_asks_for_the_18_digit_number():
    assert "18位" in one(1, "130902850615011", "张伟", "", "13912345678", "一中").message


def test_a_later_row_repeating_an_id_is_a_duplicate_of_the_earlier_row():
    first, second, third = run(
        [1, MALE_ID, "张伟", "男", "13912345678", "一中"],
        [2, FEMALE_ID, "李娜", "女", "13912345679", "一中"],
        [3, MALE_ID.lower() + " ", "张伟", "男", "13912345678", "一中"],
    )
    assert (first.outcome, second.outcome) == ("accept", "accept")
    assert (third.outcome, third.reason, third.field) == ("reject", "duplicate_in_sheet", "id_number")
    assert "第2行" in third.message


@pytest.mark.parametrize(
    ("typed", "expected", "reason"),
    [
        ("王  芳", "王芳", "ok_normalised"),
        (" 欧阳娜娜 ", "欧阳娜娜", "ok_normalised"),
        ("阿不都・热合曼", "阿不都·热合曼", "ok_normalised"),
        ("阿不都•热合曼", "阿不都·热合曼", "ok_normalised"),
        ("阿不都·热合曼", "阿不都·热合曼", "ok"),
    ],
)
def test_names_are_trimmed_and_dots_normalised(typed, expected, reason):
    result = one(1, MALE_ID, typed, "男", "13912345678", "一中")
    assert (result.outcome, result.reason, result.name) == ("accept", reason, expected)


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "name_missing"),
        ("   ", "name_missing"),
        ("张3", "name_invalid"),
        ("王", "name_invalid"),
        ("王" * 31, "name_invalid"),
        ("张伟@", "name_invalid"),
        ("阿不都·", "name_invalid"),
    ],
)
def test_name_rules(typed, reason):
    result = one(1, MALE_ID, typed, "男", "13912345678", "一中")
    assert (result.outcome, result.reason, result.field) == ("reject", reason, "name")


def test_empty_gender_is_derived_from_the_id():
    male = one(1, MALE_ID, "张伟", "", "13912345678", "一中")
    female = one(1, FEMALE_ID, "李娜", None, "13912345678", "一中")
    assert (male.reason, male.gender, female.gender) == ("ok_normalised", "M", "F")


def test_gender_rules():
    invalid = one(1, MALE_ID, "张伟", "未知", "13912345678", "一中")
    mismatch = one(1, MALE_ID, "张伟", "女", "13912345678", "一中")
    assert (invalid.reason, invalid.field) == ("gender_invalid", "gender")
    assert (mismatch.reason, mismatch.field) == ("gender_mismatch", "gender")
    assert "男" in mismatch.message


@pytest.mark.parametrize(
    "typed",
    [13912345678.0, "+86 139 1234 5678", "86-139-1234-5678", "139-1234-5678", "１３９１２３４５６７８"],
)
def test_phones_are_normalised(typed):
    result = one(1, MALE_ID, "张伟", "男", typed, "一中")
    assert (result.outcome, result.reason, result.phone) == ("accept", "ok_normalised", "13912345678")


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "phone_missing"),
        (None, "phone_missing"),
        ("12912345678", "phone_invalid"),
        ("0311-67569280", "phone_invalid"),
        ("1391234567", "phone_invalid"),
    ],
)
def test_phone_rules(typed, reason):
    result = one(1, MALE_ID, "张伟", "男", typed, "一中")
    assert (result.outcome, result.reason, result.field) == ("reject", reason, "phone")


def test_unit_is_required():
    result = one(1, MALE_ID, "张伟", "男", "13912345678", " \u3000")
    assert (result.outcome, result.reason, result.field) == ("reject", "unit_missing", "unit")


def test_a_row_with_several_problems_names_the_first_and_lists_all():
    result = one(1, MALE_ID, "张3", "女", "", "")
    assert (result.reason, result.field) == ("name_invalid", "name")
    assert result.message.count("；") == 3


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        (["", "", "", "", "", ""], "blank"),
        ([None, " ", "\u3000", None], "blank"),
        ([7, "", "", "", "", ""], "blank"),
        ([], "blank"),
        (["合计", "", "", "", "", ""], "summary_row"),
        (["", "", "小计：12人", "", "", ""], "summary_row"),
        (["填表说明：身份证号请设为文本格式"], "notes_row"),
        (["", "填表人：", "", "", "", ""], "notes_row"),
    ],
)
def test_blank_summary_and_notes_rows_are_skipped(cells, reason):
    (result,) = run(cells)
    assert (result.outcome, result.reason) == ("skip", reason)


@pytest.mark.parametrize(
    ("typed", "expected"), [("是", True), ("√", True), ("否", False), ("", False), (1.0, True)]
)
def test_optional_hardship_column(typed, expected):
    result = one(1, MALE_ID, "张伟", "男", "13912345678", "一中", typed)
    assert (result.outcome, result.is_hardship) == ("accept", expected)


def test_a_sheet_without_the_hardship_column_marks_nobody():
    columns = {k: v for k, v in COLUMNS.items() if k != "hardship"}
    (result,) = run([1, MALE_ID, "张伟", "男", "13912345678", "一中", "是"], columns=columns)
    assert result.is_hardship is False


def test_every_reason_code_is_exercised_by_this_module():
    # the optional columns' codes are exercised in test_sheets_columns.py
    source = "".join(
        (Path(__file__).parent / name).read_text(encoding="utf-8")
        for name in (Path(__file__).name, "test_sheets_columns.py")
    )
    missing = [code for code in REASON_CODES if code != "duplicate_existing" and f'"{code}"' not in source]
    assert missing == []  # duplicate_existing needs the database: tests/members/test_sheets_pipeline.py


# A row the fast path takes must come out exactly as the general rules judge it; every other row
# must be left to them. Each case below is one way a row can differ from the common clean one.
FAST_PATH_CASES = [
    (1, MALE_ID, "张伟", "男", "13912345678", "第一中学", None),
    (1, MALE_ID, "张伟", "", "13912345678", "第一中学", ""),
    (1, MALE_ID, "张伟", None, "13912345678", "第一中学", None),
    (1, MALE_ID, "张伟", "男性", "13912345678", "第一中学", None),
    (1, MALE_ID, "张伟", "女", "13912345678", "第一中学", None),  # gender_mismatch
    (1, FEMALE_ID, "李娜", "女", "13912345678", "第 一 中学", None),
    (1, X_ID, "王芳", "男", "13912345678", "第一中学", None),
    (1, X_ID.lower(), "王芳", "男", "13912345678", "第一中学", None),
    (1, MALE_ID[:-1] + ("0" if MALE_ID[-1] != "0" else "1"), "张伟", "男", "13912345678", "一中", None),
    (1, "１" + MALE_ID[1:], "张伟", "男", "13912345678", "第一中学", None),
    (1, MALE_ID + "\n", "张伟", "男", "13912345678", "第一中学", None),
    (1, "99" + MALE_ID[2:], "张伟", "男", "13912345678", "第一中学", None),
    (1, make_id_number("110105", date(2015, 1, 1), 11, male=True), "张伟", "男", "13912345678", "一中", None),
    (1, make_id_number("110105", date(1930, 1, 1), 11, male=True), "张伟", "男", "13912345678", "一中", None),
    (1, MALE_ID, "张伟\n", "男", "13912345678", "第一中学", None),
    (1, MALE_ID, "阿依古丽・买买提", "男", "13912345678", "第一中学", None),
    (1, MALE_ID, "张伟", "男", "1391234567８", "第一中学", None),
    (1, MALE_ID, "张伟", "男", "+8613912345678", "第一中学", None),
    (1, MALE_ID, "张伟", "男", 13912345678.0, "第一中学", None),
    (1, MALE_ID, "张伟", "男", "13912345678", " 第一中学", None),
    (1, MALE_ID, "张伟", "男", "13912345678", "第一中学\u3000", None),
    (1, MALE_ID, "张伟", "男", "13912345678", "第一\u00a0中学", None),
    (1, MALE_ID, "张伟", "男", "13912345678", "ＡＢＣ公司", None),
    (1, MALE_ID, "张伟", "男", "13912345678", "第一中学", "是"),
    (1, MALE_ID, "张伟", "男", "13912345678", "", None),
    (1, MALE_ID, "张伟", "男", "13912345678", "单" * 101, None),
    (1, MALE_ID, "张伟", "男", "13912345678", FEMALE_ID, None),  # unit_id_like
    (1, MALE_ID, "张伟", "男", "13912345678", f"财务处{FEMALE_ID[:17]}", None),
    (1, MALE_ID, "张伟", "男", "13912345678", "沧州市第1中学2016级高三年级组办公室", None),  # long, no ID
]


@pytest.mark.parametrize("cells", FAST_PATH_CASES, ids=range(len(FAST_PATH_CASES)))
def test_the_fast_path_agrees_with_the_general_rules(cells):
    from members.validation import plain_accept, validate_row

    data = SheetData("xlsx", "登记表", 1, COLUMNS, [(2, list(cells))])
    pick = data.picker()
    fast = plain_accept(2, pick(list(cells)), TODAY)
    general = validate_row(2, list(cells), data, today=TODAY, pick=pick)
    if fast is not None:
        assert fast == general


def test_the_fast_path_takes_the_common_clean_row():
    from members.validation import plain_accept

    row = (MALE_ID, "张伟", "", "13912345678", "第一中学", None)
    assert plain_accept(2, row, TODAY) is not None
    taken = [n for n, cells in enumerate(FAST_PATH_CASES) if plain_accept(2, cells[1:], TODAY) is not None]
    assert taken == [0, 1, 2, 3, 5, 6, 28]  # clean rows; 男性 and an empty gender are normalised


# --- issue 10 finding 4: ID numbers typed where they do not belong -----------------------------------
MASKED_FEMALE = FEMALE_ID[:6] + "********" + FEMALE_ID[-4:]


def full_ids_in(result) -> list[str]:
    """Digit runs of 15+ characters left anywhere in what is stored and shown for a row."""
    import re

    text = "|".join(
        [result.message, result.name, result.unit, result.phone, *(m for _r, _f, m in result.problems)]
    )
    return re.findall(r"\d[\d ]{14,}", text)


def test_an_id_number_in_the_unit_column_is_rejected_naming_row_and_column_and_masked():
    result = one(1, MALE_ID, "张伟", "男", "13912345678", FEMALE_ID)
    assert (result.outcome, result.reason, result.field) == ("reject", "unit_id_like", "unit")
    assert result.message == (
        f"第2行（序号1）“所属单位”列填的是身份证号（{MASKED_FEMALE}），不能作为所属单位登记："
        "请填写本人所在单位（学院、处室或车间），身份证号填在“身份证号”列"
    )
    assert result.unit == MASKED_FEMALE and full_ids_in(result) == []


@pytest.mark.parametrize(
    "typed",
    [FEMALE_ID, " ".join([FEMALE_ID[:4], FEMALE_ID[4:8], FEMALE_ID[8:12], FEMALE_ID[12:16], FEMALE_ID[16:]])],
)
def test_an_id_number_in_the_name_column_is_rejected_and_masked(typed):
    result = one(1, MALE_ID, typed, "男", "13912345678", "第一中学")
    assert (result.outcome, result.reason, result.field) == ("reject", "name_id_like", "name")
    assert result.message.startswith(f"第2行（序号1）“姓名”列填的是身份证号（{MASKED_FEMALE}）")
    assert result.name == MASKED_FEMALE and full_ids_in(result) == []


@pytest.mark.parametrize(
    "cells, reason",
    [
        ((1, FEMALE_ID[:17], "张伟", "男", "13912345678", "一中"), "id_format"),  # 17 digits
        ((1, FEMALE_ID + "7", "张伟", "男", "13912345678", "一中"), "id_format"),  # 19 digits
        ((1, MALE_ID, "张伟", "男", FEMALE_ID, "一中"), "phone_invalid"),  # ID in the phone column
        ((1, MALE_ID, "张伟", FEMALE_ID, "13912345678", "一中"), "gender_invalid"),
    ],
)
def test_id_like_values_in_messages_are_masked(cells, reason):
    result = one(*cells)
    assert (result.outcome, result.reason) == ("reject", reason)
    assert full_ids_in(result) == [] and "*******" in result.message


def test_mask_id_like_masks_15_17_18_19_digits_and_leaves_card_numbers():
    from members.idcard import looks_like_id, mask_id_like

    assert mask_id_like(f"号码{FEMALE_ID}有误") == f"号码{MASKED_FEMALE}有误"
    assert mask_id_like("130902900101123") == "130902*****1123"  # 15 digits (first generation)
    assert mask_id_like("1309021990010112") == "1309021990010112"  # 16: a bank card number, not an ID
    assert mask_id_like("6212260000000000001") == "621226*********0001"  # 19: a doubled digit
    assert mask_id_like("１３０９０２１９９００２０１０２２Ｘ") == "１３０９０２********０２２Ｘ"
    assert [looks_like_id(t) for t in ["第一中学", "13912345678", "沧州市第1中学2016级高三年级组办公室"]] == [
        False,
        False,
        False,
    ]
