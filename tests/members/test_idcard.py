from datetime import date

import pytest

from members.idcard import check_digit, check_id_number, gender_of, make_id_number

TODAY = date(2026, 11, 23)
VALID = "11010519491231002X"  # the GB 11643 example number


def test_the_standard_example_number_is_valid():
    result = check_id_number(VALID, today=TODAY)
    assert (result.value, result.reason) == (VALID, "ok")


@pytest.mark.parametrize(
    "raw",
    [
        " 11010519491231002x ",
        "\u300011010519491231002X\u3000",
        "１１０１０５１９４９１２３１００２Ｘ",
        "110105 19491231 002X",
    ],
)
def test_normalisation_accepts_lowercase_fullwidth_and_spaces(raw):
    result = check_id_number(raw, today=TODAY)
    assert (result.value, result.reason) == (VALID, "ok_normalised")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "id_missing"),
        ("   ", "id_missing"),
        (None, "id_missing"),
        ("110105491231002", "id_15digit"),
        ("1101051949123100", "id_format"),
        ("11010519491231002Y", "id_format"),
        ("A1010519491231002X", "id_format"),
        ("99010519491231002X", "id_region"),
        ("16010519491231002X", "id_region"),
        ("11010519490231002X", "id_birthdate"),  # 31 Feb... 0231 is not a date
        ("11010520300101002X", "id_birthdate"),  # in the future
        ("11010519400101002X", "id_birthdate"),  # 86 years old
        ("11010520150101002X", "id_birthdate"),  # 11 years old
        ("110105194912310021", "id_checksum"),
        ("1.10105E+17", "id_excel_damaged"),
        (1.10105194912310e17, "id_excel_damaged"),
        (110105194912310020, "id_excel_damaged"),
    ],
)
def test_rejections_name_the_rule(raw, reason):
    result = check_id_number(raw, today=TODAY)
    assert result.reason == reason
    assert result.value == ""
    assert result.message  # a Chinese sentence for the clerk


def test_abolished_county_codes_stay_valid_only_the_province_is_checked():
    number = make_id_number("139999", date(1980, 1, 1), 11, male=True)
    assert check_id_number(number, today=TODAY).ok


def test_age_limits_are_inclusive_on_the_reference_date():
    sixteen_today = make_id_number("130902", date(2010, 11, 23), 11, male=True)
    eighty_today = make_id_number("130902", date(1946, 11, 23), 11, male=True)
    sixteen_tomorrow = make_id_number("130902", date(2010, 11, 24), 11, male=True)
    assert check_id_number(sixteen_today, today=TODAY).ok
    assert check_id_number(eighty_today, today=TODAY).ok
    assert check_id_number(sixteen_tomorrow, today=TODAY).reason == "id_birthdate"


def test_check_digit_and_gender_parity():
    # 1*7+1*9+0*10+1*5+0*8+5*4+1*2+9*1+4*6+9*3+1*7+2*9+3*10+1*5+0*8+0*4+2*2 = 167; 167 % 11 = 2 -> "X"
    assert check_digit("11010519491231002") == "X"
    assert gender_of("11010519491231002X") == "F"  # 17th digit 2: even
    assert gender_of(make_id_number("130902", date(1990, 5, 5), 13, male=True)) == "M"


def test_check_digit_of_ascii_and_other_unicode_digits_agree():
    # GB 11643-1999's example number; the same digits written in Arabic-Indic numerals (which
    # `\d` admits) take the int() path and must give the same check character
    arabic_indic = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
    for first17 in ("11010519491231002", "13090219850304123", "65010119990101999"):
        assert check_digit(first17.translate(arabic_indic)) == check_digit(first17)
    assert check_digit("11010519491231002") == "X"
