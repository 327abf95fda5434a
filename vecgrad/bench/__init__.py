"""`vecgrad bench`: vecgrad's speed and memory beside references measured in the same run.

- workloads.py  what is timed: the same step written in vecgrad, hand-written numpy, PyTorch
- timing.py     how: interleaved rounds, medians, paired ratios, peak memory, machine line
- suite.py      the cpu/OpenCL bench table with targets and "met"/"missed"
- opencl.py     OpenCL-only figures: matmul GFLOP/s (vs CLBlast), launch overhead

May import the engine (vecgrad, vecgrad.nn) and, when installed, torch; nothing in the
engine imports it. `python -m vecgrad.bench` runs the suite.
"""

from __future__ import annotations

from vecgrad.bench.suite import add_arguments, main
from vecgrad.bench.timing import Timings, interleaved, machine_line, peak_memory
from vecgrad.bench.workloads import mlp_data, numpy_mlp_step, torch_mlp_step, vecgrad_mlp_step

__all__ = ["add_arguments", "main", "Timings", "interleaved", "machine_line", "peak_memory",
           "mlp_data", "numpy_mlp_step", "torch_mlp_step", "vecgrad_mlp_step"]
