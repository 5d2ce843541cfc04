#!/usr/bin/env bash
# Packaging checks (run by .ci/run after `cargo build --release --locked`; runnable by hand):
#   1. the systemd unit passes `systemd-analyze verify` and its `systemd-analyze security` exposure
#      is at most MAX_EXPOSURE (default 3.0);
#   2. the shipped /etc/scimd/scimd.toml is accepted by the binary;
#   3. packaging/install.sh --root is idempotent, installs the expected files with the expected
#      modes and never overwrites an existing configuration; bad arguments fail;
#   4. `cargo deb` builds a package holding the binary, the unit and the configuration as a conffile,
#      with the maintainer scripts.
# Needs: systemd-analyze, dpkg-deb, cargo-deb (cargo install --locked cargo-deb).
set -euo pipefail
cd "$(dirname "$0")/.."

MAX_EXPOSURE=${MAX_EXPOSURE:-3.0}
target_dir=${CARGO_TARGET_DIR:-target}
release_bin="$target_dir/release/scimd"
unit=packaging/systemd/scimd.service

step() { printf '\n== %s\n' "$*"; }
ok() { printf '   ok: %s\n' "$*"; }
fail() {
    printf '   FAIL: %s\n' "$*" >&2
    exit 1
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A binary to point the unit at and to install: the release build, else the debug build.
if [[ -x $release_bin ]]; then
    bin=$release_bin
elif [[ -x $target_dir/debug/scimd ]]; then
    bin=$target_dir/debug/scimd
else
    fail "no scimd binary; run cargo build --release --locked first"
fi
bin_abs=$(cd "$(dirname "$bin")" && pwd)/scimd
echo "packaging checks with $bin ($("$bin" --version 2>/dev/null || echo 'version unknown'))"

step "systemd unit: systemd-analyze verify $unit"
# verify insists that ExecStart= exists: check a copy whose ExecStart is the built binary.
mkdir -p "$work/unit"
sed "s#/usr/bin/scimd#$bin_abs#g" "$unit" >"$work/unit/scimd.service"
grep -q "^ExecStart=$bin_abs serve --config /etc/scimd/scimd.toml\$" "$work/unit/scimd.service" ||
    fail "ExecStart= is not '/usr/bin/scimd serve --config /etc/scimd/scimd.toml'"
if ! out=$(systemd-analyze verify "$work/unit/scimd.service" 2>&1) || [[ -n $out ]]; then
    printf '%s\n' "$out" >&2
    fail "systemd-analyze verify reported problems"
fi
ok "systemd-analyze verify: clean"
for want in Type=notify NotifyAccess=main WatchdogSec=30s 'ExecReload=/bin/kill -HUP $MAINPID' \
    User=scimd Group=scimd StateDirectory=scimd StateDirectoryMode=0700 RuntimeDirectory=scimd \
    RuntimeDirectoryMode=0700 ConfigurationDirectory=scimd UMask=0077 Restart=on-failure \
    NoNewPrivileges=yes ProtectSystem=strict CapabilityBoundingSet= \
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' SystemCallFilter=@system-service; do
    grep -qxF -- "$want" "$unit" || fail "$unit lacks the line: $want"
done
ok "unit has Type=notify, watchdog, reload, scimd user, state/runtime directories, hardening"

step "systemd unit: systemd-analyze security --offline=true (exposure <= $MAX_EXPOSURE)"
security=$(systemd-analyze security --offline=true "$work/unit/scimd.service" 2>&1) || true
exposure=$(printf '%s\n' "$security" |
    sed -n 's/.*Overall exposure level for scimd\.service: \([0-9][0-9.]*\).*/\1/p')
[[ -n $exposure ]] || {
    printf '%s\n' "$security" >&2
    fail "no 'Overall exposure level' in the output of systemd-analyze security"
}
printf '%s\n' "$security" | grep '✗' | sed 's/^/   /' || true
printf '%s\n' "$security" | grep 'Overall exposure level' | sed 's/^/   /'
awk -v e="$exposure" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(e + 0 <= m + 0) }' ||
    fail "exposure $exposure is above $MAX_EXPOSURE"
ok "exposure $exposure <= $MAX_EXPOSURE"

step "configuration: packaging/scimd.toml is accepted by $bin"
grep -qx 'data_dir = "/var/lib/scimd"' packaging/scimd.toml || fail "data_dir is not /var/lib/scimd"
grep -qx 'admin_socket = "/run/scimd/admin.sock"' packaging/scimd.toml ||
    fail "admin_socket is not /run/scimd/admin.sock"
# The environment overrides the packaged paths, so nothing outside $work is touched; unknown or
# malformed keys fail. `check-config` when the binary has it, else a command that resolves the
# configuration and opens a scratch database.
cfg_env=(env -u SCIMD_CONFIG SCIMD_DATA_DIR="$work/data" SCIMD_ADMIN_SOCKET="$work/admin.sock" SCIMD_LOG=warn)
if "$bin" check-config --help >/dev/null 2>&1; then
    cfg_cmd=(check-config packaging/scimd.toml)
else
    cfg_cmd=(--config packaging/scimd.toml token list)
fi
if ! out=$("${cfg_env[@]}" "$bin" "${cfg_cmd[@]}" 2>&1); then
    printf '%s\n' "$out" >&2
    fail "scimd rejects packaging/scimd.toml"
fi
printf '%s\n' "$out" | sed 's/^/   /'
ok "scimd ${cfg_cmd[*]}: accepted"
# The commented defaults and examples are valid too: uncomment them (not the paths to TLS files,
# which do not exist here) and check again.
if [[ ${cfg_cmd[0]} == check-config ]]; then
    sed -E 's/^# ((listen|plain_http|public_url|max_body_bytes|unknown_attributes|password_storage|admin_session_idle|log_format|metrics_allow|metrics_token) =)/\1/' \
        packaging/scimd.toml |
        awk '/^# \[\[extensions\]\]/ { ext = 1 }
             ext && /^# / { sub(/^# /, ""); if ($0 !~ /^# /) print; next }
             { print }' >"$work/uncommented.toml"
    if ! out=$("${cfg_env[@]}" "$bin" check-config "$work/uncommented.toml" 2>&1); then
        printf '%s\n' "$out" >&2
        fail "scimd rejects the commented defaults/examples of packaging/scimd.toml"
    fi
    ok "the commented defaults and the [[extensions]] example are valid when uncommented"
fi
# Every setting scimd knows appears in the shipped file (commented with its default, or set).
# The rows of the settings! table: `    key: RawType => ResolvedType {`.
keys=$(sed -n '/^settings! {/,/^}/s/^    \([a-z_]*\): .* => .* {$/\1/p' src/config.rs)
[[ -n $keys ]] || fail "cannot read the settings from src/config.rs"
for key in $keys; do
    grep -qE "^(# )?(\[\[)?$key( =|\]\])" packaging/scimd.toml ||
        fail "packaging/scimd.toml does not document '$key' (src/config.rs settings! table)"
done
ok "packaging/scimd.toml documents every setting: $(echo $keys)"

step "install.sh: arguments"
out=$(packaging/install.sh --help)
grep -q -- '--root DIR' <<<"$out" || fail "--help does not describe --root"
ok "--help prints usage"
for bad in "--bogus" "--root" "--prefix relative/path --root $work" "--root $work/missing" \
    "--binary $work/missing --root $work"; do
    # shellcheck disable=SC2086
    if msg=$(packaging/install.sh $bad 2>&1); then
        fail "install.sh $bad succeeded"
    fi
    ok "install.sh $bad -> exit non-zero: ${msg##*$'\n'}"
done

step "install.sh --root: expected files and modes, idempotent"
listing() { (cd "$1" && find . -printf '%p %m\n' | LC_ALL=C sort); }
mkdir -p "$work/a" "$work/b"
packaging/install.sh --root "$work/a" --binary "$bin" | sed 's/^/   /'
packaging/install.sh --root "$work/b" --binary "$bin" >/dev/null
packaging/install.sh --root "$work/b" --binary "$bin" >/dev/null
listing "$work/a" >"$work/a.list"
listing "$work/b" >"$work/b.list"
diff -u "$work/a.list" "$work/b.list" || fail "one install and two installs differ"
ok "one install and two installs give the same tree ($(wc -l <"$work/a.list") entries)"
for want in "./usr/bin/scimd 755" "./etc/scimd/scimd.toml 640" \
    "./lib/systemd/system/scimd.service 644" "./var/lib/scimd 700" \
    "./usr/share/doc/scimd/README.md 644"; do
    grep -qxF "$want" "$work/a.list" || fail "missing or wrong mode: $want"
    ok "$want"
done
cmp -s "$bin" "$work/a/usr/bin/scimd" || fail "the installed binary differs from $bin"
cmp -s packaging/scimd.toml "$work/a/etc/scimd/scimd.toml" || fail "the installed config differs"
grep -qx 'ExecStart=/usr/bin/scimd serve --config /etc/scimd/scimd.toml' \
    "$work/a/lib/systemd/system/scimd.service" || fail "installed unit: unexpected ExecStart="
ok "binary, unit and configuration installed as shipped"

step "install.sh --root --prefix /opt/scimd: ExecStart follows the prefix"
mkdir -p "$work/c"
packaging/install.sh --root "$work/c" --prefix /opt/scimd --binary "$bin" >/dev/null
grep -qx 'ExecStart=/opt/scimd/bin/scimd serve --config /etc/scimd/scimd.toml' \
    "$work/c/etc/systemd/system/scimd.service" || fail "ExecStart= not rewritten to the prefix"
[[ -x $work/c/opt/scimd/bin/scimd ]] || fail "no /opt/scimd/bin/scimd"
ok "ExecStart=/opt/scimd/bin/scimd, unit in etc/systemd/system"

step "install.sh --root: an existing configuration is kept"
printf 'listen = "127.0.0.1:9443"\n' >"$work/b/etc/scimd/scimd.toml"
chmod 0600 "$work/b/etc/scimd/scimd.toml"
out=$(packaging/install.sh --root "$work/b" --binary "$bin")
grep -q 'kept the existing' <<<"$out" || fail "install.sh did not report keeping the configuration"
[[ $(cat "$work/b/etc/scimd/scimd.toml") == 'listen = "127.0.0.1:9443"' ]] ||
    fail "install.sh overwrote an existing configuration"
[[ $(stat -c %a "$work/b/etc/scimd/scimd.toml") == 600 ]] ||
    fail "install.sh changed the mode of an existing configuration in a staging tree"
ok "the admin's scimd.toml is untouched"

step "cargo deb"
command -v cargo-deb >/dev/null 2>&1 || fail "cargo-deb is missing: cargo install --locked cargo-deb"
if [[ -x $release_bin ]]; then
    cargo deb --no-build 2>&1 | sed 's/^/   /'
else
    cargo deb 2>&1 | sed 's/^/   /'
fi
debs=("$target_dir"/debian/scimd_*.deb)
deb=$(ls -t "${debs[@]}")
deb=${deb%%$'\n'*}
[[ -f $deb ]] || fail "no .deb in $target_dir/debian"
ok "built $deb"
dpkg-deb -c "$deb" >"$work/deb.list"
sed 's/^/   /' "$work/deb.list"
check_entry() { # mode-string path
    grep -qE "^$1 (root/root|0/0) .* \./$2\$" "$work/deb.list" || fail "the .deb lacks $1 ./$2"
    ok "$1 $2"
}
check_entry -rwxr-xr-x usr/bin/scimd
check_entry -rw-r--r-- lib/systemd/system/scimd.service
check_entry -rw-r----- etc/scimd/scimd.toml
check_entry -rw-r--r-- usr/share/doc/scimd/README.md
dpkg-deb -I "$deb" | sed 's/^/   /'
[[ $(dpkg-deb -f "$deb" Section) == net ]] || fail "Section is not net"
[[ $(dpkg-deb -f "$deb" Priority) == optional ]] || fail "Priority is not optional"
mkdir -p "$work/control"
dpkg-deb -e "$deb" "$work/control"
grep -qx /etc/scimd/scimd.toml "$work/control/conffiles" || fail "conffiles lacks /etc/scimd/scimd.toml"
ok "conffiles: /etc/scimd/scimd.toml"
for s in postinst prerm postrm; do
    [[ -x $work/control/$s ]] || fail "no executable $s in the .deb"
    sh -n "$work/control/$s" || fail "$s: syntax error"
done
grep -q 'systemctl --system daemon-reload' "$work/control/postinst" || fail "postinst: no daemon-reload"
if grep -qE '^[[:space:]]*(systemctl|deb-systemd-helper|deb-systemd-invoke)[[:space:]]+(--[a-z]+[[:space:]]+)*(enable|start|restart)' \
    "$work/control/postinst"; then
    fail "postinst enables or starts the service (it must wait for the admin)"
fi
ok "postinst, prerm, postrm present; postinst reloads systemd and does not start scimd"
mkdir -p "$work/deb"
dpkg-deb -x "$deb" "$work/deb"
cmp -s packaging/systemd/scimd.service "$work/deb/lib/systemd/system/scimd.service" ||
    fail "the packaged unit differs from $unit"
"$work/deb/usr/bin/scimd" --version >/dev/null || fail "the packaged binary does not run"
ok "packaged unit is $unit; packaged binary runs"

# The unit relies on scimd speaking sd_notify (Type=notify): warn if this binary does not.
if ! grep -q NOTIFY_SOCKET "$bin"; then
    echo "   WARNING: $bin does not mention NOTIFY_SOCKET: under Type=notify systemd would time out"
fi

printf '\n== packaging checks passed (exposure %s)\n' "$exposure"
