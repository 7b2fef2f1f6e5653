#!/bin/sh
# Put FLYP Studio in the desktop's application menu, with its icon, and make double-clicking a
# *.flyp.json project open it. For the current user (~/.local/share), or for everyone with
# `sudo ./install.sh --system` (/usr/local/share). `./install.sh --uninstall` removes it again.
#
# Works from the unpacked bundle (flyp-studio/desktop/install.sh: the bundle's executable is
# used) and from a source checkout (packaging/linux/install.sh: the `flyp-studio` on PATH, e.g.
# after `pip install flyp-studio`). `--exec PATH` names another executable.
set -eu

APP_ID=org.flypstudio.FlypStudio
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${XDG_DATA_HOME:-$HOME/.local/share}
EXEC=
ACTION=install
SYSTEM=no
while [ $# -gt 0 ]; do
  case "$1" in
    --system) DATA=/usr/local/share; SYSTEM=yes ;;
    --uninstall) ACTION=uninstall ;;
    --exec) EXEC=$2; shift ;;
    *) echo "usage: $0 [--system] [--exec PATH] [--uninstall]" >&2; exit 2 ;;
  esac
  shift
done

ICONS=$HERE/icons
[ -d "$ICONS" ] || ICONS=$HERE/../../resources/icons
SIZES="16 32 48 64 128 256"

refresh() {  # the desktop's caches; each tool is optional
  command -v update-mime-database >/dev/null && update-mime-database "$DATA/mime" || true
  command -v update-desktop-database >/dev/null && update-desktop-database -q "$DATA/applications" || true
  # An icon cache in a user's folder goes stale when other programs add icons there: system only.
  [ "$SYSTEM" = yes ] && command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$DATA/icons/hicolor" || true
}

if [ "$ACTION" = uninstall ]; then
  rm -f "$DATA/applications/$APP_ID.desktop" "$DATA/metainfo/$APP_ID.metainfo.xml" \
        "$DATA/mime/packages/$APP_ID.xml" "$DATA/icons/hicolor/scalable/apps/$APP_ID.svg"
  for size in $SIZES; do rm -f "$DATA/icons/hicolor/${size}x$size/apps/$APP_ID.png"; done
  refresh
  echo "FLYP Studio removed from $DATA"
  exit 0
fi

if [ -z "$EXEC" ]; then
  if [ -x "$HERE/../flyp-studio" ]; then
    EXEC=$(cd "$HERE/.." && pwd)/flyp-studio
  else
    EXEC=$(command -v flyp-studio) || { echo "flyp-studio is not on PATH; give it with --exec PATH" >&2; exit 2; }
  fi
fi
case "$EXEC" in *[[:space:]]*) EXEC="\"$EXEC\"" ;; esac  # the Exec key quotes paths with spaces

mkdir -p "$DATA/applications" "$DATA/metainfo" "$DATA/mime/packages" "$DATA/icons/hicolor/scalable/apps"
sed "s|^Exec=flyp-studio |Exec=$EXEC |" "$HERE/$APP_ID.desktop" > "$DATA/applications/$APP_ID.desktop"
cp "$HERE/$APP_ID.metainfo.xml" "$DATA/metainfo/"
cp "$HERE/$APP_ID.mime.xml" "$DATA/mime/packages/$APP_ID.xml"
cp "$ICONS/flyp-studio.svg" "$DATA/icons/hicolor/scalable/apps/$APP_ID.svg"
for size in $SIZES; do
  mkdir -p "$DATA/icons/hicolor/${size}x$size/apps"
  cp "$ICONS/flyp-studio-$size.png" "$DATA/icons/hicolor/${size}x$size/apps/$APP_ID.png"
done
refresh
# This user's default for the type (a system install leaves each user's choice alone).
[ "$SYSTEM" = no ] && command -v xdg-mime >/dev/null && xdg-mime default "$APP_ID.desktop" application/x-flyp-project || true
echo "FLYP Studio installed in $DATA (runs $EXEC)"
