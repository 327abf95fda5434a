"""`vecgrad evaluate CHECKPOINT`: test (or validation) metrics of a trained run."""

from __future__ import annotations

import argparse

import sys

from vecgrad.cli.common import (add_device_argument, add_output_arguments, folder_name,
                                json_text, make_views)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="a file written by vecgrad train --checkpoint")
    p.add_argument("--split", choices=("test", "val"), default="test")
    p.add_argument("--data-dir", type=folder_name, help="folder with the IDX files (mnist datasets)")
    add_device_argument(p, "the run's device, else cpu")
    add_output_arguments(p)


def main(args) -> int:
    from vecgrad.train.runner import evaluate

    views, stream = make_views(args)
    done = evaluate(args.checkpoint, args.split, args.device, args.data_dir, views=views)
    result = done.result
    if done.note:
        print(f"vecgrad evaluate: {done.note}", file=sys.stderr)
    if args.data_dir is not None:
        from vecgrad.cli.train import _note_unread_data_dir

        _note_unread_data_dir("vecgrad evaluate", done.config["dataset"])
    if args.json:
        print(json_text({
            "checkpoint": args.checkpoint, "dataset": done.config["dataset"],
            "model": done.config["model"], "device": done.device, "split": args.split,
            "loss": result.loss, "accuracy": result.accuracy, "samples": result.samples,
            "settings": done.settings(), "seconds": round(done.seconds, 3),
            "confusion": None if result.confusion is None else result.confusion.tolist()}))
    elif args.quiet:
        accuracy = "" if result.accuracy is None else f" accuracy {100 * result.accuracy:.2f}%"
        print(f"{args.split}: loss {result.loss:.4g}{accuracy}", file=stream)
    return 0


if __name__ == "__main__":  # python -m vecgrad.cli.evaluate ran nothing and said nothing
    from vecgrad.entry import run_command

    sys.exit(run_command("python -m vecgrad.cli.evaluate", sys.modules[__name__], sys.argv[1:],
                         __doc__))
