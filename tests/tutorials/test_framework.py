"""The lesson runner: navigation keys, straight-through runs, the command line."""

import ast
import inspect
import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text

from tutorials import registry
from tutorials.__main__ import interactive_menu, main
from tutorials.framework import Lesson, Step, main_for, run_lesson, source_of

REPO = Path(__file__).resolve().parents[2]


def _counting_lesson(calls):
    def first():
        calls.append("first")
        return {"n": 1}

    def second():
        calls.append("second")
        return {"n": 2}

    def third():
        calls.append("third")
        return {"n": 3}

    return Lesson(99, "test", "none", "intro", (Step("a", "text a", first),
                                                 Step("b", "text b", second),
                                                 Step("c", "text c", third)))


def _quiet_console():
    return Console(file=io.StringIO(), width=100, color_system=None)


def _scripted(keys):
    keys = list(keys)

    def fake_input(prompt):
        if not keys:
            raise EOFError
        return keys.pop(0)

    return fake_input


def test_enter_goes_on_through_every_step():
    calls = []
    results = run_lesson(_counting_lesson(calls), _quiet_console(), pause=True,
                         input_fn=_scripted(["", "", ""]))
    assert calls == ["first", "second", "third"]
    assert [r["n"] for r in results] == [1, 2, 3]


def test_b_goes_back_and_reruns_the_previous_step():
    calls = []
    run_lesson(_counting_lesson(calls), _quiet_console(), pause=True,
               input_fn=_scripted(["", "b", "", "", ""]))
    assert calls == ["first", "second", "first", "second", "third"]


def test_b_on_the_first_step_stays_there():
    calls = []
    run_lesson(_counting_lesson(calls), _quiet_console(), pause=True,
               input_fn=_scripted(["b", "q"]))
    assert calls == ["first", "first"]


def test_q_quits_and_later_steps_do_not_run():
    calls = []
    results = run_lesson(_counting_lesson(calls), _quiet_console(), pause=True,
                         input_fn=_scripted(["", "q"]))
    assert calls == ["first", "second"]
    assert len(results) == 2 and results.quit


def test_q_on_the_last_step_or_after_going_back_is_still_a_quit():
    for keys in (["", "", "q"], ["", "", "b", "q"]):
        console = _quiet_console()
        results = run_lesson(_counting_lesson([]), console, pause=True,
                             input_fn=_scripted(keys))
        assert len(results) == 3 and results.quit, keys
        assert "End of lesson" not in console.file.getvalue()
    finished = run_lesson(_counting_lesson([]), _quiet_console(), pause=True,
                          input_fn=_scripted(["", "", ""]))
    assert len(finished) == 3 and not finished.quit


def test_all_stops_at_a_q_on_a_lessons_last_step(monkeypatch):
    """`python -m tutorials all` at a terminal: q ends the run, wherever it is pressed
    (a q on a lesson's last step used to go on to the next lesson)."""
    import tutorials.__main__ as entry

    ran = []

    def tiny(number):
        return Lesson(number, f"tiny {number}", "000", "intro",
                      (Step("a", "a", lambda: ran.append(number) or {}),
                       Step("b", "b", lambda: ran.append(number) or {})))

    keys = _scripted(["", "q"])
    real_run = entry.run_lesson
    monkeypatch.setattr(entry, "run_lesson", lambda lesson, console, pause: real_run(
        lesson, console=console, pause=pause, input_fn=keys))
    monkeypatch.setattr(entry, "should_pause", lambda no_pause: True)
    monkeypatch.setattr(entry, "LESSON_MODULES", {1: "tiny", 2: "tiny"})
    monkeypatch.setattr(entry, "load_lesson", tiny)
    monkeypatch.setattr(entry, "Console", _quiet_console)
    assert entry.main(["all"]) == 0
    assert ran == [1, 1]


def test_unknown_key_asks_again_and_closed_stdin_quits():
    calls = []
    console = _quiet_console()
    results = run_lesson(_counting_lesson(calls), console, pause=True,
                         input_fn=_scripted(["x"]))
    assert calls == ["first"] and results.quit
    assert "Unknown key 'x'" in console.file.getvalue()


def test_no_pause_never_reads_input():
    def no_input(prompt):
        raise AssertionError("input() called although pause=False")

    calls = []
    run_lesson(_counting_lesson(calls), _quiet_console(), pause=False, input_fn=no_input)
    assert calls == ["first", "second", "third"]


class _Stream:
    def __init__(self, terminal):
        self.terminal = terminal

    def isatty(self):
        return self.terminal


@pytest.mark.parametrize("stdin, stdout, pauses", [
    (_Stream(True), _Stream(True), True),
    (_Stream(True), _Stream(False), False),  # `> lessons.txt` at a terminal: no prompt
    (_Stream(False), _Stream(True), False),  # a pipe in
    (None, _Stream(True), False),  # `<&-`
    (_Stream(True), None, False),  # `>&-`
])
def test_pauses_only_with_a_terminal_on_both_sides(monkeypatch, stdin, stdout, pauses):
    from tutorials.framework import should_pause

    monkeypatch.setattr(sys, "stdin", stdin)
    monkeypatch.setattr(sys, "stdout", stdout)
    assert should_pause(False) is pauses
    assert should_pause(True) is False


def test_a_step_must_return_a_dict():
    lesson = Lesson(98, "bad", "none", "intro", (Step("s", "t", lambda: 3),))
    with pytest.raises(TypeError, match="lesson 98 step 1 .* returned int"):
        run_lesson(lesson, _quiet_console(), pause=False)


def test_a_lesson_needs_steps():
    with pytest.raises(ValueError, match="has no steps"):
        Lesson(97, "empty", "none", "intro", ())


def test_the_code_shown_is_the_source_of_the_function_that_runs():
    def sample_step():
        return {"answer": 6 * 7}

    lesson = Lesson(96, "src", "none", "intro", (Step("s", "t", sample_step),))
    console = _quiet_console()
    results = run_lesson(lesson, console, pause=False)
    assert results == [{"answer": 42}]
    shown = console.file.getvalue()
    assert 'return {"answer": 6 * 7}' in shown
    assert source_of(sample_step).startswith("def sample_step():")


def test_a_step_taller_than_the_screen_explains_after_its_result():
    def tall():
        return {"n": 1}

    def view(result):
        return [Text(f"result line {k}") for k in range(40)]

    lesson = Lesson(95, "tall", "none", "intro",
                    (Step("s", "EXPLANATION of the step", tall, view),))
    small = Console(file=io.StringIO(), width=100, height=30, color_system=None)
    run_lesson(lesson, small, pause=True, input_fn=_scripted([""]))
    shown = small.file.getvalue()
    assert shown.index("EXPLANATION") > shown.index("result line 39")
    # a screen tall enough, or no pauses (pipes, CI): the explanation comes first
    for console, pause in ((Console(file=io.StringIO(), width=100, height=200,
                                    color_system=None), True), (_quiet_console(), False)):
        run_lesson(lesson, console, pause=pause, input_fn=_scripted([""]))
        shown = console.file.getvalue()
        assert shown.index("EXPLANATION") < shown.index("result line 0")


def test_main_for_rejects_unknown_arguments(capsys):
    assert main_for(_counting_lesson([]), ["--fast"]) == 2
    assert "unknown argument(s) --fast" in capsys.readouterr().err


def test_every_shown_step_fits_the_code_panel_and_never_evaluates_strings():
    for number in registry.LESSON_MODULES:
        lesson = registry.load_lesson(number)
        for step in lesson.steps:
            for fn in (*step.also_show, step.run):
                source = textwrap.dedent(inspect.getsource(fn))
                for line in source.splitlines():
                    assert len(line) <= 76, f"lesson {number} {fn.__name__}: {line!r}"
                calls = [node.func.id for node in ast.walk(ast.parse(source))
                         if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)]
                # the builtins (methods such as Module.eval() are fine)
                assert "eval" not in calls and "exec" not in calls, fn.__name__


def test_registry_rejects_an_unknown_lesson():
    with pytest.raises(KeyError, match="there is no lesson 0"):
        registry.load_lesson(0)


def test_main_rejects_bad_arguments(capsys):
    assert main(["0", "--no-pause"]) == 2
    assert "there is no lesson '0'" in capsys.readouterr().err
    assert main(["1", "2"]) == 2
    assert "give one lesson number or 'all', got '1 2'" in capsys.readouterr().err
    assert main(["1", "--fast"]) == 2
    assert "unknown option '--fast'" in capsys.readouterr().err
    assert main(["--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: python -m tutorials")
    # str.isdigit() accepts these, int() refuses the first: one line, not a traceback
    for text in ("\u00b3", "\u0663"):
        assert main([text, "--no-pause"]) == 2
        assert f"there is no lesson {text!r}" in capsys.readouterr().err


def test_interactive_menu_runs_a_chosen_lesson_then_quits():
    console = _quiet_console()
    first = min(registry.LESSON_MODULES)
    steps = len(registry.load_lesson(first).steps)
    keys = ["abc", "\u00b3", str(first)] + [""] * steps + ["q"]
    assert interactive_menu(console, _scripted(keys)) == 0
    text = console.file.getvalue()
    assert "'abc' is not a lesson number" in text
    assert "'\u00b3' is not a lesson number" in text
    assert f"End of lesson {first}." in text


def _run(args):
    env = dict(os.environ, COLUMNS="100")
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True,
                          text=True, env=env, stdin=subprocess.DEVNULL, timeout=120)


def test_python_m_tutorials_without_a_terminal_prints_the_menu():
    done = _run(["-m", "tutorials"])
    assert done.returncode == 0, done.stderr
    rows = {line.split("│")[1].strip(): line for line in done.stdout.splitlines()
            if line.count("│") >= 3 and line.split("│")[1].strip()}
    assert sorted(int(n) for n in rows) == sorted(registry.LESSON_MODULES)
    for number in registry.LESSON_MODULES:
        title = registry.load_lesson(number).title
        assert title[:20] in rows[str(number)]


def test_menu_and_panels_name_the_courses():
    from tutorials.__main__ import menu_table
    from tutorials.framework import COURSES, course_names

    assert course_names("002, 003") == "ELTE ML lecture 6; the AD lecture"
    assert course_names("000") == "TU Graz ML1 lecture 8"
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(menu_table())
    menu = console.file.getvalue()
    for name in COURSES.values():
        assert name in menu, name
    assert "lectures 00" not in menu
    shown = _quiet_console()
    run_lesson(registry.load_lesson(1), shown, pause=False)
    assert "the AD lecture" in shown.file.getvalue()


def test_lesson_texts_name_courses_not_lecture_file_numbers():
    """A student knows 'ELTE ML lecture 6', not the file number '002' (lesson 5's
    intro said 'the delta vectors of 002')."""
    import re

    code = re.compile(r"(?<![\d.,])00[0-4]\b")
    for number in registry.LESSON_MODULES:
        lesson = registry.load_lesson(number)
        for text in (lesson.intro, lesson.title, *(s.text for s in lesson.steps),
                     *(s.title for s in lesson.steps)):
            assert not code.search(text), f"lesson {number}: {code.search(text)[0]!r}"


def test_python_m_tutorials_runs_one_lesson():
    done = _run(["-m", "tutorials", "1", "--no-pause"])
    assert done.returncode == 0, done.stderr
    assert "End of lesson 1." in done.stdout


def test_a_lesson_file_runs_on_its_own():
    path = REPO / "tutorials" / f"{registry.LESSON_MODULES[1]}.py"
    done = _run([str(path), "--no-pause"])
    assert done.returncode == 0, done.stderr
    assert "End of lesson 1." in done.stdout


def test_ctrl_c_while_a_lesson_file_imports_leaves_without_a_traceback(tmp_path):
    """Ctrl-C in the second a lesson file spends importing, made certain here by a
    `rich` on PYTHONPATH whose import raises KeyboardInterrupt."""
    import signal

    fake = tmp_path / "rich"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise KeyboardInterrupt\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    for number in (1, 14):
        path = REPO / "tutorials" / f"{registry.LESSON_MODULES[number]}.py"
        done = subprocess.run([sys.executable, str(path), "--no-pause"], cwd=REPO,
                              capture_output=True, text=True, env=env,
                              stdin=subprocess.DEVNULL, timeout=120)
        assert done.returncode in (-signal.SIGINT, 128 + signal.SIGINT), done.stderr
        assert "Traceback" not in done.stderr and done.stderr.strip() == "", number


def test_lessons_show_their_plots_as_tables_without_plotext(run_lesson_quietly, monkeypatch):
    from vecgrad.viz import plot as viz

    monkeypatch.setattr(viz, "_plotext", lambda: None)
    results, text = run_lesson_quietly(9)
    flat = " ".join(text.split())
    assert "pip install gradlab[plot]" in flat
    # the fit's key points are in the table: the x^2 target's first point is (-1, 1)
    assert "(-1, 1)" in flat
    assert len(results) == 4
