"""vecgrad's differentiable ops, one module per family.

primitives.py lists the backend primitives (the contract in backends/base.py); every
Function below is written, forward and backward, in those primitives only:

- elementwise.py  add, sub, mul, div, pow, neg, exp, log, sqrt, abs, sin, cos, where,
                  clip, comparisons
- reduce.py       sum, mean, max, min, var, std, argmax, argmin
- movement.py     reshape, permute, expand, getitem, cat, gather (+ view, flatten,
                  transpose, squeeze, unsqueeze, stack built from them)
- matmul.py       matmul (1-D, 2-D, batched), linear
- conv.py         im2col, conv2d, max_pool2d, avg_pool2d
- activations.py  the scalargrad activation catalogue
- softmax.py      softmax, log_softmax
- losses.py       mse, binary cross-entropy (+ with logits), cross-entropy, nll, penalties
- creation.py     tensor, zeros, ones, full, arange, eye, rand, randn, manual_seed
- common.py       validation, dtype promotion, casts and the one `unbroadcast`
"""
