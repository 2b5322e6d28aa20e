"""Reconnect storm: N already-registered devices all come back within a short window.

Each device is released at a random moment of the window and sends AUTHORIZE then REPORT_USAGE,
with at most ``--concurrency`` requests in flight. A device turned away with 429/503 waits what
``Retry-After`` asked plus the agent's jitter (``RetryPolicy.delay``) *without* holding a
connection, as a real device would; errors are counted and retried with backoff. The run ends
when every device is served or after ``--max-duration``; the rest are ``never_served`` (which
must be 0). Options, devices files and the summary: docs/smart-agent.md, "Storm mode".
"""

import heapq
import json
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import crypto
from ..agent import Agent
from ..errors import ChainError, Failed, InvalidReply, ServerBusy, TransportError
from ..identity import Identity
from ..state import CERT, CHAIN, KEY, DirStore, MemoryStore, save_json
from ..transport import RetryPolicy, Transport
from .stats import _latency

FILE_KIND = "onprem-storm-devices"
STEPS = ("AUTHORIZE", "REPORT_USAGE")


# -- the devices file ------------------------------------------------------------------------


def write_devices_file(path, *, chain_pems, devices, server_url=None):
    """Write the agent state of registered devices: a header line, then one line per device
    ``{"identity": {...}, "key": PEM, "certificate": PEM, "product_instance_id": id, "licenses": [[tag, n]]}``.
    The file holds private keys: it is created mode 0600."""
    path = Path(path)
    count = 0
    with open(path, "w", opener=lambda p, flags: __import__("os").open(p, flags, 0o600)) as out:
        out.write(
            json.dumps({"kind": FILE_KIND, "version": 1, "chain": list(chain_pems), "server_url": server_url}) + "\n"
        )
        for device in devices:
            out.write(json.dumps(device, separators=(",", ":")) + "\n")
            count += 1
    return count


def read_devices_file(path):
    """(header, [device records]) of a devices file; ValueError when it is not one."""
    with open(path) as handle:
        try:
            header = json.loads(handle.readline())
        except ValueError:
            header = None
        if not isinstance(header, dict) or header.get("kind") != FILE_KIND:
            raise ValueError(f"{path} is not a storm devices file (bench/storm_seed.py writes them).")
        records = [json.loads(line) for line in handle if line.strip()]
    return header, records


def agents_from_file(path, *, server_url, transport, licenses=None):
    """Agents (in memory) for the devices of a devices file, and each one's licenses."""
    header, records = read_devices_file(path)
    chain = "".join(header["chain"]).encode()
    loaded = []
    for record in records:
        store = MemoryStore()
        store.write(KEY, record["key"].encode())
        store.write(CERT, record["certificate"].encode())
        store.write(CHAIN, "".join(record["chain"]).encode() if record.get("chain") else chain)
        identity = Identity.from_dict(record["identity"])
        save_json(
            store,
            {
                "identity": identity.to_dict(),
                "server_url": server_url,
                "product_instance_id": record["product_instance_id"],
                "certificate_serial": crypto.serial_hex(crypto.load_cert(record["certificate"].encode())),
                "registered_at": record.get("registered_at"),
            },
        )
        agent = Agent(server_url, identity=identity, store=store, transport=transport)
        loaded.append((agent, [tuple(item) for item in (licenses or record.get("licenses") or [])]))
    return loaded


def agents_from_state_dir(path, *, server_url, transport, licenses=None):
    """Agents for the registered devices a fleet run kept under ``path/<serial>``."""
    loaded = []
    for directory in sorted(p for p in Path(path).iterdir() if p.is_dir()):
        agent = Agent(server_url, identity=None, store=DirStore(directory), transport=transport)
        if not agent.registered:
            continue
        mix = licenses or [(item["tag"], item["count"]) for item in agent.state.get("requested", [])]
        loaded.append((agent, [tuple(item) for item in mix]))
    return loaded


# -- the run ---------------------------------------------------------------------------------


@dataclass
class StormConfig:
    server: str
    window: float = 10.0  # seconds over which the devices are released
    concurrency: int = 64  # requests in flight at once
    report: bool = True  # REPORT_USAGE after AUTHORIZE
    max_duration: float = 3600.0  # give up on devices not served by then
    max_errors: int = 10  # errors (not refusals) one device may meet on one step before it is given up
    seed: int | None = None
    ca_file: str | None = None
    insecure: bool = False
    legacy: bool = False
    timeout: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)  # its delay() spaces the retries
    progress: bool = True
    tls_resume: bool = True  # each device offers its last TLS session when it reconnects


@dataclass
class _Device:
    agent: Agent
    licenses: list
    released_at: float = 0.0  # seconds after the start
    step: int = 0
    attempt: int = 0  # attempts of the current step so far
    errors: int = 0  # errors on the current step
    step_started: float | None = None
    refused_at: float | None = None  # when the last 429/503 came
    asked_wait: float | None = None  # what its Retry-After asked for
    done: bool = False
    given_up: str | None = None


def _error_code(exc):
    if isinstance(exc, Failed):
        return exc.error_code
    if isinstance(exc, TransportError):
        return f"HTTP_{exc.status}" if exc.status else ("TIMEOUT" if "timed out" in str(exc) else "CONNECTION")
    if isinstance(exc, (InvalidReply, ChainError)):
        return "INVALID_REPLY"
    return f"ERROR_{type(exc).__name__}"


class Storm:
    def __init__(self, config: StormConfig, loaded, out=sys.stderr):
        if config.concurrency < 1 or config.window < 0 or config.max_duration <= 0:
            raise ValueError("--concurrency must be >= 1, --window >= 0 and --max-duration > 0.")
        if not loaded:
            raise ValueError("No registered devices to release.")
        self.config = config
        self.out = out
        self.rng = random.Random(config.seed)
        self.devices = [_Device(agent=agent, licenses=licenses) for agent, licenses in loaded]
        for device in self.devices:
            if not device.licenses:
                assert device.agent.identity is not None  # the loaded agents are registered devices
                raise ValueError(
                    f"{device.agent.identity.udi_serial_number} has no licenses to authorize (give --licenses)."
                )
        self.steps = STEPS if config.report else STEPS[:1]
        self._lock = threading.Condition()
        self._queue: list[tuple[float, int, int]] = []  # (due, sequence, device index)
        self._sequence = 0
        self._active = 0  # devices queued or in progress
        self.statuses: dict[int, int] = {}  # HTTP status: exchanges
        self.ok = {s: 0 for s in self.steps}
        self.latency: dict[str, list[float]] = {
            s: [] for s in self.steps
        }  # successful exchanges: request to verified reply
        self.to_served: dict[str, list[float]] = {s: [] for s in self.steps}  # the step's first attempt to its success
        self.refusal_latency: list[float] = []  # 429/503 answers
        self.refused: dict[str, dict[int | None, int]] = {s: {} for s in self.steps}  # step: {HTTP status: count}
        self.errors: dict[str, dict[str, int]] = {s: {} for s in self.steps}  # step: {error code: count}
        self.last_ok: dict[str, float | None] = {s: None for s in self.steps}
        self.attempts = 0
        self.honoured, self.early = 0, 0  # retries after a Retry-After: not before it / before it (a bug)
        self.retry_waits: list[float] = []  # seconds from a refusal with Retry-After to the device's next attempt
        self.without_retry_after = 0  # 429/503 answers with no (readable) Retry-After
        self.started: float | None = None  # run() sets it

    @staticmethod
    def transport_for(config, on_exchange=None):
        """One transport for the whole storm, its own retries off: the storm schedules them, so a
        device waiting out a Retry-After holds no connection."""
        return Transport(
            config.server,
            ca_file=config.ca_file,
            insecure=config.insecure,
            legacy=config.legacy,
            timeout=config.timeout,
            retry=RetryPolicy(max_retries=0, max_delay=config.retry.max_delay),
            on_exchange=on_exchange,
            reuse_sessions=config.tls_resume,
        )

    def on_exchange(self, status, seconds):
        with self._lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1

    # -- scheduling ------------------------------------------------------------------------

    def _push(self, due, index):
        self._sequence += 1
        heapq.heappush(self._queue, (due, self._sequence, index))
        self._lock.notify()

    def _take(self):
        """The index of the next device due, waiting for it; None when the storm is over."""
        with self._lock:
            while True:
                now = self._now()
                if now > self.config.max_duration:
                    return None
                if self._queue and self._queue[0][0] <= now:
                    return heapq.heappop(self._queue)[2]
                if not self._queue and self._active == 0:
                    return None
                wait = (self._queue[0][0] - now) if self._queue else 1.0
                self._lock.wait(min(max(wait, 0.001), 1.0))

    def _now(self):
        assert self.started is not None, "the storm has not started"
        return time.perf_counter() - self.started

    # -- one attempt -----------------------------------------------------------------------

    def _call(self, device):
        step = self.steps[device.step]
        if step == "AUTHORIZE":
            return device.agent.authorize(device.licenses)
        # A retry resends the report still pending (same report id) instead of making a new one.
        return device.agent.report(usage={} if device.agent.state.get("pending_reports") else None)

    def _attempt(self, index):
        """One message of one device; True when it was served and has another step to send now."""
        device = self.devices[index]
        step = self.steps[device.step]
        now = self._now()
        if device.step_started is None:
            device.step_started = now
        if device.refused_at is not None and device.asked_wait is not None:
            honoured = now - device.refused_at >= device.asked_wait
            with self._lock:
                self.retry_waits.append(now - device.refused_at)
                self.honoured += honoured
                self.early += not honoured
        device.refused_at = device.asked_wait = None
        started = time.perf_counter()
        try:
            self._call(device)
        except ServerBusy as busy:
            answered = time.perf_counter()
            with self._lock:
                self.attempts += 1
                self.refusal_latency.append(answered - started)
                self.refused[step][busy.status] = self.refused[step].get(busy.status, 0) + 1
                self.without_retry_after += busy.retry_after is None
                delay = self.config.retry.delay(device.attempt, busy.retry_after, rng=self.rng)
                device.attempt += 1
                moment = self._now()  # one reading: the wait is measured from the moment it was scheduled
                device.refused_at, device.asked_wait = moment, busy.retry_after
                self._push(moment + delay, index)
            return False
        except Exception as exc:  # noqa: BLE001 - every failure is counted, none stops the storm
            code = _error_code(exc)
            with self._lock:
                self.attempts += 1
                self.errors[step][code] = self.errors[step].get(code, 0) + 1
                device.errors += 1
                if isinstance(exc, Failed) or device.errors >= self.config.max_errors:
                    device.given_up = code
                    self._active -= 1
                    self._lock.notify_all()
                    return False
                delay = self.config.retry.delay(device.attempt, None, rng=self.rng)
                device.attempt += 1
                self._push(self._now() + delay, index)
            return False
        answered = time.perf_counter()
        with self._lock:
            self.attempts += 1
            self.ok[step] += 1
            self.latency[step].append(answered - started)
            self.to_served[step].append(self._now() - device.step_started)
            self.last_ok[step] = self._now()
            device.step += 1
            device.attempt = device.errors = 0
            device.step_started = None
            if device.step == len(self.steps):
                device.done = True
                self._active -= 1
                self._lock.notify_all()
                return False
            return True  # its next message goes at once, as a device sends it

    def _worker(self):
        while True:
            index = self._take()
            if index is None:
                return
            # A served device goes straight on with its next step (REPORT_USAGE right after its
            # AUTHORIZE) instead of queueing behind the devices released before it.
            while self._attempt(index) and self._now() <= self.config.max_duration:
                pass

    def _progress(self, stop):
        while not stop.wait(5.0):
            with self._lock:
                served = sum(d.done for d in self.devices)
                refused = sum(sum(r.values()) for r in self.refused.values())
                errors = sum(sum(e.values()) for e in self.errors.values())
                done = ", ".join(f"{step} {count}" for step, count in self.ok.items())
            print(
                f"[storm {self._now():7.1f}s] {served}/{len(self.devices)} served ({done}), {refused} refused "
                f"(429/503), {errors} errors",
                file=self.out,
                flush=True,
            )

    def run(self):
        config = self.config
        releases = sorted(self.rng.uniform(0, config.window) for _ in self.devices)
        order = list(range(len(self.devices)))
        self.rng.shuffle(order)
        self.started = time.perf_counter()
        with self._lock:
            for index, at in zip(order, releases, strict=True):
                self.devices[index].released_at = at
                self._push(at, index)
            self._active = len(self.devices)
        stop = threading.Event()
        threads = [
            threading.Thread(target=self._worker, name=f"storm-{i}", daemon=True) for i in range(config.concurrency)
        ]
        if config.progress:
            threads.append(threading.Thread(target=self._progress, args=(stop,), daemon=True))
        for thread in threads:
            thread.start()
        for thread in threads[: config.concurrency]:
            thread.join()
        stop.set()
        return self.summary()

    # -- the summary -----------------------------------------------------------------------

    def summary(self):
        with self._lock:
            elapsed = self._now()
            served = [d for d in self.devices if d.done]
            completion = max((self.last_ok[self.steps[-1]] or 0.0) if served else 0.0, 0.0)
            by_type = {}
            for step in self.steps:
                last_ok = self.last_ok[step]
                by_type[step] = {
                    "ok": self.ok[step],
                    "throughput_rps": round(self.ok[step] / last_ok, 2) if last_ok else None,
                    "latency_ms": _latency(self.latency[step]),
                    "time_to_served_ms": _latency(self.to_served[step]),
                    "refused": {str(k): v for k, v in sorted(self.refused[step].items(), key=lambda kv: str(kv[0]))},
                    "errors": dict(self.errors[step]),
                }
            errors = sum(sum(e.values()) for e in self.errors.values())
            refusals = sum(sum(r.values()) for r in self.refused.values())
            given_up: dict[str, int] = {}  # error code: devices
            for device in self.devices:
                if device.given_up:
                    given_up[device.given_up] = given_up.get(device.given_up, 0) + 1
            statuses = {str(k): v for k, v in sorted(self.statuses.items())}
            return {
                "devices": len(self.devices),
                "window_s": self.config.window,
                "concurrency": self.config.concurrency,
                "steps": list(self.steps),
                "completion_s": round(completion, 3),
                "elapsed_s": round(elapsed, 3),
                "served": len(served),
                "never_served": len(self.devices) - len(served),
                "given_up": given_up,
                "attempts": self.attempts,
                "refusals": refusals,
                "errors": errors,
                "error_rate": round(errors / self.attempts, 6) if self.attempts else None,
                "retry_after_honoured": self.honoured,
                "retry_after_early": self.early,
                "refusals_without_retry_after": self.without_retry_after,
                "retry_wait_ms": _latency(self.retry_waits),
                "refusal_latency_ms": _latency(self.refusal_latency),
                "http_statuses": statuses,
                "http_5xx_other_than_503": sum(
                    v for k, v in self.statuses.items() if isinstance(k, int) and k >= 500 and k != 503
                ),
                "by_type": by_type,
            }


def run_storm(config: StormConfig, *, devices_file=None, state_dir=None, licenses=None, out=sys.stderr):
    """Load the devices and run the storm; returns the summary."""
    if (devices_file is None) == (state_dir is None):
        raise ValueError("Give a devices file or a fleet state directory.")
    holder: dict[str, Storm] = {}  # "storm": the storm, once made (the transport's hook needs it first)
    transport = Storm.transport_for(
        config, on_exchange=lambda status, seconds: holder["storm"].on_exchange(status, seconds)
    )
    if devices_file is not None:
        loaded = agents_from_file(devices_file, server_url=config.server, transport=transport, licenses=licenses)
    else:
        loaded = agents_from_state_dir(state_dir, server_url=config.server, transport=transport, licenses=licenses)
    storm = holder["storm"] = Storm(config, loaded, out=out)
    summary = storm.run()
    summary["tls_handshakes"] = dict(transport.handshakes)  # new HTTPS connections: full / resumed
    return summary


# -- the command line ------------------------------------------------------------------------


def build_parser():
    import argparse

    from .runner import parse_licenses

    def licenses(text):
        try:
            return parse_licenses(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc

    parser = argparse.ArgumentParser(
        prog="python -m smart_agent.fleet.storm",
        description="Reconnect storm: registered devices all AUTHORIZE and REPORT_USAGE within a short window.",
    )
    parser.add_argument("--server", required=True, help="server URL, e.g. https://localhost:8443")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--devices-file", help="registered devices (bench/storm_seed.py writes one)")
    source.add_argument("--state-dir", help="the --state-dir of an earlier fleet run (one directory per device)")
    parser.add_argument("--window", type=float, default=10.0, help="seconds over which devices are released (10)")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight at once (64)")
    parser.add_argument(
        "--licenses",
        type=licenses,
        action="append",
        default=[],
        metavar="TAG=COUNT,...",
        help="licenses every device authorizes (default: each device's own)",
    )
    parser.add_argument("--no-report", action="store_true", help="AUTHORIZE only, no REPORT_USAGE")
    parser.add_argument(
        "--max-duration",
        type=float,
        default=3600.0,
        metavar="S",
        help="give up on devices not served after S seconds (3600)",
    )
    parser.add_argument(
        "--max-errors",
        type=int,
        default=10,
        help="errors (not 429/503) one device may meet on one message before it is given up (10)",
    )
    parser.add_argument("--seed", type=int, help="random seed (release order, jitter)")
    tls = parser.add_mutually_exclusive_group()
    tls.add_argument("--ca-file", help="PEM CA bundle that signed the server's TLS certificate")
    tls.add_argument("--insecure", action="store_true", help="do not verify the server's TLS certificate")
    parser.add_argument("--legacy", action="store_true", help="use the XML-wrapped Call Home path")
    parser.add_argument(
        "--no-tls-resume",
        action="store_true",
        help="a full TLS handshake on every connection (default: each device resumes its session)",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per HTTP exchange (30)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return parser


def print_summary(summary, out):
    print(
        f"Storm: {summary['devices']} devices released over {summary['window_s']} s, concurrency "
        f"{summary['concurrency']}: {summary['served']} served, {summary['never_served']} never served, "
        f"completed in {summary['completion_s']} s",
        file=out,
    )
    print(
        f"Attempts {summary['attempts']}: {summary['refusals']} refused (429/503; Retry-After honoured "
        f"{summary['retry_after_honoured']}, early {summary['retry_after_early']}), {summary['errors']} errors "
        f"(rate {summary['error_rate']}); HTTP {summary['http_statuses']}",
        file=out,
    )
    if summary.get("tls_handshakes"):
        shakes = summary["tls_handshakes"]
        print(f"TLS handshakes: {shakes['full']} full, {shakes['resumed']} resumed", file=out)
    for step, row in summary["by_type"].items():
        lat, served = row["latency_ms"], row["time_to_served_ms"]
        print(
            f"  {step:<13} ok {row['ok']:>6}  {row['throughput_rps']} /s  p50 {lat['p50']} p95 {lat['p95']} "
            f"p99 {lat['p99']} ms  time to served p99 {served['p99']} ms  refused {row['refused'] or '-'}  "
            f"errors {row['errors'] or '-'}",
            file=out,
        )


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    config = StormConfig(
        server=args.server,
        window=args.window,
        concurrency=args.concurrency,
        report=not args.no_report,
        max_duration=args.max_duration,
        max_errors=args.max_errors,
        seed=args.seed,
        ca_file=args.ca_file,
        insecure=args.insecure,
        legacy=args.legacy,
        timeout=args.timeout,
        progress=not args.quiet,
        tls_resume=not args.no_tls_resume,
    )
    try:
        summary = run_storm(
            config,
            devices_file=args.devices_file,
            state_dir=args.state_dir,
            licenses=[item for group in args.licenses for item in group] or None,
        )
    except (ValueError, OSError) as exc:
        parser.error(str(exc))
    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True))
    else:
        print_summary(summary, sys.stdout)
    return 0 if summary["never_served"] == 0 and summary["errors"] == 0 else 1


__all__ = ["StormConfig", "Storm", "run_storm", "write_devices_file", "read_devices_file", "main"]

if __name__ == "__main__":
    sys.exit(main())
