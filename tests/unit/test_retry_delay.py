"""Unit tests for wirepost.retry_delay: the Upstash-Retry-Delay expression (QStash §5.4)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import FrozenInstanceError

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wirepost.retry_delay import MAX_DEPTH, MAX_TEXT_LENGTH, RetryDelay

# Property tests stay quick (tests/unit must run in about 2 s) and never time out on a
# loaded machine.
_QUICK = settings(max_examples=40, deadline=None)


@pytest.mark.parametrize(
    ("text", "retried", "expected"),
    [
        ("1000", 0, 1000.0),
        ("1000 * (1 + retried)", 0, 1000.0),
        ("1000 * (1 + retried)", 2, 3000.0),
        ("pow(2, retried) * 1000", 3, 8000.0),
        ("max(10, retried*5)", 1, 10.0),
        ("max(10, retried*5)", 4, 20.0),
        ("min(5)", 0, 5.0),
        ("min(7, 3, 9)", 0, 3.0),
        ("1 + 2 * 3", 0, 7.0),
        ("(1 + 2) * 3", 0, 9.0),
        ("10 - 4 - 3", 0, 3.0),
        ("100 / 10 / 5", 0, 2.0),
        ("2 * 3 % 4", 0, 2.0),
        ("-3 + 5", 0, 2.0),
        ("--3", 0, 3.0),
        ("+3", 0, 3.0),
        ("-retried", 2, -2.0),
        ("1.5 * 2", 0, 3.0),
        (".5 * 4", 0, 2.0),
        ("exp(0)", 0, 1.0),
        ("sqrt(16)", 0, 4.0),
        ("abs(-7)", 0, 7.0),
        ("floor(2.7)", 0, 2.0),
        ("floor(-2.5)", 0, -3.0),
        ("ceil(2.1)", 0, 3.0),
        ("ceil(-2.5)", 0, -2.0),
        ("  1000  ", 0, 1000.0),
    ],
)
def test_retry_delay_evaluates_expressions(text: str, retried: int, expected: float) -> None:
    assert RetryDelay.parse(text).evaluate(retried) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("round(2.5)", 3.0), ("round(-2.5)", -3.0), ("round(2.4)", 2.0), ("round(0.5)", 1.0)],
)
def test_retry_delay_round_halves_away_from_zero(text: str, expected: float) -> None:
    assert RetryDelay.parse(text).evaluate(0) == expected


def test_retry_delay_round_does_not_round_up_just_below_a_half() -> None:
    assert RetryDelay.parse("round(0.49999999999999994)").evaluate(0) == 0.0


@pytest.mark.parametrize(("text", "expected"), [("7 % 3", 1.0), ("-7 % 3", -1.0), ("7 % -3", 1.0)])
def test_retry_delay_modulo_takes_the_sign_of_the_dividend(text: str, expected: float) -> None:
    assert RetryDelay.parse(text).evaluate(0) == expected


def test_retry_delay_keeps_the_original_text() -> None:
    text = "  pow(2, retried) *1000 "
    assert RetryDelay.parse(text).text == text


def test_retry_delay_compares_by_text_and_is_frozen() -> None:
    first = RetryDelay.parse("1000")
    assert first == RetryDelay("1000")
    assert first != RetryDelay.parse("1000.0")
    assert hash(first) == hash(RetryDelay("1000"))
    with pytest.raises(FrozenInstanceError):
        first.text = "2000"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pow(10, 400)", math.inf),
        ("pow(-10, 401)", -math.inf),
        ("pow(-10, 400)", math.inf),
        ("exp(1000)", math.inf),
        ("1" + "0" * 230 + " * pow(10, 100)", math.inf),
        ("pow(10, 308) * 10", math.inf),
        ("-exp(1000)", -math.inf),
        ("floor(exp(1000))", math.inf),
        ("round(exp(1000))", math.inf),
        ("min(exp(1000), 5)", 5.0),
    ],
)
def test_retry_delay_overflow_gives_infinity(text: str, expected: float) -> None:
    assert RetryDelay.parse(text).evaluate(0) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("1 / 0", "division by zero"),
        ("1 / (retried - retried)", "division by zero"),
        ("5 % 0", "modulo by zero"),
        ("sqrt(-1)", "sqrt(-1)"),
        ("pow(-8, 1/3)", "pow(-8"),
        ("pow(0, -1)", "pow(0, -1)"),
        ("exp(1000) - exp(1000)", "not a number"),
        ("exp(1000) % 2", "infinite"),
        ("exp(1000) / exp(1000)", "not a number"),
    ],
)
def test_retry_delay_evaluation_errors_are_value_errors(text: str, fragment: str) -> None:
    delay = RetryDelay.parse(text)
    with pytest.raises(ValueError, match=re.escape(fragment)):
        delay.evaluate(0)


def test_retry_delay_rejects_negative_retried() -> None:
    with pytest.raises(ValueError, match="retried"):
        RetryDelay.parse("1000").evaluate(-1)


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("", ["empty"]),
        ("   ", ["empty"]),
        ("1 +", ["position 4", "expected a number", "end of the expression"]),
        ("(1", ["position 3", "')'", "'(' at position 1"]),
        ("1 2", ["position 3", "operator", "number '2'"]),
        ("1 $ 2", ["position 3", "'$'"]),
        ("x", ["position 1", "unknown name 'x'", "retried"]),
        ("foo(1)", ["position 1", "unknown function 'foo'", "pow"]),
        ("Retried", ["unknown name 'Retried'"]),
        ("POW(2, 1)", ["unknown function 'POW'"]),
        ("retried(1)", ["variable, not a function"]),
        ("pow", ["must be called"]),
        ("pow(1)", ["pow() takes exactly 2 arguments, got 1"]),
        ("pow(1, 2, 3)", ["pow() takes exactly 2 arguments, got 3"]),
        ("sqrt()", ["sqrt() takes exactly 1 argument, got 0"]),
        ("min()", ["min() takes at least 1 argument, got 0"]),
        ("max(1, 2,)", ["position 10", "expected a number"]),
        ("max(1 2)", ["',' or ')'"]),
        ("()", ["position 2"]),
        (")", ["position 1"]),
        ("1 ** 2", ["position 4"]),
        ("1e3", ["position 2", "found name 'e3'"]),
        ("__import__(1)", ["unknown function '__import__'"]),
        ("__import__('os')", ["position 12", "unexpected character"]),
        ("retried.real", ["position 8"]),
        ("[1]", ["position 1", "unexpected character '['"]),
        ("1" * (MAX_TEXT_LENGTH + 1), ["too long"]),
    ],
)
def test_retry_delay_parse_errors_name_position_and_expectation(
    text: str, fragments: list[str]
) -> None:
    with pytest.raises(ValueError, match="retry delay expression") as caught:
        RetryDelay.parse(text)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_retry_delay_allows_nesting_up_to_the_limit() -> None:
    text = "(" * MAX_DEPTH + "1" + ")" * MAX_DEPTH
    assert RetryDelay.parse(text).evaluate(0) == 1.0


@pytest.mark.parametrize(
    "text",
    [
        "(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1),
        "-" * (MAX_DEPTH + 1) + "1",
        "abs(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1),
    ],
)
def test_retry_delay_rejects_nesting_beyond_the_limit(text: str) -> None:
    with pytest.raises(ValueError, match="nests too deeply"):
        RetryDelay.parse(text)


def test_retry_delay_accepts_a_long_flat_expression() -> None:
    terms = (MAX_TEXT_LENGTH + 1) // 2
    text = "+".join(["1"] * terms)
    assert len(text) <= MAX_TEXT_LENGTH
    assert RetryDelay.parse(text).evaluate(0) == float(terms)


@_QUICK
@given(st.text(max_size=80))
def test_retry_delay_parse_raises_only_value_error_on_random_text(text: str) -> None:
    try:
        delay = RetryDelay.parse(text)
    except ValueError:
        return
    try:
        delay.evaluate(0)
    except ValueError:
        return


_ALPHABET = st.sampled_from([*"0123456789.+-*/%(), ", "retried", "pow", "min", "max"])


@_QUICK
@given(st.lists(_ALPHABET, max_size=40).map("".join), st.integers(0, 50))
def test_retry_delay_raises_only_value_error_on_token_soup(text: str, retried: int) -> None:
    try:
        RetryDelay.parse(text).evaluate(retried)
    except ValueError:
        return


# An expression generator paired with an independent model of its value (no eval).
Expression = tuple[str, Callable[[float], float]]


def _leaves() -> st.SearchStrategy[Expression]:
    numbers = st.integers(0, 1000).map(lambda n: (str(n), lambda _r, n=n: float(n)))
    variable = st.just(("retried", lambda r: r))
    return st.one_of(numbers, variable)


def _combine(children: st.SearchStrategy[Expression]) -> st.SearchStrategy[Expression]:
    def binary(
        operator: str, model: Callable[[float, float], float]
    ) -> st.SearchStrategy[Expression]:
        return st.tuples(children, children).map(
            lambda pair: (
                f"({pair[0][0]}) {operator} ({pair[1][0]})",
                lambda r: model(pair[0][1](r), pair[1][1](r)),
            )
        )

    def call(name: str, model: Callable[[float], float]) -> st.SearchStrategy[Expression]:
        return children.map(lambda c: (f"{name}({c[0]})", lambda r: model(c[1](r))))

    return st.one_of(
        binary("+", lambda a, b: a + b),
        binary("-", lambda a, b: a - b),
        binary("*", lambda a, b: a * b),
        st.tuples(children, children).map(
            lambda pair: (
                f"max({pair[0][0]}, {pair[1][0]})",
                lambda r: max(pair[0][1](r), pair[1][1](r)),
            )
        ),
        children.map(lambda c: (f"-({c[0]})", lambda r: -c[1](r))),
        call("abs", abs),
        call("floor", lambda x: float(math.floor(x))),
    )


expressions = st.recursive(_leaves(), _combine, max_leaves=8)


@_QUICK
@given(expressions, st.integers(0, 20))
def test_retry_delay_matches_a_model_of_generated_expressions(
    expression: Expression, retried: int
) -> None:
    text, model = expression
    if len(text) > MAX_TEXT_LENGTH:
        return
    assert RetryDelay.parse(text).evaluate(retried) == model(float(retried))
