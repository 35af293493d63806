"""Faults the demo server must survive: bad uploads, hostile names, slow and many clients.

    python scripts/serve_faults.py [--clients 64] [--requests 50] [--memory-requests 1000]
        [--queue 8] [--timeout 2] [--out outputs/serve_faults.json] [--max-seconds 600]

Starts ``python -m fastnst demo`` on 127.0.0.1 (a free port) over a folder it makes: one tiny
random Johnson network, a checkpoint and a painting *outside* the folders (what a path trick
would reach), a 1 MiB upload limit, 1 inference at once with ``--queue`` waiting, ``--timeout``
s for headers and bodies. Runs every case with raw sockets (what a browser never sends) or httpx,
prints the table (case, expected, got, ok), writes it as JSON, stops the server and exits 1 if a
case failed. Only the loopback address is used; every socket has a timeout, the whole run is
bounded by ``--max-seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
import torch
from PIL import Image

from fastnst.io.atomic import write_json
from fastnst.models import TransformerNet
from fastnst.models.checkpoint import checkpoint_entry

HOST = "127.0.0.1"  # loopback only, by construction
LIMIT = 2**20  # the server's upload limit in this run
MODEL = "tiny.ckpt"
TRICKS = ["../outside.ckpt", "/etc/passwd", "..%2foutside.ckpt", f"{MODEL}/../{MODEL}",
          f"{MODEL}\x00", "..\\outside.ckpt", "~/outside.ckpt", "", f"./{MODEL}",
          f"{'../' * 8}etc/passwd", "outside.ckpt", "a" * 4000]  # fmt: skip


def photo(width: int = 48, height: int = 40) -> bytes:
    y, x = np.mgrid[0:height, 0:width]
    array = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height)], -1)
    buffer = io.BytesIO()
    Image.fromarray(array.astype(np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def make_folders(root: Path) -> tuple[Path, Path]:
    """``root/models`` (one tiny checkpoint), ``root/paintings``, and files beside them."""
    torch.manual_seed(0)
    model = TransformerNet(width=4, num_residual_blocks=1, head="sigmoid").eval()
    state = {f"transformer.{key}": value for key, value in model.state_dict().items()}
    checkpoint = {"state_dict": state, "fastnst": checkpoint_entry(model, ["stripes"], {})}
    (root / "models").mkdir(), (root / "paintings").mkdir()
    torch.save(checkpoint, root / "models" / MODEL)
    torch.save(checkpoint, root / "outside.ckpt")  # a traversal would find these
    (root / "outside.png").write_bytes(photo())
    (root / "paintings" / "painting.png").write_bytes(photo(32, 32))
    return root / "models", root / "paintings"


def start_server(root: Path, timeout: float, queue: int) -> tuple[subprocess.Popen, int]:
    """The demo server over ``make_folders(root)`` and its port, once it answers (<= 120 s)."""
    models, paintings = make_folders(root)
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "fastnst", "demo", "--models", str(models), "--host", HOST,
               "--port", str(port), "--paintings", str(paintings), "--backend", "torch",
               "--max-upload-mb", str(LIMIT / 2**20), "--workers", "1", "--queue", str(queue),
               "--body-timeout", str(timeout), "--header-timeout", str(timeout)]  # fmt: skip
    env = {**os.environ, "FASTNST_CACHE": str(root / "cache"), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"http://{HOST}:{port}/api/config", timeout=1).status_code == 200:
                return process, port
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the demo server did not start within 120 s")


def request(method: str, target: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {HOST}", "Connection: close"]
    lines += [f"{key}: {value}" for key, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def status_of(sock: socket.socket, seconds: float) -> str:
    """The response's status code, ``closed`` (no answer) or ``timeout``, within ``seconds``."""
    sock.settimeout(seconds)
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        return "timeout"
    except OSError:
        return "closed"
    parts = data.split(b" ", 2)
    return parts[1].decode() if len(parts) > 1 and data.startswith(b"HTTP/") else "closed"


def exchange(port: int, data: bytes, seconds: float = 10) -> str:
    """Send ``data`` (one whole request) and read the status."""
    with socket.create_connection((HOST, port), timeout=seconds) as sock:
        with contextlib.suppress(OSError):  # it may answer and close before reading it all
            sock.sendall(data)
        return status_of(sock, seconds)


def stylize_request(content_type: str | None, body: bytes, **headers: str) -> bytes:
    if content_type is not None:
        headers["Content-Type"] = content_type
    headers.setdefault("Content-Length", str(len(body)))
    return request("POST", f"/api/stylize?model={MODEL}", headers, body)


def over_limit_chunked(port: int, seconds: float) -> tuple[str, str]:
    """Stream 64x the limit in 64 KiB chunks; the 413 must come before it is all sent."""
    total, sent, chunk = 64 * LIMIT, 0, b"x" * 2**16
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    headers = {"Content-Type": "image/png", "Transfer-Encoding": "chunked"}
    with socket.create_connection((HOST, port), timeout=seconds) as sock:
        sock.sendall(request("POST", f"/api/stylize?model={MODEL}", headers))
        try:
            while sent < total:
                sock.sendall(framed)
                sent += len(chunk)
        except OSError:
            pass  # refused and closed
        got = status_of(sock, seconds)
    return got, f"{sent / 2**20:.0f} MiB of {total / 2**20:.0f} MiB sent before the answer"


def slow(port: int, first: bytes, trickle: bytes, limit: float) -> tuple[str, str]:
    """Send ``first``, then ``trickle`` a byte every 0.1 s; the status and how long it took."""
    started = time.monotonic()
    with socket.create_connection((HOST, port), timeout=limit) as sock:
        sock.sendall(first)
        for byte in trickle:
            if time.monotonic() - started > limit:
                break
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            time.sleep(0.1)
        got = status_of(sock, max(0.1, limit - (time.monotonic() - started)))
    return got, f"answered after {time.monotonic() - started:.1f} s"


def names(port: int) -> tuple[str, str]:
    """Every path trick as a model (stylize, ONNX) and a painting name, and through the URL."""
    quote = httpx.QueryParams
    targets = [f"/api/stylize?{quote(model=name)}" for name in TRICKS]
    targets += [f"/api/onnx?{quote(model=name)}" for name in TRICKS]
    targets += [f"/api/painting?{quote(name=name.replace('ckpt', 'png'))}" for name in TRICKS]
    targets += ["/static/..%2f..%2fserver.py", "/static/../server.py", "/ort/..%2f..%2fcli.py",
                "/ort/%2e%2e%2fpaintings.py"]  # fmt: skip
    got = Counter()
    for target in targets:
        method = "POST" if target.startswith("/api/stylize") else "GET"
        body = photo() if method == "POST" else b""
        headers = {"Content-Type": "image/png", "Content-Length": str(len(body))}
        got[exchange(port, request(method, target, headers, body))] += 1
    return ", ".join(f"{k} x{v}" for k, v in sorted(got.items())), f"{len(targets)} names"


async def load(port: int, clients: int, requests: int, budget: float) -> tuple[Counter, int]:
    """``clients`` at once, ``requests`` each (every 10th not an image: 415); statuses, 503s
    without Retry-After."""
    image, counts, bare = photo(), Counter(), 0
    url = f"http://{HOST}:{port}/api/stylize"

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal bare
        for index in range(requests):
            bad = index % 10 == 9
            kind = "text/plain" if bad else "image/png"
            try:
                response = await http.post(url, params={"model": MODEL}, content=image,
                                           headers={"Content-Type": kind})  # fmt: skip
                counts[f"{response.status_code}{' (bad upload)' if bad else ''}"] += 1
                bare += response.status_code == 503 and "retry-after" not in response.headers
            except httpx.HTTPError as err:
                counts[type(err).__name__] += 1

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        await asyncio.wait_for(asyncio.gather(*[client(http) for _ in range(clients)]), budget)
    return counts, bare


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def memory(port: int, pid: int, count: int) -> tuple[float, bool, str]:
    """RSS growth in MB over ``count`` stylize requests, after 20 to warm up; 20 strengths in
    turn, every other answer JPEG, so the server's caches of stylizers fill and evict."""
    with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=30) as http:
        statuses = Counter()
        for index in range(20 + count):
            if index == 20:
                before = rss(pid)
            params = {"model": MODEL, "strength": f"{index % 20 / 20:.2f}",
                      "format": "jpeg" if index % 2 else "png"}  # fmt: skip
            response = http.post("/api/stylize", params=params, content=photo(),
                                 headers={"Content-Type": "image/png"})  # fmt: skip
            statuses[response.status_code] += 1
    growth, answered = (rss(pid) - before) / 1e6, set(statuses) == {200}
    return growth, answered, f"{before / 1e6:.0f} -> {rss(pid) / 1e6:.0f} MB; {dict(statuses)}"


def run_cases(port: int, process: subprocess.Popen, args: argparse.Namespace) -> list[dict]:
    """Every case in order; each row: case, expected, got, ok, detail."""
    rows, t, image = [], args.timeout, photo()
    deadline = time.monotonic() + args.max_seconds

    def add(case: str, expected: str, got: str, detail: str = "", ok: bool | None = None) -> None:
        ok = got in expected.split("/") if ok is None else ok
        rows.append({"case": case, "expected": expected, "got": got, "ok": ok, "detail": detail})

    part = b'--XYZ\r\nContent-Disposition: form-data; name="photo"\r\n\r\n'
    add("malformed multipart", "415",
        exchange(port, stylize_request("multipart/form-data; boundary=XYZ", part + image[:40])))
    add("well-formed multipart form", "415", exchange(port, stylize_request(
        "multipart/form-data; boundary=XYZ", part + image + b"\r\n--XYZ--\r\n")))
    for case, kind, body in [("text/plain body", "text/plain", b"hello"),
                             ("JSON body", "application/json", b'{"photo": 1}'),
                             ("image/png that is not an image", "image/png", b"\x89PNG" * 99),
                             ("no Content-Type, not an image", None, b"GIF89a" + b"\0" * 99)]:
        add(case, "415", exchange(port, stylize_request(kind, body)))
    add("empty body", "400", exchange(port, stylize_request("image/png", b"")))
    started = time.monotonic()
    declared = {"Content-Length": str(64 * LIMIT)}
    add("Content-Length 64x the limit, body unsent", "413",
        exchange(port, stylize_request("image/png", b"", **declared), seconds=t + 5),
        detail=f"answered in {time.monotonic() - started:.2f} s without the body")
    add("chunked body 64x the limit", "413", *over_limit_chunked(port, 30))
    add("one 64 KiB header", "400/431",
        exchange(port, request("GET", "/api/config", {"X-Big": "a" * 2**16})))
    add("2,000 small headers", "400/431", exchange(port, request(
        "GET", "/api/config", {f"X-{i}": "y" * 8 for i in range(2000)})))
    add("request line and headers sent slowly", "408",
        *slow(port, b"GET /api/con", b"fig HTTP/1.1\r\n" + b"X-Slow: y\r\n" * 99, t + 3))
    add("idle connection", "408", *slow(port, b"", b"", t + 3))
    slow_body = stylize_request("image/png", b"", **{"Content-Length": "5000"})
    add("body sent slowly", "408", *slow(port, slow_body, image[:500], t + 3))
    got, detail = names(port)
    add("path tricks: models, paintings, static", "404", got, detail, got.startswith("404 x"))
    add("unknown route", "404", exchange(port, request("GET", "/nope", {})))
    add("wrong method", "405", exchange(port, request("GET", f"/api/stylize?model={MODEL}", {})))
    add("bad option", "400", exchange(port, request(
        "POST", f"/api/stylize?model={MODEL}&strength=abc",
        {"Content-Type": "image/png", "Content-Length": str(len(image))}, image)))
    started = time.monotonic()
    counts, bare = asyncio.run(load(port, args.clients, args.requests,
                                    max(5.0, deadline - time.monotonic())))  # fmt: skip
    seconds = time.monotonic() - started
    fine = set(counts) <= {"200", "503", "415 (bad upload)"} and counts["200"] > 0 and not bare
    add(f"{args.clients} clients x {args.requests} requests", "200/503+Retry-After/415",
        ", ".join(f"{k} x{v}" for k, v in sorted(counts.items())),
        f"{bare} 503s without Retry-After; {seconds:.1f} s", fine)
    ok = exchange(port, request("GET", "/api/config", {})) == "200"
    styled = exchange(port, stylize_request("image/png", image))
    add("answering afterwards", "200", styled if ok else "config failed")
    growth, answered, detail = memory(port, process.pid, args.memory_requests)
    add(f"RSS growth over {args.memory_requests} requests", "<= 50 MB, all 200",
        f"{growth:.1f} MB", detail, growth <= 50 and answered)
    add("server process", "running", "running" if process.poll() is None else "exited")
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| case | expected | got | ok |", "|---|---|---|---|"]
    lines += [f"| {r['case']} | {r['expected']} | {r['got']} | {'yes' if r['ok'] else 'NO'} |"
              for r in rows]  # fmt: skip
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--requests", type=int, default=50, help="per client")
    parser.add_argument("--memory-requests", type=int, default=1000)
    parser.add_argument("--queue", type=int, default=8, help="server's waiting requests")
    parser.add_argument("--timeout", type=float, default=2.0, help="server's header/body limit")
    parser.add_argument("--max-seconds", type=float, default=600.0)
    parser.add_argument("--out", type=Path, default=Path("outputs/serve_faults.json"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="serve_faults_") as folder:
        process, port = start_server(Path(folder), args.timeout, args.queue)
        try:
            rows = run_cases(port, process, args)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
    print(table(rows))
    settings = {key: str(value) for key, value in vars(args).items()} | {"limit_bytes": LIMIT}
    write_json(args.out, {"settings": settings, "cases": rows, "ok": all(r["ok"] for r in rows)})
    print(f"wrote {args.out}")
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
