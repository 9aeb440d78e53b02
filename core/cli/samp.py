"""``astrom3 samp send WS --flags | --selection IDS``: objects to TOPCAT, Aladin or DS9 over SAMP."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("samp", help="send objects or flags to TOPCAT/Aladin over SAMP",
                       description="SAMP (Simple Application Messaging Protocol) moves tables between VO tools. "
                                   "A hub must be running: TOPCAT and Aladin start one, or run astropy's samp_hub.")
    ssub = p.add_subparsers(dest="samp_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])

    q = ssub.add_parser("send", help="send objects as a VOTable (table.load.votable), waiting for the replies",
                        description="Sends id, name, ra/dec (with --sky), label, suggested label, the headline scores "
                                    "and the current flags of each object to every SAMP client listening for "
                                    "tables (or --to one of them).")
    q.add_argument("workspace", help="workspace directory (results.parquet, flags.sqlite)")
    what = q.add_mutually_exclusive_group(required=True)
    what.add_argument("--flags", action="store_true", help="every currently flagged object")
    what.add_argument("--selection", metavar="IDS", help="an id list file (csv, ecsv, xml/vot, fits) or "
                                                         "comma-separated ids")
    q.add_argument("--sky", default=None, help="sky directory: adds name, ra and dec (needed by Aladin)")
    q.add_argument("--kind", default=None, help="with --flags: only this kind")
    q.add_argument("--user", default=None, help="with --flags: only this user's flags")
    q.add_argument("--point-at", default=None, metavar="ID", help="also point sky viewers at this object")
    q.add_argument("--to", default=None, metavar="NAME", help="only the client of this SAMP name (e.g. topcat)")
    q.add_argument("--hub-url", default=None, help="the hub's lockfile (path, file:// or std-lockurl: URL); "
                                                   "default $SAMP_HUB, else ~/.samp")
    q.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the hub and each reply")
    q.set_defaults(func=run_send)


def _selection(arg: str, known) -> list[str]:
    """Ids from a file (when ``arg`` names one) or a comma-separated list."""
    import os
    from pathlib import Path

    from core.idlist import TABLE_FORMATS, read_id_list

    p = Path(arg).expanduser()
    looks_like_file = p.exists() or os.sep in arg or any(arg.lower().endswith(s) for s in TABLE_FORMATS)
    if looks_like_file:
        return read_id_list(p, known_ids=known)
    return [s.strip() for s in arg.split(",") if s.strip()]


def _recipient(link, name: str | None) -> str | None:
    from core.samp import SampError

    if name is None:
        return None
    clients = link.listeners()
    match = [cid for cid, n in clients.items() if n.lower() == name.lower() or cid == name]
    if not match:
        raise SampError(f"no SAMP client named {name!r} listens for tables; connected: "
                        f"{', '.join(clients.values()) or 'none'}")
    return match[0]


def run_send(args) -> int:
    from core.samp import SampError, SampLink, workspace_ids

    sky = None
    if args.sky:
        from core.sky import open_sky
        sky = open_sky(args.sky)
    if (args.kind or args.user) and not args.flags:
        raise SampError("--kind and --user choose flags; use them with --flags")
    ids = None
    if args.selection is not None:
        ids = _selection(args.selection, workspace_ids(args.workspace))
    with SampLink(args.workspace, sky=sky, hub=args.hub_url, timeout=args.timeout) as link:
        to = _recipient(link, args.to)
        if args.flags:
            filters = {k: v for k, v in (("kind", args.kind), ("user", args.user)) if v}
            tid = link.send_flags(recipient=to, **filters)
        else:
            tid = link.send_table(ids, recipient=to)
        n = len(link.sent_ids(tid))
        names = link.listeners()
        told = [f"{names.get(cid, cid)} ({status})" for cid, status in link.last_replies.items()]
        if args.point_at:
            link.point_at(args.point_at, wait=True)
    print(f"sent {n} objects to {', '.join(told)}" + (f"; pointed at {args.point_at}" if args.point_at else ""))
    return 0
