"""Typed settings reads: garbage and old values fall back to defaults with a warning."""

from __future__ import annotations

import logging

import pytest
from PySide6.QtCore import QByteArray, QSettings

from app import settings as st


@pytest.fixture
def ini(tmp_path):
    path = tmp_path / "s.ini"
    path.write_text(
        "[General]\n"
        "zoom=banana\nzoom_ok=1.5\nzoom_inf=inf\nn=3\nn_bad=3.5\nflag=true\nflag_bad=maybe\n"
        "theme=3\ntheme_ok=dark\ngeometry=@ByteArray(abc)\ngeometry_bad=notbytes\n",
        encoding="utf-8",
    )
    return QSettings(str(path), QSettings.Format.IniFormat)


def test_read_float_rejects_garbage_with_a_warning(ini, caplog):
    with caplog.at_level(logging.WARNING, logger="gdsim.settings"):
        assert st.read_float(ini, "zoom", 1.0) == 1.0
        assert st.read_float(ini, "zoom_inf", 1.0) == 1.0
        assert st.read_float(ini, "zoom_ok", 1.0, 0.5, 3.0) == 1.5
        assert st.read_float(ini, "zoom_ok", 1.0, 2.0, 3.0) == 1.0  # out of range
        assert st.read_float(ini, "missing", 7.0) == 7.0
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "zoom='banana'" in warned and "zoom_inf" in warned and "outside" in warned
    assert "missing" not in warned  # absent keys are normal, not a warning


def test_read_int_bool_str_bytes(ini, caplog):
    with caplog.at_level(logging.WARNING, logger="gdsim.settings"):
        assert st.read_int(ini, "n", 0) == 3
        assert st.read_int(ini, "n_bad", 0) == 0
        assert st.read_bool(ini, "flag", False) is True
        assert st.read_bool(ini, "flag_bad", False) is False
        assert st.read_str(ini, "theme", "light", ("light", "dark")) == "light"
        assert st.read_str(ini, "theme_ok", "light", ("light", "dark")) == "dark"
        assert st.read_bytes(ini, "geometry") == QByteArray(b"abc")
        assert st.read_bytes(ini, "geometry_bad") is None
    assert len(caplog.records) == 4


def test_organization_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(st.ORG_ENV, "someone-else")
    assert st.organization() == "someone-else"
    monkeypatch.delenv(st.ORG_ENV)
    assert st.organization() == "gdsim"


def test_open_settings_lands_in_the_test_directory(_isolated_settings):
    s = st.open_settings()
    s.setValue("x", 1)
    s.sync()
    assert s.fileName().startswith(str(_isolated_settings))
    assert "gdsim-tests" in s.fileName()


def test_settings_file_override(tmp_path):
    target = tmp_path / "elsewhere.ini"
    st.set_settings_file(target)
    s = st.open_settings()
    s.setValue("k", "v")
    s.sync()
    assert target.exists()
