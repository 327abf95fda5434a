"""Lessons that follow the lectures, step by step in the terminal.

Run `python -m tutorials` for the menu, `python -m tutorials N` for lesson N.
"""
