#!/usr/bin/env bash
# Builds the ha-compat Debian package (no debhelper: the tree is laid out here and packed
# with dpkg-deb). The package Provides, Conflicts with and Replaces Debian 12's haproxy and
# keepalived, so installing it swaps them out while keeping their configuration files.
#
#   packaging/build-deb.sh [--binary PATH] [--out DIR]
#
# --binary: the ha-compat executable to package (default: `cargo build --release -p
#           ha-compat`, then $CARGO_TARGET_DIR/release/ha-compat).
# --out:    where the .deb goes (default: $CARGO_TARGET_DIR/packaging, or target/packaging).
# Prints the .deb's path on the last line of stdout.
#
# Needs: dpkg-deb, dpkg-shlibdeps (dpkg-dev), strip (binutils). See packaging/README.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
binary=""
out="$target/packaging"

while [ $# -gt 0 ]; do
    case "$1" in
        --binary) binary=${2:?--binary needs a path}; shift 2 ;;
        --out) out=${2:?--out needs a directory}; shift 2 ;;
        -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "build-deb.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done
for tool in dpkg-deb dpkg-shlibdeps strip; do
    command -v "$tool" >/dev/null || {
        echo "build-deb.sh: $tool is missing (apt-get install dpkg-dev binutils)" >&2
        exit 2
    }
done

if [ -z "$binary" ]; then
    (cd "$repo" && cargo build --release -q -p ha-compat)
    binary="$target/release/ha-compat"
fi
[ -x "$binary" ] || { echo "build-deb.sh: no executable at $binary" >&2; exit 2; }

# The version of the binary being packaged (clap's `ha-compat --version`: "ha-compat X.Y.Z"),
# which is the workspace's Cargo version; a --binary from another build says its own.
version=$("$binary" --version | awk '$1 == "ha-compat" { print $2 }')
case "$version" in
    [0-9]*) ;;
    *) echo "build-deb.sh: cannot read a version from '$binary --version'" >&2; exit 2 ;;
esac
arch=$(dpkg --print-architecture)
mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$(mktemp -d "$out/stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
pkg="$stage/pkg"
mkdir -p "$pkg/DEBIAN"

# --- files -----------------------------------------------------------------------------
# The binary, stripped as dh_strip does (the release profile keeps line tables: debug = 1).
install -d -m 0755 "$pkg/usr/sbin"
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
    -o "$pkg/usr/sbin/ha-compat" "$binary"
chmod 0755 "$pkg/usr/sbin/ha-compat"
# The names the binary answers to (it picks its personality from argv[0]).
ln -s ha-compat "$pkg/usr/sbin/haproxy"
ln -s ha-compat "$pkg/usr/sbin/keepalived"

# Configuration files and helpers copied from Debian 12's haproxy 2.6.12-1+deb12u4 and
# keepalived 1:2.2.7-1+b2, byte for byte (packaging/README.md lists them with their md5):
# identical conffiles let dpkg hand them over from the replaced packages without a prompt
# and keep the administrator's edits.
(cd "$here/root" && find . -type d) | while read -r d; do install -d -m 0755 "$pkg/$d"; done
(cd "$here/root" && find . -type f) | while read -r f; do install -m 0644 "$here/root/$f" "$pkg/$f"; done
# Debian 12 keeps units in /lib/systemd/system (merged /usr, but dpkg does not know the
# aliases): the same path as haproxy's and keepalived's, or dpkg would treat them as two
# files and removing the old package would delete ours.
install -d -m 0755 "$pkg/lib/systemd/system"
install -m 0644 "$here"/systemd/*.service "$pkg/lib/systemd/system/"
# haproxy's chroot (`chroot /var/lib/haproxy` in the default haproxy.cfg) with dev/ for the
# /dev/log bind mount of haproxy.service and rsyslog's extra socket.
install -d -m 0755 "$pkg/var/lib/haproxy" "$pkg/var/lib/haproxy/dev"
install -d -m 0755 "$pkg/usr/share/doc/ha-compat"
install -m 0644 "$here/README.md" "$pkg/usr/share/doc/ha-compat/README.md"
cat > "$pkg/usr/share/doc/ha-compat/copyright" <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ha-compat

Files: *
License: GPL-2+

Files: etc/haproxy/* etc/default/haproxy etc/rsyslog.d/49-haproxy.conf
 etc/logrotate.d/haproxy usr/lib/tmpfiles.d/haproxy.conf
Comment: copied unchanged from Debian's haproxy 2.6.12-1+deb12u4 package
Copyright: Willy Tarreau and the HAProxy contributors; Debian HAProxy Maintainers
License: GPL-2+

Files: etc/keepalived/keepalived.conf.sample etc/default/keepalived
Comment: copied unchanged from Debian's keepalived 1:2.2.7-1+b2 package
Copyright: Alexandre Cassen, Quentin Armitage and the keepalived contributors
License: GPL-2+

License: GPL-2+
 On Debian systems the full text of the GNU General Public License version 2 is in
 /usr/share/common-licenses/GPL-2.
EOF

# --- control ---------------------------------------------------------------------------
# Conffiles: everything under /etc, as Debian's packages list theirs.
(cd "$pkg" && find etc -type f | sort | sed 's|^|/|') > "$pkg/DEBIAN/conffiles"

# Shared-library dependencies as dpkg-shlibdeps computes them for debhelper packages
# (it wants a debian/control next to it; a minimal one in the stage is enough).
mkdir -p "$stage/src/debian"
printf 'Source: ha-compat\n\nPackage: ha-compat\nArchitecture: any\n' > "$stage/src/debian/control"
shlibs=$(cd "$stage/src" && dpkg-shlibdeps -O "$pkg/usr/sbin/ha-compat" 2>/dev/null |
    sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "build-deb.sh: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
installed_size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)

{
    printf 'Package: ha-compat\nVersion: %s\nArchitecture: %s\n' "$version" "$arch"
    printf 'Maintainer: ha-compat developers <root@localhost>\nInstalled-Size: %s\n' "$installed_size"
    printf 'Pre-Depends: init-system-helpers (>= 1.54~)\nDepends: %s, adduser\n' "$shlibs"
    # Versioned: the releases whose configuration files and command lines ha-compat takes.
    # Conflicts + Replaces: dpkg removes the originals and takes over their files.
    cat <<'CONTROL'
Provides: haproxy (= 2.6.12), keepalived (= 1:2.2.7)
Conflicts: haproxy, keepalived
Replaces: haproxy, keepalived
Section: net
Priority: optional
Description: keepalived and haproxy replacement reading their configuration unchanged
 ha-compat is one program that replaces keepalived 2.2.7 (VRRP) and HAProxy 2.6.12
 (TCP/HTTP load balancing) on load-balancer nodes. It reads
 /etc/keepalived/keepalived.conf and /etc/haproxy/haproxy.cfg unchanged and answers
 to the names keepalived and haproxy: `haproxy -c -f FILE`, `keepalived -t -f FILE`
 and the keepalived.service and haproxy.service units keep working.
 .
 See /usr/share/doc/ha-compat/README.md for what is not supported yet.
CONTROL
} > "$pkg/DEBIAN/control"

# --- maintainer scripts ----------------------------------------------------------------
# Debian's haproxy and keepalived scripts (generated by dh_installsystemd/dh_installinit
# 13.11.4) minus the SysV init parts: no /etc/init.d scripts are shipped.
cat > "$pkg/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e

# The haproxy user and group, exactly as Debian's haproxy postinst creates them.
adduser --system --disabled-password --disabled-login --home /var/lib/haproxy \
        --no-create-home --quiet --force-badname --group haproxy

if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || [ "$1" = "abort-deconfigure" ] || [ "$1" = "abort-remove" ] ; then
	# /run/haproxy for the default haproxy.cfg's stats socket (usr/lib/tmpfiles.d/haproxy.conf).
	if [ -x "$(command -v systemd-tmpfiles)" ]; then
		systemd-tmpfiles ${DPKG_ROOT:+--root="$DPKG_ROOT"} --create haproxy.conf >/dev/null || true
	fi
	# Enabled like Debian's units (a replaced package's enablement carries over);
	# ha-compat.service is left alone: the operator chooses it instead of the two units (README.md).
	for unit in haproxy.service keepalived.service; do
		deb-systemd-helper unmask "$unit" >/dev/null || true
		if deb-systemd-helper --quiet was-enabled "$unit"; then
			deb-systemd-helper enable "$unit" >/dev/null || true
		else
			deb-systemd-helper update-state "$unit" >/dev/null || true
		fi
	done
	if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
		# An upgrade restarts (the binary changed; there is no reload yet).
		if [ -n "$2" ]; then
			_action=restart
		else
			_action=start
		fi
		deb-systemd-invoke $_action haproxy.service keepalived.service >/dev/null || true
	fi
fi

exit 0
EOF

cat > "$pkg/DEBIAN/prerm" <<'EOF'
#!/bin/sh
set -e
if [ -z "${DPKG_ROOT:-}" ] && [ "$1" = remove ] && [ -d /run/systemd/system ] ; then
	deb-systemd-invoke stop haproxy.service keepalived.service ha-compat.service >/dev/null || true
fi
exit 0
EOF

cat > "$pkg/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ] ; then
	systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = "purge" ]; then
	if [ -x "/usr/bin/deb-systemd-helper" ]; then
		deb-systemd-helper purge haproxy.service keepalived.service ha-compat.service >/dev/null || true
	fi
	# As Debian's haproxy postrm: the user and group go on purge only.
	deluser --system haproxy >/dev/null 2>&1 || true
	delgroup --system haproxy >/dev/null 2>&1 || true
fi
exit 0
EOF
chmod 0755 "$pkg/DEBIAN/postinst" "$pkg/DEBIAN/prerm" "$pkg/DEBIAN/postrm"

# md5sums of everything but the conffiles, as dh_md5sums writes them.
(cd "$pkg" && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\n' | sort |
    xargs md5sum) > "$pkg/DEBIAN/md5sums"

deb="$out/ha-compat_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
echo "$deb"
