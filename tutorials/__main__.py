"""`python -m tutorials [N | all] [--no-pause]`: the lesson menu, one lesson, or all."""

from __future__ import annotations

import sys
from typing import Callable, Optional

try:  # these imports take most of a second: Ctrl-C in it leaves like Ctrl-C later on
    from rich.console import Console
    from rich.table import Table

    from tutorials.devices import apply_lesson_device
    from tutorials.framework import course_names, run_lesson, should_pause
    from tutorials.registry import LESSON_MODULES, load_lesson
    from vecgrad.entry import output_error, quiet_broken_pipe, tolerate_narrow_encodings
except KeyboardInterrupt:
    if __name__ != "__main__":
        raise
    sys.exit(130)

USAGE = "usage: python -m tutorials [N | all] [--no-pause]"


def lesson_number(text: str) -> Optional[int]:
    """The lesson `text` names, or None. ASCII digits only: str.isdigit also accepts
    '³' and other digits that int() refuses."""
    if text.isascii() and text.isdigit() and int(text) in LESSON_MODULES:
        return int(text)
    return None


def menu_table() -> Table:
    """The list of lessons; a lesson that fails to import shows why instead of its title."""
    table = Table(title="gradlab tutorials", title_justify="left")
    table.add_column("#", justify="right", style="bold cyan")
    table.add_column("lesson")
    table.add_column("follows")
    for number in sorted(LESSON_MODULES):
        try:
            lesson = load_lesson(number)
        except ImportError as exc:
            table.add_row(str(number), f"[red]unavailable: {exc}[/]", "")
            continue
        table.add_row(str(number), lesson.title, course_names(lesson.lectures))
    return table


def interactive_menu(console: Console, input_fn: Callable[[str], str] = input) -> int:
    """Show the menu until the user quits; each chosen lesson runs with pauses."""
    while True:
        console.print(menu_table())
        try:
            choice = input_fn("lesson number, or q to quit > ").strip().lower()
        except EOFError:
            return 0
        if choice in ("q", "quit", ""):
            return 0
        number = lesson_number(choice)
        if number is None:
            console.print(f"[yellow]{choice!r} is not a lesson number.[/]")
            continue
        run_lesson(load_lesson(number), console=console, pause=True, input_fn=input_fn)


def _broken_pipe() -> None:
    raise SystemExit(quiet_broken_pipe())


def main(argv: Optional[list[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    tolerate_narrow_encodings()
    no_pause = "--no-pause" in args
    rest = [a for a in args if a != "--no-pause"]
    console = Console()
    # rich turns a closed pipe (`python -m tutorials | head`) into SystemExit(1); exit
    # quietly with the status a shell gives a program stopped by SIGPIPE instead
    console.on_broken_pipe = _broken_pipe
    if any(a in ("-h", "--help") for a in rest):
        print(USAGE)
        sys.stdout.flush()  # a write error is raised here, not lost at exit
        return 0
    options = [a for a in rest if a.startswith("-") and not a.lstrip("-").isdigit()]
    if options:
        print(f"unknown option {options[0]!r}\n{USAGE}", file=sys.stderr)
        return 2
    if len(rest) > 1:
        print(f"give one lesson number or 'all', got {' '.join(rest)!r}\n{USAGE}",
              file=sys.stderr)
        return 2
    if not rest:
        if should_pause(no_pause):
            return interactive_menu(console)
        console.print(menu_table())
        console.print("Run one lesson with `python -m tutorials N`, "
                      "all of them with `python -m tutorials all --no-pause`.")
        return 0
    note = apply_lesson_device()
    if note:
        console.print(note, style="yellow", markup=False)
    pause = should_pause(no_pause)
    if rest[0] == "all":
        numbers = sorted(LESSON_MODULES)
    elif lesson_number(rest[0]) is not None:
        numbers = [lesson_number(rest[0])]
    else:
        known = ", ".join(str(n) for n in sorted(LESSON_MODULES))
        print(f"there is no lesson {rest[0]!r}; lessons: {known}\n{USAGE}", file=sys.stderr)
        return 2
    for number in numbers:
        lesson = load_lesson(number)
        if run_lesson(lesson, console=console, pause=pause).quit:  # q: no more lessons
            break
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C at a prompt: leave quietly
        print()
        sys.exit(130)
    except BrokenPipeError:  # a plain print (the usage) into a closed pipe
        sys.exit(quiet_broken_pipe())
    except OSError as exc:  # e.g. the output cannot be written (`> /dev/full`)
        status = output_error("python -m tutorials", exc)  # says what could not be written
        if status is None:
            quiet_broken_pipe()  # later writes and the flush at exit go nowhere
            print(f"python -m tutorials: error: {exc}", file=sys.stderr)
            status = 2
        sys.exit(status)
