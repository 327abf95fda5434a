"""Safe parsing of arithmetic expressions into Value graphs (for `scalargrad graph`).

The text is parsed with `ast` and only a whitelist is accepted: numbers, variable names,
+ - * / **, unary - and +, and calls of the activation catalogue's functions plus exp,
log, sqrt, abs (activations with a parameter take it as a number: `leaky_relu(x, 0.1)`
or `leaky_relu(x, alpha=0.1)`). Everything else (attribute access, other calls,
`__import__`, lambdas, comprehensions, subscripts, comparisons, strings, ...) is refused
with an ExpressionError naming the construct. Nothing is ever passed to eval/exec.
Numbers are floats, so `10**10**10` is float arithmetic (inf), never a huge integer; a
literal too large for a float is refused.

The tree is walked with an explicit stack, so a long expression cannot hit Python's
recursion limit here.
"""

from __future__ import annotations

import ast
import keyword
import math
import sys
import unicodedata

from scalargrad.functions import ACTIVATIONS
from scalargrad.value import Value

MAX_LENGTH = 10_000
ELEMENTARY = ("exp", "log", "sqrt", "abs")
FUNCTIONS = tuple(ACTIVATIONS) + ELEMENTARY
_WITH_ALPHA = frozenset(n for n, a in ACTIVATIONS.items() if a.default_alpha is not None)

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_REFUSED_OPERATORS = {
    ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<",
    ast.RShift: ">>", ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&",
    ast.Not: "not", ast.Invert: "~",
}
_DESCRIPTIONS = {
    "Attribute": "attribute access", "Lambda": "a lambda", "ListComp": "a comprehension",
    "SetComp": "a comprehension", "DictComp": "a comprehension",
    "GeneratorExp": "a generator expression", "Subscript": "subscripting",
    "Compare": "a comparison", "BoolOp": "and/or", "IfExp": "a conditional expression",
    "JoinedStr": "an f-string", "FormattedValue": "an f-string", "Tuple": "a tuple",
    "List": "a list", "Dict": "a dict", "Set": "a set", "Starred": "a starred argument",
    "NamedExpr": "an assignment expression", "Await": "await", "Yield": "yield",
    "YieldFrom": "yield", "Slice": "a slice",
}


class ExpressionError(ValueError):
    """A refused or malformed expression, or bad variable assignments; one-line message."""


def _where(node) -> str:
    col = getattr(node, "col_offset", None)
    return f" at column {col + 1}" if col is not None else ""


def _refuse(node, what: str):
    raise ExpressionError(f"{what} is not allowed{_where(node)}; allowed: numbers, variables, "
                          f"+ - * / **, and calls of {', '.join(FUNCTIONS)}")


def _number(node):
    """The float of a numeric literal node (optionally negated), else None."""
    sign = 1.0
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
        node = node.operand
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return sign * _check_constant(node)
    return None


def _check_constant(node) -> float:
    value = node.value
    if type(value) in (int, float):
        # An int literal too large for a float raises OverflowError; a float literal
        # such as 1e400 was already turned into inf by the parser: both are refused.
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if math.isinf(number):
            raise ExpressionError(f"number too large for a float{_where(node)}")
        return number
    kind = {str: "a string", bytes: "a bytes literal", complex: "a complex number",
            bool: "True/False", type(None): "None"}.get(type(value), "this constant")
    _refuse(node, kind)


def _call_alpha(node: ast.Call, name: str):
    """Validate a call's arguments; return its alpha (or None)."""
    args = list(node.args)
    takes_alpha = name in _WITH_ALPHA
    alpha_node = None
    for kw in node.keywords:
        if kw.arg != "alpha" or not takes_alpha:
            shown = kw.arg if kw.arg is not None else "**"
            raise ExpressionError(f"{name}() takes no argument {shown!r}{_where(node)}")
        if alpha_node is not None:
            raise ExpressionError(f"{name}(): alpha given twice{_where(node)}")
        alpha_node = kw.value
    if len(args) == 2 and takes_alpha:
        if alpha_node is not None:
            raise ExpressionError(f"{name}(): alpha given twice{_where(node)}")
        alpha_node = args.pop()
    if len(args) != 1 or any(isinstance(a, ast.Starred) for a in args):
        extra = " (and optionally alpha, a number)" if takes_alpha else ""
        raise ExpressionError(f"{name}() takes exactly one argument{extra}{_where(node)}")
    if alpha_node is None:
        return None
    alpha = _number(alpha_node)
    if alpha is None:
        raise ExpressionError(f"{name}(): alpha must be a number{_where(alpha_node)}")
    return alpha


def _children(node) -> list:
    """Validate one node and return the sub-expressions whose Values it needs."""
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            _refuse(node, f"operator {_REFUSED_OPERATORS.get(type(node.op), '?')}")
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            _refuse(node, f"operator {_REFUSED_OPERATORS.get(type(node.op), '?')}")
        return [node.operand]
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            what = "attribute access" if isinstance(node.func, ast.Attribute) else "this call"
            _refuse(node.func, what)
        if node.func.id not in FUNCTIONS:
            _refuse(node, f"calling {node.func.id!r}")
        _call_alpha(node, node.func.id)
        return [node.args[0]]
    if isinstance(node, ast.Name):
        if node.id in FUNCTIONS:
            raise ExpressionError(f"{node.id} is a function; call it, e.g. {node.id}(x)"
                                  f"{_where(node)}")
        return []
    if isinstance(node, ast.Constant):
        _check_constant(node)
        return []
    name = type(node).__name__
    _refuse(node, _DESCRIPTIONS.get(name, name))


def parse(text: str) -> ast.Expression:
    """Parse and validate an expression; raise ExpressionError naming the problem."""
    if not isinstance(text, str):
        raise ExpressionError(f"expression must be a string, got {type(text).__name__}")
    if not text.strip():
        raise ExpressionError("empty expression")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_LENGTH} characters")
    # Python builds the ast with one C call per level and checks the recursion limit: a
    # flat 3000-term sum is a 3000-deep chain of BinOps. Room for what MAX_LENGTH allows
    # (the parser itself still refuses truly nested input, e.g. 200 open parentheses).
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(max(previous, 3 * len(text) + 1000))
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError) as exc:
        message = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        if "integer string conversion" in message:  # Python's 4300-digit limit
            raise ExpressionError("number too large for a float (too many digits)") from None
        offset = getattr(exc, "offset", None)
        where = f" at column {offset}" if offset else ""
        raise ExpressionError(f"malformed expression: {message}{where}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError("malformed expression: nested too deeply") from None
    finally:
        sys.setrecursionlimit(previous)
    stack = [tree.body]
    while stack:
        stack.extend(_children(stack.pop()))
    return tree


def variable_names(tree: ast.Expression) -> list:
    """Names of the variables an expression uses, in order of first appearance."""
    call_targets = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    found = sorted((n.lineno, n.col_offset, n.id) for n in ast.walk(tree)
                   if isinstance(n, ast.Name) and id(n) not in call_targets)
    names = []
    for _, _, name in found:
        if name not in names:
            names.append(name)
    return names


def build(text: str, variables: dict) -> tuple:
    """Build the Value graph of `text` with the given variables.

    Returns (output Value, {name: input Value}). Each variable is one Value (labelled
    with its name) shared by all its uses, so x*x has one input node. Missing or unused
    variables raise ExpressionError.
    """
    tree = parse(text)
    used = variable_names(tree)
    missing = [n for n in used if n not in variables]
    if missing:
        hint = ", ".join(f"{n}=<number>" for n in missing)
        raise ExpressionError(f"no value for variable(s) {', '.join(missing)} (give {hint})")
    unused = [n for n in variables if n not in used]
    if unused:
        raise ExpressionError(f"variable(s) {', '.join(unused)} given but not used in the expression")
    inputs = {name: Value(variables[name], label=name) for name in used}
    return _evaluate(tree.body, inputs), inputs


def _evaluate(root, inputs: dict) -> Value:
    """Post-order walk with an explicit stack: children's Values before their parent's."""
    done = {}
    stack = [(root, False)]
    while stack:
        node, children_ready = stack.pop()
        if not children_ready:
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(_children(node)))
            continue
        done[id(node)] = _apply(node, done, inputs)
    return done[id(root)]


def _apply(node, done: dict, inputs: dict) -> Value:
    if isinstance(node, ast.Constant):
        return Value(_check_constant(node), label=repr(node.value))
    if isinstance(node, ast.Name):
        return inputs[node.id]
    if isinstance(node, ast.UnaryOp):
        operand = done[id(node.operand)]
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        left, right = done[id(node.left)], done[id(node.right)]
        op = _BINARY[type(node.op)]
        if op == "+":
            return left + right
        if op == "-":
            return left - right
        if op == "*":
            return left * right
        if op == "/":
            return left / right
        exponent = _number(node.right)
        # A literal exponent stays a constant of the op (x**2 has one parent), as in
        # micrograd; an expression exponent is a parent with its own gradient.
        return left**exponent if exponent is not None else left**right
    name = node.func.id
    arg = done[id(node.args[0])]
    if name in ELEMENTARY:
        return getattr(arg, name)()
    return arg.activation(name, _call_alpha(node, name))


def parse_assignments(items) -> dict:
    """['x=-2', 'y=5'] -> {'x': -2.0, 'y': 5.0}, with one-line errors for bad items.

    Names are NFKC-normalised as Python's parser does with the expression's names (so
    a full-width ｘ matches x). `inf`, `-inf` and `nan` are accepted as written; a
    number that overflows a float (x=1e309) is refused like a literal in the expression.
    """
    values = {}
    for item in items:
        name, sep, text = item.partition("=")
        name, text = unicodedata.normalize("NFKC", name.strip()), text.strip()
        if not sep:
            raise ExpressionError(f"expected NAME=NUMBER, got {item!r}")
        if not name.isidentifier() or keyword.iskeyword(name):
            raise ExpressionError(f"{name!r} is not a valid variable name (in {item!r})")
        if name in FUNCTIONS:
            raise ExpressionError(f"{name!r} is a function name, not a variable (in {item!r})")
        if name in values:
            raise ExpressionError(f"variable {name} given twice")
        try:
            number = float(text)
        except ValueError:
            raise ExpressionError(f"value of {name} is not a number: {text!r}") from None
        if math.isinf(number) and text.lstrip("+-").lower() not in ("inf", "infinity"):
            raise ExpressionError(f"value of {name} is too large for a float: {text!r} "
                                  f"(write inf for infinity)")
        values[name] = number
    return values
