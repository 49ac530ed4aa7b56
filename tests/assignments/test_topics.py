"""The queue a customer's first words ask for: the team's phrases, in order; general else."""

from __future__ import annotations

import pytest

from switchboard.assignments.models import Queue
from switchboard.assignments.topics import queue_for_words


@pytest.mark.parametrize(
    ("words", "queue"),
    [
        (("Hi, I've lost my debit card, I think I left it in a taxi",), Queue.CARDS),
        (("My card was stolen from my bag this morning",), Queue.CARDS),
        (("When will my replacement card arrive?",), Queue.CARDS),
        (("Dispute: charged twice at Hotel Lisboa", "I want my money back"), Queue.DISPUTES),
        ((None, "A payment I don't recognise on my statement"), Queue.DISPUTES),
        (("My stolen card was used, this is fraud",), Queue.FRAUD),
        (("I want to make a complaint about your branch",), Queue.COMPLAINTS),
        (("How do I reset my online banking password?",), Queue.GENERAL),
        (("Card",), Queue.GENERAL),  # a word alone says nothing of what happened to it
        ((None, None), Queue.GENERAL),
    ],
)
def test_the_first_words_choose_the_queue(words: tuple[str | None, ...], queue: Queue) -> None:
    assert queue_for_words(*words) is queue
