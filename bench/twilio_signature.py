"""Twilio's signature check: the service's (webhooks/twilio.py) against the twilio package's
RequestValidator.validate, per inbound SMS form, in microseconds of CPU.

The form is the one bench/ingest.py sends (twenty fields); each check is timed on a form
already parsed into pairs, as the service has it, and RequestValidator is given the
dict-of-lists with `getall` it needs. Run it as `.venv/bin/python bench/twilio_signature.py`.
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from switchboard.simulate.payloads import OUR_NUMBER, sms_fields
from switchboard.webhooks.twilio import _form_fields, _signed_by_twilio

URL = "https://switchboard.example.com/webhooks/twilio/messages"
TOKEN = "0123456789abcdef0123456789abcdef"  # noqa: S105 - a benchmark's own


class _Fields(dict[str, list[str]]):
    def getall(self, name: str) -> list[str]:
        return self[name]


def _microseconds(check: Callable[[], bool], number: int) -> float:
    assert check()
    return min(timeit.repeat(check, number=number, repeat=5)) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--number", type=int, default=20000, help="checks per timing")
    args = parser.parse_args()
    fields = sms_fields(
        sid="SM" + "a" * 32,
        from_number="+447700900123",
        to_number=OUR_NUMBER,
        body="When will my replacement card arrive?",
        account_sid="AC" + "b" * 32,
        service_sid="MG" + "c" * 32,
    )
    pairs = _form_fields(urlencode(fields))
    signature = RequestValidator(TOKEN).compute_signature(URL, fields)

    def ours() -> bool:
        return _signed_by_twilio(TOKEN, URL, pairs, signature)

    def theirs() -> bool:
        form = _Fields()
        for name, value in pairs:
            form.setdefault(name, []).append(value)
        return bool(RequestValidator(TOKEN).validate(URL, form, signature))

    print(f"{len(pairs)} fields, best of 5 x {args.number} checks:")
    print(f"  webhooks/twilio.py               {_microseconds(ours, args.number):6.1f} µs")
    print(f"  RequestValidator.validate        {_microseconds(theirs, args.number):6.1f} µs")


if __name__ == "__main__":
    main()
