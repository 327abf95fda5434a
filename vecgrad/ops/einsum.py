"""einsum: Einstein summation, written over permute / reshape / expand / matmul / sum.

"ij,jk->ik" names each operand's axes with letters; letters missing from the output
are summed over. Each operand first takes its diagonals (a repeated letter, "ii->i")
and sums away the letters only it has; then operands are contracted left to right, two
at a time, as one batched matmul each. No backward of its own: the gradient is that of
those ops.
"""

from __future__ import annotations

import string

import numpy as np

from vecgrad.ops import common, matmul, movement, reduce
from vecgrad.ops.common import fmt_shape

_LETTERS = set(string.ascii_letters)


def _parse(equation, operands):
    """(letters of each operand, output letters); the axes under '...' get the digits
    0, 1, ... as private letters (an output without '...' sums them, like numpy)."""
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the equation must be a string, got {type(equation).__name__}")
    equation = equation.replace(" ", "")
    if "->" in equation:
        inputs, output = equation.split("->", 1)
        if "->" in output:
            raise ValueError(f"einsum: {equation!r} has more than one '->'")
    else:
        inputs, output = equation, None
    terms = inputs.split(",")
    if len(terms) != len(operands):
        raise ValueError(f"einsum: {equation!r} names {len(terms)} operand(s) but "
                         f"{len(operands)} were given")
    ellipsis_ndim = 0
    parsed = []
    for term, t in zip(terms, operands):
        if term.count("...") > 1 or term.replace("...", "").strip(string.ascii_letters):
            raise ValueError(f"einsum: bad term {term!r} in {equation!r}: use letters and at "
                             f"most one '...'")
        named = len(term.replace("...", ""))
        if "..." in term:
            extra = t.ndim - named
            if extra < 0:
                raise ValueError(f"einsum: term {term!r} names {named} axes but the operand "
                                 f"has shape {fmt_shape(t.shape)}")
            ellipsis_ndim = max(ellipsis_ndim, extra)
        elif named != t.ndim:
            raise ValueError(f"einsum: term {term!r} names {named} axes but the operand has "
                             f"shape {fmt_shape(t.shape)}")
        parsed.append(term)
    # '...' axes get the digits 0, 1, ... (right-aligned, numpy's broadcasting).
    dots = "".join(str(i) for i in range(ellipsis_ndim))
    if ellipsis_ndim > 10:
        raise ValueError("einsum: at most 10 axes under '...'")
    letters = []
    for term, t in zip(parsed, operands):
        if "..." in term:
            extra = t.ndim - len(term.replace("...", ""))
            term = term.replace("...", dots[ellipsis_ndim - extra:])
        letters.append(term)
    if output is None:
        counts = {}
        for term in letters:
            for c in term:
                counts[c] = counts.get(c, 0) + 1
        output = dots + "".join(sorted(c for c, n in counts.items() if n == 1 and c in _LETTERS))
    else:
        if output.count("...") > 1 or output.replace("...", "").strip(string.ascii_letters):
            raise ValueError(f"einsum: bad output {output!r} in {equation!r}")
        output = output.replace("...", dots)
        if len(set(output)) != len(output):
            raise ValueError(f"einsum: output {output!r} repeats a letter")
        known = set("".join(letters))
        for c in output:
            if c not in known:
                raise ValueError(f"einsum: output letter {c!r} is not in any input")
    return letters, output


def _sizes(letters, operands):
    """letter -> size; sizes must agree or be 1 (broadcast)."""
    sizes = {}
    for term, t in zip(letters, operands):
        for c, n in zip(term, t.shape):
            seen = sizes.get(c)
            if seen is None or seen == 1:
                sizes[c] = n
            elif n not in (1, seen):
                shown = "'...'" if c.isdigit() else repr(c)
                raise ValueError(f"einsum: axis {shown} has size {seen} in one operand and {n} "
                                 f"in another")
    return sizes


def _diagonal(t, term):
    """Take the diagonal over each repeated letter: ('ii', x) -> ('i', diag(x))."""
    while len(set(term)) != len(term):
        for c in term:
            first = term.index(c)
            second = term.index(c, first + 1) if term.count(c) > 1 else -1
            if second >= 0:
                break
        n = t.shape[first]
        if t.shape[second] != n:
            raise ValueError(f"einsum: repeated letter {c!r} on axes of sizes {n} and "
                             f"{t.shape[second]}")
        # move the two axes to the front, then index both with arange: the diagonal.
        t = movement.movedim(t, (first, second), (0, 1))
        rest = [x for i, x in enumerate(term) if i not in (first, second)]
        picks = np.arange(n)
        t = movement.getitem(t, (picks, picks))
        term = c + "".join(rest)
    return t, term


def _sum_letters(t, term, drop):
    axes = tuple(i for i, c in enumerate(term) if c in drop)
    if not axes:
        return t, term
    return reduce.sum(t, axis=axes), "".join(c for c in term if c not in drop)


def _contract(a, ta, b, tb, keep, sizes):
    """a (letters ta) times b (letters tb), summing shared letters not in `keep`."""
    shared = [c for c in ta if c in tb]
    batch = [c for c in shared if c in keep]
    summed = [c for c in shared if c not in keep]
    only_a = [c for c in ta if c not in tb]
    only_b = [c for c in tb if c not in ta]

    def arranged(t, term, order):
        t = movement.permute(t, *[term.index(c) for c in order]) if t.ndim else t
        return movement.expand(t, *[sizes[c] for c in order]) if order else t

    a = arranged(a, ta, batch + only_a + summed)
    b = arranged(b, tb, batch + summed + only_b)
    nb = [sizes[c] for c in batch]
    m = int(np.prod([sizes[c] for c in only_a]))
    k = int(np.prod([sizes[c] for c in summed]))
    n = int(np.prod([sizes[c] for c in only_b]))
    out = matmul.matmul(movement.reshape(a, tuple(nb) + (m, k)),
                        movement.reshape(b, tuple(nb) + (k, n)))
    shape = tuple(nb) + tuple(sizes[c] for c in only_a) + tuple(sizes[c] for c in only_b)
    return movement.reshape(out, shape), "".join(batch + only_a + only_b)


def einsum(equation, *operands):
    """Einstein summation over tensors, numpy's and PyTorch's notation ("bij,bjk->bik",
    "ii->i", "i,i->", "...ij->...ji"). Operands may also be passed as one list."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum: needs at least one operand")
    for t in operands:
        if not common.is_tensor(t):
            raise TypeError(f"einsum: operands must be Tensors, got {type(t).__name__}")
    common.check_same_device("einsum", *operands)
    dtype = common.promote(*[t.dtype for t in operands])
    if not common.is_float(dtype):
        dtype = np.dtype(np.float32) if dtype == np.bool_ else dtype
    operands = [common.cast(t, dtype) for t in operands]
    letters, output = _parse(equation, operands)
    sizes = _sizes(letters, operands)
    terms = []
    for t, term in zip(operands, letters):
        t, term = _diagonal(t, term)
        terms.append((t, term))
    # letters needed after operand i: in the output or in a later operand
    for i in range(len(terms)):
        t, term = terms[i]
        elsewhere = set(output).union(*[set(u) for j, (_, u) in enumerate(terms) if j != i])
        terms[i] = _sum_letters(t, term, {c for c in term if c not in elsewhere})
    t, term = terms[0]
    for i in range(1, len(terms)):
        u, uterm = terms[i]
        keep = set(output).union(*[set(v) for _, v in terms[i + 1:]])
        if not common.is_float(t.dtype):  # matmul needs floats: integer einsum by mul/sum
            t, term = _contract_by_mul(t, term, u, uterm, keep, sizes)
        else:
            t, term = _contract(t, term, u, uterm, keep, sizes)
    t, term = _sum_letters(t, term, {c for c in term if c not in output})
    if len(terms) == 1 and term == output:
        return t * 1 if t is operands[0] else t
    t = movement.permute(t, *[term.index(c) for c in output]) if output else t
    target = tuple(sizes[c] for c in output)
    return movement.expand(t, *target) if t.shape != target else t


def _contract_by_mul(a, ta, b, tb, keep, sizes):
    """Integer operands: broadcast-multiply, then sum (matmul is float-only)."""
    letters = list(dict.fromkeys(ta + tb))

    def spread(t, term):
        t = movement.permute(t, *[term.index(c) for c in letters if c in term]) if t.ndim else t
        shape = tuple(sizes[c] if c in term else 1 for c in letters)
        return movement.reshape(t, shape)

    product = spread(a, ta) * spread(b, tb)
    term = "".join(letters)
    return _sum_letters(product, term, {c for c in term if c not in keep})

