"""A graph view of what a Tensor was computed from: op, shape, dtype, device, grad norm.

    view = vecgrad.viz.graph.graph_view(loss, model)   # before backward()
    loss.backward()
    view          # Jupyter: SVG (Graphviz) or an HTML table; rich.print(view): a tree
    view.to_dot() # Graphviz DOT text

`backward()` frees the graph it walks (unless retain_graph=True), so the view takes its
snapshot of the structure when it is made, and asks every intermediate tensor to keep
its gradient (`retain_grad`); the gradient norms are read whenever the view is drawn, so
the same view shows them once backward has run. Parameters are named after the model's
`named_parameters()` when a model is given.

The drawing itself (folding of repeated layers, DOT, SVG, HTML, the rich tree) is
scalargrad.picture, shared with scalargrad's Values.
"""

from __future__ import annotations

import math

import numpy as np

from scalargrad import picture as _picture
from vecgrad.viz.reprs import host_norm

HEADERS = ("shape", "dtype", "device", "grad norm")
OP_FILL = "#dbe9f6"  # results of ops (light blue), as torchviz colours them
PARAMETER_FILL = "#fdf1c7"  # leaves that get a gradient (light yellow)


def _op_name(node) -> str:
    """The op a graph node applied: the Function's name, the activation's for Activation."""
    name = node.function.__name__
    attrs = node.ctx.attrs
    if name == "Activation" and isinstance(attrs, tuple) and attrs and isinstance(attrs[0], str):
        return attrs[0]
    return name.lower()


def _norm(tensor) -> float:
    return host_norm(tensor.numpy())  # finite for finite values (no overflow at 1e154)


def _finite(tensor) -> bool:
    values = tensor.numpy()
    return values.dtype.kind not in "fc" or bool(np.isfinite(values).all())


def _names_by_id(names, tensor_type) -> dict:
    """{id(tensor): name} from `names`, a {tensor: name} mapping; anything else (a list,
    {name: tensor} the other way round) raised nothing and labelled nothing."""
    from collections.abc import Mapping

    if names is None:
        return {}
    if not isinstance(names, Mapping):
        raise TypeError(f"graph_view: names must map tensors to names, like {{x: 'x'}}; "
                        f"got {type(names).__name__}")
    labels = {}
    for tensor, name in names.items():
        if not isinstance(tensor, tensor_type):
            turned = " (the other way round?)" if isinstance(name, tensor_type) else ""
            raise TypeError(f"graph_view: names must map tensors to names, like {{x: 'x'}}; "
                            f"got the key {tensor!r} ({type(tensor).__name__}){turned}")
        labels[id(tensor)] = str(name)
    return labels


class GraphView:
    """A snapshot of a Tensor's graph that draws itself (see the module docstring).

    Args:
        root: the Tensor to explain (usually a loss).
        model: optional Module whose parameter names label the leaves.
        names: optional {tensor: name} for other tensors (inputs, targets...).
        retain_grads: keep intermediate gradients for their norms (default True).
        max_nodes: draw at most about this many boxes (repeated layers folded).
    """

    def __init__(self, root, model=None, names=None, retain_grads: bool = True,
                 max_nodes: int = _picture.MAX_NODES):
        from vecgrad.tensor import Tensor

        if not isinstance(root, Tensor):
            raise TypeError(f"graph_view expects a vecgrad Tensor, got {type(root).__name__}")
        node = root._node
        if node is not None and node.freed:
            raise ValueError("graph_view: backward() already freed this tensor's graph; make "
                             "the view before backward(), or call backward(retain_graph=True)")
        self.max_nodes = max_nodes
        labels = {}
        if model is not None and not callable(getattr(model, "named_parameters", None)):
            raise TypeError(f"graph_view: model must be a Module (its parameter names "
                            f"label the leaves), got {type(model).__name__}")
        if model is not None:
            labels.update({id(p): name for name, p in model.named_parameters()})
        labels.update(_names_by_id(names, Tensor))

        def parents(t):
            n = t._node
            return () if n is None or n.freed else n.inputs

        self.tensors = _picture.topological(root, parents)
        index = {id(t): i for i, t in enumerate(self.tensors)}
        self._nodes = []
        for i, t in enumerate(self.tensors):
            n = t._node
            fill = OP_FILL
            if n is None:
                op = ""
                name = labels.get(id(t)) or ("parameter" if t.requires_grad else "input")
                fill = PARAMETER_FILL if t.requires_grad else ""
            else:
                op = _op_name(n)
                name = labels.get(id(t)) or op
                if retain_grads and t.requires_grad:
                    t.retain_grad()
            self._nodes.append(_picture.PictureNode(
                name=name, op=op, parents=tuple(index[id(p)] for p in parents(t)),
                kind=(t.shape, str(t.dtype)), origin=i, fill=fill))

    def picture(self) -> _picture.Picture:
        """The (folded) picture with the current shapes, devices and gradient norms."""
        nodes = [_picture.PictureNode(n.name, n.op, (), n.parents, n.kind, origin=n.origin,
                                      fill=n.fill) for n in self._nodes]
        drawn = _picture.fold(_picture.Picture(
            nodes, HEADERS, title=f"vecgrad graph ({len(nodes)} tensors)", op_ellipses=False,
            dot_prefixed=("grad norm",), rankdir="TB"), self.max_nodes)
        for box in drawn.nodes:  # only the drawn tensors pay for a host copy
            if box.origin < 0:
                box.cells = ("",) * len(HEADERS)
                continue
            t = self.tensors[box.origin]
            grad = t.grad
            norm = None if grad is None else _norm(grad)
            box.cells = (str(tuple(t.shape)), str(t.dtype), t.device,
                         "" if norm is None else _picture.fmt(norm))
            finite = _finite(t)
            box.warn = not finite or (norm is not None and not math.isfinite(norm))
            if not finite:
                box.note = "values contain nan or inf"
        return drawn

    # ---------------------------------------------------------------- renderings
    def to_dot(self) -> str:
        """Graphviz DOT text (one record per tensor: op or name, shape, dtype, device, grad)."""
        return _picture.to_dot(self.picture(), "vecgrad")

    def to_svg(self):
        """An SVG picture drawn by Graphviz, or None when `dot` is not installed."""
        return _picture.dot_to_svg(self.to_dot())

    def to_html(self) -> str:
        """HTML for Jupyter: the SVG picture with Graphviz, else a table of the tensors."""
        return _picture.Rendered(self.picture(), "vecgrad").html()

    def tree(self):
        """A rich Tree from the output down to the inputs."""
        return _picture.rich_tree(self.picture())

    def __rich__(self):
        return self.tree()

    def _repr_mimebundle_(self, include=None, exclude=None):
        return _picture.Rendered(self.picture(), "vecgrad").mimebundle(repr(self))

    def _repr_svg_(self):
        return self.to_svg()

    def _repr_html_(self):
        return self.to_html()

    def __repr__(self) -> str:
        root = self.tensors[-1]
        return (f"<GraphView of a tensor of shape {tuple(root.shape)} on {root.device}: "
                f"{len(self.tensors)} tensors>")

    def __len__(self) -> int:
        return len(self.tensors)


def graph_view(root, model=None, names=None, retain_grads: bool = True,
               max_nodes: int = _picture.MAX_NODES) -> GraphView:
    """The graph view of `root` (see GraphView); make it before `backward()`."""
    return GraphView(root, model, names, retain_grads, max_nodes)
