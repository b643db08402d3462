"""What every stage prints: messages literally (no markup read from them, no line breaks added),
a user error as one line and exit status 2, a bug with its traceback."""

import pytest

from longtail import LongtailError, cli

LITERAL = 'train_correct must be [trials, n]; got [bold]x[/bold] and a key "[/x]" ' + "and more words " * 12


def test_an_error_is_one_literal_line_and_exit_status_two(capsys):
    with pytest.raises(SystemExit) as stop, cli.errors():
        raise LongtailError(LITERAL)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err == f"error: {LITERAL}\n"


def test_say_and_warn_print_literally(capsys):
    cli.say(LITERAL)
    cli.warn("[yellow]not a style[/]")
    assert capsys.readouterr().err == f"{LITERAL}\nwarning: [yellow]not a style[/]\n"


def test_a_bug_keeps_its_traceback():
    with pytest.raises(ZeroDivisionError), cli.errors():
        1 / 0
