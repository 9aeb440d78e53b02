"""core.idlist: id lists from CSV/ECSV/VOTable/FITS (id column detection, clear errors) and
``astrom3 flags import-ids``."""
from __future__ import annotations

import pandas as pd
import pytest
from astropy.table import Table

from core.cli import main
from core.flags import FlagStore
from core.idlist import IdListError, flag_ids, read_id_list

IDS = ["SIM000001", "SIM000002", "000123", "SIM000004"]


@pytest.fixture
def workspace(tmp_path):
    """A workspace whose results.parquet knows IDS (all the flag CLI checks ids against)."""
    ws = tmp_path / "ws"
    ws.mkdir()
    pd.DataFrame({"id": IDS, "label": ["EW", "RRAB", "EW", None]}).to_parquet(ws / "results.parquet")
    return ws


def _topcat_table():
    return Table({"ra": [1.0, 2.0, 3.0], "dec": [0.0, 1.0, 2.0], "ID": ["SIM000002", "000123", "SIM000002"],
                  "label": ["EW", "EW", "EW"]})


@pytest.mark.parametrize("suffix,fmt", [(".csv", "ascii.csv"), (".ecsv", "ascii.ecsv"), (".xml", "votable"),
                                        (".vot", "votable"), (".fits", "fits")])
def test_formats_and_column_detection(tmp_path, suffix, fmt):
    path = tmp_path / f"subset{suffix}"
    _topcat_table().write(path, format=fmt)
    assert read_id_list(path) == ["SIM000002", "000123"]  # order kept, duplicates dropped, leading zeros kept


def test_column_found_by_matching_the_sky(tmp_path):
    path = tmp_path / "x.csv"
    pd.DataFrame({"name": ["ASASSN-V J1", "ASASSN-V J2"], "star": ["SIM000004", "SIM000001"]}).to_csv(path, index=False)
    assert read_id_list(path) == ["ASASSN-V J1", "ASASSN-V J2"]            # by name: 'name'
    assert read_id_list(path, known_ids=IDS) == ["SIM000004", "SIM000001"]  # by the sky's ids: 'star'
    assert read_id_list(path, column="STAR") == ["SIM000004", "SIM000001"]


def test_headerless_list(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text("SIM000001\nSIM000004\n\n")
    assert read_id_list(path, known_ids=IDS) == ["SIM000001", "SIM000004"]


def test_errors_name_the_file_and_columns(tmp_path):
    with pytest.raises(IdListError, match="nope.csv: id list not found"):
        read_id_list(tmp_path / "nope.csv")
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(IdListError, match="not a regular file"):
        read_id_list(tmp_path / "d.csv")
    (tmp_path / "x.parquet").write_text("")
    with pytest.raises(IdListError, match="suffix '.parquet'"):
        read_id_list(tmp_path / "x.parquet")
    two = tmp_path / "two.csv"
    pd.DataFrame({"a": ["1"], "b": ["2"]}).to_csv(two, index=False)
    with pytest.raises(IdListError, match=r"two.csv: no id column.*its columns are a, b"):
        read_id_list(two)
    with pytest.raises(IdListError, match="no column 'zz'"):
        read_id_list(two, column="zz")
    bad = tmp_path / "bad.xml"
    bad.write_text("<VOTABLE><nonsense")
    with pytest.raises(IdListError, match="bad.xml: cannot be read as votable"):
        read_id_list(bad)


def test_flag_ids_once_per_user_and_kind(tmp_path):
    with FlagStore(tmp_path / "f.sqlite", valid_ids=IDS) as store:
        r = flag_ids(store, ["SIM000001", "000123"], "interesting", user="ada")
        assert r == {"added": 2, "already": 0, "unknown": []}
        r = flag_ids(store, ["SIM000001", "SIM000004"], "interesting", user="ada")
        assert r == {"added": 1, "already": 1, "unknown": []}
        cur = store.current()
        assert sorted(cur["id"]) == ["000123", "SIM000001", "SIM000004"]
        assert set(cur["kind"]) == {"interesting"} and set(cur["user"]) == {"ada"}
        with pytest.raises(IdListError, match=r"1 of 2 ids are not in this sky \(ghost\); nothing was flagged"):
            flag_ids(store, ["SIM000002", "ghost"], "anomaly", user="bo")
        assert len(store.current(user="bo")) == 0
        r = flag_ids(store, ["SIM000002", "ghost"], "anomaly", user="bo", skip_unknown=True)
        assert r == {"added": 1, "already": 0, "unknown": ["ghost"]}
        with pytest.raises(IdListError, match="flag kind 'weird'"):
            flag_ids(store, ["SIM000002"], "weird", user="bo")
        with pytest.raises(IdListError, match="user name is empty"):
            flag_ids(store, ["SIM000002"], "fine", user=" ")


def test_cli_import_ids(workspace, tmp_path, capsys):
    path = tmp_path / "subset.xml"
    _topcat_table().write(path, format="votable")
    assert main(["flags", "import-ids", str(workspace), str(path), "--user", "ada"]) == 0
    assert "flagged 2 objects as interesting" in capsys.readouterr().out
    with FlagStore(workspace / "flags.sqlite") as store:
        cur = store.current()
    assert sorted(cur["id"]) == ["000123", "SIM000002"] and set(cur["kind"]) == {"interesting"}

    assert main(["flags", "import-ids", str(workspace), str(path), "--user", "ada", "--kind", "anomaly",
                 "--note", "from TOPCAT"]) == 0
    with FlagStore(workspace / "flags.sqlite") as store:
        cur = store.current(kind="anomaly")
    assert sorted(cur["id"]) == ["000123", "SIM000002"] and set(cur["note"]) == {"from TOPCAT"}

    other = tmp_path / "other.csv"
    pd.DataFrame({"id": ["SIM000001", "nobody"]}).to_csv(other, index=False)
    assert main(["flags", "import-ids", str(workspace), str(other), "--user", "bo"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("astrom3: error: ") and "nobody" in err and err.count("\n") == 1
    assert main(["flags", "import-ids", str(workspace), str(other), "--user", "bo", "--skip-unknown"]) == 0
    assert "skipped 1 ids not in the sky" in capsys.readouterr().out
