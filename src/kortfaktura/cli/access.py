"""``kortfaktura user add`` and ``kortfaktura token create`` (INTERFACES.md)."""

import argparse
import getpass
import sys

from kortfaktura.access.roles import ROLES
from kortfaktura.access.services import AccessError, add_user, create_token
from kortfaktura.cli.output import console, fail, print_json
from kortfaktura.cli.parsing import Subparsers


def _password() -> str | None:
    """One line from standard input when it is not a terminal, else asked twice."""
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    first = getpass.getpass("Lösenord: ")
    second = getpass.getpass("Samma lösenord igen: ")
    if first != second:
        fail("lösenorden var inte lika – ingen användare har skapats eller ändrats")
        return None
    return first


def user_add(args: argparse.Namespace) -> int:
    password = _password()
    if password is None:
        return 1
    try:
        result = add_user(args.username, args.role, password, args.orgnr, args.email)
    except AccessError as error:
        if args.json:
            print_json({"error": str(error)})
        fail(str(error))
        return 1
    role = ROLES[args.role]
    if args.json:
        print_json(
            {
                "username": args.username,
                "role": args.role,
                "created": result.created,
                "orgnr": args.orgnr,
                "email": result.user.email or None,  # type: ignore[attr-defined]
            }
        )
        return 0
    verb = "skapad" if result.created else "ändrad"
    console.print(f"Användaren [bold]{args.username}[/] är {verb} med rollen {role.name}.")
    return 0


def token_create(args: argparse.Namespace) -> int:
    try:
        token = create_token(args.username)
    except AccessError as error:
        if args.json:
            print_json({"error": str(error)})
        fail(str(error))
        return 1
    if args.json:
        print_json({"username": args.username, "token": token})
        return 0
    # The token alone on stdout, so that TOKEN=$(kortfaktura token create NAMN) works.
    print(token, flush=True)
    print(
        "Nyckeln visas bara nu – spara den. Skicka den som 'Authorization: Bearer NYCKEL'.",
        file=sys.stderr,
    )
    return 0


def add_parsers(subparsers: Subparsers) -> None:
    user = subparsers.add_parser("user", help="användare av webbgränssnittet och API:et")
    actions = user.add_subparsers(dest="action", metavar="ÅTGÄRD")
    actions.required = True
    add = actions.add_parser(
        "add",
        help="skapa en användare (eller ge en befintlig ny roll och nytt lösenord)",
        description="Lösenordet läses från standard in (en rad) när det inte är en terminal, "
        "annars frågas det efter två gånger.",
    )
    add.add_argument("username", metavar="ANVÄNDARNAMN", help="inloggningsnamnet, t.ex. anna")
    add.add_argument(
        "--role",
        required=True,
        choices=list(ROLES),
        help="rollen: "
        + "; ".join(f"{key} = {role.name} ({role.description})" for key, role in ROLES.items()),
    )
    add.add_argument(
        "--orgnr", help="organisationen som rollen kund ser, t.ex. 212000-1355 (bara för kund)"
    )
    add.add_argument(
        "--email",
        metavar="ADRESS",
        help="e-postadressen som månadscykelns aviseringar går till, t.ex. "
        "anna.andersson@vgregion.se (tom sträng tar bort den)",
    )
    add.add_argument("--json", action="store_true", help="svar som JSON")
    add.set_defaults(handler=user_add, needs_database=True)
    token = subparsers.add_parser("token", help="API-nycklar")
    token_actions = token.add_subparsers(dest="action", metavar="ÅTGÄRD")
    token_actions.required = True
    create = token_actions.add_parser("create", help="en ny API-nyckel, visas en gång")
    create.add_argument(
        "username", metavar="ANVÄNDARNAMN", help="användaren som nyckeln gäller, t.ex. anna"
    )
    create.add_argument("--json", action="store_true", help="svar som JSON")
    create.set_defaults(handler=token_create, needs_database=True)
