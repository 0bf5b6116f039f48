"""The background decoding helper keeps order, passes errors on, and stops early."""

from __future__ import annotations

import pytest

from tests.helpers import decoder_threads
from vidkeys.io.prefetch import prefetch


def test_order_and_completeness() -> None:
    assert list(prefetch(range(100), depth=3)) == list(range(100))


def test_producer_error_reaches_consumer() -> None:
    def broken():
        yield 1
        raise ValueError("decoder broke")

    out = []
    with pytest.raises(ValueError, match="decoder broke"):
        for item in prefetch(broken()):
            out.append(item)
    assert out == [1]


def test_closing_early_stops_the_producer() -> None:
    produced = []

    def endless():
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    before = decoder_threads()  # another test's thread is not this one's to judge
    gen = prefetch(endless(), depth=2)
    assert next(gen) == 0
    assert len(decoder_threads() - before) == 1
    gen.close()
    count = len(produced)
    assert count <= 5  # bounded look-ahead
    assert not decoder_threads() - before
