"""`gdsim` / `python -m app`: help, unknown subcommands, and no Qt for headless work."""

import subprocess
import sys

from app.main import main


def test_help_lists_subcommands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "trace" in out and "train" in out


def test_unknown_subcommand_is_one_line_exit_2(capsys):
    assert main(["frobnicate"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "frobnicate" in err


def test_python_dash_m_app_help_runs_without_qt():
    code = (
        "import runpy, sys\n"
        "sys.argv = ['app', '--help']\n"
        "try:\n"
        "    runpy.run_module('app', run_name='__main__')\n"
        "except SystemExit as e:\n"
        "    assert e.code == 0, e.code\n"
        "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "usage: gdsim" in out.stdout
    assert out.stdout.strip().endswith("[]")
