"""A review queue that learns from every decision (active anomaly / label-error discovery).

:class:`ReviewSession` orders the undecided objects of a workspace by how promising they are for
one *target* (``"anomaly"``, ``"mislabel"`` or ``"crossmodal"``), given every decision so far::

    session = ReviewSession(ws, sky=sky, target="anomaly", user="ana")
    oid = session.next()
    session.decide(oid, "anomaly", note="P=12 d")
    session.ranking()          # pandas Series: current score of every undecided object

Every decision is written to the workspace's :class:`core.flags.FlagStore` *first*; only a stored
decision changes the ranking (a failed write changes nothing). The session's state is a pure
function of the stored decisions, so a new session on the same store replays them and reaches the
same ranking, and an undo is a store undo followed by a replay of that object.

How the ranking learns (chosen by measurement, see ``benchmarks/results/active.md``):

* a logistic model on per-object features (the detector parts of the target's static score as
  surprisals ``-log(tail fraction)``; catalogue columns as robust z-scores *within the object's
  labelled class*, also per class; the leading principal directions of the fused embedding; the
  label), whose weights start at the prior (the static score alone) and are pulled from it by the
  decisions (a ridge penalty towards the prior: few decisions move it a little);
* a neighbour term: a decision raises (target found) or lowers (``fine``) the score of its nearest
  neighbours in the fused embedding (or the session's own standardised features: objects odd in
  the same way); for anomalies how far a verdict carries is itself learned from the decisions;
* for label errors: a confirmed or corrected label becomes a *trusted* label; its neighbours' label
  votes update their suggested label and their label-error score.

How strongly each part moves the queue is per target (:class:`Target`): anomalies learn with a
firm pull towards the prior; for label errors, whose static ranking is already ~97 % precise on
real flips, the session stays near the prior and only trusted labels move it (the measurements
are beside :data:`TARGETS`).

``"skip"`` is not stored and teaches nothing: it only moves the object behind the others in this
session's queue.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import AstroM3Error

__all__ = ["ReviewSession", "TARGETS", "DECISIONS", "review_features", "ReviewError"]

#: What a session can be asked to decide (the flag kinds, plus ``skip`` which is not stored).
DECISIONS = ("anomaly", "fine", "mislabel", "crossmatch", "interesting", "subclass", "skip")


class ReviewError(AstroM3Error):
    """A review session cannot be opened or a decision is invalid."""


@dataclass(frozen=True)
class Target:
    """One review target: its static score, the decision it looks for; its parts come from the registry."""

    prior: str
    positive: str
    labelled_only: bool = False
    #: Default pull of the learned weights towards the prior, and of the neighbour terms (see ReviewSession).
    ridge: float = 0.1
    #: Weight of the neighbour term (logit units at cosine similarity 1): raised near found targets,
    #: lowered near ``fine``. With ``learn_neighbours`` it is where the two weights start, and the
    #: decisions move them (pull ``neighbour_ridge``): how far a verdict carries to its neighbours
    #: is learned from whether neighbours of decided objects got the same verdict.
    neighbour_weight: float = 1.0
    learn_neighbours: bool = False
    neighbour_ridge: float = 1.0
    label_weight: float = 1.0
    #: Where a decision's near neighbours are looked up for the neighbour term: ``"features"`` (the
    #: session's own standardised features: what the astronomer's decisions are about) or ``"fused"``
    #: (the fused embedding). Trusted labels always vote through the fused embedding.
    neighbour_space: str = "fused"

    @property
    def parts(self) -> tuple[str, ...]:
        """The detector parts of the static score (:func:`core.scores.parts_of`), plugins included."""
        from core import scores

        return scores.parts_of(self.prior)


#: The review targets.
TARGETS: dict[str, Target] = {
    # ridge 10 (was 0.1): on the demo skies the weak pull let the first twenty finds (all of a few
    # kinds) steer the queue away from the other kinds, 30 of the first 100 steps behind the static
    # ranking on sky 2; with 10, 13 steps and one star at most, and more found at 100 on all three
    # skies (63 / 71 / 63 against 53 / 52 / 49); planted CRTS Cepheids 94 at 100 (96 with 0.1).
    # The neighbour term's two weights learned from the decisions (were fixed at +1 / -1): planted
    # CRTS Cepheids 96 / 97 / 96 found at 100 (were 94 / 94 / 93), demo skies 63 / 72 / 67 (were
    # 63 / 70 / 64) and 5 / 0 / 1 steps of 100 behind the static ranking (were 12 / 4 / 2); neighbours
    # in the session's own features ("features", "both") found 97 on CRTS but fell further behind
    # on the demo skies (up to 28 steps, 7 stars): benchmarks/bench_active.py, CHOICE.
    "anomaly": Target("outlier_score", "anomaly", ridge=10.0, neighbour_weight=0.0, learn_neighbours=True),
    # On planted CRTS flips the static ranking is 97 % precise in its first 100, and flips are not
    # clustered: learned weights (ridge 0.1: 90 found), the neighbour term (78) and the full label
    # term (87) only cost finds. So the session stays near the prior (ridge 100, no neighbour term)
    # and trusted labels move their neighbours' scores at 0.3 (96 found) and their suggestions.
    "mislabel": Target("mislabel_score", "mislabel", labelled_only=True, ridge=100.0, neighbour_weight=0.0,
                       label_weight=0.3),
    "crossmodal": Target("crossmodal_score", "crossmatch"),
}

_CAT_COLUMNS = ("period", "amplitude", "bp_rp", "j_k", "w1_w2")
_MIN_CLASS = 30


def _surprisal(score: np.ndarray) -> np.ndarray:
    """``-log`` of the share of objects scoring at least as high (missing = least suspicious)."""
    s = np.asarray(score, float)
    s = np.where(np.isfinite(s), s, -np.inf)
    rank = pd.Series(s).rank(method="max", ascending=False).to_numpy()
    return -np.log(rank / len(s))


def _catalogue_z(objects: pd.DataFrame, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Robust z-score of each physical catalogue column within the object's labelled class."""
    out = {}
    for col in _CAT_COLUMNS:
        if col not in objects:
            continue
        x = pd.to_numeric(objects[col], errors="coerce").to_numpy(float)
        if col == "period":
            with np.errstate(divide="ignore", invalid="ignore"):
                x = np.where(x > 0, np.log10(x), np.nan)
        if np.isfinite(x).mean() < 0.2:
            continue
        z = np.zeros(len(x))
        groups = [labels == c for c in pd.unique(labels[pd.notna(labels)])]
        rest = np.ones(len(x), bool)
        for g in groups:
            if g.sum() >= _MIN_CLASS:
                z[g] = _robust_z(x[g], x[g])
                rest &= ~g
        z[rest] = _robust_z(x[rest], x)
        out[f"z_{col}"] = np.clip(np.nan_to_num(z), -30, 30)
    return out


def _robust_z(x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    ref = ref[np.isfinite(ref)]
    if len(ref) == 0:
        return np.zeros(len(x))
    med = np.median(ref)
    mad = 1.4826 * np.median(np.abs(ref - med))
    if not mad > 0:
        mad = np.std(ref) if np.std(ref) > 0 else 1.0
    return (x - med) / mad


def review_features(results: pd.DataFrame, target: str, *, objects: pd.DataFrame | None = None,
                    fused: np.ndarray | None = None, n_directions: int = 16, seed: int = 0
                    ) -> tuple[np.ndarray, list[str]]:
    """The per-object features a session learns on; column 0 is the prior (static score's surprisal).

    Parameters
    ----------
    results : pandas.DataFrame
        ``results.parquet`` rows (with ``label`` and the target's score columns).
    target : str
        A key of :data:`TARGETS`.
    objects : pandas.DataFrame, optional
        Catalogue rows aligned with ``results`` (adds within-class robust z-scores).
    fused : (n, d) array, optional
        Fused embeddings aligned with ``results`` (adds their leading principal directions).

    Returns
    -------
    (X, names) : float32 array (n, p) and the column names.
    """
    t = TARGETS[target]
    if t.prior not in results:
        raise ReviewError(f"results have no {t.prior!r} column; rerun `astrom3 analyze`")
    labels = results["label"].to_numpy(dtype=object)
    cols = {"prior": _surprisal(results[t.prior].to_numpy(float))}
    for p in t.parts:
        if p in results and results[p].notna().any():
            cols[f"part:{p}"] = _surprisal(results[p].to_numpy(float))
    classes = sorted({str(v) for v in labels if pd.notna(v)})
    onehot = {c: (labels == c).astype(float) for c in classes}
    if objects is not None:
        zs = _catalogue_z(objects, labels)
        for name, z in zs.items():
            cols[name] = z
            cols[f"|{name}|"] = np.abs(z)
            for c in classes:
                cols[f"{name}*{c}"] = z * onehot[c]
    if fused is not None and len(fused) > n_directions:
        from sklearn.decomposition import PCA

        rows = np.random.default_rng(seed).permutation(len(fused))[:50000]
        pca = PCA(n_components=min(n_directions, fused.shape[1]), random_state=seed).fit(fused[rows])
        for i, v in enumerate(pca.transform(fused).T):
            cols[f"dir{i}"] = v
    for c in classes:
        cols[f"label={c}"] = onehot[c]
    names = list(cols)
    x = np.column_stack([cols[n] for n in names]).astype(np.float64)
    sd = x[:, 1:].std(axis=0)
    x[:, 1:] = (x[:, 1:] - x[:, 1:].mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    return x.astype(np.float32), names


def _unit_rows(x: np.ndarray) -> np.ndarray:
    """``x`` with every column standardised and every row scaled to unit length (float32, for cosine)."""
    z = np.asarray(x, np.float32)
    sd = z.std(axis=0)
    z = (z - z.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    norm = np.linalg.norm(z, axis=1, keepdims=True)
    return np.ascontiguousarray(z / np.where(norm > 0, norm, 1.0), dtype=np.float32)


def _fit_toward_prior(x: np.ndarray, y: np.ndarray, w0: np.ndarray, ridge: float,
                      max_iter: int = 30, balanced: bool = True) -> tuple[np.ndarray, float]:
    """Logistic weights ``w`` and intercept minimising balanced log-loss + sum(ridge * (w - w0)^2) / 2.

    ``ridge`` is one pull for every weight or one per weight. Damped Newton steps (the problem is
    small: decisions x features), deterministic; the intercept has a weak pull towards 0 so that a
    set of only one kind of decision still has a finite optimum.
    """
    n_pos, n_neg = max(y.sum(), 1.0), max((1 - y).sum(), 1.0)
    sw = np.where(y == 1, 0.5 / n_pos, 0.5 / n_neg) * len(y) if balanced else np.ones(len(y))
    xa = np.hstack([x.astype(np.float64), np.ones((len(x), 1))])
    centre = np.append(w0, 0.0)
    reg = np.append(np.broadcast_to(np.asarray(ridge, float), (len(w0),)), 1e-3)

    def loss(theta):
        z = xa @ theta
        d = theta - centre
        return float(np.sum(sw * (np.logaddexp(0, z) - y * z)) + 0.5 * np.sum(reg * d * d))

    theta, f = centre.copy(), loss(centre)
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(-(xa @ theta)))
        g = xa.T @ (sw * (p - y)) + reg * (theta - centre)
        h = (xa * (sw * p * (1 - p))[:, None]).T @ xa + np.diag(reg)
        step = np.linalg.solve(h, g)
        t = 1.0
        while t > 1e-4:
            cand = theta - t * step
            fc = loss(cand)
            if fc <= f:
                break
            t *= 0.5
        if t <= 1e-4:
            break
        done = f - fc < 1e-10 * max(1.0, abs(f))
        theta, f = cand, fc
        if done:
            break
    return theta[:-1], float(theta[-1])


class ReviewSession:
    """One astronomer's review queue for one target, learning from every stored decision.

    Parameters
    ----------
    workspace : core.workspace.Workspace or path
        With ``results.parquet`` (and ``embeddings.parquet`` for the neighbour terms).
    sky : core.sky.Sky or path, optional
        Adds the catalogue columns to the features and its fingerprint to the flag session.
    target : {'anomaly', 'mislabel', 'crossmodal'}
    user : str
        Who decides; the session learns from this user's decisions (all users' with ``shared``).
    store : core.flags.FlagStore, optional
        Defaults to ``WS/flags.sqlite`` (opened for the results' ids and labels).
    shared : bool
        Learn from, and leave out of the queue, every user's decisions, not only ``user``'s.
    ridge : float, optional
        Pull of the learned weights towards the prior (larger = learns more slowly); default the
        target's (:data:`TARGETS`, chosen by measurement: ``benchmarks/results/active.md``).
    neighbours, neighbour_weight : int, float
        How many neighbours a decision moves, and by how much (logit units at cosine similarity
        1); ``neighbour_weight`` defaults to the target's.
    learn_neighbours : bool, optional
        Learn the neighbour term's two weights (near found targets, near ``fine``) from the
        decisions, starting at ``neighbour_weight``; default the target's.
    neighbour_space : {'features', 'fused', 'both'}, optional
        Where those neighbours are looked up: the session's standardised features or the fused
        embedding; default the target's (:attr:`Target.neighbour_space`).
    label_weight : float, optional
        How far a trusted label moves its neighbours' label-error scores (logit units per unit of
        vote); default the target's.
    learn : bool
        False gives the static ranking (decisions are still stored and left out of the queue).
    """

    def __init__(self, workspace, *, sky=None, target: str = "anomaly", user: str, store=None,
                 shared: bool = False, ridge: float | None = None, neighbours: int = 10,
                 neighbour_weight: float | None = None, label_weight: float | None = None,
                 neighbour_space: str | None = None, learn_neighbours: bool | None = None,
                 n_directions: int = 16, learn: bool = True, balanced: bool = True, seed: int = 0):
        from core.sky import Sky, open_sky
        from core.workspace import Workspace

        if target not in TARGETS:
            raise ReviewError(f"target {target!r} is not one of {', '.join(TARGETS)}")
        self.target, self.user, self.shared, self.learn = target, str(user), bool(shared), bool(learn)
        t = TARGETS[target]
        self.ridge = float(t.ridge if ridge is None else ridge)
        self.neighbour_weight = float(t.neighbour_weight if neighbour_weight is None else neighbour_weight)
        self.label_weight = float(t.label_weight if label_weight is None else label_weight)
        self.k = int(neighbours)
        self.learn_neighbours = bool(t.learn_neighbours if learn_neighbours is None else learn_neighbours)
        self._neighbour_ridge = float(t.neighbour_ridge)
        self.balanced = bool(balanced)
        ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace, create=False)
        if not ws.results_path.exists():
            raise ReviewError(f"{ws.results_path}: no results; run `astrom3 run` first")
        self.workspace = ws
        if sky is not None and not isinstance(sky, Sky):
            sky = open_sky(sky)
        self.sky = sky
        res = pd.read_parquet(ws.results_path).reset_index(drop=True)
        res["id"] = res["id"].astype(str)
        self.results = res
        self.ids = res["id"].to_numpy(dtype=object)
        self._row = pd.Index(self.ids)
        self.labels = res["label"].to_numpy(dtype=object)
        self.classes = sorted({str(v) for v in self.labels if pd.notna(v)})
        self._fused = self._load_fused(ws)
        objects = None
        if sky is not None:
            objects = sky.objects.assign(id=sky.objects["id"].astype(str)).set_index("id").reindex(self.ids)
        self.features, self.feature_names = review_features(res, target, objects=objects, fused=self._fused,
                                                            n_directions=n_directions, seed=seed)
        self._w0 = np.zeros(self.features.shape[1])
        self._w0[0] = 1.0
        self.weights, self.intercept = self._w0.copy(), 0.0
        self._eligible = np.ones(len(res), bool)
        if TARGETS[target].labelled_only:
            self._eligible = pd.notna(self.labels)
        self._prior_suggestion = (res["suggested_label"].to_numpy(dtype=object) if "suggested_label" in res
                                  else np.full(len(res), None, dtype=object))
        self.neighbour_space = str(t.neighbour_space if neighbour_space is None else neighbour_space)
        if self.neighbour_space not in ("features", "fused", "both"):
            raise ReviewError(f"neighbour_space {self.neighbour_space!r} is not 'features', 'fused' or 'both'")
        self._near_spaces = ("features", "fused") if self.neighbour_space == "both" else (self.neighbour_space,)
        self._near_w0 = np.tile([self.neighbour_weight, -self.neighbour_weight], len(self._near_spaces))
        self.neighbour_weights = self._near_w0.copy()
        self._spaces: dict[str, np.ndarray | None] = {"fused": self._fused}   # "features" built when first asked
        self._nbr_cache: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}
        self._skipped: list[int] = []
        self._history: list[tuple[str, str]] = []     # (id, kind) decided in this session, in order
        self.store = store if store is not None else self._open_store(ws, sky)
        self._flag_session: int | None = None
        self.refresh()

    # --- loading ------------------------------------------------------------------------------
    def _load_fused(self, ws) -> np.ndarray | None:
        from core import schema
        from core.analysis.embeddings import load_embeddings

        if not ws.embeddings_path.exists():
            return None
        emb = load_embeddings(ws.embeddings_path, ids=self.ids)
        return emb.vectors[schema.FUSED]

    def _open_store(self, ws, sky):
        from core.flags import FlagStore

        return FlagStore(ws.flags_path, valid_ids=self.ids.tolist(), labels=self.classes, sky=sky)

    def _session_id(self) -> int:
        if self._flag_session is None:
            from core import schema

            fp = self.workspace.fingerprint(schema.RESULTS_FILE)
            self._flag_session = self.store.start_session(self.user, model_fingerprint=fp)
        return self._flag_session

    def _store_call(self, fn):
        """Run one store write; any failure is a :class:`FlagStoreError` and leaves the session as it was."""
        from core.flags import FlagStoreError

        try:
            return fn()
        except FlagStoreError:
            raise
        except Exception as exc:  # noqa: BLE001 - e.g. a closed store's connection
            raise FlagStoreError(f"{self.store.path}: the decision was not stored ({type(exc).__name__}: "
                                 f"{exc}); nothing was learned") from exc

    # --- state from the store -----------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the stored decisions (this user's, or everyone's when ``shared``) and replay them."""
        cur = self.store.current(user=None if self.shared else self.user)
        decided: dict[int, tuple[str, str | None]] = {}
        pos = self._row.get_indexer(cur["id"].astype(str))
        for p, kind, label in zip(pos, cur["kind"], cur["proposed_label"]):
            if p >= 0:
                decided.pop(int(p), None)      # latest decision last (several users when shared)
                decided[int(p)] = (str(kind), None if label is None else str(label))
        self._decided = decided
        self._update()

    def _neighbours(self, row: int, space: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest rows to ``row`` and their cosine similarities (clipped to [0, 1]).

        ``space`` is ``"features"`` or ``"fused"``; default the (first) space of :attr:`neighbour_space`.
        """
        space = self._near_spaces[0] if space is None else space
        key = (space, int(row))
        if key not in self._nbr_cache:
            if space not in self._spaces:
                self._spaces[space] = _unit_rows(self.features)
            matrix = self._spaces[space]
            if matrix is None or self.k <= 0:
                self._nbr_cache[key] = (np.zeros(0, int), np.zeros(0))
            else:
                from core.analysis.similarity import top_k

                idx, s = top_k(matrix, matrix[row], self.k, exclude_row=row)
                self._nbr_cache[key] = (idx, np.clip(s, 0, 1))
        return self._nbr_cache[key]

    def _update(self) -> None:
        """Recompute the scores from the decided set (a pure function of it)."""
        rows = np.array(sorted(self._decided), dtype=int)
        positive = TARGETS[self.target].positive
        y = np.array([self._decided[r][0] == positive for r in rows], dtype=float)
        near = self._near_decided(rows, y) if self.learn else np.zeros((len(self.ids), len(self._near_w0)),
                                                                        np.float32)
        w0 = np.append(self._w0, self._near_w0)
        self.weights, self.neighbour_weights, self.intercept = self._w0.copy(), self._near_w0.copy(), 0.0
        if self.learn and len(rows):
            x, ridge = self.features[rows], np.full(len(self._w0), self.ridge)
            if self.learn_neighbours:
                x = np.hstack([x, near[rows]])
                ridge = np.append(ridge, np.full(len(self._near_w0), self._neighbour_ridge))
            w, self.intercept = _fit_toward_prior(x, y, w0[:x.shape[1]], ridge, balanced=self.balanced)
            self.weights = w[:len(self._w0)]
            if self.learn_neighbours:
                self.neighbour_weights = w[len(self._w0):]
        logit = self.features @ self.weights.astype(np.float32) + self.intercept
        if self.learn:
            logit = logit + near @ self.neighbour_weights.astype(np.float32)
        self._trusted_votes(rows)
        if self.learn and self.target == "mislabel":
            logit = logit + self._label_term()
        self._logit = np.asarray(logit, float)

    def _near_decided(self, rows: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Each object's summed similarity to the decided objects it neighbours: (n, 2 per space).

        The two columns of a space are "near a found target" and "near a ``fine``".

        For label errors only the neighbours carrying the same given label count: the neighbours of
        a star labelled RRAB that is really an RRC are mostly correctly labelled RRCs, and only the
        other "RRAB"s among them share its error. A decided object is never its own neighbour, so
        its own row says how its decided neighbours were judged (what the learned weights fit).
        """
        near = np.zeros((len(self.ids), len(self._near_w0)), np.float32)
        same_label = self.target == "mislabel"
        for j, space in enumerate(self._near_spaces):
            for r, yi in zip(rows, y):
                idx, sim = self._neighbours(int(r), space)
                if same_label:
                    keep = self.labels[idx] == self.labels[int(r)]
                    idx, sim = idx[keep], sim[keep]
                np.add.at(near[:, 2 * j + (0 if yi else 1)], idx, sim.astype(np.float32))
        return near

    def _trusted_votes(self, rows: np.ndarray) -> None:
        """Trusted labels (confirmed ``fine`` or corrected ``mislabel``) and their neighbours' votes."""
        trusted: dict[int, str] = {}
        for r in rows:
            kind, label = self._decided[int(r)]
            if kind == "mislabel" and label:
                trusted[int(r)] = label
            elif kind == "fine" and pd.notna(self.labels[r]):
                trusted[int(r)] = str(self.labels[r])
        votes: dict[int, dict[str, float]] = {}
        for r, lab in trusted.items():
            idx, sim = self._neighbours(r, "fused")
            for j, s in zip(idx.tolist(), sim.tolist()):
                votes.setdefault(j, {}).setdefault(lab, 0.0)
                votes[j][lab] += s
        self.trusted, self._votes = trusted, votes

    def _label_term(self) -> np.ndarray:
        adj = np.zeros(len(self.ids))
        for j, v in self._votes.items():
            own = v.get(str(self.labels[j]), 0.0)
            adj[j] = self.label_weight * 2.0 * (sum(v.values()) - 2 * own)
        return adj

    # --- the public queue -------------------------------------------------------------------
    def ranking(self) -> pd.Series:
        """Current scores of every undecided object (higher = more promising), best first."""
        mask = self._undecided()
        s = pd.Series(self._logit[mask], index=pd.Index(self.ids[mask], name="id"), name="score")
        return s.iloc[np.argsort(-s.to_numpy(), kind="stable")]

    def _undecided(self) -> np.ndarray:
        mask = self._eligible.copy()
        if self._decided:
            mask[np.fromiter(self._decided, int)] = False
        return mask

    def next(self) -> str | None:
        """The most promising undecided object (skipped ones after all others); None when none is left."""
        mask = self._undecided()
        skipped = [r for r in self._skipped if mask[r]]
        mask[skipped] = False
        if mask.any():
            score = np.where(mask, self._logit, -np.inf)
            return str(self.ids[int(np.argmax(score))])
        return str(self.ids[skipped[0]]) if skipped else None

    def decide(self, object_id: str, kind: str, *, label: str | None = None, note: str | None = None) -> dict | None:
        """Store a decision about ``object_id``, then learn from it.

        Parameters
        ----------
        object_id : str
        kind : str
            One of :data:`DECISIONS`; ``"mislabel"`` takes the corrected ``label``.
        label : str, optional
            The proposed (true) label, for ``mislabel``.
        note : str, optional
            Stored with the flag.

        Returns
        -------
        dict or None
            The stored flag (None for ``skip``, which is not stored).

        Raises
        ------
        core.flags.FlagStoreError
            If the store refuses or fails the write; the session is then unchanged.
        """
        if kind not in DECISIONS:
            raise ReviewError(f"decision {kind!r} is not one of {', '.join(DECISIONS)}")
        row = self._row.get_indexer([str(object_id)])[0]
        if row < 0:
            raise ReviewError(f"object {object_id!r} is not in this workspace's results")
        if kind == "skip":
            self._skipped.append(int(row))
            return None
        flag = self._store_call(lambda: self.store.add(self._session_id(), str(object_id), kind,
                                                       proposed_label=label, note=note))
        self._decided.pop(int(row), None)
        self._decided[int(row)] = (kind, flag["proposed_label"])
        self._history.append((str(object_id), kind))
        self._update()
        return flag

    def undo(self, object_id: str | None = None) -> dict | None:
        """Undo this user's latest decision on ``object_id`` (default: the last one of this session)."""
        if object_id is None:
            if not self._history:
                return None
            object_id = self._history[-1][0]
        done = self._store_call(lambda: self.store.undo(self._session_id(), str(object_id)))
        if done is not None:
            for i in range(len(self._history) - 1, -1, -1):
                if self._history[i][0] == str(object_id):
                    del self._history[i]
                    break
        self.refresh()
        return done

    # --- what the session knows ---------------------------------------------------------------
    def decisions(self) -> pd.DataFrame:
        """The decisions the session learns from: ``id``, ``kind``, ``proposed_label``."""
        rows = list(self._decided)
        return pd.DataFrame({"id": self.ids[rows].astype(str) if rows else [],
                             "kind": [self._decided[r][0] for r in rows],
                             "proposed_label": [self._decided[r][1] for r in rows]})

    def suggestions(self) -> pd.Series:
        """The suggested label of every object: trusted neighbours' votes where any, else the static one."""
        sug = self._prior_suggestion.copy()
        for j, v in self._votes.items():
            sug[j] = max(sorted(v), key=lambda lab: v[lab])
        for r, lab in self.trusted.items():
            sug[r] = lab
        return pd.Series(sug, index=pd.Index(self.ids, name="id"), name="suggested_label")

    def found(self) -> list[int]:
        """Cumulative count of target decisions over this session's decisions (found per inspected)."""
        positive = TARGETS[self.target].positive
        return np.cumsum([k == positive for _, k in self._history]).astype(int).tolist()

    def explain(self, top: int = 5) -> pd.Series:
        """The features whose learned weights moved most from the prior (weight - prior weight)."""
        near = [f"near {v} ({sp})" for sp in self._near_spaces for v in ("found", "fine")]
        d = pd.Series(np.append(self.weights - self._w0, self.neighbour_weights - self._near_w0),
                      index=[*self.feature_names, *near])
        return d.iloc[np.argsort(-np.abs(d.to_numpy()), kind="stable")[:top]]
