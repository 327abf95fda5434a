"""`vecgrad evaluate CHECKPOINT`: test (or validation) metrics of a trained run."""

from __future__ import annotations

import argparse
import json

from vecgrad.cli.common import add_output_arguments, make_views


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="a file written by vecgrad train --checkpoint")
    p.add_argument("--split", choices=("test", "val"), default="test")
    p.add_argument("--data-dir", help="folder with the IDX files (mnist datasets)")
    p.add_argument("--device", default="cpu", help="cpu, opencl, opencl:P:D or auto")
    add_output_arguments(p)


def main(args) -> int:
    from vecgrad.train.runner import evaluate

    views, stream = make_views(args)
    done = evaluate(args.checkpoint, args.split, args.device, args.data_dir, views=views)
    result = done.result
    if args.json:
        print(json.dumps({
            "checkpoint": args.checkpoint, "dataset": done.config["dataset"],
            "model": done.config["model"], "device": done.device, "split": args.split,
            "loss": result.loss, "accuracy": result.accuracy, "samples": result.samples,
            "settings": done.settings(), "seconds": round(done.seconds, 3),
            "confusion": None if result.confusion is None else result.confusion.tolist()}))
    elif args.quiet:
        accuracy = "" if result.accuracy is None else f" accuracy {100 * result.accuracy:.2f}%"
        print(f"{args.split}: loss {result.loss:.4g}{accuracy}", file=stream)
    return 0
