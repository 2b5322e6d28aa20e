#!/bin/sh
# Container entry point. The first argument picks the role:
#   web      migrate, ensure_admin, ensure_tls, then gunicorn over HTTPS on 0.0.0.0:8443 (management)
#            and $ONPREM_PRODUCT_HTTPS_BIND (the product listener, device endpoints only)
#   product-http  gunicorn over plain HTTP on $ONPREM_PRODUCT_HTTP_BIND (device endpoints only)
#   worker   the Celery worker
#   beat     Celery beat (django-celery-beat's database scheduler)
#   serve    all three in one container (manage.py serve)
#   health   exit 0 if the web server answers HTTPS on 127.0.0.1:8443 (the compose healthcheck)
#   manage   manage.py with the remaining arguments, e.g. `manage createsuperuser`
# Anything else is run as given.
set -eu

cd "$(dirname "$0")/.."  # the source tree: /app in the image
mkdir -p "${ONPREM_DATA_DIR:-/var/lib/onprem}"

role="${1:-serve}"
[ "$#" -gt 0 ] && shift

case "$role" in
  web)
    python manage.py migrate --noinput
    python manage.py ensure_admin
    python manage.py ensure_tls
    data_dir="$(python -c 'from core.env import data_dir; print(data_dir())')"
    # onprem/gunicorn_conf.py (one TLS context per worker), unless GUNICORN_CMD_ARGS names a
    # configuration of the operator's own: gunicorn would silently prefer ours to it.
    case " ${GUNICORN_CMD_ARGS:-} " in
      *" --config"* | *" -c"*) ;;
      *) set -- --config python:onprem.gunicorn_conf "$@" ;;
    esac
    # The product HTTPS listener shares this gunicorn (one certificate); core/listeners.py.
    for bind in $(echo "${ONPREM_PRODUCT_HTTPS_BIND:-}" | tr ',' ' '); do set -- --bind "$bind" "$@"; done
    exec python -m gunicorn onprem.wsgi:application \
      --name onprem-web \
      --bind "${ONPREM_BIND:-0.0.0.0:8443}" \
      --workers "${ONPREM_WEB_WORKERS:-2}" \
      --certfile "${ONPREM_TLS_CERT:-$data_dir/tls/server.crt}" \
      --keyfile "${ONPREM_TLS_KEY:-$data_dir/tls/server.key}" \
      --access-logfile - --error-logfile - \
      --graceful-timeout 20 \
      "$@"
    ;;
  product-http)
    # Plain HTTP for products that register over HTTP (device endpoints only; anything else 404).
    case " ${GUNICORN_CMD_ARGS:-} " in
      *" --config"* | *" -c"*) ;;
      *) set -- --config python:onprem.gunicorn_conf "$@" ;;
    esac
    for bind in $(echo "${ONPREM_PRODUCT_HTTP_BIND:-0.0.0.0:8080}" | tr ',' ' '); do set -- --bind "$bind" "$@"; done
    exec python -m gunicorn onprem.wsgi:application \
      --name onprem-web-http \
      --workers "${ONPREM_PRODUCT_HTTP_WORKERS:-${ONPREM_WEB_WORKERS:-2}}" \
      --access-logfile - --error-logfile - \
      --graceful-timeout 20 \
      "$@"
    ;;
  worker)
    exec python -m celery -A onprem worker \
      --concurrency "${ONPREM_CELERY_CONCURRENCY:-2}" --loglevel "${LOG_LEVEL:-INFO}" "$@"
    ;;
  beat)
    # One beat per installation; no pid file (a stale one in the volume would block restarts).
    exec python -m celery -A onprem beat \
      --scheduler django_celery_beat.schedulers:DatabaseScheduler \
      --pidfile= --loglevel "${LOG_LEVEL:-INFO}" "$@"
    ;;
  serve)
    python manage.py migrate --noinput
    python manage.py ensure_admin
    exec python manage.py serve "$@"
    ;;
  health)
    exec python - "$@" <<'PY'
import http.client, os, ssl, sys
port = int(os.environ.get("ONPREM_BIND", "0.0.0.0:8443").split(",")[0].rpartition(":")[2])
context = ssl.create_default_context()
context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=context)
try:
    connection.request("GET", "/login/")
    connection.getresponse()
except OSError as error:
    sys.exit(f"unhealthy: {error}")
PY
    ;;
  manage)
    exec python manage.py "$@"
    ;;
  *)
    exec "$role" "$@"
    ;;
esac
