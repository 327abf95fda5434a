"""The lesson runner: a lesson is a list of steps, each shown, executed and rendered.

A `Step` holds a title, an explanation (Markdown), the function whose source is shown and
then called for real (`run`), and an optional `view` that turns the function's result into
rich renderables (tables, trees, plots). The runner never evaluates strings: the code on
screen is `inspect.getsource` of the very function it calls.

`run` returns a dict of the step's key numbers (and any objects the view needs); the runner
collects these per step so tests can assert the lecture's numbers.
"""

from __future__ import annotations

import inspect
import sys
import textwrap
from dataclasses import dataclass
from typing import Any, Callable, Optional

from rich.console import Console, Group, RenderableType
from rich.markdown import Markdown
from rich.panel import Panel
from rich.rule import Rule
from rich.syntax import Syntax
from rich.text import Text

StepResult = dict[str, Any]

# The five lecture files (../shared/lectures) by the course a student knows them as.
COURSES = {
    "000": "TU Graz ML1 lecture 8",
    "001": "NYU CDS neural networks",
    "002": "ELTE ML lecture 6",
    "003": "the AD lecture",
    "004": "NPFL114 lecture 2",
}


def course_names(lectures: str) -> str:
    """'002, 003' -> 'ELTE ML lecture 6; the AD lecture' (unknown codes kept as given)."""
    codes = [c.strip() for c in lectures.split(",") if c.strip()]
    return "; ".join(COURSES.get(c, c) for c in codes)


@dataclass(frozen=True)
class Step:
    """One screen of a lesson: explain, show the code, run it, show the result."""

    title: str
    text: str
    run: Callable[[], StepResult]
    view: Optional[Callable[[StepResult], list[RenderableType]]] = None
    # Helpers whose source is shown above `run` (the code `run` calls).
    also_show: tuple[Callable[..., Any], ...] = ()


@dataclass(frozen=True)
class Lesson:
    """A numbered lesson: a title, the lectures it follows, an intro and its steps."""

    number: int
    title: str
    lectures: str
    intro: str
    steps: tuple[Step, ...]

    def __post_init__(self):
        if not self.steps:
            raise ValueError(f"lesson {self.number} ({self.title!r}) has no steps")


def source_of(fn: Callable[..., Any]) -> str:
    """The source text of a function, dedented (what the learner sees)."""
    return textwrap.dedent(inspect.getsource(fn)).rstrip()


def render_step(lesson: Lesson, index: int, result: StepResult,
                console: Optional[Console] = None) -> RenderableType:
    """Everything one step puts on screen, as a single renderable.

    Normally the explanation comes first. Given a `console` whose screen the step would
    overflow, the explanation moves below the result instead, so that it is still on
    screen at the pause and is not scrolled away by the code and plots.
    """
    step = lesson.steps[index]
    header = Rule(
        f"[bold]Lesson {lesson.number}[/] · step {index + 1}/{len(lesson.steps)} · {step.title}",
        style="cyan",
    )
    code = "\n\n".join(source_of(fn) for fn in (*step.also_show, step.run))
    explanation = Markdown(textwrap.dedent(step.text).strip())
    body: list[RenderableType] = [
        Panel(Syntax(code, "python", theme="ansi_dark", word_wrap=True),
              title="code", title_align="left", border_style="dim"),
    ]
    if step.view is not None:
        body.extend(step.view(result))
    on_top = Group(header, explanation, *body)
    if console is None or not too_tall(console, on_top):
        return on_top
    return Group(header, Text("(the explanation follows the result)", style="italic"),
                 *body, Rule("what this step shows", style="cyan"), explanation)


def too_tall(console: Console, renderable: RenderableType) -> bool:
    """True when `renderable` needs more lines than the console's screen has."""
    lines = console.render_lines(renderable, console.options, pad=False)
    return len(lines) > console.height - 2  # room for the prompt


def _ask(console: Console, input_fn: Callable[[str], str]) -> str:
    """Read one navigation key: '' (Enter) = next, 'b' = back, 'q' = quit."""
    while True:
        try:
            answer = input_fn("[Enter] next · [b] back · [q] quit > ").strip().lower()
        except EOFError:  # stdin closed mid-lesson: behave like quit
            return "q"
        if answer in ("", "b", "q"):
            return answer
        console.print(f"[yellow]Unknown key {answer!r}: press Enter, b or q.[/]")


class LessonResults(list):
    """What `run_lesson` returns: each executed step's result, in step order, and
    `quit`, True when the learner pressed q (or stdin closed) before the end."""

    quit = False


def run_lesson(lesson: Lesson, console: Optional[Console] = None, pause: bool = True,
               input_fn: Callable[[str], str] = input) -> LessonResults:
    """Run a lesson; returns each executed step's result in step order.

    With `pause`, waits after each step for Enter (next), b (back) or q (quit); a step
    that is revisited runs again. A quit leaves steps never reached out of the returned
    list and sets its `quit` (a q on the last step, or after going back, reaches them all).
    """
    console = console or Console()
    console.print(Panel(Markdown(textwrap.dedent(lesson.intro).strip()),
                        title=f"Lesson {lesson.number}: {lesson.title}",
                        subtitle=course_names(lesson.lectures), border_style="cyan"))
    results: list[Optional[StepResult]] = [None] * len(lesson.steps)
    index = 0
    while 0 <= index < len(lesson.steps):
        result = lesson.steps[index].run()
        if not isinstance(result, dict):
            raise TypeError(f"lesson {lesson.number} step {index + 1} "
                            f"({lesson.steps[index].title!r}) returned "
                            f"{type(result).__name__}, expected a dict of results")
        results[index] = result
        console.print(render_step(lesson, index, result, console if pause else None))
        if not pause:
            index += 1
            continue
        key = _ask(console, input_fn)
        if key == "q":
            done = LessonResults(r for r in results if r is not None)
            done.quit = True
            return done
        index = max(index - 1, 0) if key == "b" else index + 1
    console.print(Text(f"End of lesson {lesson.number}.", style="bold green"))
    return LessonResults(r for r in results if r is not None)


def should_pause(no_pause: bool) -> bool:
    """Pause between steps only for a person at a terminal: one who can answer (a closed
    stdin, `<&-`, is None) and who sees the steps and the prompt (`> lessons.txt` sends
    both to the file, and the pause would wait for an Enter no one is asked for)."""
    return (not no_pause and all(stream is not None and stream.isatty()
                                 for stream in (sys.stdin, sys.stdout)))


def main_for(lesson: Lesson, argv: Optional[list[str]] = None) -> int:
    """Entry point used when a lesson file runs on its own."""
    from tutorials.devices import apply_lesson_device
    from vecgrad.entry import (output_error, pipe_console, quiet_broken_pipe,
                               tolerate_narrow_encodings)

    args = sys.argv[1:] if argv is None else argv
    tolerate_narrow_encodings()
    if any(a in ("-h", "--help") for a in args):
        print(f"usage: python {sys.argv[0] or 'LESSON.py'} [--no-pause]  (all lessons: "
              "python -m tutorials)")
        return 0
    unknown = [a for a in args if a != "--no-pause"]
    if unknown:
        print(f"unknown argument(s) {' '.join(unknown)}; the only option is --no-pause",
              file=sys.stderr)
        return 2
    # rich would exit 1 on a closed pipe; stop quietly with 141 like `python -m tutorials`
    console = pipe_console()
    try:
        note = apply_lesson_device()
        if note:
            console.print(note, style="yellow", markup=False)
        run_lesson(lesson, console=console, pause=should_pause("--no-pause" in args))
    except KeyboardInterrupt:  # Ctrl-C at a prompt: leave quietly
        print()
        return 130
    except BrokenPipeError:
        return quiet_broken_pipe()
    except OSError as exc:  # e.g. the output cannot be written (`> /dev/full`)
        status = output_error(f"lesson {lesson.number}", exc)  # what could not be written
        if status is None:
            quiet_broken_pipe()  # later writes and the flush at exit go nowhere
            print(f"lesson {lesson.number}: error: {exc}", file=sys.stderr)
            status = 2
        return status
    return 0
