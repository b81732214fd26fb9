"""HTTP API throughput and latency: a real server, a real load generator, loopback.

    python bench/api.py [--contracts 200] [--command-seconds 10] [--read-seconds 10]
                        [--connections 32] [--threads 1] [--log-level info] [--profile] [--json]

1. Starts ``python -m ledger.cli serve --port P`` as a subprocess with a
   temporary ``TTLEDGER_DATA_DIR`` (its own embedded PostgreSQL, default
   durability), and waits for ``/readyz``.
2. Creates an admin and a regulator token with ``python -m ledger.cli token
   create`` on the same data directory (the embedded server is shared).
3. Sets up over HTTP (not timed): a university, a firm, and ``--contracts``
   development contracts in force, each with one installment large enough for
   every payment of the run.
4. Commands: ``wrk`` (Debian package ``wrk``) POSTs
   ``/v1/contracts/{id}/payments`` for ``--command-seconds``, each request
   with a unique ``payment_id`` and ``Idempotency-Key``, round-robin over the
   contracts so that concurrent requests rarely touch the same stream.
5. Waits until the in-process projections have caught up, then reads:
   ``wrk`` GETs ``/v1/statistics/contracts?group_by=kind`` with the regulator
   token for ``--read-seconds``. Nothing is written meanwhile, so after the
   first request the answer comes from the response cache
   (api/response_cache.py), as a dashboard's polling would; a third phase
   sends ``Cache-Control: no-cache`` so that every answer is computed from the
   projection tables again (``no_cache_reads_per_s``, ``no_cache_read_p99_ms``).
6. Reads the server's resident memory (``VmRSS`` and peak ``VmHWM`` of
   ``/proc/PID/status``) and stops it.

``wrk`` runs in its own process, so the client never shares the server's
event loop; on this two-core machine it does share the CPUs with the server
and PostgreSQL. ``--profile`` records the server with ``py-spy`` during the
command phase (``pip install py-spy``) and prints the top frames.

Targets: ≥ 500 commands/s with p99 < 100 ms; ≥ 1,500 reads/s with p99 < 50 ms;
server RSS < 300 MB. With ``--json`` the last line of stdout is one JSON
object: ``commands_per_s``, ``command_p99_ms``, ``reads_per_s``,
``read_p99_ms``, ``server_rss_mb`` (and more). Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
WAN = 1_000_000
PAYMENT_FEN = 100
TARGETS = {"commands_per_s": 500, "command_p99_ms": 100, "reads_per_s": 1500, "read_p99_ms": 50,
           "server_rss_mb": 300}

WRK_SCRIPT = r"""
local mode = "%(mode)s"
local token = "%(token)s"
local run = "%(run)s"
local contracts = { %(contracts)s }
local path = "%(path)s"
local nocache = "%(nocache)s"
local next_tid = 0

function setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
end

function init(args)
  counter = 0
  prefix = run .. "-" .. tid .. "-"
  if mode == "read" then
    wrk.method = "GET"
    wrk.path = path
    wrk.headers["Authorization"] = "Bearer " .. token
    if nocache == "1" then
      wrk.headers["Cache-Control"] = "no-cache"
    end
    read_request = wrk.format("GET", path, wrk.headers, nil)
  end
end

function request()
  if mode == "read" then
    return read_request
  end
  counter = counter + 1
  local cid = contracts[(counter + tid * 7919) %% #contracts + 1]
  local key = prefix .. counter
  local body = '{"payment_id":"' .. key .. '","amount_fen":%(amount)d,"received_on":"2025-06-01"}'
  local headers = {}
  headers["Authorization"] = "Bearer " .. token
  headers["Content-Type"] = "application/json"
  headers["Idempotency-Key"] = key
  return wrk.format("POST", "/v1/contracts/" .. cid .. "/payments", headers, body)
end

function done(summary, latency, requests)
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"non_2xx":%%d,"connect_errors":%%d,"read_errors":%%d,' ..
    '"write_errors":%%d,"timeouts":%%d,"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,"max_us":%%d}\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
"""


def log(message: str) -> None:
    print(f"[bench/api] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Phase:
    name: str
    requests: int
    seconds: float
    per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base: str
    env: dict[str, str]
    log_path: Path

    def memory_mb(self) -> tuple[float, float]:
        """(VmRSS, VmHWM) of the server process, in MB."""
        values: dict[str, float] = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024
        return values["VmRSS"], values["VmHWM"]

    def cli(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "ledger.cli", *args], env=self.env, cwd=ROOT,
                              capture_output=True, text=True, check=True, timeout=120)
        return done.stdout.strip()


@contextlib.contextmanager
def server(data_dir: Path, log_level: str) -> Iterator[Server]:
    port = free_port()
    env = {**os.environ, "TTLEDGER_DATA_DIR": str(data_dir), "TTLEDGER_LOG_LEVEL": log_level,
           "TTLEDGER_LOG_FORMAT": "json", "PYTHONPATH": str(ROOT)}
    env.pop("DATABASE_URL", None)
    log_path = data_dir / "server.log"
    with open(log_path, "wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "ledger.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT,
        )
    try:
        yield Server(process, f"http://127.0.0.1:{port}", env, log_path)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def wait_ready(base: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(f"{base}/readyz") as response:
                    if response.status == 200:
                        return dict(await response.json())
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not become ready")
            await asyncio.sleep(0.2)


async def wait_projections(base: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        ready = await wait_ready(base)
        if ready.get("projection_lag") == 0 or time.monotonic() > deadline:
            return ready
        await asyncio.sleep(0.2)


async def set_up(base: str, token: str, contracts: int, fixed_fen: int) -> list[str]:
    """A university, a firm and ``contracts`` development contracts in force (not timed)."""
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(base, headers=headers) as session:

        async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            async with session.post(path, json=body) as response:
                doc = await response.json()
                if response.status >= 300:
                    raise RuntimeError(f"setup {path}: {response.status} {doc}")
                return dict(doc)

        university = (await post("/v1/institutions", {
            "name": "基准示范大学", "kind": "university", "region": "110000", "public": True,
            "registered_on": "2015-01-01"}))["id"]
        firm = (await post("/v1/institutions", {
            "name": "基准科技有限公司", "kind": "enterprise", "size": "small", "region": "110000",
            "registered_on": "2018-01-01"}))["id"]
        gate = asyncio.Semaphore(16)

        async def contract(n: int) -> str:
            async with gate:
                terms = {"kind": "development", "title": f"技术开发合同 {n}", "seller_ids": [university],
                         "buyer_id": firm, "contract_value_fen": fixed_fen, "transaction_value_fen": fixed_fen,
                         "payment_terms": {"fixed_price_fen": fixed_fen, "installments": [
                             {"amount_fen": fixed_fen, "due_on": "2025-01-01"}]}}
                cid = (await post("/v1/contracts", {"terms": terms, "drafted_on": "2024-12-01"}))["id"]
                await post(f"/v1/contracts/{cid}/signature", {"on": "2024-12-05"})
                await post(f"/v1/contracts/{cid}/effect", {"on": "2024-12-10"})
                return str(cid)

        return list(await asyncio.gather(*(contract(n) for n in range(contracts))))


def run_wrk(name: str, base: str, script: str, seconds: int, connections: int, threads: int,
            workdir: Path) -> Phase:
    path = workdir / f"{name}.lua"
    path.write_text(script, encoding="utf-8")
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
               "-s", str(path), base]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60)
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("WRKJSON "))
    r = json.loads(line.removeprefix("WRKJSON "))
    elapsed = r["duration_us"] / 1e6
    errors = r["non_2xx"] + r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"]
    return Phase(name, r["requests"], round(elapsed, 2), round(r["requests"] / elapsed, 1),
                 r["p50_us"] / 1000, r["p90_us"] / 1000, r["p99_us"] / 1000, r["max_us"] / 1000, errors)


def wrk_script(mode: str, token: str, contracts: list[str] = (), path: str = "",  # type: ignore[assignment]
               nocache: bool = False) -> str:
    return WRK_SCRIPT % {
        "mode": mode, "token": token, "run": uuid.uuid4().hex[:8], "path": path, "amount": PAYMENT_FEN,
        "contracts": ", ".join(f'"{c}"' for c in contracts), "nocache": "1" if nocache else "0",
    }


def profile(pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes] | None:
    if shutil.which("py-spy") is None:
        log("py-spy not found (pip install py-spy): no profile")
        return None
    return subprocess.Popen(["py-spy", "record", "--pid", str(pid), "--duration", str(seconds), "--format",
                             "raw", "--output", str(out), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def top_frames(raw: Path, count: int = 25) -> list[tuple[str, float]]:
    """Self time per function from py-spy's collapsed stacks, as a share of samples."""
    totals: dict[str, int] = {}
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        samples += int(n)
        leaf = stack.split(";")[-1]
        totals[leaf] = totals.get(leaf, 0) + int(n)
    return [(k, round(100 * v / max(samples, 1), 1)) for k, v in
            sorted(totals.items(), key=lambda kv: -kv[1])[:count]]


def table(phases: list[Phase], rss: float, peak: float) -> str:
    rows = [f"{'phase':<18}{'requests':>10}{'seconds':>9}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}"
            f"{'max ms':>9}{'errors':>8}"]
    for p in phases:
        rows.append(f"{p.name:<18}{p.requests:>10}{p.seconds:>9.2f}{p.per_s:>9.1f}{p.p50_ms:>9.2f}"
                    f"{p.p90_ms:>9.2f}{p.p99_ms:>9.2f}{p.max_ms:>9.1f}{p.errors:>8}")
    rows.append(f"server RSS {rss:.1f} MB (peak {peak:.1f} MB)")
    return "\n".join(rows)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("bench/api.py needs wrk (Debian: apt-get install -y wrk)")
    workdir = Path(tempfile.mkdtemp(prefix="ttledger-bench-api-"))
    try:
        with server(workdir, args.log_level) as srv:
            ready = await wait_ready(srv.base)
            log(f"server pid {srv.process.pid} ready on {srv.base} (log head {ready['log_head']})")
            admin = srv.cli("token", "create", "--role", "admin", "--name", "bench admin")
            regulator = srv.cli("token", "create", "--role", "regulator", "--name", "bench regulator")
            started = time.monotonic()
            contracts = await set_up(srv.base, admin, args.contracts, 10**12)
            log(f"set up {len(contracts)} contracts in force in {time.monotonic() - started:.1f} s")
            await wait_projections(srv.base)

            spy = profile(srv.process.pid, args.command_seconds, workdir / "profile.txt") if args.profile else None
            log(f"commands: wrk -c {args.connections} for {args.command_seconds} s")
            commands = run_wrk("record payments", srv.base, wrk_script("command", admin, contracts),
                               args.command_seconds, args.connections, args.threads, workdir)
            if spy is not None:
                spy.wait(timeout=60)
            caught = await wait_projections(srv.base)
            log(f"projections caught up to {caught.get('projection_position')} (head {caught['log_head']})")
            stats_path = "/v1/statistics/contracts?group_by=kind"
            log(f"reads: wrk -c {args.connections} GET {stats_path} for {args.read_seconds} s")
            reads = run_wrk("statistics reads", srv.base, wrk_script("read", regulator, path=stats_path),
                            args.read_seconds, args.connections, args.threads, workdir)
            log(f"reads computed afresh (Cache-Control: no-cache): wrk -c {args.connections} "
                f"for {args.read_seconds} s")
            fresh = run_wrk("reads, no-cache", srv.base,
                            wrk_script("read", regulator, path=stats_path, nocache=True),
                            args.read_seconds, args.connections, args.threads, workdir)
            rss, peak = srv.memory_mb()
            head = (await wait_ready(srv.base))["log_head"]
        phases = [commands, reads, fresh]
        print(table(phases, rss, peak))
        if args.profile and (workdir / "profile.txt").exists():
            if args.profile_out is not None:
                shutil.copy(workdir / "profile.txt", args.profile_out)
            print("\nserver self time during the command phase (py-spy):")
            for frame, share in top_frames(workdir / "profile.txt"):
                print(f"  {share:5.1f}%  {frame}")
        result: dict[str, Any] = {
            "commands_per_s": commands.per_s, "command_p99_ms": commands.p99_ms,
            "reads_per_s": reads.per_s, "read_p99_ms": reads.p99_ms, "server_rss_mb": round(rss, 1),
            "no_cache_reads_per_s": fresh.per_s, "no_cache_read_p99_ms": fresh.p99_ms,
            "server_peak_rss_mb": round(peak, 1), "command_errors": commands.errors, "read_errors": reads.errors,
            "contracts": args.contracts, "connections": args.connections, "log_head": head,
            "phases": [asdict(p) for p in phases],
        }
        result["targets_met"] = (
            commands.per_s >= TARGETS["commands_per_s"] and commands.p99_ms < TARGETS["command_p99_ms"]
            and reads.per_s >= TARGETS["reads_per_s"] and reads.p99_ms < TARGETS["read_p99_ms"]
            and rss < TARGETS["server_rss_mb"] and commands.errors == 0 and reads.errors == 0
        )
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contracts", type=int, default=200)
    parser.add_argument("--command-seconds", type=int, default=10)
    parser.add_argument("--read-seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--log-level", default="info", help="the server's TTLEDGER_LOG_LEVEL")
    parser.add_argument("--profile", action="store_true", help="py-spy the server during the command phase")
    parser.add_argument("--profile-out", type=Path, default=None,
                        help="with --profile: keep py-spy's collapsed stacks in this file")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args()
    result = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
