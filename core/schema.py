"""Column contracts of the sky layout and of the workspace artifacts.

The names follow the AstroM3 dataset (Rizhko & Bloom 2024) wherever it has one.
"""
from __future__ import annotations

#: The ten AstroM3 classes, most common first (the order of the paper's dataset).
CLASSES: tuple[str, ...] = ("EW", "SR", "EA", "RRAB", "EB", "ROT", "RRC", "HADS", "M", "DSCT")

#: Long names for display.
CLASS_NAMES: dict[str, str] = {
    "EW": "W UMa contact binary",
    "SR": "semi-regular variable",
    "EA": "Algol-type detached eclipsing binary",
    "RRAB": "RR Lyrae, fundamental mode",
    "EB": "beta Lyrae eclipsing binary",
    "ROT": "rotational (spotted) variable",
    "RRC": "RR Lyrae, first overtone",
    "HADS": "high-amplitude delta Scuti",
    "M": "Mira",
    "DSCT": "delta Scuti",
}

#: The three modalities, and the name of the fused embedding.
MODALITIES: tuple[str, ...] = ("photometry", "spectra", "metadata")
FUSED = "fused"

#: AstroM3 metadata columns (Gaia, 2MASS, WISE, ASAS-SN mean magnitude, Galactic coordinates).
METADATA_COLUMNS: tuple[str, ...] = (
    "mean_vmag",
    "phot_g_mean_mag", "e_phot_g_mean_mag",
    "phot_bp_mean_mag", "e_phot_bp_mean_mag",
    "phot_rp_mean_mag", "e_phot_rp_mean_mag",
    "bp_rp",
    "parallax", "parallax_error", "parallax_over_error",
    "pmra", "pmra_error", "pmdec", "pmdec_error",
    "j_mag", "e_j_mag", "h_mag", "e_h_mag", "k_mag", "e_k_mag",
    "w1_mag", "e_w1_mag", "w2_mag", "e_w2_mag", "w3_mag", "e_w3_mag", "w4_mag", "e_w4_mag",
    "j_k", "w1_w2", "w3_w4",
    "pm", "ruwe",
    "l", "b",
)

#: AstroM3 photometric catalogue columns (used as auxiliary light-curve channels and metadata).
PHOTO_COLUMNS: tuple[str, ...] = ("period", "amplitude", "lksl_statistic", "rfr_score")

#: Apparent-magnitude columns that preprocessing turns into absolute magnitudes with the parallax.
MAGNITUDE_COLUMNS: tuple[str, ...] = (
    "mean_vmag", "phot_g_mean_mag", "phot_bp_mean_mag", "phot_rp_mean_mag",
    "j_mag", "h_mag", "k_mag", "w1_mag", "w2_mag", "w3_mag", "w4_mag",
)

# --- sky files --------------------------------------------------------------------------------
OBJECTS_FILE = "objects.parquet"
LIGHTCURVES_FILE = "lightcurves.parquet"
SPECTRA_FILE = "spectra.parquet"
TRUTH_FILE = "truth.parquet"

#: Required columns of objects.parquet. Everything else is optional.
OBJECTS_REQUIRED: tuple[str, ...] = ("id", "label")
#: Optional descriptive (non-numeric) columns of objects.parquet.
OBJECTS_TEXT_COLUMNS: tuple[str, ...] = ("name", "survey", "other_names", "catalog_type")

#: Light curves: ``id``, ``time`` and one (value, error) pair of list columns.
LIGHTCURVE_VALUE_PAIRS: tuple[tuple[str, str], ...] = (("mag", "mag_err"), ("flux", "flux_err"))
#: Spectra: ``id``, ``wavelength``, ``flux`` and either ``flux_err`` or ``ivar``.
SPECTRUM_ERROR_COLUMNS: tuple[str, ...] = ("flux_err", "ivar")

#: truth.parquet columns written by the simulator (analysis code never reads this file).
TRUTH_COLUMNS: tuple[str, ...] = (
    "id", "true_label", "is_mislabeled", "anomaly_kind", "is_crossmatch_error", "subclass",
)

# --- workspace artifacts ------------------------------------------------------------------------
CHECKPOINT_FILE = "model.pt"
EMBEDDINGS_FILE = "embeddings.parquet"
RESULTS_FILE = "results.parquet"
FLAGS_FILE = "flags.sqlite"

#: embeddings.parquet: ``id`` plus one list<float32> column per modality (null where missing).
EMBEDDING_COLUMNS: dict[str, str] = {m: f"emb_{m}" for m in (*MODALITIES, FUSED)}

#: results.parquet: the columns every consumer (explorer, evaluate) may rely on.
RESULTS_REQUIRED: tuple[str, ...] = (
    "id", "label", "umap_x", "umap_y", "cluster", "cluster_prob",
    "outlier_score", "mislabel_score", "suggested_label", "suggested_label_prob",
    "crossmodal_score",
)
