"""`astrom3 validate SKY`: exit 0 and a summary on a good sky; one stderr line and exit 2 on each bad one."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sky_cases import CASES, lc_table, objects_table, sp_table, write

from core.cli import main


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_validate_bad_sky_exit_2_one_line(case, tmp_path, capsys):
    path = case.build(tmp_path / ("notadir" if case.name == "not a directory" else "badsky"))
    assert main(["validate", str(path)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    line = lines[0]
    assert line.startswith("astrom3: error: ") and case.file in line and case.words in line
    if case.column:
        assert f"column '{case.column}'" in line
    for i in case.ids:
        assert f"'{i}'" in line
    assert captured.out == ""


def test_validate_good_sky(tmp_path, capsys):
    path = write(tmp_path / "s", objects_table(), lc_table(n=7), sp_table())
    assert main(["validate", str(path)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    out = captured.out
    assert "3 objects" in out and "labels: EW 1, RRAB 1, unlabelled 1" in out
    assert "light curves: 3 (100.0%)" in out and "epochs min/median/max: 7 / 7 / 7" in out
    assert "spectra: 2 (66.7%)" in out and "wavelength 3700-9100 A" in out


def test_validate_unsorted_is_not_an_error(tmp_path, capsys):
    path = write(tmp_path / "s", objects_table(), lc_table(times=[[2.0, 1.0], [1.0, 2.0], [1.0, 2.0]]))
    assert main(["validate", str(path)]) == 0
    assert "repaired on read: 1 blocks with unsorted time" in capsys.readouterr().out


def _run(*args):
    env = {**os.environ, "ASTROM3_PROGRESS": "0"}
    return subprocess.run([sys.executable, "-m", "core", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_validate_subprocess(tmp_path):
    bad = write(tmp_path / "bad", objects_table(["a", "b", "a"]))
    r = _run("validate", str(bad))
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [
        f"astrom3: error: {bad / 'objects.parquet'}, column 'id': duplicate ids for id 'a'; expected unique ids"]
    good = write(tmp_path / "good", objects_table(), lc_table())
    r = _run("validate", str(good))
    assert r.returncode == 0 and "3 objects" in r.stdout
