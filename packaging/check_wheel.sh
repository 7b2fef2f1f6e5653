#!/usr/bin/env bash
# CI: build the sdist and the wheel (`python -m build`), install the wheel in a fresh venv and
# use it from outside the checkout: its data files, `flyp --help`, and a zero-shot on the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/.venv/bin/python  # the venv .ci/run made
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

"$PY" -m pip install -q build
"$PY" -m build --outdir "$scratch/dist" . >"$scratch/build.log" 2>&1 || { cat "$scratch/build.log"; exit 1; }
wheel=$(ls "$scratch"/dist/*.whl)
echo "built $(basename "$wheel") ($(du -k "$wheel" | cut -f1) KiB) and $(basename "$scratch"/dist/*.tar.gz)"

# Every file under resources/ is in the wheel (the wheel is built from the sdist, so both are).
"$PY" - "$wheel" <<'PYEOF'
import sys, zipfile
from pathlib import Path
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
wanted = {p.as_posix() for p in Path("resources").rglob("*")
          if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
missing = sorted(wanted - names)
if missing:
    sys.exit(f"not in the wheel: {', '.join(missing)}")
print(f"the wheel holds all {len(wanted)} files under resources/")
PYEOF

# The dev venv's torch and torchvision, pinned: the same wheels (from pip's cache or the
# mirror), and the resolver does not go looking for newer ones.
pins=$("$PY" -c "from importlib.metadata import version as v; print(*(f'{p}=={v(p)}' for p in ('torch', 'torchvision')))")
python3 -m venv "$scratch/venv"
bin=$scratch/venv/bin
"$bin/pip" install -q $pins
"$bin/pip" install -q "$wheel"
site=$("$bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

cd "$scratch"  # away from the checkout: only the installed wheel can be imported
"$bin/python" "$ROOT/packaging/check_resources.py" --inside "$site"
"$bin/flyp" --help >/dev/null
"$bin/flyp" demo data "$scratch/demo" >/dev/null
if [ -f "$site/resources/models/demo/open_clip_config.json" ]; then
  model=(--model demo)
else  # the embedded demo model is not in resources/models/demo yet: a tiny random CLIP
  model=(--model flyp-tiny --pretrained none)
fi
"$bin/flyp" zeroshot "${model[@]}" --data "$scratch/demo/val" --json >"$scratch/zeroshot.json"
"$bin/python" - "$scratch/zeroshot.json" "${model[*]}" <<'PYEOF'
import json, sys
result = json.load(open(sys.argv[1]))
assert 0 <= result["accuracy"] <= 1 and result["n"] > 0, result
print(f"installed wheel: flyp zeroshot {sys.argv[2]} on the demo's val: accuracy {result['accuracy']:.3f} on {result['n']} images")
PYEOF
