"""CLI: `python -m audit {verify,export,checkpoint,init,migrate,rotate-key,restore-ack}`.

Exit status: 0 on success, 1 when verification fails, 2 when the store
cannot be opened or an operator action is refused.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from audit.archive import export_archive, verify_archive
from audit.chain import MissingKeyError, require_key_file
from audit.database import AuditError
from audit.installation import (
    acknowledge_restore,
    init_if_fresh,
    init_installation,
    migrate_store,
    rotate_audit_key,
)
from audit.paths import default_paths
from audit.signing import VerifyKeys
from audit.store import AuditStore


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m audit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def with_store(p: argparse.ArgumentParser) -> None:
        p.add_argument("--url", help="audit database URL (default: settings.audit_url)")
        p.add_argument("--checkpoint-dir", type=Path,
                       help="checkpoint location (default: AUDIT_CHECKPOINT_DIR or var/)")

    verify = sub.add_parser("verify", help="walk the chains and check the checkpoint chain")
    with_store(verify)
    verify.add_argument("--archive", type=Path, help="verify an export file instead of a DB")
    export = sub.add_parser("export", help="write a verifiable JSON-lines retention archive")
    with_store(export)
    export.add_argument("--out", type=Path, required=True)
    export.add_argument("--sub", default=None, help="who exports (default: OS user)")
    with_store(sub.add_parser("checkpoint", help="sign the current heads now (if they moved)"))
    init = sub.add_parser("init", help="a new installation: keys, schema, genesis record")
    init.add_argument("--if-fresh", action="store_true",
                      help="only where no database, key or checkpoint exists; else do nothing")
    sub.add_parser("migrate", help="apply schema migrations as the owner; grant the service role")
    sub.add_parser("rotate-key", help="new audit HMAC key; retire the old one in the "
                                      "checkpoint chain")
    restore = sub.add_parser("restore-ack", help="acknowledge a restore from backup "
                                                 "(signed record of the restored heads)")
    restore.add_argument("--reason", required=True, help="why (ticket, incident)")
    return parser


def _owner_url() -> tuple[str, str]:
    from config import get_settings

    settings = get_settings()
    return settings.audit_owner_url, settings.audit_service_role


def _operator(args: argparse.Namespace) -> int:
    url, role = _owner_url()
    who = f"cli:{getpass.getuser()}"
    if args.command == "init":
        if args.if_fresh:
            made = init_if_fresh(url, service_role=role)
            print("new audit installation made" if made else "audit installation present")
        else:
            print(f"new audit installation: store {init_installation(url, service_role=role)}")
    elif args.command == "migrate":
        print(f"audit store {migrate_store(url, service_role=role)} migrated")
    elif args.command == "rotate-key":
        old, new = rotate_audit_key(url, by=who)
        print(f"audit key {old} retired; new current key {new}")
    else:
        record = acknowledge_restore(url, by=who, reason=args.reason)
        print(f"restore acknowledged in checkpoint record {record.n}: heads "
              + ", ".join(f"{c} {s}" for c, (s, _h) in record.heads.items()))
    return 0


def _verify_archive(path: Path) -> int:
    paths = default_paths()
    report = verify_archive(path, require_key_file(paths.audit_key_file, "audit key file"),
                            VerifyKeys.load(paths.verify_key_file))
    print(report)
    return 0 if report.ok else 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command in ("init", "migrate", "rotate-key", "restore-ack"):
            return _operator(args)
        if args.command == "verify" and args.archive:
            return _verify_archive(args.archive)
        store = AuditStore(args.url, checkpoint_dir=args.checkpoint_dir,
                           read_only=args.command == "verify", background_checkpoints=False)
    except (AuditError, MissingKeyError) as exc:
        if args.command == "verify":
            print(f"audit store: FAILED\n  PROBLEM: {exc}")
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
        record = store.checkpoint()
        print(f"checkpoint record {record.n}" if record else "heads unchanged: no checkpoint")
        return 0


if __name__ == "__main__":
    sys.exit(main())
