"""How Tensors, Modules and optimizers show themselves in rich and in Jupyter.

The engine classes inherit one small mixin each (TensorDisplay, ModuleDisplay,
OptimizerDisplay) and keep their own `repr()`; `rich.print(t)` then shows the metadata
(shape, dtype, device, grad_fn) above a values preview and summary statistics, and
Jupyter shows the same as an HTML table (`_repr_html_`). A Module shows its layers with
their parameter counts; an optimizer its hyperparameters and how many steps it took.

rich is imported only when something is rendered, so importing vecgrad stays as fast
as it was. Every walk over a module tree is iterative (Module.named_modules).
"""

from __future__ import annotations

import html

import numpy as np

PREVIEW_ROWS = 6  # rows and columns of a values preview (edges kept, middle elided)
PREVIEW_COLS = 8


# ------------------------------------------------------------------------ Tensor
def tensor_facts(t) -> list:
    """(name, text) pairs: shape, dtype, device, and how the tensor takes part in autograd."""
    facts = [("shape", str(tuple(t.shape))), ("dtype", str(t.dtype)), ("device", t.device)]
    if t.grad_fn is not None:
        facts.append(("grad_fn", t.grad_fn))
    elif t.requires_grad:
        facts.append(("requires_grad", "True"))
    if t.grad is not None:
        facts.append(("grad", f"{tuple(t.grad.shape)} (norm {_fmt(_norm(t.grad))})"))
    return facts


def _fmt(x) -> str:
    return f"{x:.4g}"


def _norm(t) -> float:
    return host_norm(t.numpy())


def host_norm(values) -> float:
    """The 2-norm of an array, scaled by its largest entry first so that finite values
    above 1e154 give a finite norm (squaring them overflowed to inf, with a warning)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return 0.0
    largest = float(np.max(np.abs(values)))
    if not np.isfinite(largest) or largest == 0.0:
        return largest  # inf, nan or 0 as it is
    scaled = values / largest
    return largest * float(np.sqrt(np.sum(scaled * scaled)))


def tensor_stats(values: np.ndarray) -> list:
    """(name, text) pairs: min, max, mean, std of the finite values, and nan/inf counts."""
    if values.size == 0 or values.dtype.kind not in "biuf":
        return []
    as_float = values.astype(np.float64, copy=False)
    finite = np.isfinite(as_float)
    stats = []
    if finite.any():
        kept = as_float[finite]
        # Scaled by the largest magnitude: the mean of [1e308, 1e308] and the std of
        # [1e308, -1e308] overflowed (inf, and a RuntimeWarning in the notebook).
        scale = float(np.max(np.abs(kept))) or 1.0
        mean, std = scale * (kept / scale).mean(), scale * (kept / scale).std()
        stats += [("min", _fmt(kept.min())), ("max", _fmt(kept.max())),
                  ("mean", _fmt(mean)), ("std", _fmt(std))]
    nans = int(np.isnan(as_float).sum())
    infs = int(np.isinf(as_float).sum())
    if nans:
        stats.append(("nan", str(nans)))
    if infs:
        stats.append(("inf", str(infs)))
    return stats


def preview_text(values: np.ndarray) -> str:
    """The values as numpy prints them, long axes elided in the middle."""
    return np.array2string(values, separator=", ", threshold=PREVIEW_ROWS * PREVIEW_COLS,
                           edgeitems=3, max_line_width=100)


def _preview_grid(values: np.ndarray):
    """A 2-D list of cell strings for a 0-, 1- or 2-D tensor (None for higher ranks)."""
    if values.ndim > 2:
        return None
    if values.ndim == 0:
        return [[_cell(values[()], 7)]]
    grid = values.reshape(1, -1) if values.ndim < 2 else values

    def keep(n, limit):
        if n <= limit:
            return list(range(n))
        half = limit // 2
        return list(range(half)) + [None] + list(range(n - half, n))

    rows, cols = keep(grid.shape[0], PREVIEW_ROWS), keep(grid.shape[1], PREVIEW_COLS)
    out = []
    for r in rows:
        out.append(["⋮" if r is None else ("…" if c is None else _cell(grid[r, c]))
                    for c in cols])
    return out


def _cell(x, digits: int = 4) -> str:
    return f"{x:.{digits}g}" if isinstance(x, (float, np.floating)) else str(x)


def tensor_rich(t):
    """A rich renderable: the facts, a values preview and the statistics."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    values = t.numpy()
    head = Text("  ".join(f"{k}={v}" for k, v in tensor_facts(t)))
    parts = [head]
    grid = _preview_grid(values)
    if grid is not None and values.size:
        table = Table(show_header=False, box=None, padding=(0, 1))
        for _ in grid[0]:
            table.add_column(justify="right")
        for row in grid:
            table.add_row(*row)
        parts.append(table)
    elif values.size:
        parts.append(Text(preview_text(values)))
    stats = tensor_stats(values)
    if stats:
        parts.append(Text("  ".join(f"{k} {v}" for k, v in stats), style="dim"))
    title = "Parameter" if type(t).__name__ == "Parameter" else "tensor"
    return Panel(Group(*parts), title=title, expand=False, title_align="left")


def tensor_html(t) -> str:
    e = html.escape
    values = t.numpy()
    facts = " ".join(f"<b>{e(k)}</b>={e(v)}" for k, v in tensor_facts(t))
    grid = _preview_grid(values)
    if grid is not None and values.size:
        rows = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>"
                       for row in grid)
        body = f'<table style="font-family:monospace">{rows}</table>'
    else:
        body = f"<pre>{e(preview_text(values))}</pre>"
    stats = tensor_stats(values)
    stat_line = " ".join(f"{e(k)} {e(v)}" for k, v in stats)
    title = "Parameter" if type(t).__name__ == "Parameter" else "tensor"
    return (f'<div class="vecgrad-tensor"><div>{e(title)}: {facts}</div>{body}'
            f'<div style="color:#666">{stat_line}</div></div>')


class TensorDisplay:
    """Mixin of vecgrad.Tensor: rich and Jupyter displays (repr() stays the Tensor's)."""

    __slots__ = ()

    def __rich__(self):
        return tensor_rich(self)

    def __rich_repr__(self):
        yield "shape", tuple(self.shape)
        yield "dtype", str(self.dtype)
        yield "device", self.device
        if self.grad_fn is not None:
            yield "grad_fn", self.grad_fn
        elif self.requires_grad:
            yield "requires_grad", True
        if self.grad is not None:
            yield "grad_norm", float(f"{_norm(self.grad):.6g}")

    def _repr_html_(self):
        return tensor_html(self)


# ------------------------------------------------------------------------ Module
#: rows deeper than this below the model are summed into one row (the graph trees' cut)
MAX_TABLE_DEPTH = 12


def _own(sub) -> tuple:
    own = [p for p in sub._parameters.values() if p is not None]
    count = sum(int(np.prod(p.shape)) for p in own)
    shapes = ", ".join(f"{k} {tuple(p.shape)}" for k, p in sub._parameters.items()
                       if p is not None)
    return count, shapes


def module_rows(module, max_depth: int = MAX_TABLE_DEPTH) -> list:
    """(name, layer, own parameters, parameter shapes, depth) for every module, depth first.

    `own` counts the parameters registered on that module itself; the first row (the
    module given) also carries the total in `module_total`. A module `max_depth` levels
    down that has sub-modules is followed by one row for all of them (how many, their
    parameters), not a row each: each row's dotted name and indentation grow with its
    depth, so a table of every level grew with the square of the nesting (a Linear in
    5,000 nested Sequentials did not print in 300 s).
    """
    rows, seen = [], set()
    stack = [("", module, 0)]
    while stack:  # named_modules' walk (depth first, each module once), depth counted
        name, sub, depth = stack.pop()
        if id(sub) in seen:
            continue
        seen.add(id(sub))
        count, shapes = _own(sub)
        rows.append((name or "(model)", f"{type(sub).__name__}({sub.extra_repr()})", count,
                     shapes, depth))
        children = list(sub._modules.items())
        if depth < max_depth:
            stack.extend((f"{name}.{child}" if name else child, m, depth + 1)
                         for child, m in reversed(children))
            continue
        below, params, pending = 0, 0, [m for _, m in children]
        while pending:  # the modules below the cut: counted, not listed
            deeper = pending.pop()
            if deeper is None or id(deeper) in seen:
                continue
            seen.add(id(deeper))
            below += 1
            params += _own(deeper)[0]
            pending.extend(deeper._modules.values())
        if below:
            rows.append(("...", f"{below:,} module(s) more than {max_depth} levels down, "
                         "not listed", params, "", depth + 1))
    return rows


def module_total(module) -> tuple:
    """(parameter count, trainable count) of the whole tree."""
    params = list(module.parameters())
    total = sum(int(np.prod(p.shape)) for p in params)
    trainable = sum(int(np.prod(p.shape)) for p in params if p.requires_grad)
    return total, trainable


def _devices(module) -> str:
    devices = sorted({p.device for p in module.parameters()})
    return ", ".join(devices) if devices else "-"


def module_rich(module):
    from rich.table import Table
    from rich.text import Text

    total, trainable = module_total(module)
    table = Table(title=f"{type(module).__name__}: {total:,} parameters "
                        f"({trainable:,} trainable) on {_devices(module)}",
                  title_justify="left")
    for header, justify in (("name", "left"), ("layer", "left"), ("parameters", "right"),
                            ("shapes", "left")):
        table.add_column(header, justify=justify)
    for name, head, count, shapes, depth in module_rows(module):
        # Text, not markup: a ModuleDict key or an extra_repr may hold "[" (e.g. "[/b]").
        table.add_row(Text("  " * max(depth - 1, 0) + name), Text(head),
                      f"{count:,}" if count else "", Text(shapes))
    return table


def module_html(module) -> str:
    e = html.escape
    total, trainable = module_total(module)
    rows = "".join(
        f"<tr><td style='text-align:left;padding-left:{1 + 1.5 * max(depth - 1, 0)}em'>"
        f"{e(name)}</td><td style='text-align:left'>{e(head)}</td>"
        f"<td>{count:,}</td><td style='text-align:left'>{e(shapes)}</td></tr>"
        for name, head, count, shapes, depth in module_rows(module))
    caption = (f"{e(type(module).__name__)}: {total:,} parameters ({trainable:,} trainable) "
               f"on {e(_devices(module))}")
    return (f'<table class="vecgrad-module"><caption>{caption}</caption><thead><tr>'
            f"<th>name</th><th>layer</th><th>parameters</th><th>shapes</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


class ModuleDisplay:
    """Mixin of vecgrad.nn.Module: a layer table with parameter counts."""

    def __rich__(self):
        return module_rich(self)

    def _repr_html_(self):
        return module_html(self)


# --------------------------------------------------------------------- optimizer
def optimizer_facts(opt) -> list:
    """(name, text): the hyperparameters, the parameter count and the steps taken. A
    hyperparameter whose parameter groups differ lists each group's value, in order
    ("0.1 | 0.001")."""
    facts = [(k, _group_values(opt, k)) for k in opt._hyper()]
    count = sum(int(np.prod(p.shape)) for p in opt.params)
    steps = max((s.get("step", 0) for s in opt.state), default=0)
    facts += [("parameters", f"{len(opt.params)} tensors, {count:,} values"),
              ("steps", str(steps))]
    if len(opt.param_groups) > 1:
        facts.insert(-2, ("parameter groups", str(len(opt.param_groups))))
    return facts


def _group_values(opt, name) -> str:
    texts = [_hyper_text(v) for v in (opt._hyper(g)[name] for g in opt.param_groups)]
    return texts[0] if len(set(texts)) == 1 else " | ".join(texts)


def _hyper_text(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def optimizer_rich(opt):
    from rich.table import Table

    table = Table(title=type(opt).__name__, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for name, text in optimizer_facts(opt):
        table.add_row(name, text)
    return table


def optimizer_html(opt) -> str:
    e = html.escape
    rows = "".join(f"<tr><th style='text-align:left'>{e(k)}</th><td style='text-align:left'>"
                   f"{e(v)}</td></tr>" for k, v in optimizer_facts(opt))
    return (f'<table class="vecgrad-optimizer"><caption>{e(type(opt).__name__)}</caption>'
            f"{rows}</table>")


class OptimizerDisplay:
    """Mixin of vecgrad.optim.Optimizer: hyperparameters, parameter count, steps."""

    def __repr__(self):
        # (a value that differs between parameter groups shows each: lr=0.1 | 0.001)
        hyper = ", ".join(f"{k}={_group_values(self, k)}" for k in self._hyper())
        groups = len(self.param_groups)
        return (f"{type(self).__name__}({hyper}, parameters={len(self.params)}"
                + (f", groups={groups})" if groups > 1 else ")"))

    def __rich__(self):
        return optimizer_rich(self)

    def __rich_repr__(self):
        yield from optimizer_facts(self)

    def _repr_html_(self):
        return optimizer_html(self)
