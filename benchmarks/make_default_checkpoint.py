"""Reproduce the shipped checkpoint ``core/resources/checkpoints/demo-cpu-seed0.pt``
(``core.train.DEFAULT_CHECKPOINT``) exactly.

Simulates the default demo sky (20000 objects, seed 0) unless it exists, pretrains the ``cpu``
preset with seed 0 on it, and writes the checkpoint without its resume state (optimizer), a few MB.

    .venv/bin/python benchmarks/make_default_checkpoint.py [--sky demo/sky20k-s0] [--workspace demo/ws-default]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sky", default=str(ROOT / "demo" / "sky20k-s0"))
    ap.add_argument("--workspace", default=str(ROOT / "demo" / "ws-default-ckpt"))
    ap.add_argument("--out", default=None, help="default: core.train.DEFAULT_CHECKPOINT")
    args = ap.parse_args()

    from core.sky import open_sky
    from core.train import DEFAULT_CHECKPOINT, load_checkpoint, strip_resume_state, train

    sky_path = Path(args.sky)
    if not (sky_path / "objects.parquet").exists():
        from core.simulate import simulate_sky
        t = time.perf_counter()
        simulate_sky(20000, 0, out=sky_path)
        print(f"simulated {sky_path} in {time.perf_counter() - t:.0f} s")
    sky = open_sky(sky_path)
    t = time.perf_counter()
    ckpt = train(sky, workspace=args.workspace, preset="cpu", seed=0)
    dt = time.perf_counter() - t
    out = Path(args.out) if args.out else DEFAULT_CHECKPOINT
    out.parent.mkdir(parents=True, exist_ok=True)
    strip_resume_state(ckpt, out)
    m = load_checkpoint(out, sky)
    info = {"checkpoint": str(out.relative_to(ROOT) if out.is_relative_to(ROOT) else out),
            "fingerprint": m.fingerprint, "sky_fingerprint": m.sky_fingerprint, "train_seconds": round(dt, 1),
            "size_bytes": out.stat().st_size, "history": m.history, "modalities": m.modalities}
    print(json.dumps(info, indent=2))
    (ROOT / "benchmarks" / "results").mkdir(parents=True, exist_ok=True)
    (ROOT / "benchmarks" / "results" / "default_checkpoint.json").write_text(json.dumps(info, indent=2))


if __name__ == "__main__":
    main()
