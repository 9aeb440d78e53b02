"""``astrom3 similar WS ID``: the nearest objects, within a modality or across modalities."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("similar", help="the k most similar objects to one object",
                       description="Exact cosine search in the workspace's similarity index. "
                                   "--modality picks the query vector, --target the space searched: "
                                   "e.g. --modality spectra --target photometry finds the light curves "
                                   "closest to an object's spectrum.")
    p.add_argument("workspace", help="workspace directory (after `astrom3 analyze`)")
    p.add_argument("id", help="object id")
    p.add_argument("-k", type=int, default=10, help="number of neighbours (default 10)")
    p.add_argument("--modality", default="fused", help="fused (default), photometry, spectra or metadata")
    p.add_argument("--target", default=None, help="space to search (default: same as --modality)")
    p.set_defaults(func=run)


def run(args) -> int:
    from core.analysis import similar

    df = similar(args.workspace, args.id, k=args.k, modality=args.modality, target=args.target)
    print(df.to_string(index=False))
    return 0
