"""The fleet run: register N devices, authorize a mix of licenses, report usage on a schedule.

All devices share one Transport (one keep-alive connection per worker thread, so the pool
holds ``concurrency`` connections) and each has its own Agent (key, certificate, state: in
memory, or under ``state_dir/<serial>`` when given). Failures are counted by error code and
never stop the run; a device whose registration failed sits the rest of the run out.
"""

import heapq
import random
import re
import sys
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from ..agent import Agent
from ..errors import ChainError, Failed, InvalidReply, NotRegistered, ServerBusy, StateError, TransportError
from ..state import DirStore, MemoryStore
from ..transport import RetryPolicy, Transport
from . import identities
from .stats import Stats

LICENSE_ITEM = re.compile(r"(.+?)=(\d+)(?:,|$)")


def parse_licenses(text):
    """``TAG=COUNT,TAG=COUNT`` -> [(tag, count)]; tags may contain commas (``...,1.0_x=1``)."""
    items, position = [], 0
    for match in LICENSE_ITEM.finditer(text):
        if match.start() != position:
            break
        items.append((match.group(1), int(match.group(2))))
        position = match.end()
    if not items or position != len(text) or text.endswith(","):
        raise ValueError(f"{text!r} is not TAG=COUNT[,TAG=COUNT...].")
    return items


def error_code(exc):
    if isinstance(exc, Failed):
        return exc.error_code
    if isinstance(exc, ServerBusy):
        return "BUSY"
    if isinstance(exc, TransportError):
        return f"HTTP_{exc.status}" if exc.status else "CONNECTION"
    if isinstance(exc, (InvalidReply, ChainError)):
        return "INVALID_REPLY"
    if isinstance(exc, (NotRegistered, StateError)):
        return "STATE"
    return f"ERROR_{type(exc).__name__}"


@dataclass
class Config:
    server: str
    token: str
    devices: int
    concurrency: int = 20
    licenses: list = field(default_factory=list)  # [(tag, count)]
    redundancy_pairs: int = 0
    report_interval: float = 60.0
    duration: float = 0.0  # 0: one report per device, then stop
    deregister: bool = False
    force: bool = False
    seed: int | None = None
    state_dir: str | None = None
    ca_file: str | None = None
    insecure: bool = False
    legacy: bool = False
    timeout: float = 30.0
    retries: int = 8
    progress: bool = True
    tls_resume: bool = True  # each device resumes its TLS session on its next connection


@dataclass
class Device:
    agent: Agent
    index: int
    role: str = ""  # ACTIVE / STANDBY in a redundancy pair
    peer: "Device | None" = None
    app_id: str = ""
    licenses: list = field(default_factory=list)
    registered: bool = False
    authorized: bool = False
    deregistered: bool = False


class Fleet:
    def __init__(self, config: Config, out=sys.stderr):
        if config.devices < 1 or config.concurrency < 1:
            raise ValueError("--devices and --concurrency must be at least 1.")
        self.config = config
        self.out = out
        self.stats = Stats()
        self.rng = random.Random(config.seed)
        self.transport = Transport(
            config.server,
            ca_file=config.ca_file,
            insecure=config.insecure,
            legacy=config.legacy,
            timeout=config.timeout,
            retry=RetryPolicy(max_retries=config.retries),
            on_exchange=self.stats.exchange,
            reuse_sessions=config.tls_resume,
        )
        self.devices: list[Device] = []
        self._phase = ""
        self._stop = threading.Event()

    # -- setup -----------------------------------------------------------------------------

    def build(self):
        config = self.config
        people = identities.generate(config.devices, pairs=config.redundancy_pairs, seed=config.seed)
        for index, identity in enumerate(people):
            store = DirStore(Path(config.state_dir) / identity.udi_serial_number) if config.state_dir else MemoryStore()
            agent = Agent(config.server, identity=identity, store=store, transport=self.transport)
            self.devices.append(Device(agent=agent, index=index, licenses=self._license_mix()))
        for i in range(config.redundancy_pairs):
            active, standby = self.devices[2 * i], self.devices[2 * i + 1]
            active.role, standby.role = "ACTIVE", "STANDBY"
            active.peer, standby.peer = standby, active
            active.app_id, standby.app_id = (
                str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
                str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            )
            standby.licenses = list(active.licenses)  # a pair runs the same licensed features
        return self.devices

    def _license_mix(self):
        """A non-empty random subset of the configured licenses (all of them when there is one)."""
        pool = self.config.licenses
        if not pool:
            return []
        size = self.rng.randint(1, len(pool))
        return sorted(self.rng.sample(pool, size))

    # -- one operation ---------------------------------------------------------------------

    def _do(self, operation, call):
        started = time.perf_counter()
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - every failure is counted, none stops the fleet
            self.stats.record(operation, time.perf_counter() - started, error_code(exc))
            return False
        self.stats.record(operation, time.perf_counter() - started)
        return True

    def register(self, device):
        device.registered = self._do(
            "REGISTER", lambda: device.agent.register(self.config.token, force=self.config.force)
        )

    def _redundancy(self, device):
        if not device.role or not device.peer.registered:
            return None
        peer = device.peer
        return {
            "application_name": f"ha-{device.agent.identity.hostname[:-1]}",
            "app_role": device.role,
            "app_id": device.app_id,
            "peers": [
                {
                    "name": peer.agent.identity.hostname,
                    "role": peer.role,
                    "id": peer.app_id,
                    "product_instance_identifier": str(peer.agent.state["product_instance_id"]),
                }
            ],
        }

    def authorize(self, device):
        if device.registered and device.licenses:
            device.authorized = self._do(
                "AUTHORIZE", lambda: device.agent.authorize(device.licenses, app_redundancy=self._redundancy(device))
            )

    def report(self, device):
        if device.authorized:
            self._do("REPORT_USAGE", device.agent.report)

    def deregister(self, device):
        if device.registered:
            device.deregistered = self._do("DEREGISTER", device.agent.deregister)

    # -- phases ----------------------------------------------------------------------------

    def progress_line(self, rate):
        """The running phase's own counts (what its closing line will say), then all messages so far."""
        summary = self.stats.summary()
        ok, failed = self.stats.counts(self._phase)
        return (
            f"[{summary['elapsed_s']:7.1f}s] {self._phase}: {ok} ok, {failed} failed "
            f"(all messages: {summary['ok']} ok, {summary['failed']} failed), "
            f"{rate:.0f} req/s, p95 {summary['latency_ms']['p95']} ms"
        )

    def _progress(self):
        last = (time.perf_counter(), 0)
        while not self._stop.wait(2.0):
            requests = self.stats.summary()["requests"]
            now = time.perf_counter()
            rate = (requests - last[1]) / (now - last[0])
            last = (now, requests)
            print(self.progress_line(rate), file=self.out, flush=True)

    def _phase_all(self, name, pool, action, *groups):
        """Run ``action`` on every device of each group in turn (a group waits for the previous one)."""
        self._phase = name
        for devices in groups:
            wait([pool.submit(action, d) for d in devices])
        ok, failed = self.stats.counts(name)
        if self.config.progress:
            print(f"{name}: {ok} ok, {failed} failed", file=self.out, flush=True)

    def _report_schedule(self, pool):
        """Each authorized device reports every ``report_interval`` s (first at a random offset) until the end."""
        self._phase = "REPORT_USAGE"
        deadline = time.monotonic() + self.config.duration
        interval = self.config.report_interval
        queue = [(time.monotonic() + self.rng.uniform(0, interval), d.index) for d in self.devices if d.authorized]
        heapq.heapify(queue)
        in_flight: dict[int, Future] = {}  # device index: its last report
        while queue:
            due, index = queue[0]
            now = time.monotonic()
            if due >= deadline:
                break
            if due > now:
                time.sleep(min(due - now, 0.5))
                continue
            heapq.heappop(queue)
            future = in_flight.get(index)
            if future is None or future.done():  # a device still busy with its last report skips a turn
                in_flight[index] = pool.submit(self.report, self.devices[index])
            heapq.heappush(queue, (due + interval, index))
        wait(list(in_flight.values()))

    def run(self):
        config = self.config
        self.build()
        progress = None
        if config.progress:
            progress = threading.Thread(target=self._progress, daemon=True)
            progress.start()
        try:
            with ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="device") as pool:
                self._phase_all("REGISTER", pool, self.register, self.devices)
                # Pairs first, ACTIVE before STANDBY, so each side can name its registered peer.
                self._phase_all(
                    "AUTHORIZE",
                    pool,
                    self.authorize,
                    [d for d in self.devices if d.role != "STANDBY"],
                    [d for d in self.devices if d.role == "STANDBY"],
                )
                if config.duration > 0:
                    self._report_schedule(pool)
                else:
                    self._phase_all("REPORT_USAGE", pool, self.report, self.devices)
                if config.deregister:
                    self._phase_all("DEREGISTER", pool, self.deregister, self.devices)
        finally:
            self._stop.set()
            if progress:
                progress.join()
        return self.stats.summary(
            devices=config.devices,
            concurrency=config.concurrency,
            redundancy_pairs=config.redundancy_pairs,
            registered=sum(d.registered for d in self.devices),
            authorized=sum(d.authorized for d in self.devices),
            deregistered=sum(d.deregistered for d in self.devices),
            server=config.server,
            tls_handshakes=dict(self.transport.handshakes),
        )
