"""Plot a few simulated stars of each class (folded light curve + spectrum) to judge realism.

    python benchmarks/plot_simulated.py [--sky SKY] [--n 3000] [--seed 0]

Writes benchmarks/results/simulated_examples.png (3 stars per class) and
benchmarks/results/simulated_anomalies.png (planted anomalies, Mira and ROT subclasses, time series).
Without --sky it simulates a small sky in a temporary directory.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from core import schema  # noqa: E402
from core.sky import open_sky  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def _lc_panel(ax, sky, oid, row, fold=True):
    lc = sky.lightcurve(oid)
    period = row["period"]
    if fold and np.isfinite(period) and period > 0:
        ph = (lc.time / period) % 1.0
        ax.errorbar(np.r_[ph, ph + 1], np.r_[lc.value, lc.value], yerr=np.r_[lc.error, lc.error], fmt=".",
                    ms=2, lw=0.3, alpha=0.6, color="k")
        ax.set_xlabel(f"phase (P = {period:.4g} d)", fontsize=7)
    else:
        ax.errorbar(lc.time, lc.value, yerr=lc.error, fmt=".", ms=2, lw=0.3, alpha=0.6, color="k")
        ax.set_xlabel("HJD - 2450000", fontsize=7)
    ax.invert_yaxis()
    ax.tick_params(labelsize=6)


def _sp_panel(ax, sky, oid):
    sp = sky.spectrum(oid)
    ax.plot(sp.wavelength, sp.flux, lw=0.4, color="C0")
    lo, hi = np.percentile(sp.flux, [0.5, 99.5])
    ax.set_ylim(min(0, lo), hi * 1.15)
    ax.tick_params(labelsize=6)
    ax.set_xlabel("wavelength (A)", fontsize=7)


def plot_examples(sky, truth, out: Path, per_class: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    obj = sky.objects.set_index("id")
    ordinary = truth[(truth["kind"] == truth["true_label"]) & ~truth["is_mislabeled"] & ~truth["is_crossmatch_error"]]
    fig, axes = plt.subplots(len(schema.CLASSES), 2 * per_class, figsize=(4 * per_class * 2 * 0.75, 2.1 * len(schema.CLASSES)))
    for i, cls in enumerate(schema.CLASSES):
        ids = ordinary.index[ordinary["true_label"] == cls].to_numpy()
        pick = rng.choice(ids, size=min(per_class, len(ids)), replace=False) if len(ids) else []
        for j in range(per_class):
            a_lc, a_sp = axes[i, 2 * j], axes[i, 2 * j + 1]
            if j >= len(pick):
                a_lc.axis("off"), a_sp.axis("off")
                continue
            oid = pick[j]
            row = obj.loc[oid]
            t = truth.loc[oid]
            _lc_panel(a_lc, sky, oid, row)
            sub = f" {t['subclass']}" if isinstance(t["subclass"], str) else ""
            a_lc.set_title(f"{cls}{sub}  V={row['mean_vmag']:.1f} A={row['amplitude']:.2f}", fontsize=8)
            _sp_panel(a_sp, sky, oid)
            a_sp.set_title(f"Teff {t['teff']:.0f} K  d={t['distance_pc']:.0f} pc  J-K={row['j_k']:.2f}", fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=65)
    plt.close(fig)


def plot_special(sky, truth, out: Path):
    obj = sky.objects.set_index("id")
    rows = []
    from core.simulate.classes import ANOMALY_KINDS

    for kind in ANOMALY_KINDS:
        ids = truth.index[truth["anomaly_kind"] == kind]
        if len(ids):
            rows.append((f"anomaly {kind} (label {truth.loc[ids[0], 'label']})", ids[0], kind in ("anomalous_cepheid", "type2_cepheid", "rr_like_dsct", "blend")))
    for cls, sub in (("M", "O-rich"), ("M", "C-rich"), ("ROT", "active dwarf"), ("ROT", "RS CVn giant")):
        ids = truth.index[(truth["kind"] == cls) & (truth["subclass"] == sub) & ~truth["is_crossmatch_error"]]
        if len(ids):
            rows.append((f"{cls} {sub}", ids[0], cls == "ROT"))
    if not rows:
        return
    fig, axes = plt.subplots(len(rows), 2, figsize=(14, 2.2 * len(rows)), squeeze=False)
    for i, (title, oid, fold) in enumerate(rows):
        _lc_panel(axes[i, 0], sky, oid, obj.loc[oid], fold=fold)
        axes[i, 0].set_title(title, fontsize=8)
        _sp_panel(axes[i, 1], sky, oid)
        axes[i, 1].set_title(f"Teff {truth.loc[oid, 'teff']:.0f} K  J-K={obj.loc[oid, 'j_k']:.2f}", fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=65)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sky", help="an existing simulated sky (default: simulate one)")
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.sky
        if path is None:
            from core.simulate import simulate_sky
            path = simulate_sky(args.n, args.seed, out=Path(tmp) / "sky", anomaly_rate=0.01)
        sky = open_sky(path)
        truth = sky.read_truth().set_index("id")
        plot_examples(sky, truth, RESULTS / "simulated_examples.png", seed=args.seed)
        plot_special(sky, truth, RESULTS / "simulated_anomalies.png")
    print(f"wrote {RESULTS / 'simulated_examples.png'} and {RESULTS / 'simulated_anomalies.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
