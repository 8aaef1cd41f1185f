"""Database administration for shared deployments: ``python -m geo.db COMMAND [--url URL]``.

* ``init``: create the schema, tables and GIST indexes (idempotent; PostGIS must be installable).
* ``load``: copy boundaries, plan tables and registries from the bundled files (or ``--data
  DIR`` in the same layout) into the database; registries become a new version of each layer
  (none when nothing changed). ``--only`` limits it to some parts.
* ``export``: write everything back as files in the bundled layout under ``-o DIR``.
* ``status``: the current version of each layer and the row counts.
* ``history LAYER``: every saved version of one layer.

The URL comes from ``--url`` or ``XINING_DATABASE_URL``; the schema from ``--schema`` or
``XINING_DATABASE_SCHEMA`` (default ``xining``). Exit codes: 0 success, 2 unusable input or no
database.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from geo._errors import InputError
from geo.backends import DATABASE_URL_ENV, database_url
from layers.schema import LAYERS

PARTS = ("boundaries", "plan", "registries")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m geo.db", description=__doc__.split("\n")[0])
    parser.add_argument("--url", help=f"PostgreSQL URL (default: ${DATABASE_URL_ENV})")
    parser.add_argument("--schema", help="schema name (default: xining)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("init", help="create the schema, tables and indexes")
    load = sub.add_parser("load", help="load the bundled (or --data) files into the database")
    load.add_argument("--data", type=Path, help="a directory with boundaries/, sites/, plan/")
    load.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS))
    export = sub.add_parser("export", help="write the database content as files")
    export.add_argument("-o", "--output", type=Path, required=True)
    sub.add_parser("status", help="layer versions and row counts")
    history = sub.add_parser("history", help="saved versions of one layer")
    history.add_argument("layer", choices=list(LAYERS))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    url = args.url or database_url()
    if not url:
        print(f"error: no database: pass --url or set {DATABASE_URL_ENV}", file=sys.stderr)
        return 2
    from geo.backends.files import FileBackend
    from geo.backends.postgis import PostGISBackend

    try:
        db = PostGISBackend(url, schema=args.schema)
        if args.command == "init":
            db.init()
            print(f"initialised schema {db.schema}", file=sys.stderr)
        elif args.command == "load":
            db.init()
            files = FileBackend()
            if args.data:
                data = args.data
                files = FileBackend(data / "boundaries", data / "sites", data / "plan")
            summary = db.load_from(files, parts=args.only)
            for key, value in summary.items():
                print(f"{key}\t{value}")
        elif args.command == "export":
            written = db.export(args.output)
            print(f"wrote {len(written)} files under {args.output}", file=sys.stderr)
        elif args.command == "status":
            for layer in LAYERS:
                load = db.load_registry(layer)
                print(f"{layer}\tversion {load.version}\t{len(load.sites)} rows")
        elif args.command == "history":
            print(db.history(args.layer).to_string(index=False))
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
