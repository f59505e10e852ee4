"""``openlive cert DIR``: write a local development certificate (``cert.pem``, ``key.pem``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "cert",
        help="make a self-signed development certificate for localhost",
        description=(
            "Write DIR/cert.pem and DIR/key.pem: a self-signed certificate for localhost, 127.0.0.1 and ::1 "
            "that clients trust with SSL_CERT_FILE (Python) or NODE_EXTRA_CA_CERTS (Node). An existing "
            "valid pair is kept."
        ),
    )
    p.add_argument("dir", type=Path, help="directory for cert.pem and key.pem")
    p.add_argument("--force", action="store_true", help="replace an existing valid certificate")


def run(args: argparse.Namespace) -> int:
    from openlive.cli import UserError
    from openlive.server.devcert import ensure_dev_cert

    try:
        made = ensure_dev_cert(args.dir, force=args.force)
    except OSError as exc:
        raise UserError(f"cannot write the certificate into {args.dir}: {exc.strerror or exc}") from None
    verb = "wrote" if made.created else "kept the existing"
    print(f"{verb} {made.cert.resolve()} (valid until {made.not_after:%Y-%m-%d}) and {made.key.resolve()}")
    print(f"trust it with: SSL_CERT_FILE={made.cert.resolve()} (Python) or NODE_EXTRA_CA_CERTS=… (Node)")
    return 0
