# shellcheck shell=bash
# Shared by bin/demo and bin/test (sourced, not run): system packages, the venv, timing.
# Expects the current directory to be the repository root.

VENV="${VENV:-.venv}"
PY="$VENV/bin/python"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
warn() { printf '\033[33mwarning:\033[0m %s\n' "$*" >&2; }
die() {
  printf '\033[31merror:\033[0m %s\n' "$*" >&2
  exit 1
}

# Run a command as root: directly when we are root, through sudo otherwise.
as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root to run: $* (install sudo or run as root)"
  fi
}

# The interpreter the venv is made from: python3 (or $PYTHON), 3.11 or newer.
find_python() {
  local candidate
  for candidate in "${PYTHON:-}" python3 python3.13 python3.12 python3.11; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

# Install the Debian packages given that are not installed yet; nothing when all are.
apt_ensure() {
  local missing=() pkg
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$pkg")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    warn "not a Debian-like system; please install the equivalents of: ${missing[*]}"
    return 0
  fi
  say "Installing system packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" \
    >/dev/null
}

# Packages that python3 -m venv needs on Debian (ensurepip lives in python3-venv).
venv_packages() {
  local python
  python=$(find_python) || {
    echo python3 python3-venv
    return
  }
  "$python" -c 'import ensurepip, venv' 2>/dev/null || echo python3-venv
}

# Create the venv if missing and install a requirements file (requirements.txt unless
# given; bin/test gives requirements-dev.txt, which includes it) when it, or the runtime
# file, changed since it was last installed.
ensure_venv() {
  local python stamp want file=${1:-requirements.txt}
  if [ ! -x "$PY" ]; then
    python=$(find_python) || die "Python 3.11 or newer is needed (set PYTHON=/path/to/python3)"
    say "Creating $VENV with $python"
    "$python" -m venv "$VENV"
  fi
  stamp="$VENV/.${file%.txt}.sha256"
  want=$(cat requirements.txt "$file" | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "Installing $file into $VENV"
    if ensure_uv; then
      "$VENV/bin/uv" pip install --quiet --compile-bytecode --python "$PY" -r "$file"
    else
      "$PY" -m pip install -q --disable-pip-version-check -r "$file"
    fi
    echo "$want" >"$stamp"
  fi
}

# uv installs the pinned requirements in seconds where pip takes a minute or more (it
# fetches and unpacks in parallel). Pinned; pip stays the fallback when it can't be had.
# It compiles the bytecode as pip does: where PYTHONDONTWRITEBYTECODE is set, every
# process (the demo's, each worker a test starts) would otherwise compile Django anew.
UV_VERSION=0.13.10
ensure_uv() {
  [ -x "$VENV/bin/uv" ] && "$VENV/bin/uv" --version 2>/dev/null | grep -q " $UV_VERSION" && return 0
  "$PY" -m pip install -q --disable-pip-version-check "uv==$UV_VERSION" >/dev/null 2>&1 || {
    warn "could not install uv $UV_VERSION; installing with pip instead"
    return 1
  }
}

# A free TCP port on 127.0.0.1, starting from $1.
free_port() {
  "$PY" - "$1" <<'EOF'
import socket, sys
port = int(sys.argv[1])
while True:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            port += 1
            continue
    print(port)
    break
EOF
}
