"""``kortfaktura serve [--host H] [--port N] [--no-worker]``: the web application and the API
under gunicorn, and one worker of the task engine beside it (``kortfaktura worker``), so that
what the pages start gets done; ``--no-worker`` where workers run on their own."""

import argparse
import os
import subprocess
import sys
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections

from kortfaktura.cli.output import console, fail
from kortfaktura.cli.parsing import Subparsers

DEFAULT_PORT = 8000


def _workers() -> int:
    configured = os.environ.get("KORTFAKTURA_WEB_WORKERS", "").strip()
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return max(2, min(4, os.cpu_count() or 1))


def _threads() -> int:
    configured = os.environ.get("KORTFAKTURA_WEB_THREADS", "").strip()
    return int(configured) if configured.isdigit() and int(configured) > 0 else 8


def _address(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def serve(args: argparse.Namespace) -> int:
    from gunicorn.app.base import BaseApplication

    from kortfaktura.cli.setup import DataDirectoryError, describe_database, initialize_database
    from kortfaktura.wsgi import application

    if not 0 < args.port < 65536:
        fail(f"portnumret {args.port} finns inte – välj 1–65535, t.ex. --port {DEFAULT_PORT}")
        return 2
    try:
        initialize_database()
        from django.contrib.auth import get_user_model

        users = get_user_model().objects.filter(is_active=True).count()
    except DatabaseError as error:
        from kortfaktura import db_errors

        fail(f"databasen ({describe_database()}) går inte att använda: {db_errors.describe(error)}")
        return 1
    except DataDirectoryError as error:
        fail(str(error))
        return 1
    if args.host not in ("0.0.0.0", "::") and args.host not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS.append(args.host)
    connections.close_all()  # the workers open their own connections after the fork

    options: dict[str, Any] = {
        "bind": f"[{args.host}]:{args.port}" if ":" in args.host else f"{args.host}:{args.port}",
        "workers": _workers(),
        "worker_class": "gthread",
        "threads": _threads(),
        "timeout": 300,
        "graceful_timeout": 30,
        "accesslog": os.environ.get("KORTFAKTURA_ACCESS_LOG") or None,
        "errorlog": "-",
        "loglevel": "warning",
        "preload_app": True,
        "proc_name": "kortfaktura",
    }

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                if value is not None:
                    self.cfg.set(key, value)

        def load(self) -> Any:
            return application

    console.print(
        f"Kortfaktura körs på [bold]{_address(args.host, args.port)}[/] – öppna adressen i en "
        f"webbläsare. Databas: {describe_database()}. Avsluta med Ctrl+C."
    )
    if args.worker:
        console.print(
            "En arbetare kör bakgrundsuppgifterna och schemat bredvid webbservern "
            "(--no-worker om arbetarna körs för sig: kortfaktura worker)."
        )
    else:
        console.print(
            "[yellow]Ingen arbetare startas (--no-worker):[/] importer, utfärdanden och "
            "schemat väntar tills kortfaktura worker körs."
        )
    if not users:
        console.print(
            "[yellow]Det finns ingen användare ännu.[/] Skapa en: "
            "kortfaktura user add NAMN --role admin (eller kör kortfaktura demo)."
        )
    worker = (
        subprocess.Popen([sys.executable, "-m", "kortfaktura.cli.main", "worker"])
        if args.worker
        else None
    )
    try:
        Server().run()
    finally:
        if worker is not None and worker.poll() is None:
            worker.terminate()  # it finishes the task it is running first
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                worker.kill()  # its task is taken up again by the next worker
    return 0


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="starta webbgränssnittet och API:et",
        description="Startar webbgränssnittet och REST-API:et (gunicorn) och en arbetare "
        "(kortfaktura worker) för bakgrundsuppgifterna och schemat. Skapar eller "
        "uppgraderar databasen först. KORTFAKTURA_WEB_WORKERS och KORTFAKTURA_WEB_THREADS "
        "styr antalet processer och trådar. Exempel: kortfaktura serve --host 0.0.0.0 "
        "--port 8080; kortfaktura serve --no-worker när arbetarna körs som egna tjänster.",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="adressen att lyssna på, t.ex. 0.0.0.0 för alla nätverk (standard 127.0.0.1)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"porten, t.ex. 8080 (standard {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--no-worker",
        dest="worker",
        action="store_false",
        help="starta ingen arbetare; kör kortfaktura worker för sig (en eller flera tjänster)",
    )
    parser.set_defaults(handler=serve)
