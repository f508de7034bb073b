"""The one progress bar every long job uses."""

from edgeplan.progress import Bar


def test_disabled_bar_does_nothing():
    bar = Bar(False, 10, "rounds")
    bar.advance(3, text="x")
    bar.update(5, "y")
    bar.close()
    assert bar.bar is None


def test_enabled_bar_counts_and_closes():
    with Bar(True, 10, "rounds", done=2, text="training") as bar:
        bar.advance(3)
        bar.update(text="round 5/10")
        task = bar.bar.tasks[0]
        assert (task.completed, task.total, task.description) == (5, 10, "round 5/10")
        bar.update(completed=9)
        assert bar.bar.tasks[0].completed == 9
    assert bar.bar is None            # closed on leaving the block


def test_the_bar_writes_to_standard_error_only(capsys):
    """Standard output holds what was asked for: a closing bar left a blank line at the top of it."""
    with Bar(True, 3, "points") as bar:
        bar.advance(3)
    captured = capsys.readouterr()
    assert captured.out == ""
