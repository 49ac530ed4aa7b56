"""Sending the simulated traffic at a steady rate, and summarising what the service answered.

A few workers each play one script at a time, delivery by delivery, so a conversation arrives
in order while several conversations interleave; one pacer hands out the send times, so the
total rate is the one asked for. All traffic is valid: anything but a 2xx is a failure.

The sandbox's handsets (outbound/handsets.py, under the data directory the service shares
with the simulator) say what the service sent while the simulator runs: each send's status
reports are played next, before any new conversation, and a caller reads the one-time code
the assistant sent them from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

from switchboard.errors import SwitchboardError
from switchboard.outbound.handsets import Delivered, handsets_path, read_from
from switchboard.settings import Settings
from switchboard.simulate.payloads import CODE, Delivery, Endpoint
from switchboard.simulate.signing import USER_AGENT, SignedRequest, Signer, service_secrets
from switchboard.simulate.traffic import Scenario, Script, Traffic

Say = Callable[[str], None]
_TIMEOUT_SECONDS = 15.0  # what Twilio waits for an answer
_KEPT_PROBLEMS = 5
_HANDSETS_POLL_SECONDS = 0.25
_CODE_WAIT_SECONDS = 15.0  # how long a caller waits for the text with the code
_A_CODE = re.compile(r"(?<!\d)\d{6}(?!\d)")


class ServiceUnreachable(SwitchboardError):
    code = "service_unreachable"


@dataclass
class EndpointTally:
    requests: int = 0
    duplicates: int = 0
    answers: Counter[int] = field(default_factory=Counter)
    errors: int = 0  # no answer at all: refused, reset, timed out


@dataclass
class Summary:
    url: str
    seed: int
    seconds: float = 0.0
    endpoints: dict[Endpoint, EndpointTally] = field(
        default_factory=lambda: {endpoint: EndpointTally() for endpoint in Endpoint}
    )
    late: int = 0
    scenario: str = Scenario.ALL
    reported: int = 0  # messages the service sent whose status reports were played
    codes_read: int = 0  # one-time codes a caller read out
    codes_missed: int = 0  # calls where no code arrived in time (no worker, or rate-limited)
    latencies: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # the first few, for the reader

    @property
    def requests(self) -> int:
        return sum(tally.requests for tally in self.endpoints.values())

    @property
    def duplicates(self) -> int:
        return sum(tally.duplicates for tally in self.endpoints.values())

    @property
    def errors(self) -> int:
        return sum(tally.errors for tally in self.endpoints.values())

    @property
    def failures(self) -> int:
        """Requests not answered with a 2xx, connection errors included."""
        return sum(
            tally.errors + sum(n for status, n in tally.answers.items() if not 200 <= status < 300)
            for tally in self.endpoints.values()
        )

    @property
    def ok(self) -> bool:
        return self.failures == 0

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[max(1, math.ceil(fraction * len(ordered))) - 1] if ordered else 0.0

    def lines(self) -> list[str]:
        rate = self.requests / self.seconds if self.seconds else 0.0
        lines = [
            f"sent {self.requests} requests in {self.seconds:.1f} s ({rate:.1f}/s) "
            f"to {self.url} (seed {self.seed})",
            f"  {'endpoint':<28} {'requests':>8} {'duplicates':>10}  answers",
        ]
        for endpoint, tally in self.endpoints.items():
            if tally.requests:
                answers = [f"{status} x{n}" for status, n in sorted(tally.answers.items())]
                answers += [f"no answer x{tally.errors}"] if tally.errors else []
                lines.append(
                    f"  {endpoint.value:<28} {tally.requests:>8} {tally.duplicates:>10}  "
                    + ", ".join(answers)
                )
        share = self.duplicates / self.requests if self.requests else 0.0
        lines.append(
            f"duplicates: {self.duplicates} ({share:.1%}), out-of-order statuses: {self.late}, "
            f"connection errors: {self.errors}"
        )
        lines.append(
            f"latency: p50 {self.percentile(0.5) * 1000:.1f} ms, "
            f"p99 {self.percentile(0.99) * 1000:.1f} ms"
        )
        lines.append(
            f"status reports played for {self.reported} message(s) the service sent; "
            f"one-time codes read out: {self.codes_read}, not received: {self.codes_missed}"
        )
        if self.codes_missed and not self.codes_read and not self.reported:
            lines.append(
                "note: nothing the service sent reached the sandbox's handsets; run the "
                "service with its worker on the sandbox (`switchboard run`), with this "
                "SWITCHBOARD_DATA_DIR"
            )
        if self.ok:
            lines.append("every request was answered 2xx")
            return lines
        lines.append(f"FAILED: {self.failures} request(s) not answered 2xx; the first:")
        lines += [f"  {problem}" for problem in self.problems]
        if any(tally.answers[403] for tally in self.endpoints.values()):
            lines.append(
                "hint: 403 means the service checks other secrets or another public URL; run "
                "the simulator with the service's SWITCHBOARD_DATA_DIR, provider secrets and "
                "SWITCHBOARD_PUBLIC_URL"
            )
        if any(tally.answers[404] for tally in self.endpoints.values()):
            lines.append("hint: 404 means this service has no webhook at that path")
        return lines

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "seed": self.seed,
            "scenario": str(self.scenario),
            "seconds": self.seconds,
            "reported_messages": self.reported,
            "codes_read": self.codes_read,
            "codes_missed": self.codes_missed,
            "requests": self.requests,
            "duplicates": self.duplicates,
            "out_of_order": self.late,
            "connection_errors": self.errors,
            "failures": self.failures,
            "ok": self.ok,
            "p50_ms": self.percentile(0.5) * 1000,
            "p99_ms": self.percentile(0.99) * 1000,
            "endpoints": {
                endpoint.value: {
                    "requests": tally.requests,
                    "duplicates": tally.duplicates,
                    "answers": {str(status): n for status, n in sorted(tally.answers.items())},
                    "connection_errors": tally.errors,
                }
                for endpoint, tally in self.endpoints.items()
            },
        }


def simulate(
    settings: Settings,
    *,
    url: str | None = None,
    rate: float = 5.0,
    duration: float = 30.0,
    seed: int | None = None,
    scenario: Scenario = Scenario.ALL,
    say: Say = print,
) -> Summary:
    """Send `rate` requests a second for `duration` seconds to the service at `url` (by
    default the public URL), then say what was sent and how it was answered."""
    if rate <= 0 or duration <= 0:
        raise SwitchboardError("--rate and --duration must be positive")
    secrets = service_secrets(settings)
    if secrets.sendgrid_event_key is None:
        say(
            "SENDGRID_EVENT_PUBLIC_KEY is set and its private key is not known here, "
            "so no SendGrid events are sent"
        )
    seed = random.SystemRandom().randrange(1_000_000) if seed is None else seed
    target = (url or settings.public_url).rstrip("/")
    total = max(1, round(rate * duration))
    rng = random.Random(seed)  # noqa: S311 - made-up traffic that a seed must repeat
    traffic = Traffic(
        rng, scenario=scenario, sendgrid_events=secrets.sendgrid_event_key is not None
    )
    summary = Summary(url=target, seed=seed, scenario=scenario)
    signer = Signer(secrets, settings.public_url)
    handsets = Handsets(handsets_path(settings.data_dir))
    asyncio.run(
        _send_all(target, signer, traffic, handsets, pacing=(total, rate), summary=summary, say=say)
    )
    for line in summary.lines():
        say(line)
    return summary


class _Pacer:
    """Hands out send times start + n / rate, `total` of them."""

    def __init__(self, total: int, rate: float) -> None:
        self._total = total
        self._rate = rate
        self._given = 0
        self._start = time.monotonic()

    async def turn(self) -> bool:
        n = self._given
        if n >= self._total:
            return False
        self._given += 1
        await asyncio.sleep(max(0.0, self._start + n / self._rate - time.monotonic()))
        return True


class Handsets:
    """What the sandbox delivered since the simulator started: each send once for its status
    reports, and the codes callers read out."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = path.stat().st_size if path.exists() else 0  # this run's sends only
        self._seen: list[Delivered] = []
        self._unreported: list[Delivered] = []

    def poll(self) -> None:
        found, self._offset = read_from(self._path, self._offset)
        self._seen += found
        self._unreported += found

    def take_unreported(self) -> list[Delivered]:
        taken, self._unreported = self._unreported, []
        return taken

    async def code_sent_to(self, address: str, since: float) -> str | None:
        """The code in the newest text to `address` sent since `since`, once it arrives."""
        deadline = time.monotonic() + _CODE_WAIT_SECONDS
        while True:
            for sent in reversed(self._seen):
                if sent.to_address == address and sent.sent_at >= since:
                    found = _A_CODE.search(sent.text)
                    if found:
                        return found.group()
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(_HANDSETS_POLL_SECONDS)


def _with_code(delivery: Delivery, code: str | None) -> Delivery | None:
    """The delivery with the code the caller read out in it; without a code a tool call to
    check it is not made, and the caller is heard saying none came."""
    text = json.dumps(delivery.payload)
    if code is None:
        if '"tool-calls"' in text:
            return None
        return replace(delivery, payload=json.loads(text.replace(CODE, "nothing came through")))
    return replace(delivery, payload=json.loads(text.replace(CODE, code)))


class _Scripts:
    """What to play next: the status reports of what the service sent first, then traffic."""

    def __init__(self, traffic: Traffic, handsets: Handsets, summary: Summary) -> None:
        self._traffic = traffic
        self._handsets = handsets
        self._summary = summary
        self._reports: list[Script] = []
        self._callers: dict[str, asyncio.Lock] = {}

    def caller(self, script: Script) -> contextlib.AbstractAsyncContextManager[object]:
        """Held while a customer who reads out a code plays their script (by the number
        they call from, wherever the code goes)."""
        reading = next((d for d in script if d.code_sent_to), None)
        if reading is None:
            return contextlib.nullcontext()
        caller = reading.payload["message"]["customer"]["number"]
        return self._callers.setdefault(caller, asyncio.Lock())

    def next(self) -> Script:
        self._handsets.poll()
        for sent in self._handsets.take_unreported():
            if script := self._traffic.status_reports(sent):
                self._reports.append(script)
                self._summary.reported += 1
        return self._reports.pop(0) if self._reports else self._traffic.next_script()

    async def filled(
        self, planned: Delivery, began: float, codes: dict[str, str | None]
    ) -> Delivery | None:
        """The delivery as sent: a code the caller reads out is the one last sent to them
        since their script began (waited for once a script, then remembered)."""
        address = planned.code_sent_to
        if address is None:
            return planned
        if address not in codes:
            codes[address] = await self._handsets.code_sent_to(address, began)
            if codes[address] is None:
                self._summary.codes_missed += 1
            else:
                self._summary.codes_read += 1
        return _with_code(planned, codes[address])


async def _send_all(
    url: str,
    signer: Signer,
    traffic: Traffic,
    handsets: Handsets,
    *,
    pacing: tuple[int, float],
    summary: Summary,
    say: Say,
) -> None:
    total, rate = pacing
    # Enough workers to keep up with the rate, few enough that conversations stay coherent.
    workers = min(64, max(4, math.ceil(rate / 5)))
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    async with httpx.AsyncClient(
        base_url=url,
        timeout=_TIMEOUT_SECONDS,
        limits=limits,
        headers={"User-Agent": USER_AGENT},
    ) as client:
        await _check_reachable(client, url)
        say(f"sending {total} requests to {url} at {rate:g}/s (seed {summary.seed}) ...")
        pacer = _Pacer(total, rate)
        started = time.monotonic()

        scripts = _Scripts(traffic, handsets, summary)

        async def play_scripts() -> None:
            while True:
                script = scripts.next()
                # A customer is on one call at a time: a second call would cancel the code
                # the first is waiting for.
                async with scripts.caller(script):
                    if not await play(script):
                        return

        async def play(script: Script) -> bool:
            signed: dict[str, SignedRequest] = {}
            began = time.time()
            codes: dict[str, str | None] = {}
            for planned in script:
                if not await pacer.turn():
                    return False
                request = signed.get(planned.key)
                if request is None:
                    delivery = await scripts.filled(planned, began, codes)
                    if delivery is None:
                        continue
                    # Signed when first sent, so a signature's timestamp is fresh.
                    request = signed[planned.key] = signer.sign(delivery)
                    summary.late += delivery.late
                else:
                    summary.endpoints[planned.endpoint].duplicates += 1
                await _send(client, request, summary)
            return True

        async def watch_handsets() -> None:
            while True:
                handsets.poll()
                await asyncio.sleep(_HANDSETS_POLL_SECONDS)

        watcher = asyncio.create_task(watch_handsets())
        try:
            await asyncio.gather(*(play_scripts() for _ in range(workers)))
        finally:
            watcher.cancel()
        summary.seconds = time.monotonic() - started


async def _check_reachable(client: httpx.AsyncClient, url: str) -> None:
    try:
        await client.get("/healthz", timeout=5)
    except httpx.TransportError as exc:
        raise ServiceUnreachable(
            f"nothing answers at {url}: {exc}",
            hint="start the service (`switchboard run`) or pass --url",
        ) from exc


async def _send(client: httpx.AsyncClient, request: SignedRequest, summary: Summary) -> None:
    tally = summary.endpoints[request.endpoint]
    tally.requests += 1
    started = time.perf_counter()
    try:
        response = await client.post(
            request.endpoint.value,
            params=request.query,
            content=request.content,
            headers=request.headers,
        )
    except httpx.TransportError as exc:
        tally.errors += 1
        _keep(summary, f"{request.endpoint.value}: no answer ({type(exc).__name__}: {exc})")
        return
    summary.latencies.append(time.perf_counter() - started)
    tally.answers[response.status_code] += 1
    if not response.is_success:
        _keep(summary, f"{request.endpoint.value}: {response.status_code} {response.text[:300]}")


def _keep(summary: Summary, problem: str) -> None:
    if len(summary.problems) < _KEPT_PROBLEMS:
        summary.problems.append(problem)
