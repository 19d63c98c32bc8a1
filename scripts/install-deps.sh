#!/bin/sh
# Install every Debian 12 package soterd needs to build, run its demo and run its
# tests. Idempotent: packages already present are left alone, and apt is only
# consulted when something is missing.
set -eu

PACKAGES="
  build-essential pkg-config meson ninja-build
  libglib2.0-dev libglib2.0-bin
  libfprint-2-dev libfprint-2-2 gir1.2-fprint-2.0
  libssl-dev openssl
  libjson-glib-dev
  libpolkit-gobject-1-dev
  libsystemd-dev libdbus-1-dev
  gobject-introspection libgirepository1.0-dev gir1.2-glib-2.0 gi-docgen
  dbus dbus-daemon polkitd util-linux mount systemd
  python3 python3-gi python3-dbus python3-dbusmock python3-cryptography
  clang libclang-rt-14-dev valgrind
  libtss2-dev swtpm swtpm-tools tpm2-tools libtss2-tcti-swtpm0
  umockdev gir1.2-umockdev-1.0
  gettext locales
  libgtk-4-dev libadwaita-1-dev xvfb at-spi2-core python3-pyatspi gir1.2-atspi-2.0 imagemagick xdotool
  gjs
"

missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  exit 0
fi

echo "soterd: installing$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
