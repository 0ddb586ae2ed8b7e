"""Benchmark: the web application on 1,000,000 orders, against ``kortfaktura serve``.

    .venv/bin/python bench/web.py [--orders 1000000] [--backend sqlite|postgresql|both]
                                  [--clients 20] [--seconds 60] [--keep DIR]

For each backend a child process builds the database of bench/review.py (1,000,000 orders over
24 months, 600 billing accounts, one run issued with 14,400 validated documents, the last month
in a draft run) and adds a user per role; then ``kortfaktura serve`` is started on it (the
production server, as a user runs it) and measured over HTTP:
- single: one client, each page type 30 times in turn → p50/p95 per page type (the latency a user
  sees on a quiet server);
- load: ``--clients`` clients (each logged in with its own session, half staff and half Kund) for
  ``--seconds`` seconds, each requesting a random list or invoice page and then reading it for a
  think time of 0–2 s (a person, not a script) → p95 per page type, requests, errors;
- saturation: the same clients without think time for 20 s → requests per second, p95, errors.
Targets (issue 12): p95 ≤ 300 ms for list pages and ≤ 200 ms for an invoice page, 20
concurrent clients for 60 s with no errors.

``--keep DIR`` keeps (and reuses) the built database in DIR; building it takes several minutes.
"""

import argparse
import http.client
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

from common import (
    BENCH_DATABASE,
    POSTGRES_URL,
    free_port,
    recreate_postgres_database,
    run_child,
    setup_django,
)

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Bench-lösenord-2026"
LIST_PAGES = {
    "översikt": "/",
    "fakturor": "/fakturor/",
    "fakturor, kund": "/fakturor/?customer={orgnr}",
    "beställningar": "/bestallningar/",
    "beställningar, månad": "/bestallningar/?manad=2025-06",
    "beställningar, kund": "/bestallningar/?kund={orgnr}",
    "beställningar, sök id": "/bestallningar/?id={order_id}",
    "kunder": "/kunder/",
    "körningar": "/korningar/",
    "ändringar": "/andringar/",
    "leveranser": "/leveranser/",
    "granskningslogg": "/granskningslogg/",
    "import": "/import/",
    "priser": "/priser/",
    "genomlysning": "/genomlysning/",
}
CUSTOMER_PAGES = {
    "kund: fakturor": "/fakturor/",
    "kund: beställningar": "/bestallningar/",
    "kund: översikt": "/",
}
INVOICE_PAGE = "faktura"


def prepare(backend: str, orders: int, accounts: int, data_dir: Path) -> dict[str, Any]:
    from review import prepare as prepare_review

    result = prepare_review(backend, orders, accounts, data_dir)
    from kortfaktura.access.services import add_user
    from kortfaktura.billing.models import Invoice
    from kortfaktura.orders.models import Order

    add_user("bench-admin", "admin", PASSWORD)
    customer_invoice = Invoice.objects.filter(status="issued").order_by("number").first()
    assert customer_invoice is not None
    add_user("bench-kund", "kund", PASSWORD, customer_invoice.customer.orgnr)
    numbers = list(Invoice.objects.filter(status="issued").values_list("number", flat=True)[::97])
    own_numbers = list(
        Invoice.objects.filter(status="issued", customer=customer_invoice.customer).values_list(
            "number", flat=True
        )
    )
    sample = (
        Order.objects.order_by("?").values_list("order_id", flat=True).first()
        if (backend == "postgresql")
        else Order.objects.filter(pk=orders // 2).values_list("order_id", flat=True).first()
    )
    facts = {
        "numbers": numbers,
        "own_numbers": own_numbers,
        "orgnr": customer_invoice.customer.orgnr,
        "order_id": sample,
    }
    (data_dir / "bench-facts.json").write_text(json.dumps(facts))
    return result


class Client:
    """One browser: its own keep-alive connection and session cookie."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def _cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, bytes]:
        headers = {"Cookie": self._cookie_header(), "Host": f"127.0.0.1:{self.port}"}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://127.0.0.1:{self.port}/logga-in/"
        for attempt in range(2):
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                content = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                if attempt:
                    raise
                self.connection.close()
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return response.status, content

    def login(self, username: str) -> None:
        status, page = self.request("GET", "/logga-in/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert status == 200 and token, "the login page has no CSRF token"
        body = urllib.parse.urlencode(
            {
                "csrfmiddlewaretoken": token.group(1).decode(),
                "username": username,
                "password": PASSWORD,
            }
        )
        status, _ = self.request("POST", "/logga-in/", body)
        assert status == 302, f"login as {username} answered {status}"


def _pages(facts: dict[str, Any], customer: bool) -> list[tuple[str, str]]:
    if customer:
        pages = [(name, path) for name, path in CUSTOMER_PAGES.items()]
        pages += [(INVOICE_PAGE, f"/fakturor/{n}/") for n in facts["own_numbers"][:20]]
        return pages
    pages = [(name, path.format(**facts)) for name, path in LIST_PAGES.items()]
    pages += [(INVOICE_PAGE, f"/fakturor/{n}/") for n in facts["numbers"][:40]]
    return pages


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def single(port: int, facts: dict[str, Any]) -> dict[str, dict[str, float]]:
    timings: dict[str, list[float]] = {}
    for customer in (False, True):
        client = Client(port)
        client.login("bench-kund" if customer else "bench-admin")
        pages = _pages(facts, customer)
        kinds: dict[str, list[str]] = {}
        for name, path in pages:
            kinds.setdefault(
                ("kund: " if customer and name == INVOICE_PAGE else "") + name, []
            ).append(path)
        for name, paths in kinds.items():
            client.request("GET", paths[0])  # warm
            for index in range(30):
                began = time.perf_counter()
                status, _ = client.request("GET", paths[index % len(paths)])
                timings.setdefault(name, []).append(time.perf_counter() - began)
                if status != 200:
                    raise SystemExit(f"{paths[index % len(paths)]} answered {status}")
    return {
        name: {"p50_ms": statistics.median(v) * 1000, "p95_ms": _percentile(v, 0.95) * 1000}
        for name, v in timings.items()
    }


def load(
    port: int, facts: dict[str, Any], clients: int, seconds: float, think: float
) -> dict[str, Any]:
    timings: dict[str, list[float]] = {}
    errors: list[str] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def one(index: int) -> None:
        customer = index % 2 == 1
        generator = random.Random(index)
        try:
            client = Client(port)
            client.login("bench-kund" if customer else "bench-admin")
        except Exception as error:  # counted, not raised: the figure is how many failed
            with lock:
                errors.append(f"login: {error}")
            return
        pages = _pages(facts, customer)
        while time.monotonic() < stop:
            name, path = generator.choice(pages)
            began = time.perf_counter()
            try:
                status, _ = client.request("GET", path)
            except Exception as error:
                with lock:
                    errors.append(f"{path}: {type(error).__name__}")
                continue
            elapsed = time.perf_counter() - began
            with lock:
                if status != 200:
                    errors.append(f"{path}: HTTP {status}")
                kind = "faktura" if name in (INVOICE_PAGE,) else "lista"
                timings.setdefault(kind, []).append(elapsed)
            if think:
                time.sleep(generator.uniform(0, think))

    threads = [threading.Thread(target=one, args=(index,)) for index in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.monotonic() - began
    requests = sum(len(v) for v in timings.values())
    return {
        "requests": requests,
        "per_s": requests / took,
        "errors": len(errors),
        "error_examples": errors[:5],
        **{f"{kind}_p95_ms": _percentile(v, 0.95) * 1000 for kind, v in timings.items()},
        **{f"{kind}_p50_ms": statistics.median(v) * 1000 for kind, v in timings.items() if v},
    }


def measure(backend: str, data_dir: Path, clients: int, seconds: float) -> dict[str, Any]:
    facts = json.loads((data_dir / "bench-facts.json").read_text())
    environment = dict(os.environ, KORTFAKTURA_DATA_DIR=str(data_dir))
    if backend == "postgresql":
        environment["DATABASE_URL"] = f"{POSTGRES_URL}/{BENCH_DATABASE}"
    else:
        environment.pop("DATABASE_URL", None)
    port = free_port()
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/kortfaktura"), "serve", "--port", str(port)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for _ in range(120):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.5)
        # The first staff overview starts the review in the background (seconds on a million
        # orders); let it finish before measuring, as it would have on a server in use.
        warm = Client(port)
        warm.login("bench-admin")
        warm.request("GET", "/")
        for _ in range(120):
            _, page = warm.request("GET", "/genomlysning/")
            if b"<progress" not in page:
                break
            time.sleep(1)
        result: dict[str, Any] = {"backend": backend}
        result["single"] = single(port, facts)
        result["load"] = load(port, facts, clients, seconds, think=2.0)
        result["saturation"] = load(port, facts, clients, 20, think=0.0)
        return result
    finally:
        server.terminate()
        try:
            server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def report(results: list[dict[str, Any]], clients: int, seconds: float) -> None:
    for result in results:
        backend = result["backend"]
        print(f"\n== {backend}: one client, 30 requests per page type ==")
        print(f"{'sida':28} {'p50 ms':>8} {'p95 ms':>8}  mål")
        for name, figures in result["single"].items():
            target = 200 if name.split(": ")[-1] == "faktura" else 300
            mark = "ok" if figures["p95_ms"] <= target else "MISSAT"
            print(f"{name:28} {figures['p50_ms']:8.1f} {figures['p95_ms']:8.1f}  ≤ {target} {mark}")
        for label, key in (
            (f"{clients} klienter i {seconds:.0f} s med betänketid 0–2 s", "load"),
            (f"{clients} klienter i 20 s utan betänketid (mättnad)", "saturation"),
        ):
            figures = result[key]
            print(f"\n== {backend}: {label} ==")
            print(
                f"förfrågningar {figures['requests']} ({figures['per_s']:.1f}/s), "
                f"fel {figures['errors']} {figures['error_examples'] or ''}"
            )
            for kind, target in (("lista", 300), ("faktura", 200)):
                if f"{kind}_p95_ms" in figures:
                    p95 = figures[f"{kind}_p95_ms"]
                    ratio = p95 / target
                    print(
                        f"  {kind:8} p50 {figures[f'{kind}_p50_ms']:7.1f} ms  p95 {p95:7.1f} ms"
                        f"  (mål ≤ {target} ms, {ratio:.2f}× målet)"
                    )
    print("\n" + json.dumps(results, ensure_ascii=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=600)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--keep", help="keep and reuse the built database in this directory")
    parser.add_argument("--prepare-only", action="store_true", help="build the database only")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        data_dir = Path(args.data_dir)
        if args.phase == "prepare":
            print(json.dumps(prepare(args.worker, args.orders, args.accounts, data_dir)))
        else:
            setup_django(args.worker, data_dir)
            print(json.dumps(measure(args.worker, data_dir, args.clients, args.seconds)))
        return
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = []
    with tempfile.TemporaryDirectory(prefix="kortfaktura-bench-web-") as temp:
        base = Path(args.keep) if args.keep else Path(temp)
        for backend in backends:
            data_dir = base / backend
            data = ["--data-dir", str(data_dir)]
            built = (data_dir / "bench-facts.json").exists()
            if not built:
                data_dir.mkdir(parents=True, exist_ok=True)
                if backend == "postgresql":
                    recreate_postgres_database()
                sizes = ["--orders", str(args.orders), "--accounts", str(args.accounts)]
                began = time.perf_counter()
                run_child(__file__, backend, [*sizes, *data, "--phase", "prepare"])
                print(
                    f"{backend}: databasen byggd på {time.perf_counter() - began:.0f} s",
                    file=sys.stderr,
                )
            if args.prepare_only:
                continue
            load_arguments = ["--clients", str(args.clients), "--seconds", str(args.seconds)]
            results.append(
                run_child(__file__, backend, [*data, *load_arguments, "--phase", "measure"])
            )
    if results:
        report(results, args.clients, args.seconds)


if __name__ == "__main__":
    main()
