"""Which lessons exist: lesson number -> module name inside the `tutorials` package."""

from __future__ import annotations

import importlib

from tutorials.framework import Lesson

# An explicit list (no discovery by reflection): the menu shows exactly these lessons.
LESSON_MODULES: dict[int, str] = {
    1: "lesson01_graph",
    2: "lesson02_chain_rule",
    3: "lesson03_logistic_loss",
    4: "lesson04_least_squares",
    5: "lesson05_worked_example",
    6: "lesson06_activations",
    7: "lesson07_mlp_matrix_form",
    8: "lesson08_softmax_cross_entropy",
    9: "lesson09_universal_approximation",
    10: "lesson10_optimizers",
    11: "lesson11_vanishing_gradients",
    12: "lesson12_regularization",
    13: "lesson13_convolution",
    14: "lesson14_digits",
    15: "lesson15_ad_modes",
    16: "lesson16_curvature",
    17: "lesson17_gradients_through_time",
    18: "lesson18_maximum_likelihood",
    19: "lesson19_backprop_loop",
    20: "lesson20_capacity",
    21: "lesson21_init_and_preprocessing",
    22: "lesson22_what_descent_promises",
    23: "lesson23_where_lectures_disagree",
}


def load_lesson(number: int) -> Lesson:
    """Import lesson `number` and return its Lesson; a clear error for unknown numbers."""
    if number not in LESSON_MODULES:
        known = ", ".join(str(n) for n in sorted(LESSON_MODULES))
        raise KeyError(f"there is no lesson {number}; lessons: {known}")
    module = importlib.import_module(f"tutorials.{LESSON_MODULES[number]}")
    lesson = module.LESSON
    if lesson.number != number:
        raise RuntimeError(f"tutorials.{LESSON_MODULES[number]} declares lesson "
                           f"{lesson.number}, registered as {number}")
    return lesson
