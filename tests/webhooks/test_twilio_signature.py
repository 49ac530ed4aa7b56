"""The Twilio signature check accepts exactly what the twilio package's RequestValidator
accepts, over generated requests signed by RequestValidator itself; and the form is read as
parse_qsl reads it."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from switchboard.webhooks.twilio import _checked_as_given, _form_fields, _signed_by_twilio

# Characters a URL or a field may hold, the odd ones often: the URL's own delimiters, spaces,
# a tab, percent escapes, and any unicode.
_ODD = "?#&=;:/@%+ \t~!$'()*,[]"
_text = st.text(st.characters(exclude_categories=("Cs",)) | st.sampled_from(_ODD), max_size=12)
_name = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=8)


@st.composite
def _urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTPS"]))
    host = draw(st.sampled_from(["switchboard.example.com", "127.0.0.1", "Example.COM"]))
    port = draw(st.sampled_from(["", ":80", ":443", ":8000", ":65535", ":0"]))
    path = draw(st.sampled_from(["/webhooks/twilio/messages", "/webhooks/twilio/status", ""]))
    query = draw(
        st.none() | st.just("") | st.just("message_id=0f5e6d2c-1b7a-4a53-9a3e-2f4d0c1e9b11") | _text
    )
    return f"{scheme}://{host}{port}{path}" + ("" if query is None else f"?{query}")


# Fields as a form gives them: names repeated, values empty or odd.
_pairs = st.lists(
    st.tuples(st.sampled_from(["Body", "From", "MediaUrl0"]) | _name, _text), max_size=6
)


class _Fields(dict[str, list[str]]):
    """Every value of each field, read by RequestValidator through `getall`."""

    def getall(self, name: str) -> list[str]:
        return self[name]


def _fields(pairs: list[tuple[str, str]]) -> _Fields:
    fields = _Fields()
    for name, value in pairs:
        fields.setdefault(name, []).append(value)
    return fields


def _port_moved(url: str) -> str:
    """The URL as Twilio might have signed it instead: its default port added or removed."""
    for default in (":443/", ":80/"):
        if default in url:
            return url.replace(default, "/", 1)
    scheme, rest = url.split("://", 1)
    host, slash, tail = rest.partition("/")
    port = ":443" if scheme.lower() == "https" else ":80"
    return f"{scheme}://{host}{port}{slash}{tail}" if ":" not in host else url


_TOKEN = "12345678901234567890123456789012"  # noqa: S105 - a test's own


@settings(max_examples=400, deadline=None)
@given(
    url=_urls(),
    pairs=_pairs,
    signed_url=st.sampled_from(["as given", "port moved", "another"]),
    signed_token=st.sampled_from([_TOKEN, "another token"]),
    tamper=st.sampled_from(["none", "value", "extra field", "dropped field", "signature"]),
)
def test_the_check_accepts_exactly_what_request_validator_accepts(
    url: str,
    pairs: list[tuple[str, str]],
    signed_url: str,
    signed_token: str,
    tamper: str,
) -> None:
    signer = RequestValidator(signed_token)
    target = {
        "as given": url,
        "port moved": _port_moved(url),
        "another": url.replace("twilio", "twillio"),
    }[signed_url]
    signature = signer.compute_signature(target, _fields(pairs))
    received = list(pairs)
    if tamper == "value" and received:
        received[0] = (received[0][0], received[0][1] + "x")
    elif tamper == "extra field":
        received.append(("Extra", "1"))
    elif tamper == "dropped field" and received:
        received.pop()
    elif tamper == "signature":
        signature = ("A" if signature[0] != "A" else "B") + signature[1:]

    try:
        expected = RequestValidator(_TOKEN).validate(url, _fields(received), signature)
    except ValueError:  # a port out of range: RequestValidator cannot read the URL
        expected = None
    try:
        ours: bool | None = _signed_by_twilio(_TOKEN, url, received, signature)
    except ValueError:
        ours = None

    assert ours == expected


@given(pairs=_pairs)
def test_a_request_signed_for_its_own_url_is_accepted(pairs: list[tuple[str, str]]) -> None:
    for url in (
        "https://switchboard.example.com/webhooks/twilio/messages",
        "http://127.0.0.1:8000/webhooks/twilio/messages",
        "https://switchboard.example.com/webhooks/twilio/status?message_id=0f5e6d2c",
    ):
        signature = RequestValidator(_TOKEN).compute_signature(url, _fields(pairs))

        assert _signed_by_twilio(_TOKEN, url, pairs, signature)
        assert _checked_as_given(url)  # by the check of its own, without RequestValidator


@given(pairs=st.lists(st.tuples(_text, _text), max_size=6))
def test_the_form_is_read_as_parse_qsl_reads_it(pairs: list[tuple[str, str]]) -> None:
    body = urlencode(pairs)

    assert _form_fields(body) == parse_qsl(body, keep_blank_values=True, strict_parsing=True)
