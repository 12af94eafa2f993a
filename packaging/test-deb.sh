#!/usr/bin/env bash
# Installs the ha-compat package into a clean Debian 12 (bookworm) root and checks it there:
# dpkg -i works, the haproxy user/group and /var/lib/haproxy exist, dpkg -s shows the
# Provides, the conffiles are Debian's byte for byte, and `haproxy -c -f` / `keepalived -t
# -f` inside the root answer exactly as the REAL haproxy 2.6.12 and keepalived 2.2.7 of
# this host do on the seed configs (same paths, same network namespace); then that a root
# with Debian's real haproxy and keepalived installed is taken over cleanly (--replace),
# and that dpkg -r / --purge remove it. Prints a pass/fail table; exits 1 on any failure.
#
#   packaging/test-deb.sh [--deb FILE] [--replace] [--no-cache]
#
# --deb:      the package to test (default: built with packaging/build-deb.sh).
# --replace:  also install Debian's haproxy and keepalived in a second root (apt-get
#             inside it, from the network) and install ours over them.
# --no-cache: debootstrap again even if today's root tarball is cached.
#
# Must run as root (debootstrap, chroot, network namespaces). Nothing is installed on the
# host itself: every dpkg runs inside a root under $CARGO_TARGET_DIR/packaging/ (or
# target/packaging/). The debootstrapped root is cached there as a tarball named by date
# (bookworm-minbase-YYYYMMDD.tar), so it is rebuilt at most once a day; every run unpacks
# a fresh copy. /proc is mounted in the roots and always unmounted on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
work="$target/packaging/test"
cache="$target/packaging/cache"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
deb=""
replace=0
use_cache=1
while [ $# -gt 0 ]; do
    case "$1" in
        --deb) deb=${2:?--deb needs a file}; shift 2 ;;
        --replace) replace=1; shift ;;
        --no-cache) use_cache=0; shift ;;
        -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "test-deb.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done

die() { echo "test-deb.sh: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "must run as root"
for tool in debootstrap chroot ip dpkg-deb haproxy keepalived; do
    command -v "$tool" >/dev/null || die "$tool is missing (scripts/test.sh installs it)"
done
# The reference: the host's Debian packages, unmodified binaries.
ref_haproxy=$(dpkg-query -W -f='${Version}' haproxy 2>/dev/null || true)
ref_keepalived=$(dpkg-query -W -f='${Version}' keepalived 2>/dev/null || true)
[ "$ref_haproxy" = "2.6.12-1+deb12u4" ] ||
    echo "test-deb.sh: WARNING the reference haproxy is '$ref_haproxy', not 2.6.12-1+deb12u4" >&2
case "$ref_keepalived" in 1:2.2.7-*) ;; *)
    echo "test-deb.sh: WARNING the reference keepalived is '$ref_keepalived', not 1:2.2.7" >&2 ;;
esac

if [ -z "$deb" ]; then
    deb=$("$here/build-deb.sh" | tail -1)
fi
[ -f "$deb" ] || die "no package at $deb"
deb=$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")

# --- cleanup, whatever happens -----------------------------------------------------------
NS=hacpkg-$$
SEEDS=/tmp/ha-compat-seedcheck
roots=()
cleanup() {
    local r
    for r in "${roots[@]}"; do
        # Everything mounted under the root, deepest first.
        while read -r m; do
            umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
        done < <(awk -v r="$r/" 'index($2, r) == 1 { print $2 }' /proc/self/mounts | sort -r)
    done
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$SEEDS"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mounted_under() { awk -v r="$1/" 'index($2, r) == 1' /proc/self/mounts | grep -q .; }

# A fresh copy of the cached root at $1 with /proc mounted.
new_root() {
    local r=$1
    mounted_under "$r" && die "$r still has mounts: not removing it"
    rm -rf "$r"
    mkdir -p "$r"
    tar -xf "$base" -C "$r"
    roots+=("$r")
    mount -t proc proc "$r/proc"
    # Names resolve in the root as on the host (`localhost`): the seed checks compare them.
    cp /etc/hosts "$r/etc/hosts"
}

in_root() { local r=$1; shift; chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }

# --- the clean root, cached by date ------------------------------------------------------
mkdir -p "$cache" "$work"
base="$cache/bookworm-minbase-$(date +%Y%m%d).tar"
if [ "$use_cache" = 0 ] || [ ! -s "$base" ]; then
    started=$(date +%s)
    find "$cache" -name 'bookworm-minbase-*.tar' -delete
    boot="$work/debootstrap"
    mounted_under "$boot" && die "$boot still has mounts"
    rm -rf "$boot"
    # debootstrap mounts /proc and /sys in it while it works: unmounted on exit if it fails.
    roots+=("$boot")
    # minbase + adduser (Depends of ours and of Debian's haproxy; Priority important, so a
    # normal install has it) + psmisc (killall: the seeds' track scripts call it and
    # `keepalived -t` looks the program up; the host, like fixtures/keepalived/measure.sh's
    # setup, has it).
    echo "test-deb.sh: debootstrap bookworm (minbase) from $mirror ..." >&2
    if ! debootstrap --variant=minbase --include=adduser,psmisc bookworm "$boot" "$mirror" \
        >"$work/debootstrap.log" 2>&1; then
        tail -20 "$work/debootstrap.log" >&2
        die "debootstrap failed (log: $work/debootstrap.log)"
    fi
    tar -cf "$base.tmp" -C "$boot" .
    mv "$base.tmp" "$base"
    rm -rf "$boot"
    echo "test-deb.sh: root cached as $base in $(($(date +%s) - started)) s" >&2
fi

# --- the namespace every compared command runs in ----------------------------------------
# As fixtures/keepalived/measure.sh records keepalived's reference: lo, eth0 10.0.0.1/24,
# eth1 192.168.56.21/24 (veth pairs); no route out, so the seeds' unresolvable server names
# fail the same way for both and no lookup leaves the machine.
ip netns add "$NS"
ip -n "$NS" link set lo up
for i in 0 1; do
    ip -n "$NS" link add "eth$i" type veth peer name "peth$i"
    ip -n "$NS" link set "eth$i" up
    ip -n "$NS" link set "peth$i" up
done
ip -n "$NS" addr add 10.0.0.1/24 dev eth0
ip -n "$NS" addr add 192.168.56.21/24 dev eth1

# --- the table ---------------------------------------------------------------------------
results=()
failures=0
record() { # status check detail
    results+=("$(printf '%-7s %-58s %s' "$1" "$2" "$3")")
    [ "$1" = FAIL ] && failures=$((failures + 1))
    return 0
}
check() { # name detail command...
    local name=$1 detail=$2
    shift 2
    if "$@" >/dev/null 2>&1; then record PASS "$name" "$detail"; else record FAIL "$name" "$detail"; fi
}

# --- seed configs: ours in the root vs the reference on the host -------------------------
# The same absolute path in both, so messages naming the file are comparable.
rm -rf "$SEEDS"
mkdir -p "$SEEDS"
configs=()
for f in "$repo"/fixtures/seeds/*/haproxy*.cfg "$repo"/fixtures/seeds/*/keepalived*.conf; do
    rel=${f#"$repo"/fixtures/}
    mkdir -p "$SEEDS/$(dirname "$rel")"
    cp "$f" "$SEEDS/$rel"
    configs+=("$rel")
done
# The default haproxy.cfg the package installs (Debian's).
mkdir -p "$SEEDS/debian-default"
cp "$here/root/etc/haproxy/haproxy.cfg" "$SEEDS/debian-default/haproxy.cfg"
configs+=("debian-default/haproxy.cfg")

# Runs one check command in the namespace; $1 = "" (host) or a root. Writes out/err/exit.
run_check() {
    local r=$1 rel=$2 dest=$3 dir file
    file="$SEEDS/$rel"
    dir=$(dirname "$file")
    local cmd
    case "$rel" in
        *.cfg) cmd=(haproxy -c -f "$file") ;;
        *) cmd=(keepalived -t -f "$file") ;;
    esac
    local status=0 path=/usr/sbin:/usr/bin:/sbin:/bin
    case "$r" in unpacked:*) path=${r#unpacked:}:$path; r="" ;; esac
    if [ -z "$r" ]; then
        ip netns exec "$NS" /usr/bin/env -i PATH="$path" \
            sh -c 'cd "$1" && shift && exec "$@"' sh "$dir" "${cmd[@]}" \
            >"$dest.out" 2>"$dest.err" || status=$?
    else
        # `ip netns exec` runs its command in a mount namespace of its own with the
        # namespace's /sys: a sysfs mounted in the root there (where keepalived -t looks up
        # interfaces) shows the same interfaces and vanishes with the command.
        ip netns exec "$NS" sh -c 'mount -t sysfs sysfs "$1/sys" && exec chroot "$@"' sh \
            "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
            sh -c 'cd "$1" && shift && exec "$@"' sh "$dir" "${cmd[@]}" \
            >"$dest.out" 2>"$dest.err" || status=$?
    fi
    echo "$status" >"$dest.exit"
    # HAProxy's pid in "[ALERT]    (1234) :" and its version in the first NOTICE line
    # ("2.6.12-1+deb12u4" vs "2.6.12-ha-compat-X") are the only parts allowed to differ.
    sed -i -E -e 's/^(\[[A-Z]+\] +)\([0-9]+\)/\1(PID)/' \
        -e 's/(: haproxy version is ).*/\1{VERSION}/' "$dest.err"
}

# The package's binary run outside any root, from where it is unpacked (for telling the
# binary's own message differences from the package's).
unpacked="$work/unpacked"
rm -rf "$unpacked"
mkdir -p "$unpacked/deb" "$unpacked/bin"
dpkg-deb -x "$deb" "$unpacked/deb"
ln -s "$unpacked/deb/usr/sbin/ha-compat" "$unpacked/bin/haproxy"
ln -s "$unpacked/deb/usr/sbin/ha-compat" "$unpacked/bin/keepalived"

same_as_unpacked() { # rel result-prefix
    run_check "unpacked:$unpacked/bin" "$1" "$2.unpacked"
    sed -i -E 's/(: path to executable is ).*/\1{EXE}/' "$2.unpacked.err"
    sed -E 's/(: path to executable is ).*/\1{EXE}/' "$2.ours.err" | cmp -s - "$2.unpacked.err" &&
        cmp -s "$2.ours.out" "$2.unpacked.out" && cmp -s "$2.ours.exit" "$2.unpacked.exit"
}

first_difference() { # reference ours: the first line only one of them has
    diff "$1" "$2" | grep -m1 -E '^[<>]' | cut -c1-120
}

# A listed deliberate difference (compat-tests/*known-differences.tsv) with these exits?
known_difference() { # rel ref_exit our_exit
    case "$1" in
        *.cfg)
            awk -F'\t' -v f="fixtures/$1" -v a="$2" -v b="$3" \
                '$1 == f && $2 == a && $3 == b { found = 1 } END { exit !found }' \
                "$repo/compat-tests/haproxy-known-differences.tsv"
            ;;
        *)
            awk -F'\t' -v f="$1" -v a="$2" -v b="$3" \
                '$1 == f && $3 == a && $4 == b { found = 1 } END { exit !found }' \
                "$repo/compat-tests/known-differences.tsv"
            ;;
    esac
}

compare_seeds() { # root label
    local r=$1 label=$2 rel key
    local out="$work/results-$label"
    rm -rf "$out" "${r:?}$SEEDS"
    mkdir -p "$out" "$r$SEEDS"
    cp -a "$SEEDS/." "$r$SEEDS/"
    for rel in "${configs[@]}"; do
        key=$(echo "$rel" | tr '/' '_')
        run_check "" "$rel" "$out/$key.ref"
        run_check "$r" "$rel" "$out/$key.ours"
        local name
        case "$rel" in
            *.cfg) name="haproxy -c -f $rel" ;;
            *) name="keepalived -t -f $rel" ;;
        esac
        local ref_exit our_exit
        ref_exit=$(cat "$out/$key.ref.exit")
        our_exit=$(cat "$out/$key.ours.exit")
        if cmp -s "$out/$key.ref.out" "$out/$key.ours.out" &&
            cmp -s "$out/$key.ref.err" "$out/$key.ours.err" && [ "$ref_exit" = "$our_exit" ]; then
            record PASS "$name" "exit $ref_exit, same stdout and stderr ($label)"
        elif known_difference "$rel" "$ref_exit" "$our_exit"; then
            record KNOWN "$name" "exit $ref_exit vs ours $our_exit: listed deliberate difference ($label)"
        elif [ "$ref_exit" = "$our_exit" ] && cmp -s "$out/$key.ref.out" "$out/$key.ours.out" &&
            same_as_unpacked "$rel" "$out/$key"; then
            # Not the package's doing: the binary says the same outside it, and
            # compat-tests/tests/keepalived_config_test.rs counts these message differences.
            record MSGS "$name" "exit $ref_exit as the reference; messages differ as the unpacked binary's do ($label): $(first_difference "$out/$key.ref.err" "$out/$key.ours.err")"
        else
            record FAIL "$name" "exit $ref_exit vs ours $our_exit ($label); diff -u $out/$key.ref.err $out/$key.ours.err"
        fi
    done
}

# The conffiles we share with Debian's packages must be theirs byte for byte (the md5 the
# host's dpkg recorded when it installed Debian's package, not the file as edited since).
conffiles_identical() { # root
    local r=$1 path sum ours bad=0 n=0
    while read -r path sum _; do
        [ -n "$path" ] || continue
        [ -e "$r$path" ] || continue # /etc/init.d/*, dbus: not shipped (README.md)
        n=$((n + 1))
        ours=$(md5sum <"$r$path" | cut -d' ' -f1)
        if [ "$ours" != "$sum" ]; then
            echo "differs from Debian's: $path" >&2
            bad=1
        fi
    done < <(dpkg-query -W -f='${Conffiles}\n' haproxy keepalived)
    # haproxy's 11 (default, cfg, 7 error pages, rsyslog, logrotate) + keepalived's 2.
    [ "$bad" = 0 ] && [ "$n" = 13 ]
}

errors_identical() { # root
    local r=$1 f n=0
    while read -r f sum; do
        [ "$(md5sum <"$r$f" | cut -d' ' -f1)" = "$sum" ] || return 1
        n=$((n + 1))
    done < <(dpkg-query -W -f='${Conffiles}\n' haproxy | awk '$1 ~ /^\/etc\/haproxy\/errors\// { print $1, $2 }')
    [ "$n" = 7 ]
}

user_like_debian() { # root: the user and group Debian's adduser --system line makes
    local r=$1 entry
    entry=$(in_root "$r" getent passwd haproxy) || return 1
    IFS=: read -r _ _ uid gid _ home shell <<<"$entry"
    [ "$home" = /var/lib/haproxy ] && [ "$shell" = /usr/sbin/nologin ] &&
        [ "$uid" -lt 1000 ] && [ "$(in_root "$r" getent group haproxy | cut -d: -f3)" = "$gid" ]
}

installed_ok() { in_root "$1" dpkg-query -W -f='${Status}' "$2" | grep -qx 'install ok installed'; }
not_installed() {
    local s
    s=$(in_root "$1" dpkg-query -W -f='${Status}' "$2" 2>/dev/null || true)
    # Removed by dpkg in favour of ours: "install ok config-files" (the selection stays).
    case "$s" in "" | *" ok not-installed" | *" ok config-files") return 0 ;; esac
    return 1
}
provides_both() {
    local p
    p=$(in_root "$1" dpkg-query -W -f='${Provides}' ha-compat)
    case "$p" in *"haproxy (= 2.6.12)"*"keepalived (= 1:2.2.7)"*) return 0 ;; esac
    return 1
}
links_to_ha_compat() { [ "$(readlink "$1/usr/sbin/$2")" = ha-compat ] && [ -x "$1/usr/sbin/ha-compat" ]; }

# --- 0. the units parse -----------------------------------------------------------------
# systemd-analyze verify from the host's systemd (the minbase roots have none): unknown
# keys, bad values. /usr/sbin/ha-compat is not on the host (it is never installed here),
# so "not executable" for it is expected.
units_verify() {
    local dir="$work/units" msgs
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$here"/systemd/*.service "$dir/"
    msgs=$(cd "$dir" && for u in *.service; do systemd-analyze verify --man=no "./$u" 2>&1; done |
        grep -v 'Command /usr/sbin/ha-compat is not executable' || true)
    [ -z "$msgs" ] || { echo "$msgs" >&2; return 1; }
}
if command -v systemd-analyze >/dev/null; then
    check "systemd-analyze verify packaging/systemd/*.service" "host's systemd" units_verify
else
    record SKIP "systemd-analyze verify packaging/systemd/*.service" "no systemd on this host"
fi

# --- 1. a clean root ---------------------------------------------------------------------
clean="$work/clean"
new_root "$clean"
cp "$deb" "$clean/tmp/ha-compat.deb"
check "dpkg -i on a clean bookworm minbase root" "$(basename "$deb")" \
    in_root "$clean" dpkg -i /tmp/ha-compat.deb
check "dpkg -s ha-compat: install ok installed" "" installed_ok "$clean" ha-compat
check "dpkg -s ha-compat: Provides haproxy, keepalived" \
    "$(in_root "$clean" dpkg-query -W -f='${Provides}' ha-compat 2>/dev/null || true)" provides_both "$clean"
check "/usr/sbin/haproxy -> ha-compat" "" links_to_ha_compat "$clean" haproxy
check "/usr/sbin/keepalived -> ha-compat" "" links_to_ha_compat "$clean" keepalived
check "system user and group haproxy, as Debian's postinst" \
    "$(in_root "$clean" getent passwd haproxy 2>/dev/null || true)" user_like_debian "$clean"
check "/var/lib/haproxy exists" "" test -d "$clean/var/lib/haproxy/dev"
check "/etc/haproxy/errors/*.http identical to Debian's" "7 files, md5 of haproxy 2.6.12's" \
    errors_identical "$clean"
check "conffiles shared with Debian's packages identical" "dpkg-query Conffiles of the host" \
    conffiles_identical "$clean"
check "units installed in /lib/systemd/system" "haproxy, keepalived, ha-compat" \
    test -f "$clean/lib/systemd/system/haproxy.service" -a -f "$clean/lib/systemd/system/keepalived.service" \
    -a -f "$clean/lib/systemd/system/ha-compat.service"
check "haproxy -v runs in the root" "" in_root "$clean" haproxy -v
compare_seeds "$clean" clean
check "dpkg -r ha-compat" "" in_root "$clean" dpkg -r ha-compat
check "after dpkg -r: /usr/sbin/haproxy, keepalived, ha-compat gone" "" \
    test ! -e "$clean/usr/sbin/haproxy" -a ! -e "$clean/usr/sbin/keepalived" -a ! -e "$clean/usr/sbin/ha-compat"
check "after dpkg -r: conffiles kept (as any Debian package)" "" test -f "$clean/etc/haproxy/haproxy.cfg"
check "dpkg --purge ha-compat" "" in_root "$clean" dpkg --purge ha-compat
check "after purge: haproxy user and /etc/haproxy gone" "" \
    sh -c "! chroot '$clean' getent passwd haproxy && [ ! -e '$clean/etc/haproxy/haproxy.cfg' ]"

# --- 2. over Debian's real haproxy and keepalived ----------------------------------------
if [ "$replace" = 1 ]; then
    over="$work/replace"
    new_root "$over"
    cp /etc/resolv.conf "$over/etc/resolv.conf"
    # debootstrap writes only the release itself; haproxy's fixes come from -security.
    printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb http://deb.debian.org/debian-security bookworm-security main\n' \
        "$mirror" "$mirror" >"$over/etc/apt/sources.list"
    # apt inside the root needs the network (outside the test namespace); no daemon starts.
    printf '#!/bin/sh\nexit 101\n' >"$over/usr/sbin/policy-rc.d"
    chmod +x "$over/usr/sbin/policy-rc.d"
    echo "test-deb.sh: installing Debian's haproxy and keepalived in $over ..." >&2
    if in_root "$over" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy keepalived' \
        >"$work/replace-apt.log" 2>&1; then
        record PASS "Debian's haproxy and keepalived installed in a root" \
            "$(in_root "$over" dpkg-query -W -f='${Version} ' haproxy keepalived)"
        # An administrator's edit, which the takeover must keep.
        echo "# edited by the administrator" >>"$over/etc/haproxy/haproxy.cfg"
        edited=$(md5sum <"$over/etc/haproxy/haproxy.cfg")
        cp "$deb" "$over/tmp/ha-compat.deb"
        check "dpkg -i over Debian's haproxy and keepalived" "Conflicts + Replaces" \
            in_root "$over" dpkg -i /tmp/ha-compat.deb
        check "haproxy and keepalived packages removed" "" \
            sh -c "$(declare -f in_root not_installed); not_installed '$over' haproxy && not_installed '$over' keepalived"
        check "ha-compat installed" "" installed_ok "$over" ha-compat
        check "/usr/sbin/haproxy -> ha-compat (replaced)" "" links_to_ha_compat "$over" haproxy
        check "/usr/sbin/keepalived -> ha-compat (replaced)" "" links_to_ha_compat "$over" keepalived
        check "edited /etc/haproxy/haproxy.cfg kept" "" \
            test "$(md5sum <"$over/etc/haproxy/haproxy.cfg")" = "$edited"
        check "haproxy user kept" "" user_like_debian "$over"
        check "dpkg --audit clean" "" sh -c "[ -z \"\$(chroot '$over' dpkg --audit)\" ]"
        compare_seeds "$over" replace
    else
        tail -5 "$work/replace-apt.log" >&2
        record FAIL "Debian's haproxy and keepalived installed in a root" "apt-get failed: $work/replace-apt.log"
    fi
fi

# --- report ------------------------------------------------------------------------------
echo
printf '%-7s %-58s %s\n' RESULT CHECK DETAIL
for line in "${results[@]}"; do echo "$line"; done
echo
if [ "$failures" -gt 0 ]; then
    echo "test-deb.sh: $failures check(s) FAILED (outputs under $work)"
    exit 1
fi
# The roots are only worth keeping to look into a failure.
for r in "${roots[@]}"; do
    while read -r m; do umount "$m"; done < <(awk -v r="$r/" 'index($2, r) == 1 { print $2 }' /proc/self/mounts | sort -r)
    mounted_under "$r" || rm -rf "$r"
done
echo "test-deb.sh: all ${#results[@]} checks passed (KNOWN: an exit status difference listed in compat-tests/*known-differences.tsv; MSGS: same exit status, messages differ exactly as the unpacked binary's do)"
