#!/usr/bin/env bash
# CI: the Linux desktop files are valid, the icons have their sizes, the MIME type claims
# *.flyp.json, and install.sh puts it all where desktops look (into a scratch folder).
set -euo pipefail
cd "$(dirname "$0")/.."
LINUX=packaging/linux
APP_ID=org.flypstudio.FlypStudio

if ! command -v desktop-file-validate >/dev/null || ! command -v appstreamcli >/dev/null \
   || ! command -v update-mime-database >/dev/null; then
  echo "installing desktop-file-utils, appstream, shared-mime-info"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    desktop-file-utils appstream shared-mime-info >/dev/null
fi

desktop-file-validate "$LINUX/$APP_ID.desktop"
appstreamcli validate --no-net "$LINUX/$APP_ID.metainfo.xml"

python3 - <<'EOF'
import struct
from pathlib import Path
for size in (16, 32, 48, 64, 128, 256):
    path = Path(f"resources/icons/flyp-studio-{size}.png")
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path}: not a PNG"
    assert struct.unpack(">II", head[16:24]) == (size, size), f"{path}: not {size}x{size}"
assert Path("resources/icons/flyp-studio.svg").read_text().lstrip().startswith("<?xml")
print("icons: svg + 16/32/48/64/128/256 px")
EOF

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
XDG_DATA_HOME="$scratch/share" "$LINUX/install.sh" --exec /opt/FLYP\ Studio/flyp-studio >/dev/null
installed="$scratch/share/applications/$APP_ID.desktop"
desktop-file-validate "$installed"
grep -qx 'Exec="/opt/FLYP Studio/flyp-studio" %f' "$installed"
for f in "metainfo/$APP_ID.metainfo.xml" "mime/packages/$APP_ID.xml" "icons/hicolor/scalable/apps/$APP_ID.svg" \
         "icons/hicolor/16x16/apps/$APP_ID.png" "icons/hicolor/256x256/apps/$APP_ID.png"; do
  test -s "$scratch/share/$f" || { echo "install.sh did not install $f" >&2; exit 1; }
done
# update-mime-database (run by install.sh) compiled the type: its glob and parent type.
cp /usr/share/mime/packages/freedesktop.org.xml "$scratch/share/mime/packages/"
XDG_DATA_HOME="$scratch/share" update-mime-database "$scratch/share/mime"
grep -q '^application/x-flyp-project:\*\.flyp\.json$' <(cut -d: -f2- "$scratch/share/mime/globs2")
grep -qx 'application/x-flyp-project application/json' "$scratch/share/mime/subclasses"
if command -v gio >/dev/null; then  # what a file manager sees when the project is double-clicked
  echo '{"format": 1}' > "$scratch/My classifier.flyp.json"
  type=$(XDG_DATA_HOME="$scratch/share" XDG_DATA_DIRS="$scratch/share" \
         gio info -a standard::content-type "$scratch/My classifier.flyp.json" | sed -n 's/.*content-type: //p')
  [ "$type" = application/x-flyp-project ] || { echo "*.flyp.json is seen as $type" >&2; exit 1; }
fi
XDG_DATA_HOME="$scratch/share" "$LINUX/install.sh" --uninstall >/dev/null
test ! -e "$installed"
echo "desktop entry, AppStream metadata, MIME type and install.sh: valid"
