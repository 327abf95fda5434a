"""vecgrad's differentiable ops, one module per family: the autograd core's vocabulary.

Every Function here is written, forward and backward, in the backend primitives only
(their names: vecgrad/backends/primitives.py; the contract: backends/base.py), so each
derivative exists once and runs on every backend. May import vecgrad.autograd,
vecgrad.tensor and vecgrad.backends; never nn, train, cli or bench.

- elementwise.py  add, sub, mul, div, pow, neg, exp, log, sqrt, abs, sin, cos, where,
                  clip, comparisons
- reduce.py       sum, mean, max, min, var, std, argmax, argmin
- movement.py     reshape, permute, expand, getitem, cat, gather (+ view, flatten,
                  transpose, squeeze, unsqueeze, stack built from them), setitem
                  (x[index] = value), masked_fill
- matmul.py       matmul (1-D, 2-D, batched), linear
- conv.py         im2col/col2im, conv1d/conv2d (groups, "same"), conv_transpose1d/2d,
                  max/avg pools 1-D and 2-D (dilation, ceil_mode, count_include_pad)
- spatial.py      pad (constant, reflect, replicate, circular), interpolate,
                  adaptive_avg_pool1d/2d
- normalization.py  batch_norm, layer_norm (compositions)
- embedding.py    embedding (getitem + where for the padding row)
- activations.py  the scalargrad activation catalogue
- softmax.py      softmax, log_softmax
- recurrent.py    lstm_cell: the LSTM's elementwise gate step as one op
- losses.py       mse, binary cross-entropy (+ with logits), cross-entropy, nll, penalties
- creation.py     tensor, zeros, ones, full, arange, eye, rand, randn, manual_seed
- common.py       validation, dtype promotion, casts and the one `unbroadcast`
"""
