"""The opt-out and opt-in keywords a customer texts, as carriers and Twilio recognise them:
the whole message is the keyword, in any case, give or take blanks and a full stop."""

from __future__ import annotations

from enum import StrEnum


class KeywordAction(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"


KEYWORDS: dict[str, KeywordAction] = {
    "STOP": KeywordAction.OPT_OUT,
    "UNSUBSCRIBE": KeywordAction.OPT_OUT,
    "CANCEL": KeywordAction.OPT_OUT,
    "END": KeywordAction.OPT_OUT,
    "QUIT": KeywordAction.OPT_OUT,
    "START": KeywordAction.OPT_IN,
    "UNSTOP": KeywordAction.OPT_IN,
}


def keyword_in(body: str | None) -> tuple[str, KeywordAction] | None:
    """(the keyword, what it asks for), or None for an ordinary message. "Please stop calling
    me about my loan" is a message for a person, not an opt-out."""
    if not body:
        return None
    word = body.strip().rstrip(".!").strip().upper()
    action = KEYWORDS.get(word)
    return None if action is None else (word, action)
