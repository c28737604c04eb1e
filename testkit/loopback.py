"""Real servers on the loopback interface for the live mode's Twitch parts.

Debian's nginx with ``libnginx-mod-rtmp`` stands for Twitch's video ingest
and Debian's ngircd (with a server password, so that ``PASS`` is checked)
for Twitch's chat. Each runs in the foreground on ports chosen free at run
time and can be stopped and started again, as a restarting server would.
The tests (``tests/test_live_rtmp.py``, ``tests/test_live_irc.py``) and the
soak (:mod:`soak.run`) both use them; nothing here imports pytest.
"""
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

MODULE = '/usr/lib/nginx/modules/ngx_rtmp_module.so'
# Ports Chromium refuses to talk to (besides those below 1024).
_CHROMIUM_BLOCKED = set(range(6665, 6670)) | {6697, 10080}


class MissingProgram(RuntimeError):
    """A Debian program the live tests and the soak need is not installed."""


def free_port():
    """A TCP port on 127.0.0.1 that is free now (and Chromium accepts)."""
    while True:
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            port = s.getsockname()[1]
        if port not in _CHROMIUM_BLOCKED:
            return port


def need(program, package):
    """The path of ``program``; a one-line :class:`MissingProgram` naming
    the Debian package when it is missing."""
    path = (program if os.path.isabs(program) and os.access(program, os.X_OK)
            else shutil.which(program))
    if not path:
        raise MissingProgram('%s not found: install Debian\'s %s (make test installs it)'
                             % (program, package))
    return path


def listening(port, process, timeout=15.0, log=None):
    """Wait until something accepts connections on 127.0.0.1:``port``;
    RuntimeError if ``process`` exits or ``timeout`` passes first."""
    end = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError('%s exited (%s)' % (process.args[0], process.returncode)
                               + (': ' + log.read_text()[-500:] if log and log.exists()
                                  else ''))
        try:
            socket.create_connection(('127.0.0.1', port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > end:
                raise RuntimeError('%s did not listen on port %d within %.0f s'
                                   % (process.args[0], port, timeout)) from None
            time.sleep(0.05)


NGINX_CONF = """
daemon off;
master_process on;
worker_processes 1;
{user}
pid {folder}/nginx.pid;
error_log {folder}/error.log info;
load_module {module};
events {{ worker_connections 64; }}
rtmp {{
    server {{
        listen 127.0.0.1:{rtmp_port};
        application app {{
            live on;
            {record}
        }}
    }}
}}
http {{
    access_log off;
    client_body_temp_path {folder}/tmp; proxy_temp_path {folder}/tmp;
    fastcgi_temp_path {folder}/tmp; uwsgi_temp_path {folder}/tmp; scgi_temp_path {folder}/tmp;
    server {{
        listen 127.0.0.1:{http_port};
        location /stat {{ rtmp_stat all; }}
    }}
}}
"""


class Nginx:
    """nginx with the RTMP module in ``folder`` (a new, empty folder).

    Parameters
    ----------
    folder : pathlib.Path
    record : bool
        Record every stream into ``folder/rec`` (one FLV per connection).
        A soak of an hour leaves it off: the recordings would fill the disk
        with nothing to look at.
    """

    def __init__(self, folder, record=True):
        self.folder = folder
        (folder / 'rec').mkdir()
        (folder / 'tmp').mkdir()
        self.rtmp_port, self.http_port = free_port(), free_port()
        if not os.path.exists(MODULE):
            raise MissingProgram('%s missing: install Debian\'s libnginx-mod-rtmp (make test '
                                 'installs it)' % MODULE)
        self.conf = folder / 'nginx.conf'
        self.conf.write_text(NGINX_CONF.format(
            folder=folder, module=MODULE, rtmp_port=self.rtmp_port, http_port=self.http_port,
            record=('record all; record_path %s/rec; record_unique on;' % folder
                    if record else 'record off;'),
            # Workers must be able to write the recordings.
            user='user root;' if os.geteuid() == 0 else ''))
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [need('nginx', 'nginx'), '-p', str(self.folder), '-c', str(self.conf),
             '-e', str(self.folder / 'error.log')],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        listening(self.rtmp_port, self.process, log=self.folder / 'error.log')

    def stop(self):
        # SIGQUIT: a graceful stop that finishes the recordings. It waits for
        # clients to leave, and a live stream never does: then SIGTERM.
        self.process.send_signal(signal.SIGQUIT)
        try:
            self.process.wait(2)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            self.process.wait(15)

    def restart(self):
        self.stop()
        self.start()

    def running(self):
        return self.process is not None and self.process.poll() is None

    def stat(self):
        """The RTMP module's statistics page (XML)."""
        with urllib.request.urlopen('http://127.0.0.1:%d/stat' % self.http_port,
                                    timeout=5) as r:
            return r.read().decode()

    def recordings(self):
        return sorted((self.folder / 'rec').glob('*.flv'))


NGIRCD_CONF = """[Global]
Name = irc.test.local
Info = inception_art test server
Password = {password}
AdminInfo1 = test
AdminInfo2 = test
AdminEMail = test@test.local
Listen = 127.0.0.1
Ports = {port}
MotdPhrase = test
PidFile = {folder}/ngircd.pid
[Limits]
MaxConnectionsIP = 0
MaxNickLength = 30
PingTimeout = 120
[Options]
PAM = no
Ident = no
DNS = no
"""


class NgIRCd:
    """ngircd in the foreground on ``port``, with the server password
    ``password``; :meth:`stop` and :meth:`start` again."""

    def __init__(self, folder, port, password):
        self.folder, self.port = folder, port
        self.conf = folder / 'ngircd.conf'
        self.conf.write_text(NGIRCD_CONF.format(password=password, port=port, folder=folder))
        self.process = None

    def start(self):
        self.process = subprocess.Popen([need('ngircd', 'ngircd'), '-n', '-f', str(self.conf)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        listening(self.port, self.process)

    def stop(self):
        self.process.terminate()
        self.process.wait(10)

    def restart(self):
        self.stop()
        self.start()

    def running(self):
        return self.process is not None and self.process.poll() is None
