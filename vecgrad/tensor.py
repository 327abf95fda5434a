"""Tensor: an n-dimensional array on one device that records the ops applied to it.

A Tensor holds a backend buffer (`_buf`), the backend that owns it, and - when it was
produced by a differentiable op with grad mode on - the graph Node that made it.
Every op method validates its inputs and hands the work to vecgrad.ops.
"""

from __future__ import annotations

import copy
import math
import numbers
import weakref

import numpy as np

from vecgrad import autograd
from vecgrad.viz.reprs import TensorDisplay  # rich and Jupyter displays


# The in-place methods that overwrite (and cast like astype) rather than combine.
_OVERWRITES = ("copy_", "fill_", "zero_")


class Tensor(TensorDisplay):
    """An n-dimensional array with reverse-mode autodiff (PyTorch names and semantics).

    Create tensors with vecgrad.tensor, zeros, ones, randn, ...; `Tensor(data, dtype=None,
    requires_grad=False, device=None)` is the same as vecgrad.tensor.
    """

    __slots__ = ("_buf", "_backend", "_node", "_requires_grad", "_grad", "_version",
                 "_retains_grad", "_host_range", "_view_base", "__weakref__")
    __array_priority__ = 1000  # numpy scalars/arrays on the left defer to our operators

    def __init__(self, data, dtype=None, requires_grad=False, device=None):
        made = creation.tensor(data, dtype=dtype, requires_grad=requires_grad, device=device)
        self._adopt(made._buf, made._backend)
        self._requires_grad = made._requires_grad
        self._host_range = made._host_range

    def _adopt(self, buf, backend, node=None):
        self._buf = buf
        self._backend = backend
        self._node = node
        self._requires_grad = node is not None
        self._grad = None
        self._version = [0]  # shared with detached aliases: in-place edits bump it
        self._retains_grad = False
        # A weak reference to the tensor whose memory this one views (slices, reshapes,
        # detach), or None: setitem must not record a write into a view (see there).
        self._view_base = None
        # (min, max, version) of an int tensor's values, noted when they came from the
        # host, so label checks need no device round trip (see _int_range).
        self._host_range = None

    def _int_range(self):
        """(min, max) of a non-empty integer tensor, without a device read when known."""
        known = self._host_range
        if known is not None and known[2] == self._version[0]:
            return known[0], known[1]
        host = self.numpy()
        return host.min(), host.max()

    @staticmethod
    def _wrap(buf, backend, node=None) -> "Tensor":
        """A Tensor around an existing buffer (internal: no copy, no checks)."""
        t = object.__new__(Tensor)
        t._adopt(buf, backend, node)
        return t

    # ---------------------------------------------------------------- attributes
    @property
    def shape(self) -> tuple:
        return self._buf.shape  # a tuple of ints in every backend (base.py)

    @property
    def ndim(self) -> int:
        return len(self._buf.shape)

    @property
    def dtype(self) -> np.dtype:
        return self._buf.dtype

    @property
    def device(self) -> str:
        return self._backend.device

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool):
        value = bool(value)
        if self._node is not None and not value:
            raise RuntimeError("requires_grad: cannot turn off gradients of a non-leaf tensor; "
                               "use .detach()")
        if value and self.dtype not in (np.float32, np.float64):
            raise TypeError(f"requires_grad: only float32/float64 tensors can require "
                            f"gradients, this one is {self.dtype}")
        self._requires_grad = value

    def requires_grad_(self, value: bool = True) -> "Tensor":
        """Set requires_grad in place and return self."""
        self.requires_grad = value
        return self

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded op (their .grad is filled)."""
        return self._node is None

    @property
    def grad_fn(self):
        """Name of the op that produced this tensor (None for leaves)."""
        return None if self._node is None else self._node.name

    @property
    def grad(self):
        """The accumulated gradient (a Tensor) after backward(), or None."""
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"grad must be a Tensor or None, got {type(value).__name__}")
            if value.shape != self.shape or value.dtype != self.dtype or \
                    value._backend is not self._backend:
                raise ValueError(f"grad must match the tensor: shape {self.shape}, dtype "
                                 f"{self.dtype}, device {self.device}; got {value.shape}, "
                                 f"{value.dtype}, {value.device}")
        self._grad = value

    @property
    def data(self) -> "Tensor":
        """The values without the graph (shares memory, like .detach())."""
        return self.detach()

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor) or value.shape != self.shape or \
                value.dtype != self.dtype or value._backend is not self._backend:
            raise ValueError(f"data: needs a Tensor of shape {self.shape}, dtype {self.dtype} "
                             f"on {self.device}")
        self._version[0] += 1  # graphs that saved the old values see the change
        # From now on self and value are one memory with one version counter, so an
        # in-place edit through either reaches graphs (and label ranges, see _int_range)
        # that saved the other.
        self._buf = value._buf
        self._version = value._version
        # the label range noted for the old values would be trusted with the new ones
        self._host_range = value._host_range

    @property
    def T(self) -> "Tensor":  # noqa: N802 - numpy/PyTorch name
        """All axes reversed (the transpose of a matrix)."""
        return movement.transpose(self)

    def numel(self) -> int:
        """Number of elements."""
        n = 1
        for d in self._buf.shape:
            n *= d
        return n

    def size(self, axis=None):
        """The shape, or the length of one axis."""
        if axis is None:
            return self.shape
        if self.ndim == 0:
            raise IndexError("size: a 0-dimensional tensor has no axis to measure")
        return self.shape[common.normalize_axis("size", axis, self.ndim)]

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-dimensional tensor")
        return self._buf.shape[0]

    def __iter__(self):
        if self.ndim == 0:  # (len() would name itself: "len() of a 0-dimensional tensor")
            raise TypeError("iteration over a 0-dimensional tensor")
        return (self[i] for i in range(self._buf.shape[0]))

    def __repr__(self):
        values = np.array2string(self.numpy(), separator=", ", prefix="tensor(")
        extras = [f"dtype={self.dtype}", f"device={self.device!r}"]
        if self._node is not None:
            extras.append(f"grad_fn={self._node.name}")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return f"tensor({values}, {', '.join(extras)})"

    # ------------------------------------------------------------------ host I/O
    def numpy(self) -> np.ndarray:
        """A host copy of the values as a numpy array."""
        return self._backend.to_numpy(self._buf)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """numpy.asarray(t) / numpy.array(t): a host copy of the values, as .numpy().

        Without it numpy made an object array of 0-d tensors, reading an OpenCL tensor
        back one element at a time. Never a view: copy=False is refused, as numpy asks.
        """
        if copy is False:
            raise ValueError("a vecgrad Tensor cannot be viewed by numpy without a copy; "
                             "use numpy.asarray(t) or t.numpy()")
        host = self.numpy()
        return host if dtype is None else host.astype(dtype, copy=False)

    def item(self):
        """The single value as a Python number."""
        if self.numel() != 1:
            raise ValueError(f"item: only one-element tensors convert to a number, this one "
                             f"has shape {self.shape}")
        return self.numpy().reshape(()).item()

    def tolist(self):
        """Nested Python lists (a number for a 0-d tensor)."""
        return self.numpy().tolist()

    def __bool__(self):
        if self.numel() != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous; "
                             f"use .any()-style reductions explicitly")
        return bool(self.item())

    def __float__(self):
        return float(self.item())

    def __format__(self, spec):
        """f"{loss:.4f}" formats a one-element tensor's value (like PyTorch)."""
        if not spec:
            return str(self)
        if self.numel() != 1:
            raise TypeError(f"format: the spec {spec!r} needs a one-element tensor, this one "
                            f"has shape {self.shape}")
        return format(self.item(), spec)

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.dtype != np.int64 or self.numel() != 1:
            raise TypeError("only one-element int64 tensors can be used as an index")
        return int(self.item())

    # ------------------------------------------------------------ graph and grads
    def detach(self) -> "Tensor":
        """The same values (shared buffer) cut from the graph."""
        out = Tensor._wrap(self._buf, self._backend)
        out._version = self._version
        out._view_base = self._view_base or weakref.ref(self)
        return out

    def __deepcopy__(self, memo: dict) -> "Tensor":
        """copy.deepcopy (of a tensor, or of a model holding it): a leaf with its own copy
        of the data on the same device, the same requires_grad and a copied .grad; a
        Parameter stays a Parameter, and a tensor met twice (tied weights) is copied
        once. The backend (thread pools, OpenCL queues) is shared, not copied."""
        if self._node is not None:
            raise RuntimeError("deepcopy: only leaf tensors can be deep-copied (this one was "
                               f"made by {self._node.name}); use .detach().clone()")
        new = object.__new__(type(self))
        memo[id(self)] = new
        new._adopt(self._backend.copy(self._buf), self._backend)
        new._requires_grad = self._requires_grad
        if self._grad is not None:
            new._grad = self._grad.__deepcopy__(memo)
        for name, value in getattr(self, "__dict__", {}).items():  # a subclass's attributes
            object.__setattr__(new, name, copy.deepcopy(value, memo))
        return new

    def __copy__(self) -> "Tensor":
        """copy.copy: another Tensor object over the same memory and graph (what Python's
        default shallow copy gave before __reduce_ex__ below took over pickling)."""
        new = object.__new__(type(self))
        for name in Tensor.__slots__:
            if name != "__weakref__":
                object.__setattr__(new, name, getattr(self, name))
        for name, value in getattr(self, "__dict__", {}).items():
            object.__setattr__(new, name, value)
        return new

    def __reduce_ex__(self, protocol):
        """pickle (and multiprocessing): a leaf is pickled as its values, device and
        requires_grad, and the attributes of a subclass (Parameter); not its .grad,
        as in PyTorch. Pickling reached the backend and failed with "cannot pickle
        '_thread._local' object"."""
        if self._node is not None:
            raise RuntimeError(f"pickle: only leaf tensors can be pickled (this one was made "
                               f"by {self._node.name}); pickle .detach() instead")
        return (_unpickle_tensor, (type(self), self.numpy(), self.device,
                                   self._requires_grad, getattr(self, "__dict__", None)))

    def retain_grad(self):
        """Keep .grad for this non-leaf tensor too during backward()."""
        if not self._requires_grad:
            raise RuntimeError("retain_grad: this tensor does not require grad")
        self._retains_grad = True

    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        """Accumulate d(self)/d(leaf) into .grad of every leaf with requires_grad.

        `gradient` (same shape as self) is required unless self has one element. The
        graph is freed afterwards unless retain_graph=True (default: create_graph).
        With create_graph=True the backward pass is recorded: the .grad tensors carry a
        graph and can be differentiated again (see vecgrad.autograd.grad). As in
        PyTorch, a .grad that depends on its own leaf then forms a reference cycle
        (leaf -> .grad -> graph -> leaf) that only the garbage collector frees; prefer
        vecgrad.autograd.grad for repeated higher-order steps.
        """
        if create_graph:
            if not self._requires_grad:
                raise RuntimeError("backward: this tensor does not require grad (no input had "
                                   "requires_grad=True, or it was computed under no_grad())")
            if gradient is not None and not isinstance(gradient, Tensor):
                gradient = common.to_operand("backward", gradient, self)
            autograd.backward_graph(self, gradient, True if retain_graph is None
                                    else retain_graph)
            return
        retain_graph = bool(retain_graph)
        if not self._requires_grad:
            raise RuntimeError("backward: this tensor does not require grad (no input had "
                               "requires_grad=True, or it was computed under no_grad())")
        if gradient is None:
            if self.numel() != 1:
                raise RuntimeError(f"backward: gradient can only be implied for a one-element "
                                   f"output; this one has shape {self.shape}: pass "
                                   f"gradient= (a tensor of that shape)")
            grad_buf = self._backend.full(self.shape, 1, self.dtype)
        else:
            gradient = common.to_operand("backward", gradient, self)
            common.check_same_device("backward", self, gradient)
            if gradient.shape != self.shape:
                raise ValueError(f"backward: gradient shape {gradient.shape} does not match "
                                 f"the output shape {self.shape}")
            grad_buf = gradient._buf
            if gradient.dtype != self.dtype:
                grad_buf = self._backend.astype(grad_buf, self.dtype)
        autograd.run_backward(self, grad_buf, retain_graph)

    def _accumulate_grad(self, buf, owned):
        if self._grad is None:
            self._grad = Tensor._wrap(buf if owned else self._backend.copy(buf), self._backend)
        elif self._grad._node is not None:  # a recorded .grad (create_graph): not in place
            self._grad = Tensor._wrap(self._backend.binary("add", self._grad._buf, buf),
                                      self._backend)
        else:
            self._backend.binary("add", self._grad._buf, buf, out=self._grad._buf)
            self._grad._version[0] += 1

    # ------------------------------------------------------------ device and dtype
    def to(self, *args, device=None, dtype=None) -> "Tensor":
        """Move to a device ("cpu", "opencl", ...) and/or convert to a dtype, in PyTorch's
        forms: x.to(device), x.to(dtype), x.to(device, dtype), x.to(other) (other's
        device and dtype), x.to(device=..., dtype=...)."""
        device, dtype = to_arguments("to", args, device, dtype)
        out = self
        if dtype is not None:
            dtype = creation.resolve_dtype(dtype, "to")
            if dtype != np.float64:  # narrowing first: the target device may lack float64
                out = common.cast(out, dtype)
        if device is not None:
            out = _to_device(out, device)
        return out if dtype is None else common.cast(out, dtype)

    def float(self) -> "Tensor":
        """As float32."""
        return common.cast(self, np.float32)

    def double(self) -> "Tensor":
        """As float64."""
        return common.cast(self, np.float64)

    def long(self) -> "Tensor":
        """As int64."""
        return common.cast(self, np.int64)

    def bool(self) -> "Tensor":
        """As bool (nonzero is True)."""
        return common.cast(self, np.bool_)

    def cpu(self) -> "Tensor":
        return _to_device(self, "cpu")

    # --------------------------------------------------------- in place, no graph
    def _in_place(self, op, value):
        if self._node is not None and self._requires_grad:
            raise RuntimeError(f"{op}: in-place change of a non-leaf tensor that is part of a "
                               f"graph would make its gradients wrong; use an out-of-place op")
        self._check_in_place_dtype(op, value)
        if op == "sub_" and self.dtype == np.bool_:
            raise TypeError("sub_: subtraction of bool tensors (masks) is not supported; use "
                            "^ (logical_xor), or m & ~other to clear other's entries")
        # (numpy gives empty arrays zero strides: they are no broadcast view)
        if self.numel() and any(n > 1 and st == 0
                                for n, st in zip(self._buf.shape, self._buf.strides)):
            raise RuntimeError(f"{op}: this tensor of shape {self.shape} is a broadcast view "
                               f"(expand) whose elements share memory; write into a copy")
        if common.is_tensor(value):
            common.check_same_device(op, self, value)
            buf = value._buf
            if value.dtype != self.dtype:
                buf = self._backend.astype(buf, self.dtype)
            elif autograd.may_share_storage(buf, self._buf):
                buf = self._backend.copy(buf)  # x.add_(x.T): read all before writing any
            if value.shape != self.shape and \
                    common.broadcast_shape(op, self.shape, value.shape) != self.shape:
                raise ValueError(f"{op}: a value of shape {value.shape} cannot be written "
                                 f"into a tensor of shape {self.shape}")
            return buf
        if not isinstance(value, numbers.Real):
            raise TypeError(f"{op}: expected a Tensor or a number, got {type(value).__name__}")
        if op in _OVERWRITES:
            value = common.written_number(value, self.dtype)  # astype's cast: toward zero
        return self._backend.full((), common.scalar_value(op, value, self.dtype), self.dtype)

    def _alpha(self, op, alpha):
        """alpha checked (a real number that fits self's dtype), as scalar_value gives it."""
        common.check_real(op, alpha, "alpha")
        self._check_in_place_dtype(op, alpha)
        return common.scalar_value(op, alpha, self.dtype, "alpha")

    def _check_in_place_dtype(self, op, value):
        # Writing floats into an int/bool buffer would truncate silently (PyTorch refuses too).
        if common.is_float(self.dtype) or op in _OVERWRITES:
            return
        if op == "div_":
            bad, what = True, "a true division"
        elif common.is_tensor(value):
            bad, what = common.is_float(value.dtype), f"a {value.dtype} tensor"
        else:
            bad = isinstance(value, numbers.Real) and not float(value).is_integer()
            kind = "fractional" if math.isfinite(float(value)) else "non-finite"
            what = f"the {kind} number {value!r}"
        if bad:
            raise TypeError(f"{op}: cannot write {what} into a tensor of dtype {self.dtype} "
                            f"without truncating; convert this tensor with .float() first")

    def _bump(self):
        self._version[0] += 1
        return self

    def _scaled_update_fast(self, other, alpha) -> bool:
        """self += alpha * other for the case every hand-written update loop hits (a
        float leaf, a Tensor of its shape and dtype on its device, a plain float alpha),
        with only the checks that case needs; False sends the call down the general,
        fully checked path. Each general check costs more than the tiny update of a
        bias vector, and a training step makes two per parameter."""
        buf, src = self._buf, other._buf if type(other) is Tensor else None
        if (src is None or type(alpha) is not float or not abs(alpha) < 1e38
                or other._backend is not self._backend or src.dtype != buf.dtype
                or src.shape != buf.shape or buf.dtype.kind != "f" or 0 in buf.strides
                or (self._node is not None and self._requires_grad)
                or autograd.may_share_storage(src, buf)):
            return False
        self._backend.axpy(buf, src, alpha)
        self._version[0] += 1
        return True

    def add_(self, other, alpha=1.0) -> "Tensor":
        """self += alpha * other, in place, without recording a graph."""
        if alpha != 1 and self._scaled_update_fast(other, alpha):
            return self
        alpha = self._alpha("add_", alpha)
        buf = self._in_place("add_", other)
        if alpha != 1:
            self._backend.axpy(self._buf, buf, alpha)
        else:
            self._backend.binary("add", self._buf, buf, out=self._buf)
        return self._bump()

    def sub_(self, other, alpha=1.0) -> "Tensor":
        """self -= alpha * other, in place."""
        if alpha != 1 and type(alpha) is float and self._scaled_update_fast(other, -alpha):
            return self
        alpha = self._alpha("sub_", alpha)
        buf = self._in_place("sub_", other)
        if alpha != 1:  # y - a*x == y + (-a)*x exactly: negation does not round (and
            with np.errstate(over="ignore"):  # int64 wraps as y - a*x would)
                negated = -self.dtype.type(alpha)
            self._backend.axpy(self._buf, buf, negated)
        else:
            self._backend.binary("sub", self._buf, buf, out=self._buf)
        return self._bump()

    def mul_(self, other) -> "Tensor":
        """self *= other, in place."""
        buf = self._in_place("mul_", other)
        self._backend.binary("mul", self._buf, buf, out=self._buf)
        return self._bump()

    def div_(self, other) -> "Tensor":
        """self /= other, in place."""
        buf = self._in_place("div_", other)
        self._backend.binary("div", self._buf, buf, out=self._buf)
        return self._bump()

    def copy_(self, src) -> "Tensor":
        """Overwrite the values with src (broadcast to self's shape), in place. src may
        live on another device (PyTorch's copy_ crosses devices too): it is moved first."""
        if common.is_tensor(src) and src._backend is not self._backend:
            src = src.detach().to(self.device)
        return self._overwrite("copy_", src)

    def fill_(self, value) -> "Tensor":
        """Set every element to value, in place."""
        return self._overwrite("fill_", value)

    def zero_(self) -> "Tensor":
        """Set every element to 0, in place."""
        return self._overwrite("zero_", 0)

    def _overwrite(self, op, src) -> "Tensor":
        # (op names the method called in errors: zero_ on an expanded view said copy_)
        buf = self._in_place(op, src)
        if buf.shape != self.shape:
            buf = self._backend.expand(buf, self.shape)
        self._backend.assign(self._buf, buf)
        return self._bump()

    # ------------------------------------------------------- augmented assignment
    # x += y changes x in place, as in PyTorch. Without these methods Python would run
    # x = x + y: `p -= lr * p.grad` under no_grad() would bind the name p to a new tensor
    # and leave the model's parameter (and every view of x) as it was.
    def __iadd__(self, other):
        return self._augmented("+=", self.add_, elementwise.add, other)

    def __isub__(self, other):
        return self._augmented("-=", self.sub_, elementwise.sub, other)

    def __imul__(self, other):
        return self._augmented("*=", self.mul_, elementwise.mul, other)

    def __itruediv__(self, other):
        return self._augmented("/=", self.div_, elementwise.div, other)

    def _augmented(self, symbol, update, op, other):
        """x op= other: in place when no graph is recorded. When x or other requires grad,
        the result is a new tensor of x's shape and dtype (x = x op other, recorded), so
        graphs that used the old x keep their values; views of the old x keep them too."""
        if not (autograd.is_grad_enabled() and (
                self._requires_grad or (isinstance(other, Tensor) and other._requires_grad))):
            return update(other)  # add_ and friends check dtypes, shapes and graphs
        if self._node is None and self._requires_grad:
            raise RuntimeError(f"{symbol}: a leaf tensor that requires grad cannot be changed "
                               f"in place (its gradient would lose the old values); update "
                               f"it under vecgrad.no_grad(), or write x = x {symbol[0]} y")
        self._check_in_place_dtype(symbol, other)
        out = op(self, other)
        if out.shape != self.shape:
            raise ValueError(f"{symbol}: the result's shape {out.shape} is not the tensor's "
                             f"shape {self.shape}; write x = x {symbol[0]} y for a new tensor")
        return common.cast(out, self.dtype)

    # ------------------------------------------------------------------ operators
    __hash__ = object.__hash__  # == builds a mask, so identity hashing must be explicit

    def __add__(self, other):
        return elementwise.add(self, other)

    def __radd__(self, other):
        return elementwise.add(other, self)

    def __sub__(self, other):
        return elementwise.sub(self, other)

    def __rsub__(self, other):
        return elementwise.sub(other, self)

    def __mul__(self, other):
        return elementwise.mul(self, other)

    def __rmul__(self, other):
        return elementwise.mul(other, self)

    def __truediv__(self, other):
        return elementwise.div(self, other)

    def __rtruediv__(self, other):
        return elementwise.div(other, self)

    def __floordiv__(self, other):
        return elementwise.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return elementwise.floor_divide(other, self)

    def __mod__(self, other):
        return elementwise.remainder(self, other)

    def __rmod__(self, other):
        return elementwise.remainder(other, self)

    def __pow__(self, other):
        return elementwise.pow(self, other)

    def __rpow__(self, other):
        return elementwise.pow(other, self)

    def __matmul__(self, other):
        return matmul.matmul(self, other)

    def __rmatmul__(self, other):
        return matmul.matmul(other, self)

    def __neg__(self):
        return elementwise.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return elementwise.abs(self)

    def __invert__(self):
        return elementwise.logical_not(self)

    def __and__(self, other):
        return elementwise.logical("logical_and", self, other)

    def __rand__(self, other):
        return elementwise.logical("logical_and", other, self)

    def __or__(self, other):
        return elementwise.logical("logical_or", self, other)

    def __ror__(self, other):
        return elementwise.logical("logical_or", other, self)

    def __xor__(self, other):
        return elementwise.logical("logical_xor", self, other)

    def __rxor__(self, other):
        return elementwise.logical("logical_xor", other, self)

    def __eq__(self, other):
        if not _comparable(other):  # x == None is False, as in PyTorch and Python
            return NotImplemented
        return elementwise.compare("eq", self, other)

    def __ne__(self, other):
        if not _comparable(other):
            return NotImplemented
        return elementwise.compare("ne", self, other)

    def __lt__(self, other):
        return elementwise.compare("lt", self, other)

    def __le__(self, other):
        return elementwise.compare("le", self, other)

    def __gt__(self, other):
        return elementwise.compare("gt", self, other)

    def __ge__(self, other):
        return elementwise.compare("ge", self, other)

    def __getitem__(self, index):
        return movement.getitem(self, index)

    def __setitem__(self, index, value):
        movement.setitem(self, index, value)

    def masked_fill(self, mask, value):
        return movement.masked_fill(self, mask, value)

    # --------------------------------------------------------------- math methods
    def add(self, other, *, alpha=1):
        return elementwise.add(self, other if alpha == 1 else other * alpha)

    def sub(self, other, *, alpha=1):
        return elementwise.sub(self, other if alpha == 1 else other * alpha)

    def eq(self, other):
        return elementwise.compare("eq", self, other)

    def ne(self, other):
        return elementwise.compare("ne", self, other)

    def lt(self, other):
        return elementwise.compare("lt", self, other)

    def le(self, other):
        return elementwise.compare("le", self, other)

    def gt(self, other):
        return elementwise.compare("gt", self, other)

    def ge(self, other):
        return elementwise.compare("ge", self, other)

    def mul(self, other):
        return elementwise.mul(self, other)

    def div(self, other):
        return elementwise.div(self, other)

    def floor_divide(self, other):
        return elementwise.floor_divide(self, other)

    def remainder(self, other):
        return elementwise.remainder(self, other)

    def pow(self, exponent):
        return elementwise.pow(self, exponent)

    def matmul(self, other):
        return matmul.matmul(self, other)

    def exp(self):
        return elementwise.exp(self)

    def log(self):
        return elementwise.log(self)

    def sqrt(self):
        return elementwise.sqrt(self)

    def abs(self):
        return elementwise.abs(self)

    def sign(self):
        return elementwise.sign(self)

    def sin(self):
        return elementwise.sin(self)

    def cos(self):
        return elementwise.cos(self)

    def clip(self, min=None, max=None):  # noqa: A002 - numpy's names
        return elementwise.clip(self, min, max)

    clamp = clip

    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None, dtype=None):
        return reduce.sum(self, axis, keepdims, dim=dim, keepdim=keepdim, dtype=dtype)

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None, dtype=None):
        return reduce.mean(self, axis, keepdims, dim=dim, keepdim=keepdim, dtype=dtype)

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """The largest value. PyTorch's forms: x.max() -> a 0-d tensor; x.max(dim) or
        x.max(dim=d) -> (values, indices) (gradient to the first maximum); x.max(other)
        -> maximum(x, other). numpy's x.max(axis=a) -> values only (ties share the
        gradient, like amax)."""
        return _extremum_method("max", self, dim, keepdim, axis, keepdims)

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """The smallest value; the same forms as max."""
        return _extremum_method("min", self, dim, keepdim, axis, keepdims)

    def var(self, axis=None, keepdims=False, *, ddof=None, correction=None, unbiased=None,
            dim=None, keepdim=None):
        return reduce.var(self, axis, keepdims, ddof=ddof, correction=correction,
                          unbiased=unbiased, dim=dim, keepdim=keepdim)

    def std(self, axis=None, keepdims=False, *, ddof=None, correction=None, unbiased=None,
            dim=None, keepdim=None):
        return reduce.std(self, axis, keepdims, ddof=ddof, correction=correction,
                          unbiased=unbiased, dim=dim, keepdim=keepdim)

    def argmax(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return reduce.argmax(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def argmin(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return reduce.argmin(self, axis, keepdims, dim=dim, keepdim=keepdim)

    # ------------------------------------------------------------------- movement
    def reshape(self, *shape):
        return movement.reshape(self, *shape)

    def view(self, *shape):
        """reshape by another name: a view where the layout allows one, else a copy
        (PyTorch's view raises there; see README, "Differences from PyTorch")."""
        return movement.reshape(self, *shape)

    def flatten(self, start_dim=0, end_dim=-1):
        return movement.flatten(self, start_dim, end_dim)

    def transpose(self, dim0=None, dim1=None):
        return movement.transpose(self, dim0, dim1)

    def permute(self, *axes):
        return movement.permute(self, *axes)

    def squeeze(self, axis=None, *, dim=None):
        return movement.squeeze(self, axis, dim=dim)

    def unsqueeze(self, axis):
        return movement.unsqueeze(self, axis)

    def expand(self, *shape):
        return movement.expand(self, *shape)

    def gather(self, axis, index):
        return movement.gather(self, axis, index)

    # ------------------------------------------------ the everyday PyTorch API (issue 14)
    # Each is a thin call into vecgrad.ops, where the op is written once.
    def neg(self):
        return elementwise.neg(self)

    negative = neg

    def square(self):
        return elementwise.square(self)

    def rsqrt(self):
        return elementwise.rsqrt(self)

    def reciprocal(self):
        return elementwise.reciprocal(self)

    def log1p(self):
        return elementwise.log1p(self)

    def expm1(self):
        return elementwise.expm1(self)

    def exp2(self):
        return elementwise.exp2(self)

    def log2(self):
        return elementwise.log2(self)

    def log10(self):
        return elementwise.log10(self)

    def tan(self):
        return elementwise.tan(self)

    def erf(self):
        return elementwise.erf(self)

    def floor(self):
        return elementwise.floor(self)

    def ceil(self):
        return elementwise.ceil(self)

    def round(self, decimals=0):
        return elementwise.round(self, decimals)

    def trunc(self):
        return elementwise.trunc(self)

    def maximum(self, other):
        return elementwise.maximum(self, other)

    def minimum(self, other):
        return elementwise.minimum(self, other)

    def lerp(self, end, weight):
        return elementwise.lerp(self, end, weight)

    def isnan(self):
        return self != self

    def isinf(self):
        return elementwise.abs(self) == math.inf if common.is_float(self.dtype) else self != self

    def isfinite(self):
        return ~(self.isnan() | self.isinf())

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return elementwise.isclose(self, other, rtol, atol, equal_nan)

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return elementwise.allclose(self, other, rtol, atol, equal_nan)

    def equal(self, other):
        return elementwise.equal(self, other)

    def prod(self, dim=None, keepdim=False, *, axis=None, keepdims=None, dtype=None):
        return reduce.prod(self, axis, bool(keepdim or keepdims), dim=dim, dtype=dtype)

    def cumsum(self, dim=None, *, axis=None, dtype=None):
        return reduce.cumsum(self, dim, axis=axis, dtype=dtype)

    def logsumexp(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return reduce.logsumexp(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def amax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return reduce.amax(self, common.pick_axis("amax", axis, dim, None),
                           bool(keepdim or keepdims))

    def amin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return reduce.amin(self, common.pick_axis("amin", axis, dim, None),
                           bool(keepdim or keepdims))

    def norm(self, p="fro", dim=None, keepdim=False, *, axis=None, keepdims=None, dtype=None):
        return reduce.norm(self, p, dim, keepdim, axis=axis, keepdims=keepdims, dtype=dtype)

    def all(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return reduce.all(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def any(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return reduce.any(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def flip(self, *dims):
        return movement.flip(self, dims[0] if len(dims) == 1 else dims)

    def roll(self, shifts, dims=None):
        return movement.roll(self, shifts, dims)

    def repeat(self, *sizes):
        return movement.repeat(self, *sizes)

    def tile(self, *reps):
        return movement.tile(self, *reps)

    def chunk(self, chunks, dim=0):
        return movement.chunk(self, chunks, dim)

    def split(self, split_size_or_sections, dim=0):
        return movement.split(self, split_size_or_sections, dim)

    def unbind(self, dim=0):
        return movement.unbind(self, dim)

    def tril(self, diagonal=0):
        return movement.tril(self, diagonal)

    def triu(self, diagonal=0):
        return movement.triu(self, diagonal)

    def t(self):
        return movement.t(self)

    @property
    def mT(self) -> "Tensor":  # noqa: N802 - PyTorch's name
        """The last two axes swapped (a batch of transposed matrices)."""
        return movement.matrix_transpose(self)

    def swapaxes(self, axis0, axis1):
        return movement.swapaxes(self, axis0, axis1)

    swapdims = swapaxes

    def movedim(self, source, destination):
        return movement.movedim(self, source, destination)

    moveaxis = movedim

    def narrow(self, dim, start, length):
        return movement.narrow(self, dim, start, length)

    def unflatten(self, dim, sizes):
        return movement.unflatten(self, dim, sizes)

    def sort(self, dim=-1, descending=False, stable=True):
        return movement.sort(self, dim, descending, stable)

    def argsort(self, dim=-1, descending=False, stable=True):
        return movement.argsort(self, dim, descending, stable)

    def topk(self, k, dim=-1, largest=True, sorted=True):  # noqa: A002 - PyTorch's name
        return movement.topk(self, k, dim, largest, sorted)

    def view_as(self, other):
        return movement.reshape(self, other.shape)

    reshape_as = view_as

    def expand_as(self, other):
        return movement.expand(self, other.shape)

    def dim(self) -> int:
        """Number of axes (PyTorch's x.dim())."""
        return self.ndim

    def clone(self):
        """A copy with its own memory; gradients flow back to self."""
        if self.dtype == np.bool_:
            return Tensor._wrap(self._backend.copy(self._buf), self._backend)
        return elementwise.mul(self, 1)  # (x * 1 is exact for every value, -0 and nan too)

    def is_contiguous(self) -> bool:
        """Whether the elements lie in row-major order without gaps (not a strided view)."""
        buf = self._buf
        strides = buf.strides
        if isinstance(buf, np.ndarray):
            if buf.flags.c_contiguous:
                return True
            strides = tuple(st // buf.itemsize for st in strides)
        expected, step = [], 1
        for n in reversed(buf.shape):
            expected.append(step)
            step *= n
        return all(n == 1 or st == e
                   for n, st, e in zip(buf.shape, strides, reversed(expected)))

    def contiguous(self):
        """self when already contiguous, else a contiguous copy (gradients flow through)."""
        if self.is_contiguous():
            return self
        if self.ndim >= 2:  # flattening a strided view copies it in row-major order
            flat = movement.reshape(self, self.numel())
            out = movement.reshape(flat, self.shape)
            if out.is_contiguous():
                return out
        return self.clone()

    # PyTorch's new_* constructors: the new tensor takes this one's dtype and device
    # unless given (h = x.new_zeros(batch, hidden) follows x onto its device).
    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        return creation.full(creation._shape("new_zeros", size), 0, dtype or self.dtype,
                             device or self.device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        return creation.full(creation._shape("new_ones", size), 1, dtype or self.dtype,
                             device or self.device, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        return self.new_zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
        size = tuple(size) if isinstance(size, (tuple, list)) else (size,)
        return creation.full(size, fill_value, dtype or self.dtype, device or self.device,
                             requires_grad)

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        return creation.tensor(data, dtype=dtype or self.dtype, device=device or self.device,
                               requires_grad=requires_grad)

    def type_as(self, other):
        """Converted to other's dtype."""
        return common.cast(self, other.dtype)

    def outer(self, other):
        return matmul.outer(self, other)

    def dot(self, other):
        return matmul.dot(self, other)

    def mm(self, other):
        return matmul.mm(self, other)

    def bmm(self, other):
        return matmul.bmm(self, other)

    # ----------------------------------------------------------------- activations
    def activation(self, name, alpha=None):
        """The catalogue activation `name` (scalargrad.functions.ACTIVATIONS)."""
        return activations.activation(self, name, alpha)

    def identity(self):
        return activations.activation(self, "identity")

    def step(self):
        return activations.activation(self, "step")

    def sigmoid(self):
        return activations.activation(self, "sigmoid")

    def tanh(self):
        return activations.activation(self, "tanh")

    def arctan(self):
        return activations.activation(self, "arctan")

    def relu(self):
        return activations.activation(self, "relu")

    def leaky_relu(self, alpha=None):
        return activations.activation(self, "leaky_relu", alpha)

    def elu(self, alpha=None):
        return activations.activation(self, "elu", alpha)

    def softplus(self):
        return activations.activation(self, "softplus")

    def bent_identity(self):
        return activations.activation(self, "bent_identity")

    def soft_exponential(self, alpha=None):
        return activations.activation(self, "soft_exponential", alpha)

    def sinc(self):
        return activations.activation(self, "sinc")

    def gaussian(self):
        return activations.activation(self, "gaussian")

    def softmax(self, axis=-1, *, dim=None):
        return softmax_ops.softmax(self, axis, dim=dim)

    def log_softmax(self, axis=-1, *, dim=None):
        return softmax_ops.log_softmax(self, axis, dim=dim)


def _unpickle_tensor(cls, values, device, requires_grad, attributes):
    """The other half of Tensor.__reduce_ex__."""
    made = creation.tensor(values, dtype=values.dtype, device=device)
    new = object.__new__(cls)
    new._adopt(made._buf, made._backend)
    new._host_range = made._host_range
    new._requires_grad = requires_grad
    for name, value in (attributes or {}).items():
        object.__setattr__(new, name, value)
    return new


def _comparable(other) -> bool:
    """Whether == and != compare elementwise with `other`: tensors, numbers, arrays and
    lists do; for anything else (None, a string, an object) they return NotImplemented,
    so Python answers by identity (x == None is False, `x in [None, y]` works) where
    they raised "eq: expected a Tensor or a number"."""
    return isinstance(other, (Tensor, numbers.Number, np.generic, np.ndarray, list, tuple))


def _extremum_method(op, x, dim, keepdim, axis, keepdims):
    """Tensor.max / Tensor.min: PyTorch's three forms, and numpy's axis= form."""
    if isinstance(dim, Tensor):
        return (elementwise.maximum if op == "max" else elementwise.minimum)(x, dim)
    if axis is not None:  # numpy's spelling: values only
        if dim is not None:
            raise TypeError(f"{op}: give axis or dim, not both")
        return reduce._extremum(op, x, axis, bool(keepdims) or bool(keepdim), None)
    keep = bool(keepdim or keepdims)
    if dim is None:  # the value (x.max(keepdim=True): with every axis kept)
        return reduce._extremum(op, x, None, keep, None)
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{op}: dim must be one int for (values, indices); use amax/amin "
                        f"(or axis=) to reduce several axes")
    return reduce.max_with_indices(op, x, dim, keep)


class ToDevice(autograd.Function):
    """Copy to another backend; the gradient is copied back."""

    @staticmethod
    def forward(ctx, x, *, target):
        ctx.attrs = target
        return target.from_numpy(ctx.backend.to_numpy(x))

    @staticmethod
    def backward(ctx, grad):
        if isinstance(grad, Tensor):  # a recorded backward (create_graph): the same op back
            return _to_device(grad, ctx.backend.device)
        return ctx.backend.from_numpy(ctx.attrs.to_numpy(grad))


def to_arguments(what: str, args: tuple, device=None, dtype=None) -> tuple:
    """(device, dtype) from PyTorch's .to() forms, for Tensor.to and Module.to:
    to(device), to(dtype), to(device, dtype), to(tensor) (its device and dtype),
    to(device=..., dtype=...). A string is a device unless numpy reads it as a dtype."""
    if len(args) > 2:
        raise TypeError(f"{what}: takes a device and a dtype at most, got {len(args)} "
                        f"arguments")
    for arg in args:
        if isinstance(arg, Tensor):
            if len(args) > 1 or device is not None or dtype is not None:
                raise TypeError(f"{what}: a tensor argument (whose device and dtype are "
                                f"taken) must come alone")
            device, dtype = arg.device, arg.dtype
        elif isinstance(arg, str) and not _names_a_dtype(arg):
            if device is not None:
                raise TypeError(f"{what}: two devices given ({device!r} and {arg!r})")
            device = arg
        else:
            if dtype is not None:
                raise TypeError(f"{what}: two dtypes given ({dtype} and {arg})")
            if arg is None:  # names no dtype (np.dtype(None) would be float64): refused
                creation.resolve_dtype(arg, what)
            dtype = arg
    return device, dtype


def _names_a_dtype(text):
    try:
        np.dtype(text)
    except TypeError:  # not a dtype name, so a device string (validated there)
        return False
    return True


def _to_device(t, device):
    target = backends.get_backend(device)
    if target is t._backend:
        return t
    if t.dtype == np.float64 and not target.supports_float64:
        raise TypeError(f"to: device {target.device} does not support float64; "
                        f"convert with .float() first")
    moved = ToDevice.apply(t, target=target)
    moved._backend = target  # the buffer now lives on the target device
    known = t._host_range
    if known is not None and known[2] == t._version[0]:
        moved._host_range = (known[0], known[1], moved._version[0])
    return moved


# The op modules build Tensors, so they are imported after the class exists.
from vecgrad import backends  # noqa: E402
from vecgrad.ops import activations, common, creation, elementwise, matmul  # noqa: E402
from vecgrad.ops import movement, reduce  # noqa: E402
from vecgrad.ops import softmax as softmax_ops  # noqa: E402
