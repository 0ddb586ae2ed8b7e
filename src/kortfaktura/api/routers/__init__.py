"""The API's areas; each module holds one ninja Router."""

from ninja import Router

from kortfaktura.api.routers import me

ROUTERS: list[tuple[str, Router]] = [
    ("/me", me.router),
]
