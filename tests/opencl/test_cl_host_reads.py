"""Which ops read an OpenCL tensor back to the host (README, OpenCL devices: data stays
on the device except for these). Nothing here is timed; the queue's read counter is."""

import vecgrad
import vecgrad.nn.functional as F


def _reads(backend, call):
    before = backend._rt.stats.reads
    call()
    return backend._rt.stats.reads - before


def test_the_ops_the_readme_names_read_the_device_and_the_others_do_not(cl_backend):
    dev = cl_backend.device
    x = vecgrad.randn(4, 3, device=dev)
    host_labels = vecgrad.tensor([0, 1, 2, 0], device=dev)
    device_labels = (vecgrad.rand(4, device=dev) * 3).long()
    index = vecgrad.tensor([1, 2], device=dev)
    p = vecgrad.rand(8, device=dev)
    reading = {
        "indexing with a tensor": lambda: x[index],
        "gather": lambda: x.gather(1, vecgrad.tensor([[0], [1], [2], [0]], device=dev)),
        "embedding": lambda: F.embedding(index, x),
        "binary_cross_entropy": lambda: F.binary_cross_entropy(p, p),
        "sort": lambda: x.sort(),
        "labels made on the device": lambda: F.cross_entropy(x, device_labels),
    }
    for name, call in reading.items():
        assert _reads(cl_backend, call) >= 1, name
    quiet = {
        "cross_entropy with labels from the host": lambda: F.cross_entropy(x, host_labels),
        "mse_loss": lambda: F.mse_loss(x, x * 2),
        "linear and relu": lambda: F.linear(x, x).relu().sum(),
        "slicing": lambda: x[1:, :2] * 2,
    }
    for name, call in quiet.items():
        assert _reads(cl_backend, call) == 0, name


def test_host_labels_stay_unread_through_backward(cl_backend):
    dev = cl_backend.device
    w = vecgrad.randn(3, 2, device=dev, requires_grad=True)
    labels = vecgrad.tensor([0, 1], device=dev)
    before = cl_backend._rt.stats.reads
    F.cross_entropy(vecgrad.randn(2, 3, device=dev) @ w, labels).backward()
    assert cl_backend._rt.stats.reads == before
