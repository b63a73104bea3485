# Sourced by scripts/run and scripts/test: a virtualenv in .venv with the project installed.
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "需要 Python 3.11 或更高版本（当前：$("$PYTHON" --version 2>&1)）" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
stamp=".venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)-${CARDPORTAL_EXTRAS:-base}"
if [ ! -f "$stamp" ]; then
  python -m pip install --quiet --upgrade pip
  python -m pip install --quiet -e ".${CARDPORTAL_EXTRAS:+[$CARDPORTAL_EXTRAS]}"
  touch "$stamp"
fi
