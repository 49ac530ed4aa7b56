"""Which team a customer's first words ask for: the queue a conversation nobody worked before
is queued in when its customer writes (a conversation worked before goes back to its last
queue). A few plain phrases a bank's customers use, checked in order, as a help desk's
triggers on "the message contains" do; anything else waits in general, where a person moves
it on. It only chooses where the work waits: nothing is refused or answered by it."""

from __future__ import annotations

import re

from switchboard.assignments.models import Queue

# Checked in this order: the first team whose phrase the words hold takes the conversation.
# Fraud before cards ("my stolen card was used" is fraud's), disputes before cards ("a card
# payment I don't recognise" is a dispute).
_PHRASES: tuple[tuple[Queue, re.Pattern[str]], ...] = (
    (Queue.FRAUD, re.compile(r"\bfraud|\bscam|\bphish|\bnot me\b|didn'?t make (this|that|it)")),
    (
        Queue.DISPUTES,
        re.compile(
            r"\bdisput|charged twice|double[- ]charged|don'?t recogni[sz]e|"
            r"unauthori[sz]ed (payment|transaction)|\brefund"
        ),
    ),
    (
        Queue.CARDS,
        re.compile(
            r"\b(lost|stolen|missing|blocked|declined|frozen|replacement)\b[^.?!]{0,40}\bcard"
            r"|\bcard\b[^.?!]{0,40}\b(lost|stolen|missing|blocked|declined|frozen|swallowed)\b"
        ),
    ),
    (Queue.COMPLAINTS, re.compile(r"\bcomplain")),
)


def queue_for_words(*texts: str | None) -> Queue:
    """The queue the words ask for (a subject and a body, say); general when none does."""
    words = " ".join(text for text in texts if text).lower()
    for queue, phrase in _PHRASES:
        if phrase.search(words):
            return queue
    return Queue.GENERAL
