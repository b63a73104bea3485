import pytest

from issuance.cardnumbers import card_number_error, luhn_complete, luhn_ok, normalise_card_number


@pytest.mark.parametrize("number", ["4111111111111111", "79927398713", "6011000990139424"])
def test_luhn_accepts_known_valid_numbers(number):
    assert luhn_ok(number)


@pytest.mark.parametrize("number", ["4111111111111112", "79927398710", "6011000990139425"])
def test_luhn_rejects_a_wrong_check_digit(number):
    assert not luhn_ok(number)


def test_completed_numbers_pass_and_every_other_last_digit_fails():
    number = luhn_complete("621226000000000001")
    assert len(number) == 19 and luhn_ok(number)
    others = [number[:-1] + d for d in "0123456789" if d != number[-1]]
    assert not any(luhn_ok(o) for o in others)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("6212 2600 0000 0000 01", "621226000000000001"),
        ("６２１２２６", "621226"),
        ("'6212260000000000", "6212260000000000"),
        (4111111111111111.0, "4111111111111111"),
        (None, ""),
    ],
)
def test_normalise_card_number(raw, expected):
    assert normalise_card_number(raw) == expected


def test_card_number_errors_name_the_problem():
    assert card_number_error(luhn_complete("621226000000001")) == ""
    assert "16至19位" in card_number_error(luhn_complete("62122600000001"))  # 15 digits
    assert "16至19位" in card_number_error("62122600000000000012")  # 20 digits
    assert "16至19位" in card_number_error("62122600000000A1")
    valid = luhn_complete("621226000000000001")
    wrong = valid[:-1] + str((int(valid[-1]) + 1) % 10)
    assert "校验位" in card_number_error(wrong)
    assert card_number_error("") == "卡号为空"
