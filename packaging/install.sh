#!/bin/sh
# Install scimd on a systemd host without dpkg (the .deb does the same through its maintainer
# scripts): the binary, the hardened systemd unit, /etc/scimd/scimd.toml (only if absent: an
# admin's configuration is never overwritten), the scimd system user and group, /var/lib/scimd.
# Idempotent: running it again installs the same files and changes nothing else.
#
# With --root DIR everything goes into the staging tree DIR instead of /, and no user, no chown and
# no systemctl are involved, so it runs unprivileged (packaging/check.sh does this).
set -eu
umask 022

usage() {
    cat <<'EOF'
Usage: packaging/install.sh [--root DIR] [--prefix PREFIX] [--binary PATH] [--unit-dir DIR]

Installs scimd as a systemd service (the service is not enabled or started).

  --root DIR       install into the staging tree DIR instead of / (no user creation, no chown,
                   no systemctl; runs without root)
  --prefix PREFIX  installation prefix for the binary and documentation (default: /usr);
                   the unit's ExecStart= is rewritten to PREFIX/bin/scimd
  --binary PATH    the scimd binary to install (default: build it with
                   `cargo build --release --locked` and take target/release/scimd)
  --unit-dir DIR   where the unit goes (default: /lib/systemd/system for the /usr prefix,
                   /etc/systemd/system otherwise)
  -h, --help       show this help

Installs:
  PREFIX/bin/scimd                          mode 755
  UNIT-DIR/scimd.service                    mode 644
  /etc/scimd/scimd.toml                     mode 640, root:scimd (only if absent)
  /var/lib/scimd                            mode 700, scimd:scimd
  PREFIX/share/doc/scimd/README.md          mode 644

Typical use (build as yourself, install as root):
  cargo build --release --locked
  sudo packaging/install.sh --binary target/release/scimd
EOF
}

die() {
    echo "install.sh: $*" >&2
    exit 2
}

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

root=""
prefix="/usr"
binary=""
unit_dir=""

need_value() {
    # $1 = option, $2 = number of remaining arguments including the option
    [ "$2" -ge 2 ] || die "$1 needs a value (see --help)"
}

while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --root) need_value "$1" $#; root=$2; shift 2 ;;
        --root=*) root=${1#--root=}; shift ;;
        --prefix) need_value "$1" $#; prefix=$2; shift 2 ;;
        --prefix=*) prefix=${1#--prefix=}; shift ;;
        --binary) need_value "$1" $#; binary=$2; shift 2 ;;
        --binary=*) binary=${1#--binary=}; shift ;;
        --unit-dir) need_value "$1" $#; unit_dir=$2; shift 2 ;;
        --unit-dir=*) unit_dir=${1#--unit-dir=}; shift ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done

case "$prefix" in
    /*) ;;
    *) die "--prefix must be an absolute path, got '$prefix'" ;;
esac
prefix=${prefix%/}
[ -n "$prefix" ] || die "--prefix must not be /"
if [ -z "$unit_dir" ]; then
    if [ "$prefix" = /usr ]; then unit_dir=/lib/systemd/system; else unit_dir=/etc/systemd/system; fi
fi
case "$unit_dir" in
    /*) ;;
    *) die "--unit-dir must be an absolute path, got '$unit_dir'" ;;
esac
staging=false
if [ -n "$root" ]; then
    [ -d "$root" ] || die "--root $root: no such directory (create it first)"
    root=$(cd "$root" && pwd)
    [ "$root" = / ] && root=""
    [ -n "$root" ] && staging=true
fi
if ! $staging && [ "$(id -u)" -ne 0 ]; then
    die "installing into / needs root (sudo $0 ...), or use --root DIR for a staging tree"
fi
if ! $staging && command -v dpkg-query >/dev/null 2>&1 &&
    dpkg-query -W -f='${Status}' scimd 2>/dev/null | grep -q 'install ok installed'; then
    die "the scimd .deb is installed; upgrade it with apt/dpkg instead of this script"
fi

if [ -n "$binary" ]; then
    [ -f "$binary" ] && [ -x "$binary" ] || die "--binary $binary: not an executable file"
else
    command -v cargo >/dev/null 2>&1 ||
        die "no --binary given and cargo is not on PATH (build first: cargo build --release --locked)"
    echo "install.sh: building scimd (cargo build --release --locked)"
    (cd "$repo" && cargo build --release --locked)
    binary="${CARGO_TARGET_DIR:-$repo/target}/release/scimd"
    [ -x "$binary" ] || die "the build did not produce $binary"
fi
for f in "$here/systemd/scimd.service" "$here/scimd.toml" "$repo/README.md"; do
    [ -f "$f" ] || die "missing $f (run install.sh from a scimd source tree)"
done

say() { echo "install.sh: $*"; }

# The scimd system user and group (not in a staging tree).
create_user() {
    if ! getent group scimd >/dev/null; then
        if command -v groupadd >/dev/null 2>&1; then
            groupadd --system scimd
        else
            addgroup --system scimd
        fi
        say "created group scimd"
    fi
    if ! getent passwd scimd >/dev/null; then
        nologin=$(command -v nologin 2>/dev/null || echo /usr/sbin/nologin)
        if command -v useradd >/dev/null 2>&1; then
            useradd --system --gid scimd --no-create-home --home-dir /var/lib/scimd \
                --shell "$nologin" --comment "scimd SCIM provisioning target" scimd
        else
            adduser --system --ingroup scimd --no-create-home --home /var/lib/scimd \
                --shell "$nologin" --gecos "scimd SCIM provisioning target" scimd
        fi
        say "created system user scimd"
    fi
}
$staging || create_user

# Directories (install -d is a no-op on an existing one apart from owner and mode).
install -d -m 0755 "$root$prefix/bin" "$root$unit_dir" "$root/etc/scimd" \
    "$root$prefix/share/doc/scimd"
install -d -m 0755 "$root/var/lib"
if $staging; then
    install -d -m 0700 "$root/var/lib/scimd"
else
    install -d -o scimd -g scimd -m 0700 "$root/var/lib/scimd"
fi

# The binary, through a temporary name so a running scimd is never half-overwritten.
binary_changed=true
if cmp -s "$binary" "$root$prefix/bin/scimd"; then binary_changed=false; fi
install -m 0755 "$binary" "$root$prefix/bin/.scimd.new"
mv -f "$root$prefix/bin/.scimd.new" "$root$prefix/bin/scimd"
say "installed $root$prefix/bin/scimd"

# The unit, with ExecStart= and the documentation path for this prefix.
tmp_unit="$root$unit_dir/.scimd.service.new"
sed -e "s#/usr/bin/scimd#$prefix/bin/scimd#g" \
    -e "s#file:/usr/share/doc/scimd/#file:$prefix/share/doc/scimd/#g" \
    "$here/systemd/scimd.service" >"$tmp_unit"
chmod 0644 "$tmp_unit"
mv -f "$tmp_unit" "$root$unit_dir/scimd.service"
say "installed $root$unit_dir/scimd.service"

install -m 0644 "$repo/README.md" "$root$prefix/share/doc/scimd/README.md"

# The configuration: only if absent.
config="$root/etc/scimd/scimd.toml"
if [ -e "$config" ]; then
    say "kept the existing $config (compare with $here/scimd.toml for new options)"
else
    install -m 0640 "$here/scimd.toml" "$config"
    say "installed $config"
fi
if ! $staging; then
    chown root:scimd "$config"
    chmod 0640 "$config"
fi

if $staging; then
    say "staged into $root (no user, ownership or systemd changes)"
    exit 0
fi

if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    # An upgrade of a running service: restart it on the new binary if that accepts the config.
    if systemctl --quiet is-active scimd.service; then
        if ! $binary_changed; then
            say "the service runs this binary already"
        elif "$prefix/bin/scimd" check-config /etc/scimd/scimd.toml >/dev/null 2>&1; then
            say "restarting the running service on the new binary"
            systemctl restart scimd.service
        else
            say "WARNING: the new binary rejects /etc/scimd/scimd.toml; the service was not" \
                "restarted (see: $prefix/bin/scimd check-config)" >&2
        fi
        exit 0
    fi
fi

host=$(hostname -f 2>/dev/null || hostname 2>/dev/null || echo HOST)
cat <<EOF

scimd is installed but not started. Next steps (README.md, section "Install on a server"):

 1. TLS. Entra ID needs a certificate from a public CA. Copy the chain and key where the scimd
    group can read them, e.g.
      install -d -o root -g scimd -m 0750 /etc/scimd/tls
      install -o root -g scimd -m 0640 fullchain.pem privkey.pem /etc/scimd/tls/
    and set tls_cert, tls_key and public_url in /etc/scimd/scimd.toml.
 2. Start scimd now and at every boot:
      systemctl enable --now scimd
 3. First sign-in: the console account 'admin' and its one-time password are in the journal:
      journalctl -u scimd | grep 'created the console account'
    Console: https://$host:8443/admin/
 4. A token for the identity provider: in the console (Tokens -> Add Token), or
      sudo -u scimd $prefix/bin/scimd token add --name "Entra ID"
EOF
