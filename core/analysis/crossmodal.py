"""Cross-modal consistency: do an object's light curve, spectrum and metadata tell the same story?

The contrastive model puts the modalities of one star close together. For each pair of
modalities an object has, its pair similarity is compared with that of typical objects of the same
class (robust z-score: median and MAD of the class; the label's class for labelled objects, the
suggested class otherwise). A low similarity for its class means the modalities disagree: a
cross-match error, a blend, a bad spectrum.

``crossmodal_score`` combines two parts with Fisher's method (:func:`core.analysis.scores.combine_ranks`),
re-ranked to (0, 1]:

* ``crossmodal_pair`` (weight 0.8): with three modalities, the mean of the two largest pair
  deviations (one wrong modality spoils two pairs, noise usually one); with two, the one pair;
* ``crossmodal_votes`` (0.2): the chance that two modalities' class votes disagree,
  ``1 - sum_c p_a(c) p_b(c)``, the largest over pairs.

Measured on the demo sky (seed 0, 200 planted cross-match errors): the pair part alone AUROC 0.994
and AP 0.92, the votes alone 0.90 / 0.44; combined 0.995 / 0.89 (a 0.6/0.4 mean of ranks: 0.975 / 0.65).

``crossmodal_odd`` names the modality whose pairs are worst (the likely wrong one) when there are
three. Objects with fewer than two modalities get NaN.
"""
from __future__ import annotations

import warnings
from itertools import combinations

import numpy as np

from core.analysis.scores import combine_ranks, rank_normalise

__all__ = ["WEIGHTS", "pair_similarities", "pair_deviation", "vote_disagreement", "crossmodal_scores"]

#: Weights of the rank-normalised parts in ``crossmodal_score``.
WEIGHTS: dict[str, float] = {"pair": 0.8, "votes": 0.2}


def pair_similarities(vectors: dict[str, np.ndarray], present: dict[str, np.ndarray],
                      modalities: list[str]) -> dict[tuple[str, str], np.ndarray]:
    """Cosine similarity of each object's two embeddings, per modality pair (NaN where one is missing)."""
    out = {}
    for a, b in combinations(modalities, 2):
        s = np.einsum("ij,ij->i", vectors[a], vectors[b]).astype(float)
        out[(a, b)] = np.where(present[a] & present[b], s, np.nan)
    return out


def pair_deviation(sim: np.ndarray, group: np.ndarray, *, min_group: int = 10) -> np.ndarray:
    """Robust z-score of how much lower a similarity is than its group's (higher = more unusual)."""
    z = np.full(len(sim), np.nan)
    ok = np.isfinite(sim)
    if not ok.any():
        return z

    def zscore(rows):
        med = np.median(sim[rows])
        mad = 1.4826 * np.median(np.abs(sim[rows] - med)) + 1e-6
        return (med - sim[rows]) / mad

    glob = np.flatnonzero(ok)
    z[glob] = zscore(glob)
    for g in np.unique(group[ok]):
        if g < 0:
            continue
        rows = np.flatnonzero(ok & (group == g))
        if len(rows) >= min_group:
            z[rows] = zscore(rows)
    return z


def vote_disagreement(pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
    """Probability that two independent class votes differ (NaN where either is missing)."""
    agree = np.einsum("ij,ij->i", np.nan_to_num(pa), np.nan_to_num(pb))
    ok = np.isfinite(pa).all(axis=1) & np.isfinite(pb).all(axis=1)
    return np.where(ok, 1.0 - agree, np.nan)


def crossmodal_scores(vectors: dict[str, np.ndarray], present: dict[str, np.ndarray], modalities: list[str],
                      group: np.ndarray, votes: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """All cross-modal columns (see the module docstring).

    Parameters
    ----------
    vectors, present : per-modality embeddings and masks
    modalities : the modalities to compare (at least two for any score)
    group : (n,) int
        Reference class per object (-1: compare with everyone).
    votes : dict
        Per-modality class probabilities from :func:`core.analysis.votes.oof_probabilities`.
    """
    n = len(group)
    out = {"crossmodal_score": np.full(n, np.nan), "crossmodal_pair": np.full(n, np.nan),
           "crossmodal_votes": np.full(n, np.nan), "crossmodal_odd": np.full(n, None, dtype=object)}
    if len(modalities) < 2:
        return out
    sims = pair_similarities(vectors, present, modalities)
    devs = {p: pair_deviation(s, group) for p, s in sims.items()}
    stacked = np.vstack([devs[p] for p in sims])  # (pairs, n)
    filled = np.where(np.isfinite(stacked), stacked, -np.inf)
    srt = -np.sort(-filled, axis=0)
    n_ok = np.isfinite(stacked).sum(axis=0)
    second = srt[1] if len(srt) > 1 else srt[0]
    with np.errstate(invalid="ignore"):
        pair_part = np.where(n_ok >= 3, (srt[0] + second) / 2, np.where(n_ok >= 1, srt[0], np.nan))
    dis = [vote_disagreement(votes[a], votes[b]) for a, b in sims if a in votes and b in votes]
    if dis:
        d = np.vstack(dis)
        vote_part = np.where(np.isfinite(d).any(axis=0), np.nanmax(np.where(np.isfinite(d), d, -1), axis=0), np.nan)
        vote_part = np.where(vote_part < 0, np.nan, vote_part)
    else:
        vote_part = np.full(n, np.nan)
    score = combine_ranks({"pair": pair_part, "votes": vote_part}, WEIGHTS)
    score = np.where(n_ok >= 1, score, np.nan)
    out["crossmodal_score"] = rank_normalise(score)
    out["crossmodal_pair"] = rank_normalise(pair_part)
    out["crossmodal_votes"] = rank_normalise(vote_part)
    if len(modalities) >= 3:
        pairs = list(sims)
        odd = np.full(n, None, dtype=object)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            badness = {m: np.nanmean(np.vstack([devs[p] for p in pairs if m in p]), axis=0)
                       for m in modalities}
        all3 = n_ok >= 3
        mat = np.vstack([badness[m] for m in modalities])
        worst = np.argmax(np.where(np.isfinite(mat), mat, -np.inf), axis=0)
        odd[all3] = np.asarray(modalities, dtype=object)[worst[all3]]
        out["crossmodal_odd"] = odd
    for (a, b), s in sims.items():
        out[f"crossmodal_sim_{a}_{b}"] = s
    return out
