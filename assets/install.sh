#!/bin/sh
# Corral agent one-line install, served by the Corral server at GET /install.sh.
#
#   curl -fsSL https://SERVER/install.sh | sudo sh -s -- --server https://SERVER \
#     --token corral_enroll_... --fingerprint SHA256:... [--label key=value ...]
#
# `corral token create` prints this command. The script
#   1. detects the OS and CPU (linux; amd64 or arm64),
#   2. asks the server (with the enrollment token) which agent package to install,
#   3. downloads it (with the token) and refuses it unless the server's signing key has the
#      fingerprint given on the command line and the package's signature verifies with that key,
#   4. installs it under --prefix (default /opt/corral): the package in versions/VERSION, `current`
#      pointing at it, and the node runtime it carries as node/bin/node (else node 20+ from PATH);
#      with --single-executable, the package corral-agent-sea instead: one executable
#      (bin/corral-agent) that needs no node at all,
#   5. runs `corral agent install` (a systemd unit, the token in a 0600 env file), or, on a host
#      without systemd, prints the command to run the agent under another supervisor.
# Running it again installs the server's current package in place (an upgrade); --uninstall
# removes what it created: the unit, the env file, the agent's data dir and the prefix.
#
# Relies on: sh (POSIX), curl or wget, openssl 3 (sha256, ed25519 verification, base64), tar
# with gzip, uname, mktemp, and on systemd for the service. It never prints the token, and
# refuses plain http:// unless --insecure is given. See docs/agent-install.md.
set -eu
umask 022

SERVER=""
TOKEN="${CORRAL_TOKEN:-}"
FINGERPRINT=""
PREFIX=/opt/corral
DATA_DIR=/var/lib/corral-agent
UNIT_DIR=""
ENV_FILE=""
CA_FILE=""
INSECURE=0
UNINSTALL=0
NAME=""
PACKAGE=corral-agent
SYSTEMD_RUN_DIR=/run/systemd/system
LABELS=""
TMP=""

say() { printf 'corral-install: %s\n' "$*" >&2; }
die() {
  printf 'corral-install: error: %s\n' "$*" >&2
  exit 1
}
cleanup() { if [ -n "$TMP" ]; then rm -rf "$TMP"; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM

usage() {
  cat <<'EOF'
usage: install.sh --server URL --token TOKEN --fingerprint SHA256:... [options]
       install.sh --uninstall [--prefix DIR]

  --server URL         the Corral server (https://; http:// only with --insecure)
  --token TOKEN        an enrollment token (or env CORRAL_TOKEN); never printed
  --fingerprint FP     SHA256:... of the server's package-signing key (corral token create prints it)
  --label key=value    a label the agent claims (repeatable; labels bound to the token are added anyway)
  --name NAME          the agent's display name (default: the host name)
  --prefix DIR         where to install (default /opt/corral)
  --data-dir DIR       the agent's data dir (default /var/lib/corral-agent)
  --unit-dir DIR       where to write the systemd unit (default /etc/systemd/system)
  --env-file FILE      where to keep the token (default /etc/corral/agent.env)
  --ca-file FILE       PEM CAs that sign the server's certificate (a private CA)
  --insecure           allow plain http:// (the token and the agent travel unencrypted)
  --single-executable  install the agent as one executable (the package corral-agent-sea), not as
                       a bundle with its node runtime
  --uninstall          stop and remove the agent, its data dir and the prefix
EOF
}

need_value() { [ $# -ge 2 ] || die "$1 needs a value"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --server) need_value "$@"; SERVER=$2; shift 2 ;;
    --token) need_value "$@"; TOKEN=$2; shift 2 ;;
    --fingerprint) need_value "$@"; FINGERPRINT=$2; shift 2 ;;
    --label) need_value "$@"; LABELS="$LABELS
$2"; shift 2 ;;
    --name) need_value "$@"; NAME=$2; shift 2 ;;
    --prefix) need_value "$@"; PREFIX=$2; shift 2 ;;
    --data-dir) need_value "$@"; DATA_DIR=$2; shift 2 ;;
    --unit-dir) need_value "$@"; UNIT_DIR=$2; shift 2 ;;
    --env-file) need_value "$@"; ENV_FILE=$2; shift 2 ;;
    --ca-file) need_value "$@"; CA_FILE=$2; shift 2 ;;
    --systemd-run-dir) need_value "$@"; SYSTEMD_RUN_DIR=$2; shift 2 ;;
    --insecure) INSECURE=1; shift ;;
    --single-executable) PACKAGE=corral-agent-sea; shift ;;
    --uninstall) UNINSTALL=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument \"$1\" (see --help)" ;;
  esac
done

case "$PREFIX" in /*) ;; *) die "--prefix must be an absolute path, got \"$PREFIX\"" ;; esac
PREFIX=${PREFIX%/}
[ -n "$PREFIX" ] || die "--prefix must not be /"
MARKER="$PREFIX/.corral-install"

# What install recorded: how to run the agent's own uninstall.
if [ "$UNINSTALL" = 1 ]; then
  [ -f "$MARKER" ] || die "$PREFIX was not installed by this script (no $MARKER): nothing to uninstall"
  # shellcheck disable=SC1090
  . "$MARKER"
  set -- agent uninstall --purge --data-dir "$INSTALLED_DATA_DIR" --systemd-run-dir "$INSTALLED_SYSTEMD_RUN_DIR"
  [ -z "$INSTALLED_UNIT_DIR" ] || set -- "$@" --unit-dir "$INSTALLED_UNIT_DIR"
  # Markers of older scripts have no INSTALLED_ENTRY: the bundle's.
  ENTRY=${INSTALLED_ENTRY:-dist/bin/corral.js}
  if [ -d "$INSTALLED_SYSTEMD_RUN_DIR" ]; then
    if [ -n "$INSTALLED_NODE" ]; then set -- "$INSTALLED_NODE" "$PREFIX/current/$ENTRY" "$@"; else set -- "$PREFIX/current/$ENTRY" "$@"; fi
    "$@" >&2 || die "corral agent uninstall failed; $PREFIX is left in place"
  else
    rm -rf "$INSTALLED_DATA_DIR"
  fi
  if [ -n "$INSTALLED_ENV_FILE" ]; then
    rm -f "$INSTALLED_ENV_FILE"
    # Its directory (/etc/corral) goes too when nothing else is in it.
    rmdir "$(dirname "$INSTALLED_ENV_FILE")" 2>/dev/null || true
  fi
  rm -rf "$PREFIX"
  say "uninstalled: removed $PREFIX and $INSTALLED_DATA_DIR"
  exit 0
fi

[ -n "$SERVER" ] || die "--server is required"
[ -n "$TOKEN" ] || die "--token (or CORRAL_TOKEN) is required"
case "$FINGERPRINT" in SHA256:?*) ;; *) die "--fingerprint SHA256:... is required (the server's package-signing key, as corral token create prints it)" ;; esac
SERVER=${SERVER%/}
case "$SERVER" in
  https://*) ;;
  http://*) [ "$INSECURE" = 1 ] || die "refusing plain http:// ($SERVER): the token and the agent would travel unencrypted; use https://, or add --insecure" ;;
  *) die "--server must be an https:// URL, got \"$SERVER\"" ;;
esac
case "$TOKEN" in *[!A-Za-z0-9_.-]*) die "--token has characters a Corral token never has" ;; esac
if [ -n "$CA_FILE" ]; then [ -r "$CA_FILE" ] || die "--ca-file $CA_FILE cannot be read"; fi

case "$(uname -s)" in
  Linux) OS=linux ;;
  *) die "unsupported OS $(uname -s): the agent runs on Linux" ;;
esac
case "$(uname -m)" in
  x86_64 | amd64) ARCH=amd64 ;;
  aarch64 | arm64) ARCH=arm64 ;;
  *) die "unsupported CPU $(uname -m): amd64 and arm64 are supported" ;;
esac

command -v openssl >/dev/null 2>&1 || die "openssl is needed (to verify the download's signature)"
command -v tar >/dev/null 2>&1 || die "tar is needed"
if command -v curl >/dev/null 2>&1; then FETCH=curl
elif command -v wget >/dev/null 2>&1; then FETCH=wget
else die "curl or wget is needed"
fi
if [ -f "$PREFIX/.corral-install" ]; then :
elif [ -e "$PREFIX" ] && [ -n "$(ls -A "$PREFIX" 2>/dev/null)" ]; then
  die "$PREFIX exists and was not made by this script: choose another --prefix"
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/corral-install.XXXXXX")
# The token goes in a file the downloader reads, never on a command line (ps would show it).
if [ "$FETCH" = curl ]; then
  printf 'header = "Authorization: Bearer %s"\n' "$TOKEN" >"$TMP/auth"
else
  printf 'header = Authorization: Bearer %s\n' "$TOKEN" >"$TMP/auth"
fi
chmod 600 "$TMP/auth"

# fetch URL FILE: GET with the token; fails on any HTTP error.
fetch() {
  if [ "$FETCH" = curl ]; then
    set -- -fsS --proto '=https,http' -K "$TMP/auth" -o "$2" "$1"
    [ -z "$CA_FILE" ] || set -- --cacert "$CA_FILE" "$@"
    curl "$@"
  else
    set -- -q --config="$TMP/auth" -O "$2" "$1"
    [ -z "$CA_FILE" ] || set -- --ca-certificate="$CA_FILE" "$@"
    wget "$@"
  fi
}

say "asking $SERVER for $PACKAGE for $OS/$ARCH"
fetch "$SERVER/api/v1/install/agent?os=$OS&arch=$ARCH&name=$PACKAGE" "$TMP/info" ||
  die "the server did not name a $PACKAGE package for $OS/$ARCH (a refused token, no package published, or the server unreachable)"
field() {
  v=$(sed -n "s/^$1=//p" "$TMP/info" | head -n 1)
  case "$v" in "" | *[!A-Za-z0-9+/=._:-]*) die "the server's answer has no valid $1" ;; esac
  printf '%s' "$v"
}
VERSION=$(field version)
SHA256=$(field sha256)
SIZE=$(field size)
SIGNATURE=$(field signature)
KEY=$(field signing_key)
case "$SHA256" in *[!0-9a-f]*) die "bad sha256 from the server" ;; esac
[ ${#SHA256} -eq 64 ] || die "bad sha256 from the server"
case "$SIGNATURE" in *[!0-9a-f]*) die "bad signature from the server" ;; esac
[ ${#SIGNATURE} -eq 128 ] || die "bad signature from the server"
case "$SIZE" in *[!0-9]*) die "bad size from the server" ;; esac
case "$VERSION" in .* | *..* | */*) die "bad version from the server" ;; esac

# The key the server names must be the one the command pins.
printf '%s' "$KEY" | openssl base64 -d -A >"$TMP/key.der" || die "the server's signing key is not base64"
GOT=SHA256:$(openssl dgst -sha256 -binary "$TMP/key.der" | openssl base64 -A | tr -d '=')
[ "$GOT" = "$FINGERPRINT" ] || die "the server's signing key is $GOT, not the $FINGERPRINT this command pins: refusing (a different server, or a man in the middle)"
openssl pkey -pubin -inform DER -in "$TMP/key.der" -out "$TMP/key.pem" 2>/dev/null || die "the server's signing key does not parse"

say "downloading $PACKAGE $VERSION ($SIZE bytes)"
fetch "$SERVER/api/v1/artifacts/$SHA256" "$TMP/agent.tar.gz" || die "the download of $SHA256 failed"
HAVE=$(wc -c <"$TMP/agent.tar.gz" | tr -d ' ')
DIGEST=$(openssl dgst -sha256 -r "$TMP/agent.tar.gz" | cut -d' ' -f1)
# hex -> bytes with POSIX printf octal escapes (dash's printf has no \x).
hexbyte() { awk 'BEGIN { for (i = 0; i < 16; i++) h[sprintf("%x", i)] = i } { for (i = 1; i <= NF; i++) printf "\\%03o", h[substr($i, 1, 1)] * 16 + h[substr($i, 2, 1)] }'; }
unhex() { printf "$(printf '%s' "$1" | sed 's/../& /g' | hexbyte)"; }
unhex "$SIGNATURE" >"$TMP/sig.bin"
openssl dgst -sha256 -binary "$TMP/agent.tar.gz" >"$TMP/digest.bin"
if ! openssl pkeyutl -verify -pubin -inkey "$TMP/key.pem" -rawin -in "$TMP/digest.bin" -sigfile "$TMP/sig.bin" >/dev/null 2>&1; then
  die "the downloaded agent (sha256 $DIGEST, $HAVE bytes) does not carry a valid signature of the key $FINGERPRINT: refusing it; nothing was installed"
fi
[ "$DIGEST" = "$SHA256" ] && [ "$HAVE" = "$SIZE" ] || die "the download is $DIGEST ($HAVE bytes), not the announced $SHA256 ($SIZE bytes): refusing it; nothing was installed"
say "signature verified with $FINGERPRINT"

mkdir -p "$TMP/pkg"
tar -xzf "$TMP/agent.tar.gz" -C "$TMP/pkg" || die "the package does not unpack"
grep -q '^kind: agent' "$TMP/pkg/corral.yaml" 2>/dev/null || die "the package is not a kind: agent package"
if [ "$PACKAGE" = corral-agent-sea ]; then
  ENTRY=bin/corral-agent
  [ -f "$TMP/pkg/$ENTRY" ] && [ -x "$TMP/pkg/$ENTRY" ] || die "the package has no executable $ENTRY"
else
  ENTRY=dist/bin/corral.js
  [ -f "$TMP/pkg/$ENTRY" ] || die "the package has no $ENTRY"
fi

# The runtime: none for the single executable; the package's own node, else node 20 or later from PATH.
if [ "$PACKAGE" = corral-agent-sea ]; then
  RUNTIME=none
elif [ -x "$TMP/pkg/node/bin/node" ]; then
  RUNTIME=package
else
  command -v node >/dev/null 2>&1 || die "the package carries no node runtime and there is no node on PATH (node 20 or later is needed)"
  major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$major" -ge 20 ] || die "node $major is too old: the agent needs node 20 or later"
  RUNTIME=$(command -v node)
fi

# Everything checked: from here the prefix changes.
mkdir -p "$PREFIX/versions" "$PREFIX/node/bin"
chmod 755 "$PREFIX"
rm -rf "$PREFIX/versions/$VERSION.new"
mv "$TMP/pkg" "$PREFIX/versions/$VERSION.new"
if [ "$RUNTIME" = package ]; then
  # A running agent keeps its old node: the new one is renamed over it.
  cp "$PREFIX/versions/$VERSION.new/node/bin/node" "$PREFIX/node/bin/node.new"
  mv -f "$PREFIX/node/bin/node.new" "$PREFIX/node/bin/node"
  NODE="$PREFIX/node/bin/node"
elif [ "$RUNTIME" = none ]; then
  rm -rf "$PREFIX/node"
  NODE=""
else
  rm -rf "$PREFIX/node"
  NODE=$RUNTIME
fi
rm -rf "$PREFIX/versions/$VERSION"
mv "$PREFIX/versions/$VERSION.new" "$PREFIX/versions/$VERSION"
rm -f "$PREFIX/versions/$VERSION/node/bin/node"
# -n: replace the link itself, not create one inside the directory it points at.
ln -sfn "versions/$VERSION" "$PREFIX/current"
if [ -n "$CA_FILE" ]; then
  cp "$CA_FILE" "$PREFIX/server-ca.pem"
  chmod 644 "$PREFIX/server-ca.pem"
fi
for old in "$PREFIX"/versions/*; do
  [ "$old" = "$PREFIX/versions/$VERSION" ] || rm -rf "$old"
done
{
  printf "INSTALLED_NODE='%s'\n" "$NODE"
  printf "INSTALLED_DATA_DIR='%s'\n" "$DATA_DIR"
  printf "INSTALLED_UNIT_DIR='%s'\n" "$UNIT_DIR"
  printf "INSTALLED_ENV_FILE='%s'\n" "$ENV_FILE"
  printf "INSTALLED_SYSTEMD_RUN_DIR='%s'\n" "$SYSTEMD_RUN_DIR"
  printf "INSTALLED_VERSION='%s'\n" "$VERSION"
  printf "INSTALLED_ENTRY='%s'\n" "$ENTRY"
} >"$MARKER"
say "installed $PACKAGE $VERSION in $PREFIX/versions/$VERSION (node: ${NODE:-none, a single executable})"

# The agent's flags, as `corral agent install` puts them on the unit's command line.
set -- --server "$SERVER" --data-dir "$DATA_DIR"
[ -z "$NAME" ] || set -- "$@" --name "$NAME"
[ -z "$CA_FILE" ] || set -- "$@" --ca-file "$PREFIX/server-ca.pem"
OLDIFS=$IFS
IFS='
'
for l in $LABELS; do [ -z "$l" ] || set -- "$@" --label "$l"; done
IFS=$OLDIFS
# How the agent starts: node, its flags and the script; or the single executable alone.
NODE_FLAGS="--lite-mode --no-expose-wasm --max-semi-space-size=1"
run_agent() {
  if [ -n "$NODE" ]; then
    # shellcheck disable=SC2086
    "$NODE" $NODE_FLAGS "$PREFIX/current/$ENTRY" "$@"
  else
    "$PREFIX/current/$ENTRY" "$@"
  fi
}
RUN="$PREFIX/current/$ENTRY"
[ -z "$NODE" ] || RUN="$NODE $NODE_FLAGS $RUN"

if [ -d "$SYSTEMD_RUN_DIR" ]; then
  [ -z "$UNIT_DIR" ] || set -- "$@" --unit-dir "$UNIT_DIR"
  [ -z "$ENV_FILE" ] || set -- "$@" --environment-file "$ENV_FILE"
  # The token reaches `corral agent install` in its environment, which writes it to the 0600 env file.
  (
    CORRAL_TOKEN=$TOKEN
    export CORRAL_TOKEN
    run_agent agent install --systemd-run-dir "$SYSTEMD_RUN_DIR" "$@" >&2
  ) || die "corral agent install failed (see above)"
  say "done: the agent runs as the corral-agent service (journalctl -u corral-agent -f)"
else
  mkdir -p "$DATA_DIR"
  chmod 700 "$DATA_DIR"
  say "systemd is not running here ($SYSTEMD_RUN_DIR does not exist): run the agent under your supervisor with"
  say "  CORRAL_TOKEN=<the token> $RUN agent $*"
  say "(the token is needed for the first start only; see \"Hosts without systemd\" in docs/agent-install.md)"
fi
