"""Build the one-folder desktop bundle: `python packaging/build.py [--cpu] [--archive]`.

Runs PyInstaller on packaging/flyp-studio.spec with the Python environment that runs this
script (or, with --cpu, a build venv holding CPU-only PyTorch wheels), writes dist/flyp-studio/
(the `flyp-studio` app and the `flyp` command line), checks that the frozen command line starts
and prints the size. On Linux the bundle also carries desktop/ (menu entry, AppStream file,
MIME type, icons and install.sh). See packaging/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
BUILD = ROOT / "build"
BUNDLE = DIST / "flyp-studio"
APP_ID = "org.flypstudio.FlypStudio"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="store_true",
                        help="freeze a build venv (build/venv-cpu) with CPU-only PyTorch instead of this environment")
    parser.add_argument("--torch", default="torch torchvision",
                        help="PyTorch requirements for --cpu (default: %(default)s)")
    parser.add_argument("--torch-index", default=CPU_INDEX,
                        help="package index for --torch ('' = pip's configured index; default: %(default)s)")
    parser.add_argument("--archive", action="store_true", help="also pack the folder (.tar.gz, or .zip on Windows)")
    args = parser.parse_args(argv)

    python = cpu_venv(args.torch, args.torch_index) if args.cpu else Path(sys.executable)
    require_pyinstaller(python)
    torch_build = run_text([python, "-c", "import torch; print(torch.__version__)"])
    print(f"freezing with {python} (torch {torch_build})", flush=True)
    started = time.monotonic()
    subprocess.run([str(python), "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
                    "--distpath", str(DIST), "--workpath", str(BUILD / "pyinstaller"),
                    str(ROOT / "packaging" / "flyp-studio.spec")], check=True, cwd=ROOT)
    if sys.platform.startswith("linux"):
        add_desktop_files(BUNDLE / "desktop")
    cli = BUNDLE / ("flyp.exe" if os.name == "nt" else "flyp")
    if cli.exists():  # on macOS the folder is wrapped in dist/FLYP Studio.app as well
        # `flyp models` imports torch, torchvision and open_clip and reads the bundled configs.
        architectures = json.loads(run_text([cli, "models", "--json"]))
        if "flyp-tiny" not in architectures:
            sys.exit("the frozen `flyp models` does not list flyp-tiny: resources/model_configs is missing")
        print(f"frozen command line starts: `flyp models` lists {len(architectures)} models")
    size, files = folder_size(BUNDLE)
    print(f"built {BUNDLE.relative_to(ROOT)}/ in {time.monotonic() - started:.0f} s: "
          f"{size / 2**20:.0f} MiB in {files} files (torch {torch_build})")
    if args.archive:
        archive = pack(BUNDLE, torch_build)
        print(f"archive {archive.relative_to(ROOT)}: {archive.stat().st_size / 2**20:.0f} MiB")
    return 0


def cpu_venv(requirements: str, index: str) -> Path:
    """build/venv-cpu with CPU-only torch, FLYP Studio's dependencies (ONNX included) and PyInstaller."""
    venv = BUILD / "venv-cpu"
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run(pip + requirements.split() + (["--index-url", index] if index else []), check=True)
        subprocess.run(pip + [f"{ROOT}[onnx]", "pyinstaller"], check=True)
    return python


def require_pyinstaller(python: Path) -> None:
    if subprocess.run([str(python), "-c", "import PyInstaller"], capture_output=True).returncode:
        sys.exit(f"PyInstaller is not installed in {python}: run `{python} -m pip install pyinstaller`")


def add_desktop_files(target: Path) -> None:
    """The Linux menu entry, AppStream file, MIME type, icons and their installer, beside the app."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(ROOT / "packaging" / "linux", target)
    icons = target / "icons"
    icons.mkdir()
    for icon in (ROOT / "resources" / "icons").glob("flyp-studio*"):
        shutil.copy2(icon, icons / icon.name)


def folder_size(folder: Path) -> tuple[int, int]:
    """Bytes and number of files under `folder` (links counted once, not followed)."""
    sizes = [p.lstat().st_size for p in folder.rglob("*") if p.is_file() or p.is_symlink()]
    return sum(sizes), len(sizes)


def pack(folder: Path, torch_build: str) -> Path:
    from core import __version__

    variant = "cpu" if "+cpu" in torch_build or sys.platform == "darwin" else "torch-" + torch_build.replace("+", "-")
    platform = {"linux": "linux", "win32": "windows", "darwin": "macos"}.get(sys.platform, sys.platform)
    base = DIST / f"flyp-studio-{__version__}-{platform}-{variant}"
    fmt = "zip" if os.name == "nt" else "gztar"
    return Path(shutil.make_archive(str(base), fmt, root_dir=folder.parent, base_dir=folder.name))


def run_text(command: list) -> str:
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(map(str, command))} failed ({done.returncode}):\n{done.stderr.strip()}")
    return done.stdout.strip()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
