"""A throwaway WordPress site for the tests: Debian's ``wordpress`` package, served by its own Apache
(mod_php) and MariaDB on a free loopback port, in a temporary folder removed at the end
(research/api_contracts.md §4.5). The machine's own Apache and MariaDB services are neither used nor
changed.

The one file written outside the folder is the site's configuration,
``/etc/wordpress/config-<name>.php``: Debian's ``wp-config.php`` reads configurations only from there.
Apache picks it with ``SetEnv WORDPRESS_CONFIG``; it is removed at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from tests.pg import _free_port

WORDPRESS = Path("/usr/share/wordpress")
MODULES = Path("/usr/lib/apache2/modules")
INSTALL_HINT = ("run scripts/setup.sh --test (installs Debian's wordpress, wordpress-theme-twentytwentythree, "
                "mariadb-server, apache2 and libapache2-mod-php)")

CONFIG = """<?php
define('DB_NAME', 'wordpress');
define('DB_USER', 'wordpress');
define('DB_PASSWORD', '{db_password}');
define('DB_HOST', 'localhost:{socket}');
define('DB_CHARSET', 'utf8mb4');
define('WP_HOME', '{url}');
define('WP_SITEURL', '{url}');
define('WP_CONTENT_DIR', '{content}');
define('WP_CONTENT_URL', '{url}/wp-content');
// Application Passwords over plain http need a 'local' site (wp_is_application_passwords_supported).
define('WP_ENVIRONMENT_TYPE', 'local');
// Offline: no calls to wordpress.org, no updates.
define('WP_HTTP_BLOCK_EXTERNAL', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
{salts}
"""

APACHE = """ServerRoot /etc/apache2
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {folder}/apache.pid
ErrorLog {folder}/apache-error.log
LogLevel warn
{user}
LoadModule mpm_prefork_module {modules}/mod_mpm_prefork.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule dir_module {modules}/mod_dir.so
LoadModule mime_module {modules}/mod_mime.so
LoadModule alias_module {modules}/mod_alias.so
LoadModule env_module {modules}/mod_env.so
LoadModule rewrite_module {modules}/mod_rewrite.so
LoadModule php_module {modules}/libphp8.2.so
StartServers 2
MinSpareServers 1
MaxSpareServers 4
MaxRequestWorkers 8
TypesConfig /etc/mime.types
DocumentRoot {wordpress}
DirectoryIndex index.php
SetEnv WORDPRESS_CONFIG {name}
Alias /wp-content {content}
<FilesMatch "\\.php$">
  SetHandler application/x-httpd-php
</FilesMatch>
<Directory />
  AllowOverride None
  Require all denied
</Directory>
<Directory {wordpress}>
  Options FollowSymLinks
  Require all granted
  # The single-site rules of /etc/wordpress/htaccess, for pretty permalinks and /wp-json.
  RewriteEngine On
  RewriteBase /
  RewriteRule ^index\\.php$ - [L]
  RewriteCond %{{REQUEST_FILENAME}} !-f
  RewriteCond %{{REQUEST_FILENAME}} !-d
  RewriteRule . /index.php [L]
</Directory>
<Directory {content}>
  Options FollowSymLinks
  Require all granted
</Directory>
"""

# Installs the site as a commune's administrator would: the CCHC category, an author and a contributor,
# and prints an Application Password for each of them.
INSTALL = r"""<?php
$_SERVER['WORDPRESS_CONFIG'] = getenv('WORDPRESS_CONFIG');
$_SERVER['HTTP_HOST'] = getenv('SITE_HOST');
define('WP_INSTALLING', true);
require '/usr/share/wordpress/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
wp_install('Trang thông tin điện tử xã Mường La', 'admin', 'admin@example.invalid', false, '',
           getenv('ADMIN_PASSWORD'));
update_option('permalink_structure', '/%year%/%monthnum%/%postname%/');
update_option('timezone_string', 'Asia/Ho_Chi_Minh');
wp_insert_term('Cải cách hành chính', 'category');
$passwords = [];
foreach (['bientap' => 'author', 'congtacvien' => 'contributor'] as $login => $role) {
    $id = wp_insert_user(['user_login' => $login, 'user_pass' => wp_generate_password(24),
                          'user_email' => "$login@example.invalid", 'role' => $role]);
    $passwords[$login] = WP_Application_Passwords::create_new_application_password($id, ['name' => 'cchc'])[0];
}
echo json_encode($passwords);
"""


class WordPressSite:
    """Start with ``start()``; ``url`` is the site, ``passwords`` the Application Password of the
    users ``bientap`` (author) and ``congtacvien`` (contributor); ``stop()`` removes everything."""

    def __init__(self) -> None:
        missing = [tool for tool in ("mariadb-install-db", "mariadbd", "mariadb", "apache2", "php")
                   if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists()]
        if missing or not (WORDPRESS / "wp-load.php").exists() or not (MODULES / "libphp8.2.so").exists():
            raise RuntimeError(f"WordPress test site cannot start ({', '.join(missing) or 'files'} missing): "
                               f"{INSTALL_HINT}")
        self.as_root = os.geteuid() == 0
        self.folder = Path(tempfile.mkdtemp(prefix="cchc-wp-"))
        self.folder.chmod(0o755)  # Apache's user reaches the database socket and the uploads through it
        self.port = _free_port()
        self.name = f"cchc-test-{self.port}"
        self.config = Path(f"/etc/wordpress/config-{self.name}.php")
        self.passwords: dict[str, str] = {}
        self._processes: list[subprocess.Popen] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        _remove_stale_configs()
        db_password = secrets.token_hex(16)
        socket_path = self._start_database(db_password)
        content = self.folder / "wp-content"
        (content / "uploads").mkdir(parents=True)
        (content / "themes").symlink_to(WORDPRESS / "wp-content" / "themes")
        salts = "\n".join(f"define('{key}', '{secrets.token_hex(32)}');" for key in
                          ("AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT",
                           "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT"))
        self.config.write_text(CONFIG.format(db_password=db_password, socket=socket_path, url=self.url,
                                             content=content, salts=salts), encoding="utf-8")
        self.config.chmod(0o640)
        if self.as_root:
            shutil.chown(self.config, "root", "www-data")
            shutil.chown(content / "uploads", "www-data", "www-data")
        install = self.folder / "install.php"
        install.write_text(INSTALL, encoding="utf-8")
        env = {**os.environ, "WORDPRESS_CONFIG": self.name, "SITE_HOST": f"127.0.0.1:{self.port}",
               "ADMIN_PASSWORD": secrets.token_hex(12)}
        done = subprocess.run(self._as("www-data", "php", str(install)), env=env, capture_output=True, text=True,
                              timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"WordPress did not install: {done.stdout[-2000:]} {done.stderr[-2000:]}")
        self.passwords = json.loads(done.stdout[done.stdout.index("{"):])
        self._start_apache(content)

    def _as(self, user: str, *command: str) -> list[str]:
        return ["runuser", "-u", user, "--", *command] if self.as_root else list(command)

    def _start_database(self, db_password: str) -> Path:
        data, run = self.folder / "db", self.folder / "run"
        data.mkdir()
        run.mkdir()
        user = ["--user=mysql"] if self.as_root else []
        if self.as_root:
            shutil.chown(data, "mysql")
            shutil.chown(run, "mysql")
        subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={data}", *user, "--skip-test-db",
                        "--auth-root-authentication-method=socket"], check=True, capture_output=True, timeout=120)
        socket_path = run / "mysqld.sock"
        self._processes.append(subprocess.Popen(
            ["mariadbd", "--no-defaults", f"--datadir={data}", f"--socket={socket_path}", "--skip-networking",
             f"--pid-file={run / 'mysqld.pid'}", f"--log-error={self.folder / 'mariadb.log'}",
             "--innodb-flush-log-at-trx-commit=0", *user],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        sql = ("CREATE DATABASE wordpress CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci; "
               f"CREATE USER 'wordpress'@'localhost' IDENTIFIED BY '{db_password}'; "
               "GRANT ALL ON wordpress.* TO 'wordpress'@'localhost';")
        self._wait(lambda: subprocess.run(["mariadb", "--no-defaults", f"--socket={socket_path}", "-uroot",
                                           "-e", "SELECT 1"], capture_output=True, check=False).returncode == 0,
                   "MariaDB")
        subprocess.run(["mariadb", "--no-defaults", f"--socket={socket_path}", "-uroot", "-e", sql],
                       check=True, capture_output=True)
        return socket_path

    def _start_apache(self, content: Path) -> None:
        config = self.folder / "apache.conf"
        config.write_text(APACHE.format(port=self.port, folder=self.folder, modules=MODULES, wordpress=WORDPRESS,
                                        name=self.name, content=content,
                                        user="User www-data\nGroup www-data" if self.as_root else ""),
                          encoding="utf-8")
        # Its own process group: at shutdown Apache's prefork signals its whole group, which would
        # otherwise include pytest.
        self._processes.append(subprocess.Popen(["apache2", "-f", str(config), "-DFOREGROUND"],
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                                start_new_session=True))

        def answers() -> bool:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            except OSError:
                return False
            return requests.get(f"{self.url}/wp-json/", timeout=10).status_code == 200

        self._wait(answers, "Apache")

    def _wait(self, ready, what: str, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if ready():
                return
            dead = [p for p in self._processes if p.poll() is not None]
            if dead:
                raise RuntimeError(f"{what} stopped while starting; see the logs in {self.folder}")
            time.sleep(0.2)
        raise RuntimeError(f"{what} did not answer within {seconds:.0f} s; see the logs in {self.folder}")

    def run_cron(self) -> None:
        """What a visitor's request or the system cron does: run WordPress's due jobs (future posts)."""
        requests.get(f"{self.url}/wp-cron.php", params={"doing_wp_cron": f"{time.time():.6f}"}, timeout=30)

    def stop(self) -> None:
        for process in reversed(self._processes):
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        self.config.unlink(missing_ok=True)
        shutil.rmtree(self.folder, ignore_errors=True)


def _remove_stale_configs() -> None:
    """Configs left by a test run that was killed: nothing listens on their port any more."""
    for config in Path("/etc/wordpress").glob("config-cchc-test-*.php"):
        try:
            socket.create_connection(("127.0.0.1", int(config.stem.rsplit("-", 1)[1])), timeout=0.2).close()
        except OSError:
            config.unlink(missing_ok=True)
        except ValueError:
            continue
