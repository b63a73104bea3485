# The portal's one image: web (gunicorn), Celery workers, beat and the migration Job all run it
# with a different command (deploy/k8s/, deploy/compose.yaml). Built from the repository root:
#   docker build -t cardportal:VERSION .
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=cardportal.settings \
    STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/srv/media \
    PROMETHEUS_MULTIPROC_DIR=/tmp/metrics \
    CELERY_BEAT_SCHEDULE_FILE=/tmp/celerybeat-schedule \
    BIND=0.0.0.0:8000 \
    LOG_FORMAT=json

WORKDIR /app
# Dependencies first (the layer is reused while pyproject.toml does not change): the project's
# own list plus the prod extra (gunicorn, honcho, sentry-sdk), read the way scripts/_venv.sh does.
COPY pyproject.toml ./
RUN python - > /tmp/requirements.txt <<'PY'
import tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
print("\n".join(project["dependencies"] + project["optional-dependencies"]["prod"]))
PY
RUN pip install -r /tmp/requirements.txt

COPY manage.py Procfile ./
COPY deploy/gunicorn.conf.py deploy/gunicorn.conf.py
COPY cardportal cardportal
COPY members members
COPY issuance issuance
COPY merchants merchants
COPY benefits benefits
COPY quotas quotas
COPY templates templates
COPY static static

# Static files are collected into the image (WhiteNoise serves them under hashed names, from the
# manifest that only DEBUG=0 writes). The build has no secrets: throwaway values for this one
# command let the settings import; the real ones come from the environment at run time.
RUN DEBUG=0 SECRET_KEY=build-only-not-a-secret PII_HASH_KEY=build-only \
    PII_KEYS=YnVpbGQtb25seS1ub3QtYS1rZXktLS0tLS0tLS0tLS0= \
    python manage.py collectstatic --noinput -v 0

RUN useradd --system --uid 10001 --home /app cardportal \
    && mkdir -p /srv/media /tmp/metrics && chown cardportal /srv/media /tmp/metrics
USER 10001
EXPOSE 8000
CMD ["gunicorn", "cardportal.wsgi", "--config", "deploy/gunicorn.conf.py"]
