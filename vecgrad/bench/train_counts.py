"""Queue work per training batch of a `vecgrad train` run on an OpenCL device.

`python -m vecgrad.bench.train_counts DEVICE MODEL EPOCHS` trains as `vecgrad train
--model MODEL --epochs EPOCHS --device DEVICE --quiet` does (same RunConfig defaults,
layer stats off) and prints one JSON line: the training batches and the runtime's
QueueStats over the whole run (evaluation included), per training batch. These counts
do not depend on the machine's load, unlike the times `vecgrad bench` puts beside them.
"""

from __future__ import annotations

import json
import sys


def train_counts(device: str, model: str, epochs: int) -> dict:
    """{"batches": N, "per_batch": {stat: count / N}, "total": {stat: count}}."""
    import vecgrad
    from vecgrad.train.events import BatchEnd
    from vecgrad.train.runner import RunConfig, run

    backend = vecgrad.get_backend(device)
    stats = backend.runtime.stats
    batches = []

    def count(event):  # a view that never reads a batch's loss
        if isinstance(event, BatchEnd):
            batches.append(event.batch)

    stats.reset()
    result = run(RunConfig(model=model, epochs=epochs, device=backend.device), views=[count],
                 layer_stats=False)
    if result.diverged:
        raise RuntimeError(f"the counted run diverged: {result.message}")
    total = stats.as_dict()
    n = max(len(batches), 1)
    return {"batches": len(batches), "total": total,
            "per_batch": {name: value / n for name, value in total.items()}}


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 3:
        print("usage: python -m vecgrad.bench.train_counts DEVICE MODEL EPOCHS", file=sys.stderr)
        return 2
    print(json.dumps(train_counts(args[0], args[1], int(args[2]))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
