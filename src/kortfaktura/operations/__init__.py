"""Running Kortfaktura in production (issue 18): its health (``health``, behind ``kortfaktura
check`` and ``GET /healthz``) and consistent copies of its SQLite database (``backup``).

It sits above the domain apps (it reads the rules, the delivery settings and writes the audit
trail) and below the command line and the web application, which only present it.
"""
