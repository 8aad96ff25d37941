#!/usr/bin/env bash
# Install cchc as a system service on Debian 12 (as root, or as a user with sudo):
#
#   scripts/install.sh [--here] [--prefix /opt/cchc] [--etc /etc/cchc] [--unit-dir /etc/systemd/system]
#                      [--bin-dir /usr/local/sbin] [--user cchc] [--no-start]
#
# - the code goes to --prefix (with its own .venv), or stays where it is with --here;
# - a system user (--user) that owns nothing but the service's data, /var/lib/cchc (systemd's
#   StateDirectory);
# - the configuration in <etc>/config, copied from config/ the first time only (staff edits stay);
# - secrets in <etc>/cchc.env, root-only (mode 600), made the first time with a new CCHC_SECRET_KEY;
# - the unit <unit-dir>/cchc.service, checked with systemd-analyze verify, enabled and started when
#   systemd runs this machine (not with --no-start);
# - an nginx example for https in front of the web app: <etc>/nginx-cchc.conf.example;
# - <bin-dir>/cchc-admin: any cchc command as the service runs it (its user, configuration, data and
#   secrets), e.g. `cchc-admin backup` or `cchc-admin channel check NAME`.
# Running it again updates the code and the unit and keeps the configuration, secrets and data.
set -euo pipefail
source_dir="$(cd "$(dirname "$0")/.." && pwd)"

here=0; prefix=/opt/cchc; etc=/etc/cchc; unit_dir=/etc/systemd/system; bin_dir=/usr/local/sbin; user=cchc
start=1
while [ $# -gt 0 ]; do
  case "$1" in
    --here) here=1 ;;
    --prefix) prefix="$2"; shift ;;
    --etc) etc="$2"; shift ;;
    --unit-dir) unit_dir="$2"; shift ;;
    --bin-dir) bin_dir="$2"; shift ;;
    --user) user="$2"; shift ;;
    --no-start) start=0 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "install: không hiểu tuỳ chọn '$1' (xem: scripts/install.sh --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install: cần chạy với quyền root (hoặc cài sudo)" >&2; exit 1; }
  exec sudo "$0" "$@"
fi

# 1. The service user: no shell, no home of its own but the data folder.
if ! id -u "$user" >/dev/null 2>&1; then
  useradd --system --user-group --home-dir /var/lib/cchc --no-create-home --shell /usr/sbin/nologin "$user"
fi

# 2. The code and its virtual environment, on Debian's Python (security updates come with the system;
#    a Python under /root, such as pyenv's, is not reachable by the service user).
if [ "$here" = 1 ]; then
  app="$source_dir"
else
  app="$prefix"
  mkdir -p "$app"
  tar -C "$source_dir" --exclude=./.venv --exclude=./data --exclude=./.git --exclude='__pycache__' -cf - . \
    | tar -C "$app" -xf -
  [ -z "${PYTHON:-}" ] && [ -x /usr/bin/python3.11 ] && export PYTHON=/usr/bin/python3.11
fi
"$app/scripts/setup.sh"
chmod -R go+rX "$app"
if ! runuser -u "$user" -- "$app/.venv/bin/python" -c "import scheduler" >/dev/null 2>&1; then
  echo "install: người dùng $user không chạy được $app/.venv/bin/python (Python hoặc mã nằm trong thư mục" \
       "người khác không đọc được, như /root): cài không có --here, hoặc đặt mã vào /opt" >&2
  exit 1
fi

# 3. Configuration (first time only) and secrets (root-only; systemd reads them for the service).
mkdir -p "$etc"
chmod 755 "$etc"
if [ ! -d "$etc/config" ]; then
  cp -r "$app/config" "$etc/config"
fi
chown -R "root:$user" "$etc/config"
chmod -R u=rwX,g=rX,o= "$etc/config"
if [ ! -f "$etc/cchc.env" ]; then
  umask 077
  {
    echo "# Secrets and settings of the cchc service (read by systemd as root; never commit or copy this file)."
    echo "# The key that seals tokens in the database: keep a copy apart from backups."
    echo "CCHC_SECRET_KEY=$("$app/.venv/bin/cchc" channel key)"
    echo "# The staff web app behind nginx (scripts/nginx/cchc.conf):"
    echo "# CCHC_WEB_HOST=127.0.0.1"
    echo "# CCHC_TRUSTED_PROXIES=127.0.0.1"
    echo "# Tokens of the channels, by the names in config/channels.toml (token_env), e.g.:"
    echo "# CCHC_FB_MUONG_LA_TOKEN=..."
    echo "# CCHC_LOG_FORMAT=json"
  } > "$etc/cchc.env"
  umask 022
fi
chown root:root "$etc/cchc.env"
chmod 600 "$etc/cchc.env"
cp "$app/scripts/nginx/cchc.conf" "$etc/nginx-cchc.conf.example"

# 4. The unit.
mkdir -p "$unit_dir"
sed -e "s|@APP@|$app|g" -e "s|@ETC@|$etc|g" -e "s|@USER@|$user|g" "$app/scripts/systemd/cchc.service" \
  > "$unit_dir/cchc.service"
chmod 644 "$unit_dir/cchc.service"
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify "$unit_dir/cchc.service"
fi

# 5. cchc-admin: the secrets reach the command through its environment, never its arguments. The file is
#    read as systemd reads it for the service (scripts/admin.py), never by a shell: a value with spaces,
#    such as a WordPress application password, is one value for both.
mkdir -p "$bin_dir"
cat > "$bin_dir/cchc-admin" <<ADMIN
#!/bin/sh
# Run a cchc command as the service does: its user, configuration, data folder and secrets.
set -eu
[ "\$(id -u)" -eq 0 ] || exec sudo "\$0" "\$@"
exec "$app/.venv/bin/python" -m scripts.admin "$etc/cchc.env" "$user" "$etc/config" -- "\$@"
ADMIN
chmod 755 "$bin_dir/cchc-admin"

if [ "$start" = 1 ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable --now cchc.service
  echo "install: cchc.service chạy; xem: systemctl status cchc; journalctl -u cchc -f"
else
  echo "install: đã cài $unit_dir/cchc.service (chưa khởi động: máy này không chạy systemd, hoặc --no-start)."
  echo "         Khởi động: systemctl daemon-reload && systemctl enable --now cchc"
fi
echo "install: cấu hình $etc/config, bí mật $etc/cchc.env (chỉ root đọc), dữ liệu /var/lib/cchc"
