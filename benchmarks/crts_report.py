"""The whole pipeline on real data: the CRTS SSS periodic variables (light curves + catalogue, no spectra).

Usage (after ``astrom3 run ../shared/data/crts-sss --workspace WS --preset cpu``)::

    python benchmarks/crts_report.py --sky ../shared/data/crts-sss --workspace WS

Writes ``benchmarks/results/crts.md`` / ``.json`` and folded light curves of the top suspects as
PNGs under ``benchmarks/results/crts/``: the out-of-fold classification from the embeddings, how
well the HDBSCAN clusters follow the labels, and the top-ranked label-error and outlier suspects.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd


def md_table(df: pd.DataFrame) -> str:
    """A Markdown table without the optional ``tabulate`` dependency."""
    def fmt(v):
        return f"{v:.3f}" if isinstance(v, (float, np.floating)) else str(v)
    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def plot_folded(sky, row, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lc = sky.lightcurve(row["id"])
    period = float(row["period"]) if np.isfinite(row.get("period", np.nan)) else None
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    axes[0].errorbar(lc.time, lc.value, lc.error, fmt=".", ms=2, lw=0.5, color="k")
    axes[0].invert_yaxis()
    axes[0].set_xlabel("MJD")
    axes[0].set_ylabel("V (mag)")
    if period:
        phase = ((lc.time - lc.time[np.argmin(lc.value)]) / period) % 1
        for off in (0, 1):
            axes[1].plot(phase + off, lc.value, ".", ms=2, color="k")
        lo, hi = np.percentile(lc.value, [1, 99])
        pad = 0.15 * (hi - lo)
        for ax in axes:
            ax.set_ylim(hi + pad, lo - pad)
        axes[1].set_xlabel(f"phase (P = {period:.5f} d)")
    fig.suptitle(f"CRTS {row['id']}: label {row['label']}, suggested {row['suggested_label']} "
                 f"(p={row['suggested_label_prob']:.2f}); mislabel {row['mislabel_score']:.3f}, "
                 f"outlier {row['outlier_score']:.3f}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sky", required=True)
    ap.add_argument("--workspace", required=True)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "crts"))
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--plots", type=int, default=6)
    ap.add_argument("--note", default="")
    args = ap.parse_args(argv)
    from sklearn.metrics import adjusted_rand_score, balanced_accuracy_score, normalized_mutual_info_score

    from core.sky import open_sky

    sky = open_sky(args.sky)
    res = pd.read_parquet(Path(args.workspace) / "results.parquet")
    obj = sky.objects.set_index("id")
    res = res.join(obj[[c for c in ("period", "amplitude", "mean_mag", "n_obs", "catalog_type") if c in obj]], on="id")
    lab = res["label"].notna()
    out = {"sky": args.sky, "n_objects": int(len(res)), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    cls = {}
    for name, col in [("photometry", "vote_photometry"), ("metadata", "vote_metadata"),
                      ("all (suggested_label)", "suggested_label")]:
        ok = lab & res[col].notna()
        if ok.any():
            y, p = res.loc[ok, "label"].astype(str), res.loc[ok, col].astype(str)
            cls[name] = {"accuracy": float((y == p).mean()), "balanced_accuracy": float(balanced_accuracy_score(y, p)),
                         "n": int(ok.sum())}
    out["classification_out_of_fold"] = cls
    hit = (res["suggested_label"] == res["label"])[lab]
    per_class = hit.groupby(res.loc[lab, "label"]).mean()
    out["recall_per_class"] = per_class.round(3).to_dict()
    cl = res["cluster"]
    clustered = lab & (cl >= 0)
    purity = res[clustered].groupby("cluster")["label"].agg(lambda v: v.value_counts().iloc[0] / len(v))
    sizes = res[clustered].groupby("cluster").size()
    out["clusters"] = {"n_clusters": int(cl[cl >= 0].nunique()), "noise_share": float((cl < 0).mean()),
                       "ari_vs_labels": float(adjusted_rand_score(res.loc[clustered, "label"], cl[clustered])),
                       "nmi_vs_labels": float(normalized_mutual_info_score(res.loc[clustered, "label"], cl[clustered])),
                       "size_weighted_purity": float((purity * sizes).sum() / sizes.sum())}
    cols = ["id", "label", "suggested_label", "suggested_label_prob", "mislabel_score", "outlier_score",
            "crossmodal_score", "period", "amplitude", "n_obs"]
    cols = [c for c in cols if c in res]
    top_mis = res[lab].nlargest(args.top, "mislabel_score")[cols]
    top_out = res.nlargest(args.top, "outlier_score")[cols]
    out["top_mislabel"] = top_mis.to_dict(orient="records")
    out["top_outlier"] = top_out.to_dict(orient="records")
    figdir = Path(args.out)
    figdir.mkdir(parents=True, exist_ok=True)
    images = []
    for kind, table in (("mislabel", top_mis), ("outlier", top_out)):
        for _, row in table.head(args.plots // 2).iterrows():
            p = figdir / f"{kind}-{row['id']}.png"
            plot_folded(sky, row, p)
            images.append(str(p.relative_to(figdir.parent)))
    out["images"] = images
    md = ["# CRTS SSS (real data): classification, clusters and top suspects", "",
          f"Sky `{args.sky}`: {len(res)} stars (light curves + catalogue; no spectra, so no cross-modal "
          f"score beyond photometry vs metadata). {out['date']}. {args.note}", "",
          "## Out-of-fold classification from the embeddings (logistic regression, 5 folds)", "",
          "| space | accuracy | balanced accuracy | n |", "|---|---|---|---|"]
    md += [f"| {k} | {v['accuracy']:.3f} | {v['balanced_accuracy']:.3f} | {v['n']} |" for k, v in cls.items()]
    md += ["", "Recall per class (suggested_label == label): " +
           ", ".join(f"{k} {v:.2f}" for k, v in out["recall_per_class"].items()), "",
           "## HDBSCAN clusters on the fused UMAP vs labels", "",
           f"{out['clusters']['n_clusters']} clusters, noise {out['clusters']['noise_share']:.1%}; "
           f"ARI {out['clusters']['ari_vs_labels']:.3f}, NMI {out['clusters']['nmi_vs_labels']:.3f}, "
           f"size-weighted purity {out['clusters']['size_weighted_purity']:.3f} (clustered labelled stars).", "",
           "## Top label-error suspects", "", md_table(top_mis), "",
           "## Top outliers", "", md_table(top_out), "",
           "## Folded light curves", ""]
    md += [f"![{Path(i).stem}]({i})" for i in images]
    Path(args.out).with_suffix(".md").write_text("\n".join(md) + "\n")
    Path(args.out).with_suffix(".json").write_text(json.dumps(out, indent=2, default=str) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
