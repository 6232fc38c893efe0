"""replication.testing.wait_until: the one poll-until helper of the tests and the benchmarks."""
import itertools

import pytest

from replication.testing import wait_until


def test_returns_the_first_truthy_value_of_the_predicate():
    answers = iter([None, 0, "", "ready"])
    assert wait_until(lambda: next(answers), timeout=60, interval=0, message="the third answer") == "ready"


def test_a_predicate_that_never_holds_raises_timeout_error_naming_what_was_awaited():
    calls = itertools.count(1)
    with pytest.raises(TimeoutError, match="waiting for the replica in eastus"):
        wait_until(lambda: next(calls) and False, timeout=0, interval=0, message="the replica in eastus")
    assert next(calls) == 2, "the predicate is still asked once before giving up"


def test_an_error_raised_by_the_predicate_stops_the_wait():
    def failed():
        raise RuntimeError("the replica failed")

    with pytest.raises(RuntimeError, match="the replica failed"):
        wait_until(failed, timeout=60, interval=0, message="the replica")
