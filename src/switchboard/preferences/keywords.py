"""What an inbound text asks of its sender's preferences.

Keywords, as the FCC's 2024 consent order (FCC 24-24) and Twilio read them: the whole message
is the keyword, in any case, give or take blanks and a closing full stop or exclamation mark.
They are applied at once.

A message that asks in words to stop ("please stop texting me") is a possible revocation: it
is never applied on its own, but flagged on its conversation for a person to confirm. The
phrase rules are narrow on purpose, and docs/channels.md lists them:

- a verb of contact after stop, quit or cease ("stop texting", "quit messaging me"), sending
  only with what or whom ("stop sending me these", not "stop sending money to John");
- a verb of contact after don't, do not or never, followed by me ("don't text me anymore",
  "please do not ever contact me");
- unsubscribe, opt out, optout, revoke, "remove me from", "take me off", "no more texts";
- a keyword said with politeness only ("STOP please", "stop it", "please stop!").

A trigger after a negation or a question of why in the three words before it ("don't stop
helping me", "why did you stop texting me") flags nothing, and neither does "stop" followed
by anything but a verb of contact ("stop the payment to ACME", "stop my card").
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from enum import StrEnum


class KeywordAction(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    # YES opts in again only where the channel is off: otherwise it is an answer to a question.
    OPT_IN_IF_OFF = "opt_in_if_off"


KEYWORDS: dict[str, KeywordAction] = {
    # Revocations per se under FCC 24-24 (47 CFR 64.1200(a)(10)), and Twilio's STOPALL.
    "STOP": KeywordAction.OPT_OUT,
    "QUIT": KeywordAction.OPT_OUT,
    "END": KeywordAction.OPT_OUT,
    "REVOKE": KeywordAction.OPT_OUT,
    "OPT OUT": KeywordAction.OPT_OUT,
    "OPT-OUT": KeywordAction.OPT_OUT,
    "OPTOUT": KeywordAction.OPT_OUT,
    "CANCEL": KeywordAction.OPT_OUT,
    "UNSUBSCRIBE": KeywordAction.OPT_OUT,
    "STOPALL": KeywordAction.OPT_OUT,
    # Twilio's opt-in keywords.
    "START": KeywordAction.OPT_IN,
    "UNSTOP": KeywordAction.OPT_IN,
    "YES": KeywordAction.OPT_IN_IF_OFF,
}


@dataclass(frozen=True)
class PossibleRevocation:
    phrase: str  # the words that asked, as the rules matched them (lower case)


def keyword_in(body: str | None) -> tuple[str, KeywordAction] | None:
    """(the keyword, what it asks for), or None for an ordinary message. "Please stop calling
    me about my loan" is a message for a person, not an opt-out."""
    if not body:
        return None
    word = " ".join(body.strip().rstrip(".!").split()).upper()
    action = KEYWORDS.get(word)
    return None if action is None else (word, action)


# "Sending" only with what is sent to whom: "stop sending money to John" is a payment.
_CONTACTING = (
    "texting|txting|messaging|msging|contacting|calling|ringing|phoning|emailing|e-mailing"
    "|spamming|bothering|writing|sending\\s+(?:me|us|these|those|this|them|texts|messages|emails)"
)
_CONTACT = "text|txt|message|msg|contact|call|ring|phone|email|e-mail|spam|bother|write to|send"
_OPTIONAL_WORD = r"(?:(?:ever|even|again|please|any\s?more)\s+)?"
_PHRASES = re.compile(
    "|".join(
        (
            rf"\b(?:stop|quit|cease)\s+(?:{_CONTACTING})\b",
            rf"\b(?:don'?t|do\s+not|never)\s+{_OPTIONAL_WORD}(?:{_CONTACT})\s+(?:me|us)\b",
            r"\b(?:unsubscribe|opt[\s-]?out|revoke)\b",
            r"\b(?:remove\s+me\s+from|take\s+me\s+off)\b",
            r"\bno\s+more\s+(?:texts|messages|calls|emails|sms)\b",
        )
    )
)
_ONLY_POLITENESS = re.compile(
    r"^(?:please\s+|pls\s+|plz\s+)?(?:stop|quit|end|cancel|unsubscribe|stopall)"
    r"(?:\s+(?:it|now|please|pls|plz|thanks|thank\s+you|all|asap))*$"
)
_WORD = re.compile(r"[\w']+")
# Words that, among the three before a trigger, turn a request into its opposite or into a
# question about the past.
_NEGATIONS = frozenset(
    {"not", "don't", "dont", "didn't", "didnt", "doesn't", "doesnt", "won't", "wont", "never"}
    | {"why", "can't", "cant", "cannot"}
)


def possible_revocation_in(body: str | None) -> PossibleRevocation | None:
    """The words of a message that may ask to stop being contacted, for a person to confirm;
    None for a keyword (applied as such) or an ordinary message."""
    if not body or keyword_in(body) is not None:
        return None
    text = " ".join(body.lower().replace("\u2019", "'").split())
    bare = text.strip(" .!?,")
    if _ONLY_POLITENESS.match(bare):
        return PossibleRevocation(bare)
    words: list[re.Match[str]] = []
    starts: list[int] = []
    for match in _PHRASES.finditer(text):
        if not starts:  # the words read once, not again from the start for every phrase
            words = list(_WORD.finditer(text))
            starts = [word.start() for word in words]
        # The three words before the phrase; one running into it is cut where it starts.
        first = bisect_left(starts, match.start())
        before = [w.group()[: match.start() - w.start()] for w in words[max(0, first - 3) : first]]
        # "Don't text me" carries its own negation: only the others can be turned around.
        negated_already = match.group(0).split()[0] in {"don't", "dont", "do", "never"}
        if not negated_already and _NEGATIONS.intersection(before):
            continue
        return PossibleRevocation(match.group(0))
    return None


def heeded(body: str | None) -> bool:
    """Whether a text asks anything of its sender's preferences (a keyword, or a possible
    revocation to flag): such a text is recorded by the path that heeds it."""
    return keyword_in(body) is not None or possible_revocation_in(body) is not None
