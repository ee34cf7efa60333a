# Shell functions shared by scripts/ and Benchmarks/ (sourced, not run): the interop venv, Debian packages a
# script needs, and the release binaries a benchmark runs. Callers cd to the repository root first.

# interop_venv: creates or updates .venv-interop from Tests/Interop/requirements.txt (pinned); the hash of the
# requirements is stamped in the venv so pip runs only when they change.
interop_venv() {
  local venv=.venv-interop requirements=Tests/Interop/requirements.txt
  if [ ! -x "$venv/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$venv"
  fi
  local stamp="$venv/.requirements.sha256" want
  want="$(sha256sum "$requirements" | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$want" >"$stamp"
  fi
}

# ensure_packages WHO PACKAGE...: apt-get installs the packages that are missing (sudo when not root).
ensure_packages() {
  local who=$1 package missing=()
  shift
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  ((${#missing[@]})) || return 0
  echo "$who: installing ${missing[*]}"
  local sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
}

# release_bin DIR EXE...: prints DIR, or the release build's directory when DIR is empty, after checking that
# each EXE is built there.
release_bin() {
  local bin=$1 exe
  shift
  [ -n "$bin" ] || bin="$(swift build -c release --show-bin-path)"
  for exe in "$@"; do
    [ -x "$bin/$exe" ] || { echo "missing $bin/$exe (swift build -c release --product $exe)" >&2; return 1; }
  done
  echo "$bin"
}

# run_bench_driver DRIVER EXE... -- ARGS...: the usual benchmark wrapper. Takes --bin DIR from ARGS, checks the
# executables, makes the venv and runs Benchmarks/DRIVER with --bin and the other ARGS.
run_bench_driver() {
  local driver=$1 exes=() bin="" args=()
  shift
  while (($#)) && [ "$1" != -- ]; do exes+=("$1"); shift; done
  (($#)) && shift
  while (($#)); do
    case "$1" in
      --bin) bin=$2; shift 2 ;;
      *) args+=("$1"); shift ;;
    esac
  done
  bin="$(release_bin "$bin" "${exes[@]}")"
  interop_venv
  exec .venv-interop/bin/python "Benchmarks/$driver" --bin "$bin" "${args[@]}"
}
