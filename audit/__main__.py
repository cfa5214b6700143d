"""CLI: `python -m audit {verify,export,checkpoint,rotate-key}`.

Exit status: 0 on success, 1 when verification fails, 2 when the store
cannot be opened.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from audit.archive import export_archive, verify_archive
from audit.chain import KeyRing, default_paths, rotate_key
from audit.store import AuditError, AuditStore


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m audit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def with_store(p: argparse.ArgumentParser) -> None:
        p.add_argument("--url", help="audit database URL (default: settings.audit_url)")
        p.add_argument("--checkpoint-dir", type=Path,
                       help="checkpoint folder (default: AUDIT_CHECKPOINT_DIR or var/)")

    verify = sub.add_parser("verify", help="walk the chains and check the checkpoints")
    with_store(verify)
    verify.add_argument("--archive", type=Path, help="verify an export file instead of a DB")
    export = sub.add_parser("export", help="write a verifiable JSON-lines retention archive")
    with_store(export)
    export.add_argument("--out", type=Path, required=True)
    export.add_argument("--sub", default=None, help="who exports (default: OS user)")
    checkpoint = sub.add_parser("checkpoint", help="sign and write the current heads now")
    with_store(checkpoint)
    sub.add_parser("rotate-key", help="add a new audit HMAC key; old keys keep verifying")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "rotate-key":
        print(f"new audit key id: {rotate_key(default_paths().audit_key_file)}")
        return 0
    if args.command == "verify" and args.archive:
        report = verify_archive(args.archive, KeyRing.load(default_paths().audit_key_file))
        print(report)
        return 0 if report.ok else 1
    try:
        store = AuditStore(args.url, checkpoint_dir=args.checkpoint_dir,
                           read_only=args.command == "verify")
    except AuditError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with store:
        if args.command == "verify":
            report = store.verify()
            print(report)
            return 0 if report.ok else 1
        if args.command == "export":
            n = export_archive(store, args.out, sub=args.sub or f"cli:{getpass.getuser()}",
                               role="auditor")
            print(f"exported {n} rows to {args.out}")
            return 0
        for cp in store.checkpoint():
            print(f"checkpoint {cp.chain}: seq {cp.seq} head {cp.head}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
