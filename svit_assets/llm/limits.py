"""RPM/TPM token buckets shared by every process on the machine that talks to one endpoint and model.

Why a file: Dagster runs partitions in parallel processes, and the provider's limits apply to all of them
together. The buckets live in a tiny JSON file under `Home.llm_dir/limits/`, changed under `fcntl.flock`.
To keep the shared part cheap, a process takes capacity in small leases (about `LEASE_S` of the rate)
and spends them locally, so the lock is taken a few dozen times a second at most, not per request.

The effective rate is the configured limit (or the one learned from `x-ratelimit-limit-*`, whichever is
lower) times an AIMD factor: a 429 that our own bookkeeping did not predict cuts it multiplicatively (at
most once per `CUT_INTERVAL_S`, since one overload produces a burst of 429s), each success adds a little
back. `x-ratelimit-remaining-*` clamps the buckets to what the server says is left, and `Retry-After` /
`retry-after-ms` (or, failing those, the reset headers) pause every process until the server is ready.
The first request to an endpoint nobody has talked to yet goes alone, so its headers can tell us the
limits before a full `max_concurrency` wave runs into them.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import re
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from pathlib import Path

LEASE_S = 0.05  # a lease covers this much time at the current rate
BURST_S = 1.0  # bucket capacity: this much time at the current rate
CUT_INTERVAL_S = 1.0
DECREASE = 0.7
INCREASE = 0.005  # per successful request
MIN_FACTOR = 0.05
MAX_PAUSE_S = 120.0
PROBE_WAIT_S = 10.0  # how long the others wait for the first response before going anyway
UNLIMITED_REFRESH_S = 0.1  # how often an engine without limits looks for other processes' pauses
KINDS = (("req", "requests"), ("tok", "tokens"))
_STATE_BYTES = 512
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str | None) -> float | None:
    """OpenAI's reset format ("120ms", "1s", "6m0s", "1h2m") in seconds."""
    parts = _DURATION.findall(text or "")
    return sum(float(value) * _DURATION_UNITS[unit] for value, unit in parts) if parts else None


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """`retry-after-ms` (OpenAI) wins over `Retry-After` (seconds or an HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis:
        with contextlib.suppress(ValueError):
            return max(0.0, float(millis) / 1000)
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        with contextlib.suppress(TypeError, ValueError):
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    return None


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(float(value)) if value else None
    except ValueError:
        return None


class SharedLimiter:
    def __init__(self, directory: Path, name: str, rpm: int | None, tpm: int | None):
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{name}.json"
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        self._configured = {"req": rpm, "tok": tpm}
        self._learn({"req": None, "tok": None})
        self._newly_learned: dict[str, int] = {}
        self._credit = {"req": 0.0, "tok": 0.0}
        self._pause_until = 0.0
        self._pending_increase = 0.0
        self._factor = 1.0
        self._probed = False
        self._probe_done: asyncio.Event | None = None
        self._last_refresh = 0.0
        self._lock: asyncio.Lock | None = None
        self._update(lambda state, now: 0.0)  # learn what other engines already know

    @property
    def limited(self) -> bool:
        """Whether any RPM/TPM limit is known (configured or learned); asked per request, so kept ready."""
        return self._limited

    def _learn(self, learned: dict[str, int | None]) -> None:
        self._learned = learned
        self._limited = any(self._per_minute(learned[kind], kind) for kind, _ in KINDS)

    def _per_minute(self, learned: int | None, kind: str) -> int | None:
        configured = self._configured[kind]
        return min(configured, learned) if configured and learned else configured or learned

    def _rate(self, state: dict, kind: str) -> float:
        per_minute = self._per_minute(state.get(f"learned_{kind}"), kind)
        return per_minute / 60 * state["factor"] if per_minute else 0.0

    # -- the shared state ------------------------------------------------------------------------------

    def _update(self, change: Callable[[dict, float], float]) -> float:
        """Runs `change(state, now)` on the refilled shared state under the file lock; returns its result."""
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            try:
                state = json.loads(os.pread(self._fd, _STATE_BYTES, 0) or b"{}")
            except ValueError:  # a torn write from a killed process: start over with full buckets
                state = {}
            now = time.time()
            self._refill(state, now)
            result = change(state, now)
            self._pause_until = state["pause"]
            self._factor = state["factor"]
            self._learn({kind: state.get(f"learned_{kind}") for kind, _ in KINDS})
            self._probed = self._probed or state.get("probed", False)
            os.pwrite(self._fd, json.dumps(state).encode().ljust(_STATE_BYTES), 0)
            return result
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _refill(self, state: dict, now: float) -> None:
        state.setdefault("factor", 1.0)
        state.setdefault("pause", 0.0)
        state.setdefault("cut", 0.0)
        state.update({f"learned_{kind}": limit for kind, limit in self._newly_learned.items()})
        self._newly_learned = {}
        state["factor"] = min(1.0, state["factor"] + self._pending_increase)
        self._pending_increase = 0.0
        elapsed = max(0.0, now - state.get("t", now))
        for kind, _ in KINDS:
            rate = self._rate(state, kind)
            if rate:
                level = state[kind] + elapsed * rate if kind in state else float("inf")  # new: a full bucket
                state[kind] = min(self._capacity(state, kind, rate), level)
        state["t"] = now

    @staticmethod
    def _capacity(state: dict, kind: str, rate: float) -> float:
        """BURST_S of the rate, but never less than the largest single request seen (or it could never pass)."""
        return max(rate * BURST_S, state.get(f"floor_{kind}", 1.0))

    # -- acquiring -------------------------------------------------------------------------------------

    async def acquire(self, cost: Callable[[], int]) -> bool:
        """Waits until one request may be sent; `cost()` gives its tokens (prompt estimate + max_tokens),
        asked only when a TPM limit is known. Returns whether it was admitted under known limits (a 429
        is then news, and cuts the rate)."""
        if not self.limited:
            await self._unlimited()
            if not self.limited:
                return False
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # one waiter at a time, in arrival order
            while True:
                now = time.time()
                if self._pause_until > now:
                    await asyncio.sleep(self._pause_until - now)
                    continue
                need = {
                    "req": 1.0 if self._per_minute(self._learned["req"], "req") else 0.0,
                    "tok": float(cost()) if self._per_minute(self._learned["tok"], "tok") else 0.0,
                }
                shortage = {k: need[k] - self._credit[k] for k in need if need[k] > self._credit[k]}
                if not shortage:
                    for kind in need:
                        self._credit[kind] -= need[kind]
                    return True
                wait = self._update(lambda state, now, shortage=shortage: self._lease(state, now, shortage))
                if wait > 0:
                    await asyncio.sleep(wait)

    async def _unlimited(self) -> None:
        """No known limits: probe an unknown endpoint with one request, honour pauses of other processes."""
        if not self._probed:
            if self._probe_done is None:
                self._probe_done = asyncio.Event()
                return  # this request is the probe
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._probe_done.wait(), PROBE_WAIT_S)
        now = time.time()
        if now - self._last_refresh > UNLIMITED_REFRESH_S:
            self._last_refresh = now
            self._update(lambda state, now: 0.0)
        if self._pause_until > now:
            await asyncio.sleep(self._pause_until - now)

    def _lease(self, state: dict, now: float, shortage: dict[str, float]) -> float:
        if state["pause"] > now:
            return state["pause"] - now
        waits = []
        for kind, short in shortage.items():
            if state[kind] < short:
                state[f"floor_{kind}"] = max(state.get(f"floor_{kind}", 1.0), short)
                waits.append((short - state[kind]) / self._rate(state, kind))
        if waits:
            return max(waits)
        for kind, short in shortage.items():
            take = min(state[kind], max(short, self._rate(state, kind) * LEASE_S))
            state[kind] -= take
            self._credit[kind] += take
        return 0.0

    # -- feedback from responses -----------------------------------------------------------------------

    def responded(
        self, http_status: int | None, headers: Mapping[str, str], cost: Callable[[], int], informed: bool
    ) -> float:
        """Learns from one response (or transport failure); returns how long a 429 asks us to pause."""
        first = not self._probed
        self._probed = True
        if self._probe_done is not None:
            self._probe_done.set()
        if http_status == 429:
            return self._rate_limited(headers, cost(), informed)
        if http_status is not None and 200 <= http_status < 300 and self._factor < 1.0:
            self._pending_increase += INCREASE
        self._observe(headers, first)
        return 0.0

    def _observe(self, headers: Mapping[str, str], first: bool) -> None:
        """Learns the server's limits and clamps the buckets to what it says remains."""
        clamp: dict[str, float] = {}
        for kind, suffix in KINDS:
            limit = _int_header(headers, f"x-ratelimit-limit-{suffix}")
            if limit and limit != self._learned[kind]:
                self._newly_learned[kind] = limit
                self._learn({**self._learned, kind: limit})
                clamp.setdefault(kind, float("inf"))
            remaining = _int_header(headers, f"x-ratelimit-remaining-{suffix}")
            per_minute = self._per_minute(self._learned[kind], kind)
            if remaining is not None and per_minute and remaining < per_minute / 60 * BURST_S:
                clamp[kind] = float(remaining)
        if clamp or first:
            self._update(lambda state, now: self._clamp(state, clamp))

    @staticmethod
    def _clamp(state: dict, clamp: dict[str, float]) -> float:
        state["probed"] = True
        for kind, remaining in clamp.items():
            if kind in state:
                state[kind] = min(state[kind], remaining)
        return 0.0

    def _rate_limited(self, headers: Mapping[str, str], tokens: int, informed: bool) -> float:
        """A 429: every process pauses until the server is ready; the rate is cut if we did not see it coming."""
        self._observe(headers, first=False)
        pause = retry_after_s(headers)
        if pause is None:
            pause = self._reset_hint(headers, tokens)
        pause = min(MAX_PAUSE_S, pause if pause is not None else 1.0)
        self._credit = {"req": 0.0, "tok": 0.0}
        self._pending_increase = 0.0

        def cut(state: dict, now: float) -> float:
            state["probed"] = True
            state["pause"] = max(state["pause"], now + pause)
            for kind, _ in KINDS:
                if kind in state:
                    state[kind] = 0.0
            if informed and now - state["cut"] >= CUT_INTERVAL_S:
                state["factor"] = max(MIN_FACTOR, state["factor"] * DECREASE)
                state["cut"] = now
            return pause

        return self._update(cut)

    @staticmethod
    def _reset_hint(headers: Mapping[str, str], tokens: int) -> float | None:
        """Without Retry-After: how long until the exhausted bucket holds this request, from the
        `x-ratelimit-reset-*` headers (time to refill from `remaining` to `limit`)."""
        hints = []
        for (_, suffix), need in zip(KINDS, (1, tokens), strict=True):
            limit = _int_header(headers, f"x-ratelimit-limit-{suffix}")
            remaining = _int_header(headers, f"x-ratelimit-remaining-{suffix}")
            reset = parse_duration(headers.get(f"x-ratelimit-reset-{suffix}"))
            if limit and remaining is not None and reset and remaining < need and limit > remaining:
                hints.append((need - remaining) * reset / (limit - remaining))
        return max(hints) if hints else None

    def close(self) -> None:
        """Gives unspent leases back so other processes can use them."""
        credit, self._credit = self._credit, {"req": 0.0, "tok": 0.0}
        if self._probe_done is not None:
            self._probe_done.set()

        def give_back(state: dict, now: float) -> float:
            for kind, amount in credit.items():
                rate = self._rate(state, kind)
                if kind in state and rate:
                    state[kind] = min(self._capacity(state, kind, rate), state[kind] + amount)
            return 0.0

        if any(credit.values()):
            self._update(give_back)
        os.close(self._fd)
