"""``python -m tabsqlite serve``: serve the demo site (or another) with the browser runtime."""

from __future__ import annotations

import argparse

from .devserver import serve


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m tabsqlite")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve a site with js_glue and the wheels (COOP/COEP)")
    s.add_argument("--site", default="example_site")
    s.add_argument("--glue", default="js_glue")
    s.add_argument("--wheels", default="dist")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.site, args.glue, args.wheels, args.host, args.port)


if __name__ == "__main__":
    main()
