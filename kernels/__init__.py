"""OpenCL C sources for vecgrad, one file per kernel family.

elementwise.cl, activations.cl, reduce.cl, matmul.cl, conv2d.cl, softmax.cl, optim.cl...:
the kernels behind the primitives of vecgrad/backends/primitives.py, loaded by file and
kernel name by vecgrad/backends/opencl_runtime.py (compiled once per device, cached).
Installed inside the package as ``vecgrad.kernels``. Holds no Python code.
"""
