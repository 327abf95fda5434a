"""A tiny symbolic differentiator for lesson 15 (what Mathematica or sympy do, in small).

Expressions are parsed with `ast` (never evaluated by Python): numbers, variable names,
+ - * / **, unary minus and the functions sin, cos, exp, log. Every walk over the tree uses
an explicit stack. `derivative` applies the textbook rules without simplifying much, so the
result shows the "expression swell" that makes symbolic differentiation costly.
"""

from __future__ import annotations

import ast
import math
from typing import Union

Expr = Union[float, str, tuple]  # number | variable name | (op, operand, ...)

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_FUNCTIONS = ("sin", "cos", "exp", "log")


class SymbolicError(ValueError):
    """An expression outside the tiny language (names the offending piece)."""


def _children(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.Call):
        return list(node.args)
    return []


def _postorder(root):
    """Nodes of a tree, children before parents, without recursion."""
    order, stack = [], [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        stack.append((node, True))
        for child in reversed(_children(node) if isinstance(node, ast.AST)
                              else (node[1:] if isinstance(node, tuple) else ())):
            stack.append((child, False))
    return order


def parse(text: str) -> Expr:
    """Turn text such as 'log(x1) + x1*x2 - sin(x2)' into a nested-tuple expression."""
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError as exc:
        raise SymbolicError(f"cannot parse {text!r}: {exc.msg}") from None
    except RecursionError:  # Python's own parser recurses on deep nesting
        raise SymbolicError(f"expression of {len(text)} characters is nested too "
                            f"deeply for Python's parser") from None
    built: dict[int, Expr] = {}
    for node in _postorder(tree):
        kids = [built[id(c)] for c in _children(node)]
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
                and not isinstance(node.value, bool):
            built[id(node)] = float(node.value)
        elif isinstance(node, ast.Name):
            built[id(node)] = node.id
        elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            built[id(node)] = (_BINARY[type(node.op)], kids[0], kids[1])
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            built[id(node)] = ("neg", kids[0])
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in _FUNCTIONS and len(node.args) == 1 and not node.keywords):
            built[id(node)] = (node.func.id, kids[0])
        else:
            raise SymbolicError(f"{ast.unparse(node)!r} is not supported (numbers, names, "
                                f"+ - * / **, unary -, {', '.join(_FUNCTIONS)})")
    return built[id(tree)]


def _mul(a: Expr, b: Expr) -> Expr:
    # Only the trivial simplifications, so the size of the result stays honest.
    if a == 0.0 or b == 0.0:
        return 0.0
    if a == 1.0:
        return b
    if b == 1.0:
        return a
    return ("*", a, b)


def _add(a: Expr, b: Expr) -> Expr:
    if a == 0.0:
        return b
    if b == 0.0:
        return a
    return ("+", a, b)


def _rule(e: Expr, d: list[Expr], var: str) -> Expr:
    """d(e)/d(var) given the derivatives `d` of e's operands."""
    if isinstance(e, float):
        return 0.0
    if isinstance(e, str):
        return 1.0 if e == var else 0.0
    op, args = e[0], e[1:]
    if op == "+":
        return _add(d[0], d[1])
    if op == "-":
        return d[0] if d[1] == 0.0 else ("-", d[0], d[1])
    if op == "neg":
        return 0.0 if d[0] == 0.0 else ("neg", d[0])
    if op == "*":  # product rule
        return _add(_mul(d[0], args[1]), _mul(args[0], d[1]))
    if op == "/":  # quotient rule; with a constant denominator it is just u' / v
        if d[1] == 0.0:
            return 0.0 if d[0] == 0.0 else ("/", d[0], args[1])
        top = ("-", _mul(d[0], args[1]), _mul(args[0], d[1]))
        return ("/", top, ("**", args[1], 2.0))
    if op == "**":
        if isinstance(args[1], float):  # power rule with a constant exponent
            return _mul(_mul(args[1], ("**", args[0], args[1] - 1.0)), d[0])
        # general case: d(u^v) = u^v (v' log u + v u'/u)
        inner = _add(_mul(d[1], ("log", args[0])), _mul(args[1], ("/", d[0], args[0])))
        return _mul(e, inner)
    outer = {"sin": ("cos", args[0]), "cos": ("neg", ("sin", args[0])),
             "exp": e, "log": ("/", 1.0, args[0])}[op]
    return _mul(outer, d[0])  # chain rule


def derivative(expr: Expr, var: str) -> Expr:
    """The symbolic derivative of `expr` with respect to the variable `var`."""
    done: dict[int, Expr] = {}
    for node in _postorder(expr):
        kids = node[1:] if isinstance(node, tuple) else ()
        done[id(node)] = _rule(node, [done[id(k)] for k in kids], var)
    return done[id(expr)]


def evaluate(expr: Expr, env: dict[str, float]) -> float:
    """The value of `expr` with variables taken from `env`."""
    funcs = {"sin": math.sin, "cos": math.cos, "exp": math.exp, "log": math.log}
    value: dict[int, float] = {}
    for node in _postorder(expr):
        if isinstance(node, float):
            value[id(node)] = node
        elif isinstance(node, str):
            if node not in env:
                raise SymbolicError(f"no value given for variable {node!r}")
            value[id(node)] = float(env[node])
        else:
            a = [value[id(k)] for k in node[1:]]
            op = node[0]
            value[id(node)] = (a[0] + a[1] if op == "+" else a[0] - a[1] if op == "-"
                               else a[0] * a[1] if op == "*" else a[0] / a[1] if op == "/"
                               else a[0] ** a[1] if op == "**" else -a[0] if op == "neg"
                               else funcs[op](a[0]))
    return value[id(expr)]


def to_text(expr: Expr) -> str:
    """Readable text for an expression, fully parenthesised below the top level."""
    text: dict[int, str] = {}
    for node in _postorder(expr):
        if isinstance(node, float):
            text[id(node)] = f"{node:g}"
        elif isinstance(node, str):
            text[id(node)] = node
        else:
            a = [text[id(k)] for k in node[1:]]
            op = node[0]
            if op == "neg":  # bracketed whole: "-(y) ** 2" would read as -(y ** 2)
                text[id(node)] = f"(-({a[0]}))"
            elif op in _FUNCTIONS:
                text[id(node)] = f"{op}({a[0]})"
            else:
                text[id(node)] = f"({a[0]} {op} {a[1]})"
    out = text[id(expr)]
    if isinstance(expr, tuple) and (expr[0] in _BINARY.values() or expr[0] == "neg"):
        return out[1:-1]  # no parentheses around the whole expression
    return out


def size(expr: Expr) -> int:
    """Number of nodes in the expression tree (a measure of expression swell)."""
    return len(_postorder(expr))
