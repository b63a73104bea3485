# Sourced by scripts/run and scripts/test: a virtualenv in .venv with the project's dependencies.
# The project itself runs from this folder (manage.py, pytest rootdir), so it is not installed.
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
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)-${CARDPORTAL_EXTRAS:-base}"
if [ ! -f "$stamp" ]; then
  # (grep drops the noise of this machine's pip config about missing local indexes)
  python -m pip install --quiet --upgrade pip 2> >(grep -v "^WARNING: Location" >&2)
  python - "${CARDPORTAL_EXTRAS:-}" > .venv/requirements.txt <<'PY'
import sys, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
extras = [e for e in sys.argv[1].split(",") if e]
print("\n".join(project["dependencies"] + [d for e in extras for d in project["optional-dependencies"][e]]))
PY
  python -m pip install --quiet -r .venv/requirements.txt 2> >(grep -v "^WARNING: Location" >&2)
  touch "$stamp"
fi
