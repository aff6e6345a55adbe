"""The ``Upstash-Retry-Delay`` expression: a small, safe arithmetic language (QStash §5.4).

Owns parsing the expression into a tree and evaluating it; never uses ``eval``/``compile``.
Pure: no I/O, no clock. The result is a delay in **milliseconds**; clamping it and choosing a
fallback is the retry policy's job (``wirepost.delivery.retry``).

Grammar (precedence from low to high; ``*`` ``/`` ``%`` bind tighter than ``+`` ``-``)::

    expression := product (("+" | "-") product)*
    product    := unary (("*" | "/" | "%") unary)*
    unary      := ("+" | "-") unary | primary
    primary    := number | "retried" | function "(" expression ("," expression)* ")"
                | "(" expression ")"
    number     := digits ["." [digits]] | "." digits

Names are case-sensitive. The only variable is ``retried``: how many retries came before this
one, so **0 for the first retry** (QStash semantics). Functions: ``pow(x, y)``, ``exp(x)``,
``sqrt(x)``, ``abs(x)``, ``floor(x)``, ``ceil(x)``, ``round(x)`` (halves away from zero, like
Go's ``math.Round``), ``min(x, ...)`` and ``max(x, ...)`` (one or more arguments). ``%`` takes
the sign of the dividend (Go's ``math.Mod``). Limits: at most 256 characters, nesting at most 32
deep. Examples: ``1000``, ``1000 * (1 + retried)``, ``pow(2, retried) * 1000``,
``max(10, retried*5)``.

Errors: a bad expression raises ValueError naming the 1-based position and what was expected.
Evaluation returns ``math.inf`` (or ``-math.inf``) on overflow and raises ValueError on division
by zero, a domain error (``sqrt(-1)``) or a result that is not a number.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

MAX_TEXT_LENGTH = 256
MAX_DEPTH = 32
VARIABLE = "retried"


@dataclass(frozen=True)
class _Number:
    value: float


@dataclass(frozen=True)
class _Retried:
    pass


@dataclass(frozen=True)
class _Negate:
    operand: _Node


@dataclass(frozen=True)
class _Binary:
    operator: str
    left: _Node
    right: _Node


@dataclass(frozen=True)
class _Call:
    name: str
    arguments: tuple[_Node, ...]


_Node: TypeAlias = _Number | _Retried | _Negate | _Binary | _Call


def _pow(x: float, y: float) -> float:
    try:
        return math.pow(x, y)
    except OverflowError:
        negative = x < 0 and y.is_integer() and y % 2 == 1
        return -math.inf if negative else math.inf
    except ValueError:
        raise ValueError(f"pow({x:g}, {y:g}) is undefined") from None


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _sqrt(x: float) -> float:
    if x < 0:
        raise ValueError(f"sqrt({x:g}) is undefined for a negative number")
    return math.sqrt(x)


def _finite_only(function: Callable[[float], int]) -> Callable[[float], float]:
    def apply(x: float) -> float:
        return float(function(x)) if math.isfinite(x) else x

    return apply


def _round_half_away_from_zero(x: float) -> int:
    whole = math.floor(abs(x))
    if abs(x) - whole >= 0.5:
        whole += 1
    return whole if x >= 0 else -whole


@dataclass(frozen=True)
class _Function:
    min_arguments: int
    max_arguments: int | None
    apply: Callable[[Sequence[float]], float]

    def arity(self) -> str:
        if self.max_arguments is None:
            return f"at least {self.min_arguments} argument"
        plural = "s" if self.min_arguments != 1 else ""
        return f"exactly {self.min_arguments} argument{plural}"


def _unary(function: Callable[[float], float]) -> _Function:
    return _Function(1, 1, lambda args: function(args[0]))


_FUNCTIONS: dict[str, _Function] = {
    "pow": _Function(2, 2, lambda args: _pow(args[0], args[1])),
    "exp": _unary(_exp),
    "sqrt": _unary(_sqrt),
    "abs": _unary(abs),
    "floor": _unary(_finite_only(math.floor)),
    "ceil": _unary(_finite_only(math.ceil)),
    "round": _unary(_finite_only(_round_half_away_from_zero)),
    "min": _Function(1, None, lambda args: min(args)),
    "max": _Function(1, None, lambda args: max(args)),
}
_FUNCTION_LIST = ", ".join(sorted(_FUNCTIONS))

_TOKEN = re.compile(
    r"(?P<number>\d+(?:\.\d*)?|\.\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<symbol>[-+*/%(),])",
    re.ASCII,
)


@dataclass(frozen=True)
class _Token:
    kind: str  # "number", "name", "symbol" or "end"
    text: str
    position: int  # 1-based

    def describe(self) -> str:
        if self.kind == "end":
            return "the end of the expression"
        return f"{self.kind} {self.text!r}" if self.kind != "symbol" else repr(self.text)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            tokens.append(_Token("end", "", position + 1))
            return tokens
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            raise ValueError(
                f"at position {position + 1}: unexpected character {text[position]!r}; "
                "expected a number, 'retried', a function, an operator (+ - * / %) or a parenthesis"
            )
        tokens.append(_Token(match.lastgroup, match.group(match.lastgroup), position + 1))
        position = match.end()


class _Parser:
    def __init__(self, text: str) -> None:
        self._tokens = _tokenize(text)
        self._index = 0

    def parse(self) -> _Node:
        tree = self._sum(0)
        token = self._peek()
        if token.kind != "end":
            raise self._unexpected("an operator (+ - * / %) or the end of the expression", token)
        return tree

    def _peek(self) -> _Token:
        return self._tokens[self._index]

    def _take(self) -> _Token:
        token = self._tokens[self._index]
        self._index += 1
        return token

    def _unexpected(self, expected: str, token: _Token) -> ValueError:
        return ValueError(
            f"at position {token.position}: expected {expected}, found {token.describe()}"
        )

    def _expect(self, symbol: str, expected: str) -> None:
        token = self._take()
        if token.kind != "symbol" or token.text != symbol:
            raise self._unexpected(expected, token)

    def _deeper(self, depth: int) -> int:
        if depth >= MAX_DEPTH:
            raise ValueError(
                f"at position {self._peek().position}: the expression nests too deeply "
                f"(at most {MAX_DEPTH} levels of parentheses, calls and signs)"
            )
        return depth + 1

    def _is_symbol(self, *symbols: str) -> bool:
        token = self._peek()
        return token.kind == "symbol" and token.text in symbols

    def _sum(self, depth: int) -> _Node:
        left = self._product(depth)
        while self._is_symbol("+", "-"):
            operator = self._take().text
            left = _Binary(operator, left, self._product(depth))
        return left

    def _product(self, depth: int) -> _Node:
        left = self._unary(depth)
        while self._is_symbol("*", "/", "%"):
            operator = self._take().text
            left = _Binary(operator, left, self._unary(depth))
        return left

    def _unary(self, depth: int) -> _Node:
        if self._is_symbol("+", "-"):
            sign = self._take().text
            operand = self._unary(self._deeper(depth))
            return _Negate(operand) if sign == "-" else operand
        return self._primary(depth)

    def _primary(self, depth: int) -> _Node:
        token = self._take()
        if token.kind == "number":
            return _Number(float(token.text))
        if token.kind == "name":
            return self._name(token, depth)
        if token.kind == "symbol" and token.text == "(":
            inner = self._sum(self._deeper(depth))
            self._expect(")", "')' to close the '(' at position " + str(token.position))
            return inner
        raise self._unexpected("a number, 'retried', a function call or '('", token)

    def _name(self, token: _Token, depth: int) -> _Node:
        called = self._is_symbol("(")
        if token.text == VARIABLE:
            if called:
                raise ValueError(
                    f"at position {token.position}: '{VARIABLE}' is a variable, not a function; "
                    f"write e.g. 1000 * {VARIABLE}"
                )
            return _Retried()
        function = _FUNCTIONS.get(token.text)
        if function is None:
            what = "function" if called else "name"
            raise ValueError(
                f"at position {token.position}: unknown {what} {token.text!r}; the variable is "
                f"'{VARIABLE}' and the functions are {_FUNCTION_LIST}"
            )
        if not called:
            raise ValueError(
                f"at position {token.position}: function {token.text!r} must be called with "
                f"arguments in parentheses, e.g. {token.text}(retried)"
            )
        self._take()
        arguments = self._arguments(self._deeper(depth))
        if len(arguments) < function.min_arguments or (
            function.max_arguments is not None and len(arguments) > function.max_arguments
        ):
            raise ValueError(
                f"at position {token.position}: {token.text}() takes {function.arity()}, "
                f"got {len(arguments)}"
            )
        return _Call(token.text, tuple(arguments))

    def _arguments(self, depth: int) -> list[_Node]:
        arguments: list[_Node] = []
        if self._is_symbol(")"):
            self._take()
            return arguments
        while True:
            arguments.append(self._sum(depth))
            if self._is_symbol(")"):
                self._take()
                return arguments
            self._expect(",", "',' or ')' in the argument list")


def _evaluate(node: _Node, retried: float) -> float:
    result: float
    match node:
        case _Number(value):
            result = value
        case _Retried():
            result = retried
        case _Negate(operand):
            result = -_evaluate(operand, retried)
        case _Binary(operator, left, right):
            result = _apply(operator, _evaluate(left, retried), _evaluate(right, retried))
        case _Call(name, arguments):
            values = [_evaluate(argument, retried) for argument in arguments]
            result = _FUNCTIONS[name].apply(values)
    if math.isnan(result):
        raise ValueError("the expression's value is not a number (e.g. infinity minus infinity)")
    return result


def _apply(operator: str, left: float, right: float) -> float:
    if operator == "+":
        return left + right
    if operator == "-":
        return left - right
    if operator == "*":
        return left * right
    if right == 0:
        raise ValueError("division by zero" if operator == "/" else "modulo by zero")
    if operator == "/":
        return left / right
    if math.isinf(left):
        raise ValueError("modulo of an infinite value is undefined")
    return math.fmod(left, right)


@dataclass(frozen=True)
class RetryDelay:
    """A parsed ``Upstash-Retry-Delay`` expression; ``text`` is the original string.

    Construct with :meth:`parse` (or ``RetryDelay(text)``); both raise ValueError on a bad
    expression. Equality compares ``text``.
    """

    text: str
    _tree: _Node = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise ValueError(
                "retry delay expression is empty; write milliseconds such as 1000 or "
                "an expression such as 1000 * (1 + retried)"
            )
        if len(self.text) > MAX_TEXT_LENGTH:
            raise ValueError(
                f"retry delay expression is too long ({len(self.text)} characters, "
                f"at most {MAX_TEXT_LENGTH})"
            )
        try:
            tree = _Parser(self.text).parse()
        except ValueError as error:
            raise ValueError(f"invalid retry delay expression {self.text!r}: {error}") from None
        object.__setattr__(self, "_tree", tree)

    @classmethod
    def parse(cls, text: str) -> RetryDelay:
        """Parse ``text``; raises ValueError with the position and what was expected."""
        return cls(text)

    def evaluate(self, retried: int) -> float:
        """The delay in milliseconds; ``retried`` is 0 for the first retry (QStash semantics).

        Returns ``±math.inf`` on overflow; raises ValueError on division by zero, a domain
        error or a non-number result (callers then fall back to the default backoff).
        """
        if retried < 0:
            raise ValueError(f"retried must be 0 or more, got {retried}")
        return _evaluate(self._tree, float(retried))
