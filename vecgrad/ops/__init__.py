"""vecgrad's differentiable ops, one module per family: the autograd core's vocabulary.

Every Function here is written, forward and backward, in the backend primitives only
(their names: vecgrad/backends/primitives.py; the contract: backends/base.py), so each
derivative exists once and runs on every backend. May import vecgrad.autograd,
vecgrad.tensor and vecgrad.backends; never nn, train, cli or bench.

- elementwise.py  add, sub, mul, div, pow, neg, exp, log, sqrt, abs, sin, cos, where,
                  clip, comparisons; log1p, expm1, erf, floor/ceil/round/trunc (primitives),
                  maximum/minimum, lerp, tan, rsqrt, ... (composites), dropout
- reduce.py       sum, mean, max, min, var, std, argmax, argmin; prod, cumsum, logsumexp,
                  norm, all, any, normalize, cosine_similarity (composites)
- movement.py     reshape, permute, expand, getitem, cat, gather (+ view, flatten,
                  transpose, squeeze, unsqueeze, stack, flip, roll, repeat, tile, split,
                  chunk, unbind, narrow, movedim, tril/triu, sort, topk built from them),
                  setitem (x[index] = value), masked_fill
- matmul.py       matmul (1-D, 2-D, batched), linear, mm, bmm, dot, outer
- einsum.py       einsum over permute/reshape/expand/matmul/sum
- conv.py         im2col/col2im, conv1d/conv2d (groups, "same"), conv_transpose1d/2d,
                  max/avg pools 1-D and 2-D (dilation, ceil_mode, count_include_pad)
- spatial.py      pad (constant, reflect, replicate, circular), interpolate,
                  adaptive_avg_pool1d/2d
- normalization.py  batch_norm, layer_norm (compositions)
- embedding.py    embedding (getitem + where for the padding row)
- activations.py  the scalargrad activation catalogue; PyTorch's composites (gelu, silu, ...)
- softmax.py      softmax, log_softmax, softmin, glu
- recurrent.py    lstm_step: one LSTM time step (recurrent product + gates) as one op
- attention.py    scaled_dot_product_attention
- losses.py       mse, l1, smooth l1, huber, kl_div, binary cross-entropy (+ with logits),
                  cross-entropy (weights, ignore_index, smoothing, soft targets), nll, penalties
- creation.py     tensor, zeros, ones, full, arange, eye, rand, randn, one_hot, manual_seed
- namespace.py    module-level vecgrad.sum/max/... with PyTorch's argument order (no math)
- graph_backend.py  the backend that records a backward rule (create_graph=True)
- common.py       validation, dtype promotion, casts and the one `unbroadcast`
"""
