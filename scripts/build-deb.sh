#!/usr/bin/env bash
# Builds the Debian package: minetap_<version>_<arch>.deb with the binary (the rules are built
# into it), /etc/minetap/minetap.toml (a conffile), the systemd unit minetap-live@.service, the
# man page and the bash completions generated from the binary's own command-line definitions.
#
#   scripts/build-deb.sh [--binary PATH] [--out DIR] [--compress xz|gzip|none]
#
# Without --binary, builds the release binary first; the packaged copy is stripped. Needs dpkg-deb (Debian's dpkg). The
# package's dependencies are the packages that hold the libraries the binary links to.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
binary="" out="$root/target/debian" compress=xz
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --compress) compress="$2"; shift 2 ;;
    *) echo "build-deb.sh: unknown argument '$1' (--binary PATH, --out DIR, --compress KIND)" >&2; exit 2 ;;
  esac
done
command -v dpkg-deb >/dev/null || { echo "build-deb.sh: dpkg-deb is needed (apt-get install dpkg)" >&2; exit 1; }
if [ -z "$binary" ]; then
  cargo build --release --manifest-path "$root/Cargo.toml"
  binary="$root/target/release/minetap"
fi
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)"
arch="$(dpkg --print-architecture)"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
pkg="$stage/minetap"
install -D -m 0755 "$binary" "$pkg/usr/bin/minetap"
strip --strip-unneeded "$pkg/usr/bin/minetap"
install -D -m 0644 "$root/deploy/debian/minetap.toml" "$pkg/etc/minetap/minetap.toml"
install -D -m 0644 "$root/deploy/debian/minetap-live@.service" "$pkg/lib/systemd/system/minetap-live@.service"
install -d "$pkg/usr/share/man/man1" "$pkg/usr/share/bash-completion/completions" "$pkg/usr/share/doc/minetap"
"$binary" man | gzip -9n > "$pkg/usr/share/man/man1/minetap.1.gz"
"$binary" completions bash > "$pkg/usr/share/bash-completion/completions/minetap"
install -m 0644 "$root/README.md" "$pkg/usr/share/doc/minetap/README.md"
[ -f "$root/LICENSE" ] && install -m 0644 "$root/LICENSE" "$pkg/usr/share/doc/minetap/copyright"
cp -r "$root/rules" "$pkg/usr/share/doc/minetap/rules"
install -d "$pkg/DEBIAN"
for s in postinst prerm postrm; do install -m 0755 "$root/deploy/debian/$s" "$pkg/DEBIAN/$s"; done
echo /etc/minetap/minetap.toml > "$pkg/DEBIAN/conffiles"
# The packages holding the libraries the binary links to.
depends="$(for lib in $(ldd "$binary" | awk '/=> \//{print $3}'); do
    dpkg -S "$lib" 2>/dev/null || dpkg -S "$(basename "$lib")" 2>/dev/null || true
  done | grep -v -- '-dev' | cut -d: -f1 | sort -u | paste -sd, | sed 's/,/, /g')"
depends="${depends:+$depends, }adduser"
size="$(du -sk "$pkg" --exclude=DEBIAN | cut -f1)"
cat > "$pkg/DEBIAN/control" <<CONTROL
Package: minetap
Version: $version
Architecture: $arch
Maintainer: minetap developers <minetap@localhost>
Installed-Size: $size
Depends: $depends
Section: net
Priority: optional
Description: finds cryptocurrency-mining connections in network traffic
 minetap reads mirrored traffic or packet captures, recognises mining protocols
 (Stratum and its kin, also over TLS) and pool endpoints, estimates hashrate and
 power, attributes each hit to a subscriber, and writes events and evidence.
 The minetap-live@.service unit captures on one interface as an unprivileged
 user with only the capture capabilities.
CONTROL
mkdir -p "$out"
deb="$out/minetap_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Z"$compress" --build "$pkg" "$deb" >/dev/null
echo "$deb"
