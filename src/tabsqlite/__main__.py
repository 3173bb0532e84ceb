"""``python -m tabsqlite serve``: serve the demo site (or another) with the browser runtime."""

from __future__ import annotations

import argparse
import os

from .devserver import serve


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m tabsqlite")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve a site with a Pyodide and the wheels")
    s.add_argument("--site", default="example_site", help="the folder served at /")
    s.add_argument("--wheels", default="dist",
                   help="the tabsqlite and micropip wheels, served at /wheels/")
    s.add_argument("--pyodide", default=None,
                   help="a Pyodide folder, served at /pyodide/ (default: js_glue's)")
    s.add_argument("--glue", default=None,
                   help="js_glue, served at /js_glue/ (for startTab pages; default: "
                        "./js_glue if there is one)")
    s.add_argument("--isolated", action="store_true",
                   help="send COOP/COEP (only sqlite-wasm's opfs fallback needs them)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    if args.command == "serve":
        glue = args.glue
        if glue is None and os.path.isdir(os.path.join("js_glue", "node_modules")):
            glue = "js_glue"
        serve(args.site, args.wheels, args.host, args.port, pyodide=args.pyodide, glue=glue,
              isolated=args.isolated)


if __name__ == "__main__":
    main()
