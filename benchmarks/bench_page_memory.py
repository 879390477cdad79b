"""Memory of the browser page's server as sessions open and close (issue 26, item 6).

Serves the page (`redoubt viz`, with SOLARA_KERNEL_CULL_TIMEOUT short, so that a session kept for reconnection
is not what holds the memory), opens one session in headless Chromium as a warm-up, then, `--rounds` times,
opens `--sessions` more at once, each stepping its model a few days, and closes them; the server's resident
memory is read (psutil) after the warm-up, with all sessions open, and after they closed and the cull time passed.

    .venv/bin/python benchmarks/bench_page_memory.py [--sessions 30] [--rounds 2] [--cull 5s]
    .venv/bin/python benchmarks/bench_page_memory.py --solara-only         # Solara's share, no model
    REDOUBT_BENCH_IMAGES=1 .venv/bin/python benchmarks/bench_page_memory.py --solara-only   # with images
Writes benchmarks/results/page_memory.json. Needs Debian's chromium and the viz and test extras.

Measured on 2026-11-28 (this 2-core machine, 30 sessions, cull 5 s; the memory of the server and its page
model process together). Now the models live in a process of their own (interfaces/page_worker.py), ended
with the last model, and the server runs with C's allocator (PYTHONMALLOC=malloc, set by `redoubt viz`):
391 MB after the warm-up, 993 MB with 30 open, 426 MB after they closed, and a second round of 30 ends at
426 MB (+0.2 MB): 36 MB kept. Those 36 MB are Solara's own high-water mark (its sessions' widgets and
connections, reused by later sessions), none of it the models': a Solara page with a text and a button and no
model keeps 18-24 MB of 30 sessions (`--solara-only`: 95-97 MB after the warm-up, 112-119 MB with 30 open
and after they closed, 113-121 MB after a second round), and ours has some forty widgets a session.

The steps that led here, 30 sessions each: with the models in the server (built, stepped and drawn on one
page thread; a closed session's kernel collected and the C heap trimmed) 388 / 792 / 521 / 525 MB, 133 MB
kept although gc found no model or figure left: Python's allocator keeps an arena while any object in it
lives. Before that (no collection, no trim), 460 / 786 / 786 MB, nothing given back. Tried and not kept: a fixed
mmap threshold (MALLOC_MMAP_THRESHOLD_=65536 or 16384: no change); C's allocator with the models still in the
server (44 MB kept); the models' process with Python's allocator in the server (48 MB kept).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
from playwright.sync_api import sync_playwright


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    proc = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=30)
    ap.add_argument("--cull", default="5s")
    ap.add_argument("--rounds", type=int, default=2, help="times the sessions are opened and closed")
    ap.add_argument("--solara-only", action="store_true",
                    help="serve minimal_page.py (Solara, no model) instead: what Solara keeps on its own")
    args = ap.parse_args()
    port = free_port()
    env = {**os.environ, "SOLARA_KERNEL_CULL_TIMEOUT": args.cull}
    command = ([sys.executable, "-m", "solara", "run", str(Path(__file__).with_name("minimal_page.py")), "--port",
                str(port), "--no-open", "--production"] if args.solara_only else
               [sys.executable, "-m", "redoubt", "viz", "--port", str(port)])
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    out = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking"])

            def session():
                page = browser.new_page()
                for _ in range(600):
                    try:
                        page.goto(f"http://127.0.0.1:{port}/", timeout=10_000)
                        break
                    except Exception:  # noqa: BLE001 - the server is starting
                        time.sleep(0.2)
                page.get_by_text("23 August 2021, day 0").first.wait_for(timeout=120_000)
                for day in range(1, 4):
                    page.get_by_role("button", name="Step").click()
                    page.get_by_text(f"day {day} (").first.wait_for(timeout=60_000)
                return page

            warm = session()
            warm.close()
            time.sleep(2 * float(args.cull.rstrip("s")) + 5)
            out["after_warm_up_mb"] = rss_mb(server.pid)
            for r in range(1, args.rounds + 1):
                pages = [session() for _ in range(args.sessions)]
                out[f"round_{r}_all_open_mb"] = rss_mb(server.pid)
                for page in pages:
                    page.close()
                time.sleep(2 * float(args.cull.rstrip("s")) + 10)  # the cull timeout, then the release
                out[f"round_{r}_after_closing_mb"] = rss_mb(server.pid)
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    out = {k: round(v, 1) for k, v in out.items()}
    last = out[f"round_{args.rounds}_after_closing_mb"]
    out.update(page=("minimal_page.py (Solara only" + (", two images a step)" if os.environ.get(
                   "REDOUBT_BENCH_IMAGES") == "1" else ")")) if args.solara_only else "redoubt viz",
               sessions=args.sessions, rounds=args.rounds, cull_timeout=args.cull,
               growth_after_closing_mb=round(last - out["after_warm_up_mb"], 1),
               growth_from_round_1_to_last_mb=round(last - out["round_1_after_closing_mb"], 1))
    print(json.dumps(out, indent=2))
    images = os.environ.get("REDOUBT_BENCH_IMAGES") == "1"
    name = ("page_memory_solara_images.json" if images else "page_memory_solara_only.json") if args.solara_only \
        else "page_memory.json"
    (Path(__file__).parent / "results" / name).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
