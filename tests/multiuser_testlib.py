# SPDX-License-Identifier: LGPL-2.1-or-later
"""Several uids, logind sessions and sandboxed (Flatpak-like) callers of
soterd, all on one private system bus, with nothing on the machine changed.

A test file calls reexec() at import time (before taprunner.main). As root,
the file then runs again as a child, under
    unshare --mount --propagation private --cgroup
after the parent has moved it into a fresh cgroup <cgroup2 mount>/soterd-test-<pid>:
that cgroup is the root of the child's cgroup namespace. When the child
exits, the parent kills whatever is left in the cgroup tree (cgroup.kill),
removes the tree bottom-up and the directories it made, and exits with the
child's code. SIGTERM/SIGHUP to the parent (a meson timeout) do the same at
once. Not root, or no cgroup2 / unshare / chroot / setpriv: the file runs as
it is and every MultiUserTestCase skips, saying why (SOTER_NO_MULTIUSER).

Inside, once (namespace(), called by reexec() in the child):
  - a tmpfs over a work directory (WORK, 0755, made by the parent) holding
    TMPDIR (every temporary file of the run: gone even after a SIGKILL);
    copies of /etc/passwd and /etc/group with the USERS added, bind-mounted
    over the real ones; the bus sockets; bus_peer.py and the interface XML
    (readable by every uid, inside a chroot too);
  - tmpfs over /run/systemd/users and /run/systemd/sessions (made first if
    missing, and removed again by the parent).

logind is faked the way sd-login reads it, from files, not from the bus:
  - sd_pid_get_session(pid) parses /proc/PID/cgroup: after leading *.slice
    units, the unit must be session-<id>.scope. session_cgroup(uid, id)
    makes <ns root>/user.slice/user-UID.slice/session-ID.scope, which the
    pids moved into it see as `0::/user.slice/user-UID.slice/session-ID.scope`.
  - sd_pid_get_user_unit(pid): user_unit_cgroup(uid, 'app-gnome-org.gnome.Calc-1234.scope')
    is .../user-UID.slice/user@UID.service/app.slice/<unit> (no session).
  - sd_uid_get_display(uid) reads DISPLAY= in /run/systemd/users/UID:
    set_display(uid, session_id). sd_session_*(id) read /run/systemd/sessions/ID:
    write_session(id, uid, ...).
dbusmock's logind template is not needed (sd-login never asks the bus) and
is not started.

MultiUserTestCase (a SoterdTestCase): its own dbus-daemon of type system
that admits every uid (<allow user="*"/>), dbusmock's polkitd on it, soterd
as root and the harness's own Agent as root as in the base class; plus
    self.spawn_peer(uid, cgroup=None, root=None) -> Peer   (bus_peer.py as uid)
    self.fake_root(flatpak_info=None, kind='file') -> chroot directory
peers are killed and fake roots unmounted at tearDown.

Example:
    class TestSessions(MultiUserTestCase):
        def test_x(self):
            scope = session_cgroup(ALICE, 'c7')
            set_display(ALICE, 'c7')
            alice = self.spawn_peer(ALICE, cgroup=scope)
            alice.register_agent()
            self.enroll_peer(alice)
            call = alice.start_auth('chal')
            rid, details = alice.wait_event('ShowPrompt')
            self.reader('SCAN finger-1')
            mode, result, sig, code, msg = call.wait()
"""

import ctypes
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

from gi.repository import Gio, GLib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from soterd_testlib import (BUS_NAME, BUS_OBJECT_POLLS, DEADLINE, PATH, SOTERD, XML,  # noqa: E402
                            SoterdTestCase, child_env, wait_until)

HERE = os.path.dirname(os.path.abspath(__file__))
PEER_SCRIPT = os.path.join(HERE, 'bus_peer.py')
PYTHON = '/usr/bin/python3'

INSIDE_ENV = 'SOTER_IN_MULTIUSER_NAMESPACE'
WHY_ENV = 'SOTER_NO_MULTIUSER'
CGROUP_ENV = 'SOTER_MULTIUSER_CGROUP'   # the test cgroup, as seen in the cgroup2 mount
WORK_ENV = 'SOTER_MULTIUSER_DIR'
UNSHARE = ['unshare', '--mount', '--propagation', 'private', '--cgroup']

# Test users: name → uid (= gid of a group of the same name).
USERS = {'soter-alice': 61001, 'soter-bob': 61002, 'soter-carol': 61003}
ALICE, BOB, CAROL = USERS['soter-alice'], USERS['soter-bob'], USERS['soter-carol']
# Users for the load test: as many as soterd's line for the reader holds.
LOAD_USERS = [61100 + n for n in range(1, 17)]
USERS.update({f'soter-load-{n:02}': uid for n, uid in enumerate(LOAD_USERS, 1)})
UID_NAMES = {uid: name for name, uid in USERS.items()}

RUN_DIRS = ['/run/systemd/users', '/run/systemd/sessions']


# --- entering the namespaces ----------------------------------------------

def inside():
    return os.environ.get(INSIDE_ENV) == '1'


def why_not():
    return os.environ.get(WHY_ENV, 'needs root, to run in cgroup and mount namespaces '
                                   'of its own (multiuser_testlib.reexec())')


def cgroup2_mount():
    with open('/proc/self/mounts') as f:
        for line in f:
            fields = line.split()
            if len(fields) > 2 and fields[2] == 'cgroup2':
                return fields[1].replace('\\040', ' ')
    return None


def _passwd_ids(path):
    try:
        with open(path) as f:
            return {int(line.split(':')[2]) for line in f if line.count(':') >= 3}
    except (OSError, ValueError):
        return set()


def _obstacle():
    if os.geteuid() != 0:
        return None   # why_not()'s default
    for tool in ('unshare', 'setpriv', 'chroot', 'dbus-daemon', 'mount', 'umount'):
        if shutil.which(tool) is None:
            return f'{tool} is not installed'
    if not os.path.exists(PYTHON):
        return f'{PYTHON} is missing'
    cg2 = cgroup2_mount()
    if cg2 is None:
        return 'no cgroup2 hierarchy is mounted (see /proc/self/mounts)'
    clash = set(USERS.values()) & (_passwd_ids('/etc/passwd') | _passwd_ids('/etc/group'))
    if clash:
        return f'the test uids {sorted(clash)} exist on this machine'
    r = subprocess.run(UNSHARE + ['true'], capture_output=True, text=True)
    if r.returncode != 0:
        return f'unshare --mount --cgroup failed: {r.stderr.strip()}'
    return None


def _kill_tree(cg):
    """Kills every process in cgroup @cg and below, and waits until it is empty."""
    if not os.path.isdir(cg):
        return
    if os.path.exists(os.path.join(cg, 'cgroup.kill')):
        with open(os.path.join(cg, 'cgroup.kill'), 'w') as f:
            f.write('1')
    else:
        for dirpath, _, _ in os.walk(cg):
            try:
                with open(os.path.join(dirpath, 'cgroup.procs')) as f:
                    for pid in f.read().split():
                        try:
                            os.kill(int(pid), signal.SIGKILL)
                        except ProcessLookupError:
                            pass
            except OSError:
                pass
    # cgroup.events says "populated 0" once the last process is gone; the
    # kernel notifies a change with POLLPRI.
    events = open(os.path.join(cg, 'cgroup.events'))
    poller = select.poll()
    poller.register(events, select.POLLPRI | select.POLLERR)
    for _ in range(100):
        events.seek(0)
        if 'populated 0' in events.read():
            break
        poller.poll(DEADLINE * 10)
    events.close()


def _remove_tree(cg):
    for dirpath, _, _ in os.walk(cg, topdown=False):
        try:
            os.rmdir(dirpath)
        except OSError as e:
            sys.stderr.write(f'multiuser_testlib: could not remove cgroup {dirpath}: {e}\n')


def make_dirs(path, made):
    """mkdir -p with mode 0755, each directory it makes appended to @made
    (parents first), so that they can be removed in reverse."""
    missing = []
    while not os.path.lexists(path):
        missing.append(path)
        path = os.path.dirname(path)
    for m in reversed(missing):
        os.mkdir(m, 0o755)
        made.append(m)


def reexec():
    """As root: runs this script again in namespaces of its own and exits
    with its code; does not return. Otherwise returns, and the cases skip."""
    if inside():
        namespace()
        return
    if os.environ.get(WHY_ENV):
        return
    why = _obstacle()
    if os.geteuid() != 0 or why is not None:
        if why is not None:
            os.environ[WHY_ENV] = why
        return

    test_cg = os.path.join(cgroup2_mount(), f'soterd-test-{os.getpid()}')

    def enter_cgroup():
        with open(os.path.join(test_cg, 'cgroup.procs'), 'w') as f:
            f.write('0')

    try:
        os.mkdir(test_cg)
        subprocess.run(['true'], preexec_fn=enter_cgroup, check=True)
    except (OSError, subprocess.SubprocessError) as e:
        if os.path.isdir(test_cg):
            os.rmdir(test_cg)
        os.environ[WHY_ENV] = f'cannot make and enter a cgroup under {cgroup2_mount()}: {e}'
        return
    work = tempfile.mkdtemp(prefix='soterd-multiuser-')
    os.chmod(work, 0o755)
    made = []   # directories made on the machine, removed at the end
    for d in RUN_DIRS:
        make_dirs(d, made)

    env = dict(os.environ, **{INSIDE_ENV: '1', CGROUP_ENV: test_cg, WORK_ENV: work})

    got = []

    def on_signal(signum, frame):
        # A timeout or a hang-up: everything in the tree goes at once.
        got.append(signum)
        _kill_tree(test_cg)

    rc = 1
    try:
        for s in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, on_signal)
        child = subprocess.Popen(UNSHARE + [sys.executable, *sys.argv], env=env,
                                 preexec_fn=enter_cgroup)
        # ^C reaches the child too (one process group): it stops its cases,
        # and this process cleans up after it. (Ignored only now: an ignored
        # signal would stay ignored in the child.)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        while True:
            try:
                rc = child.wait()
                break
            except InterruptedError:
                continue
        if got:
            rc = 128 + got[0]
        elif rc < 0:
            rc = 128 - rc
    finally:
        _kill_tree(test_cg)
        _remove_tree(test_cg)
        for m in reversed(made):
            try:
                os.rmdir(m)
            except OSError:
                pass
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(rc)


# --- inside: the namespace's mounts ---------------------------------------

CGROUP = os.environ.get(CGROUP_ENV)
WORK = os.environ.get(WORK_ENV)
SHARED = os.path.join(WORK, 'shared') if WORK else None   # seen inside fake roots too
ROOTS = os.path.join(WORK, 'roots') if WORK else None
PEER_COPY = os.path.join(SHARED, 'bus_peer.py') if WORK else None
XML_COPY = os.path.join(SHARED, 'io.github.soterd.Soter1.xml') if WORK else None
_READY = False


def mount(*args):
    subprocess.run(['mount', *args], check=True)


def umount(path):
    if subprocess.run(['umount', path], capture_output=True).returncode != 0:
        subprocess.run(['umount', '-l', path], capture_output=True)


def _with_users(path, fmt):
    with open(path) as f:
        text = f.read()
    if text and not text.endswith('\n'):
        text += '\n'
    return text + ''.join(fmt(name, uid) for name, uid in USERS.items())


def namespace():
    """Makes the namespace's mounts, once; returns WORK."""
    global _READY
    if _READY:
        return WORK
    if not inside():
        raise unittest.SkipTest(why_not())
    with open('/proc/self/cgroup') as f:
        own = [line.strip() for line in f if line.startswith('0::')]
    if own != ['0::/']:
        raise AssertionError(f'not at the root of a cgroup namespace: {own}')
    mount('-t', 'tmpfs', '-o', 'mode=0755,size=256m', 'soterd-multiuser', WORK)
    # Every temporary file of the run (the cases' state directories,
    # dbusmock's, the key template) on that tmpfs: gone with the namespace
    # even when the run is killed.
    tmp = os.path.join(WORK, 'tmp')
    os.mkdir(tmp)
    os.chmod(tmp, 0o1777)
    os.environ['TMPDIR'] = tmp
    tempfile.tempdir = tmp
    etc = os.path.join(WORK, 'etc')
    os.mkdir(etc, 0o755)
    for name, fmt in [('passwd', lambda n, u: f'{n}:x:{u}:{u}::/nonexistent:/usr/sbin/nologin\n'),
                      ('group', lambda n, u: f'{n}:x:{u}:\n')]:
        copy = os.path.join(etc, name)
        with open(copy, 'w') as f:
            f.write(_with_users('/etc/' + name, fmt))
        os.chmod(copy, 0o644)
        mount('--bind', copy, '/etc/' + name)
    for d in RUN_DIRS:
        mount('-t', 'tmpfs', '-o', 'mode=0755,size=1m', 'soterd-multiuser-run', d)
    os.makedirs(SHARED, 0o755)
    os.makedirs(ROOTS, 0o755)
    for src, dst in [(PEER_SCRIPT, PEER_COPY), (XML, XML_COPY)]:
        shutil.copyfile(src, dst)
        os.chmod(dst, 0o644)
    _READY = True
    return WORK


# --- inside: cgroups and sd-login's files ---------------------------------

def cgroup_dir(relative):
    """The directory of cgroup @relative (a path below the namespace root),
    made if missing."""
    path = os.path.join(CGROUP, relative.strip('/'))
    os.makedirs(path, exist_ok=True)
    return path


def session_cgroup(uid, session_id):
    return cgroup_dir(f'user.slice/user-{uid}.slice/session-{session_id}.scope')


def user_unit_cgroup(uid, unit):
    """e.g. unit='app-gnome-org.gnome.Calc-1234.scope' (a desktop app, no session)."""
    return cgroup_dir(f'user.slice/user-{uid}.slice/user@{uid}.service/app.slice/{unit}')


def move_to_cgroup(pid, path):
    with open(os.path.join(path, 'cgroup.procs'), 'w') as f:
        f.write(str(pid))


def cgroup_of(pid):
    """The unified hierarchy's line of /proc/PID/cgroup, as seen in this namespace."""
    with open(f'/proc/{pid}/cgroup') as f:
        for line in f:
            if line.startswith('0::'):
                return line[3:].strip()
    return None


def _write_atomic(path, text):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.rename(tmp, path)


def set_display(uid, session_id):
    """/run/systemd/users/UID as logind writes it, with DISPLAY=<session_id>
    (what sd_uid_get_display() reads); None removes the file."""
    path = f'/run/systemd/users/{uid}'
    if session_id is None:
        if os.path.exists(path):
            os.unlink(path)
        return
    _write_atomic(path, '# This is private data. Do not parse.\n'
                        f'NAME={UID_NAMES.get(uid, uid)}\nSTATE=active\nSTOPPING=no\n'
                        f'DISPLAY={session_id}\nSESSIONS={session_id}\n'
                        f'ONLINE_SESSIONS={session_id}\nACTIVE_SESSIONS={session_id}\n')


def write_session(session_id, uid, active=True, seat='seat0', type='wayland', **extra):
    """/run/systemd/sessions/ID, as sd_session_get_uid/_is_active/_get_seat/
    _get_type read it; @extra adds KEY=value lines (e.g. SERVICE='gdm-password')."""
    fields = {'UID': uid, 'USER': UID_NAMES.get(uid, uid), 'ACTIVE': int(bool(active)),
              'IS_DISPLAY': 1, 'STATE': 'active' if active else 'online', 'REMOTE': 0,
              'TYPE': type, 'CLASS': 'user', 'SCOPE': f'session-{session_id}.scope'}
    if seat:
        fields['SEAT'] = seat
    fields.update(extra)
    _write_atomic(f'/run/systemd/sessions/{session_id}',
                  '# This is private data. Do not parse.\n'
                  + ''.join(f'{k}={v}\n' for k, v in fields.items()))


_libsystemd = None


def sd_login(function, arg):
    """Calls libsystemd's sd_<function>(arg, &string) in this process, e.g.
    sd_login('pid_get_session', pid), ('pid_get_user_unit', pid),
    ('uid_get_display', uid), ('session_get_type', 'c7'): the string, or
    None on an error (its -errno is dropped: callers treat every "none"
    alike)."""
    global _libsystemd
    if _libsystemd is None:
        _libsystemd = ctypes.CDLL('libsystemd.so.0')
    out = ctypes.c_void_p()
    fn = getattr(_libsystemd, 'sd_' + function)
    if function.startswith('pid_'):
        kind = ctypes.c_int
    elif function.startswith('uid_'):
        kind = ctypes.c_uint
    else:   # session_get_type, session_get_seat... (string getters only)
        kind, arg = ctypes.c_char_p, str(arg).encode()
    fn.argtypes = [kind, ctypes.POINTER(ctypes.c_void_p)]
    fn.restype = ctypes.c_int
    if fn(arg, ctypes.byref(out)) < 0 or not out.value:
        return None
    value = ctypes.string_at(out.value).decode()
    ctypes.CDLL(None).free(out)
    return value


# --- the test side of bus_peer.py -----------------------------------------

class PeerError(Exception):
    """A peer's call failed: .name is the remote D-Bus error name (None for
    a local error, e.g. a timeout), .message its message."""

    def __init__(self, method, error):
        self.name = error.get('name')
        self.message = error.get('message')
        self.error = error
        super().__init__(f'{method}: {self.name}: {self.message}')


class PeerCall:
    def __init__(self, peer, what):
        self.peer = peer
        self.what = what
        self.done = False
        self.reply = None   # a tuple
        self.error = None   # a PeerError

    def _finish(self, msg):
        if 'error' in msg:
            self.error = PeerError(self.what, msg['error'])
        else:
            self.reply = tuple(msg.get('reply') or ())
        self.done = True

    def wait(self):
        self.peer._wait(lambda: self.done, f'the reply to {self.what}')
        if self.error is not None:
            raise self.error
        return self.reply


class Peer:
    """bus_peer.py run as another uid; see spawn_peer()."""

    def __init__(self, proc, uid, log_path, cgroup=None, root=None):
        self.proc = proc
        self.pid = proc.pid
        self.uid = uid
        self.cgroup = cgroup
        self.root = root
        self.log_path = log_path
        self.unique_name = None
        self.events = []     # dicts: {"event": name, "args": [...], ...}
        self.exited = False
        self._calls = {}
        self._next_id = 1
        self._buf = b''
        fd = proc.stdout.fileno()
        os.set_blocking(fd, False)
        self._watch = GLib.io_add_watch(fd, GLib.PRIORITY_DEFAULT,
                                        GLib.IO_IN | GLib.IO_HUP | GLib.IO_ERR, self._on_out)

    def __repr__(self):
        return f'<Peer uid={self.uid} pid={self.pid} {self.unique_name}>'

    def log(self):
        try:
            with open(self.log_path, errors='replace') as f:
                return f.read()
        except OSError:
            return ''

    def _on_out(self, fd, cond):
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return True
        if data:
            self._buf += data
            while b'\n' in self._buf:
                line, self._buf = self._buf.split(b'\n', 1)
                if line.strip():
                    self._dispatch(json.loads(line))
            return True
        self.exited = True
        self._watch = None
        return False

    def _dispatch(self, msg):
        if 'id' in msg and msg['id'] in self._calls:
            self._calls.pop(msg['id'])._finish(msg)
        elif msg.get('event') == 'ready':
            self.unique_name = msg['unique_name']
            self.events.append(msg)
        else:
            self.events.append(msg)

    def _wait(self, predicate, what):
        wait_until(lambda: predicate() or self.exited, f'{what} from {self!r}')
        if not predicate():
            raise AssertionError(f'{self!r} exited while waiting for {what} '
                                 f'(rc {self.proc.poll()}); its log:\n{self.log()}')

    def wait_ready(self):
        self._wait(lambda: self.unique_name is not None, 'ready')

    def send(self, cmd, what=None, **fields):
        """Sends any command; returns its PeerCall."""
        cid = self._next_id
        self._next_id += 1
        call = PeerCall(self, what or cmd)
        self._calls[cid] = call
        self.proc.stdin.write((json.dumps(dict(fields, id=cid, cmd=cmd)) + '\n').encode())
        self.proc.stdin.flush()
        return call

    # --- soterd's methods, as this peer -----------------------------------

    def call(self, method, sig=None, args=(), reply_type=None, **kw):
        """A method call (of soterd's by default; dest/path/iface/timeout_ms
        in @kw for another one), args as JSON (see bus_peer.py)."""
        return self.send('call', method, method=method, sig=sig, args=list(args),
                         reply_type=reply_type, **kw)

    def start_auth(self, challenge='challenge', modes=('fingerPrint',), content=''):
        return self.call('StartSoterAuthentication', '(sass)',
                         [challenge, list(modes), content], '(sssus)')

    def register_agent(self, path='/peer/agent', fallback=False, options=None,
                       with_options=False):
        """RegisterAgent (RegisterAgentWithOptions when @fallback, @options or
        @with_options); waits; raises PeerError."""
        self.send('register_agent', f'registering agent {path}', path=path, fallback=fallback,
                  options=options, with_options=with_options).wait()

    def unregister_agent(self, path='/peer/agent'):
        self.send('unregister_agent', f'unregistering agent {path}', path=path).wait()

    def cancel_prompt(self, request_id):
        self.send('cancel_prompt', 'CancelPrompt', request_id=request_id).wait()

    def subscribe(self, member=None):
        """soterd's signals (@member, or all) become events named by member."""
        self.send('subscribe', 'subscribe', member=member).wait()

    # --- events -----------------------------------------------------------

    def events_named(self, name):
        return [e for e in self.events if e.get('event') == name]

    def wait_event(self, name, n=1):
        """The args of the @n-th event called @name (ShowPrompt: [request_id, details])."""
        self._wait(lambda: len(self.events_named(name)) >= n, f'{name} #{n}')
        return self.events_named(name)[n - 1].get('args')

    # --- its end ----------------------------------------------------------

    def quit(self):
        """Leaves the bus and exits; returns the exit code."""
        if not self.exited:
            self.send('quit').wait()
        self._wait(lambda: self.exited, 'the exit')
        return self.proc.wait(timeout=DEADLINE)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.close()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=DEADLINE)
        if self._watch is not None:
            GLib.source_remove(self._watch)
            self._watch = None
        self.exited = True
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


# --- the test case ----------------------------------------------------------

BUS_CONFIG = '''<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
    <allow send_type="method_call"/>
    <allow own="*"/>
  </policy>
</busconfig>
'''


class MultiUserTestCase(SoterdTestCase):
    """SoterdTestCase on a bus that admits the USERS, with peers and fake roots."""

    _skip = None
    _buses = 0

    @classmethod
    def setUpClass(cls):
        cls._skip = None
        if not inside():
            cls._skip = why_not()
            return
        namespace()
        MultiUserTestCase._buses += 1
        busdir = os.path.join(SHARED, f'bus-{MultiUserTestCase._buses}')
        os.mkdir(busdir, 0o755)
        os.chmod(busdir, 0o755)
        conf = os.path.join(busdir, 'system.conf')
        with open(conf, 'w') as f:
            f.write(BUS_CONFIG.format(socket=os.path.join(busdir, 'system_bus_socket')))
        pid, address = cls.start_dbus(conf=conf)
        # dbusmock's tearDownClass stops it, and drops the variable.
        cls.system_bus_pid = pid
        os.environ['DBUS_SYSTEM_BUS_ADDRESS'] = address
        cls.bus_address = address
        try:
            cls.polkitd, cls.polkitd_obj = cls.spawn_server_template(
                'polkitd', {}, stdout=subprocess.DEVNULL)
        except BaseException:
            super(SoterdTestCase, cls).tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls._skip is None:
            super().tearDownClass()

    def setUp(self):
        if self._skip is not None:
            self.skipTest(self._skip)
        self._peers = []
        self._mounts = []    # (fake root, [mount points in order], [made paths in order])
        self.addCleanup(self._release)
        super().setUp()

    def tearDown(self):
        # Peers first (soterd sees them leave), then their roots, then soterd.
        if os.environ.get('SOTER_TEST_SHOW_LOG') or self._failed():
            for peer in self._peers:
                sys.stderr.write(f'--- log of {peer!r}\n{peer.log()}')
        self._release()
        super().tearDown()

    def _release(self):
        for peer in reversed(self._peers):
            peer.close()
        self._peers = []
        for root, mounts, made in reversed(self._mounts):
            for m in reversed(mounts):
                umount(m)
            still = [m for m in mounts if os.path.ismount(m)]
            if still:   # never remove anything below a mount
                sys.stderr.write(f'multiuser_testlib: still mounted, left: {still}\n')
                continue
            for p in reversed(made):
                try:
                    if os.path.isdir(p) and not os.path.islink(p):
                        os.rmdir(p)
                    else:
                        os.unlink(p)
                except OSError as e:
                    sys.stderr.write(f'multiuser_testlib: could not remove {p}: {e}\n')
        self._mounts = []

    # --- peers ------------------------------------------------------------

    _users_key_template = None

    @classmethod
    def key_template(cls):
        """Under a wrapper (valgrind), every test user's app and auth keys
        too, made once by a plain soterd: each case here makes keys for new
        uids, which takes minutes under memcheck."""
        if MultiUserTestCase._users_key_template is not None:
            return MultiUserTestCase._users_key_template
        state = tempfile.mkdtemp(prefix='soterd-user-keys-')
        shutil.rmtree(state)
        conf = state + '.conf'
        with open(conf, 'w') as f:
            f.write('[soterd]\nKeyStore=file\n')
        env = child_env(STATE_DIRECTORY=state, FP_DRIVERS_WHITELIST='virtual_device')
        env.pop('FP_VIRTUAL_DEVICE', None)
        daemon = subprocess.Popen([SOTERD, '--no-idle-exit', '--config', conf], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            cls.wait_for_bus_object(BUS_NAME, PATH, system_bus=True, timeout=BUS_OBJECT_POLLS)
            makers = []
            for uid in [0, *USERS.values()]:
                argv = ['gdbus', 'call', '--system', '--timeout', str(DEADLINE * 4), '--dest',
                        BUS_NAME, '--object-path', PATH,
                        '--method', BUS_NAME + '.GetAuthKey', '']
                if uid:
                    argv = [shutil.which('setpriv'), f'--reuid={uid}', f'--regid={uid}',
                            '--clear-groups', '--', *argv]
                makers.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                               env=dict(os.environ, HOME='/nonexistent')))
            for maker in makers:
                if maker.wait(timeout=DEADLINE * 4) != 0:
                    raise AssertionError(f'making the test users\' keys failed: {maker.args}')
        finally:
            daemon.terminate()
            daemon.wait(timeout=DEADLINE)
        MultiUserTestCase._users_key_template = state
        return state

    def spawn_peer(self, uid, cgroup=None, root=None, env=None):
        """bus_peer.py as @uid (an int or a USERS name), with no supplementary
        groups, chrooted into @root when given, in cgroup directory @cgroup
        (e.g. session_cgroup(uid, 'c7')) before it connects; returns the
        Peer once it is on the bus."""
        uid = USERS.get(uid, uid)
        argv = [shutil.which('chroot'), root] if root else []
        argv += [shutil.which('setpriv'), f'--reuid={uid}', f'--regid={uid}', '--clear-groups',
                 '--', PYTHON, PEER_COPY, XML_COPY]
        peer_env = {'PATH': '/usr/sbin:/usr/bin:/sbin:/bin', 'HOME': '/nonexistent',
                    'LANG': 'C.UTF-8', 'DBUS_SYSTEM_BUS_ADDRESS': self.bus_address,
                    'SOTER_INTERFACE_XML': XML_COPY, 'GIO_USE_VFS': 'local',
                    'PYTHONDONTWRITEBYTECODE': '1', 'G_DEBUG': 'fatal-criticals',
                    # as long as the harness's own calls wait
                    'SOTER_PEER_TIMEOUT_MS': str(max(120, DEADLINE) * 1000)}
        peer_env.update(env or {})
        log_path = os.path.join(self.tmp, f'peer-{len(self._peers) + 1}-{uid}.log')
        with open(log_path, 'w') as log:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=log, env=peer_env, cwd='/')
        peer = Peer(proc, uid, log_path, cgroup, root)
        self._peers.append(peer)
        if cgroup is not None:
            move_to_cgroup(proc.pid, cgroup)
        proc.stdin.write(b'go\n')
        proc.stdin.flush()
        peer.wait_ready()
        return peer

    def enroll_peer(self, peer, finger='right-index-finger', print_id='finger-1'):
        """Enrolls a finger for @peer's uid, as the base enroll() does for root."""
        peer.subscribe('EnrollStatus')
        n = len(peer.events_named('EnrollStatus'))
        peer.call('Enroll', '(s)', [finger]).wait()
        for _ in range(5):
            self.reader(f'SCAN {print_id}')
        peer._wait(lambda: any(e['args'][1] for e in peer.events_named('EnrollStatus')[n:]),
                   'the end of enrollment')
        return [tuple(e['args']) for e in peer.events_named('EnrollStatus')[n:]]

    def bus_credentials(self, unique_name):
        """What soterd asks the bus about a caller (GetConnectionCredentials)."""
        return self.conn.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus',
                                   'org.freedesktop.DBus', 'GetConnectionCredentials',
                                   GLib.Variant('(s)', (unique_name,)),
                                   GLib.VariantType('(a{sv})'), Gio.DBusCallFlags.NONE,
                                   -1, None).unpack()[0]

    # --- fake roots -------------------------------------------------------

    def fake_root(self, flatpak_info=None, kind='file', owner=None):
        """A directory to chroot a peer into: /usr, /etc (with the test
        users), /dev, /proc and the shared directory (bus socket, peer
        script) bind-mounted at their paths, /bin, /lib... as on the machine,
        and /.flatpak-info by @kind: 'file' (bytes @flatpak_info, by default
        an [Application] name=org.example.App), 'fifo', 'sparse' (2 GiB of
        holes), 'symlink' (to the path @flatpak_info), 'dir' or 'none'."""
        namespace()
        root = tempfile.mkdtemp(prefix='root-', dir=ROOTS)
        os.chmod(root, 0o755)
        made, mounts = [root], []
        self._mounts.append((root, mounts, made))

        def bind(src, dst):
            if os.path.isdir(src):
                make_dirs(dst, made)
            mount('--bind', src, dst)
            mounts.append(dst)

        for d in ('usr', 'etc', 'dev', 'proc'):
            bind('/' + d, os.path.join(root, d))
        for name in ('passwd', 'group'):
            bind(os.path.join(WORK, 'etc', name), os.path.join(root, 'etc', name))
        for d in ('bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32'):
            src = '/' + d
            if os.path.islink(src):
                os.symlink(os.readlink(src), os.path.join(root, d))
                made.append(os.path.join(root, d))
            elif os.path.isdir(src):
                bind(src, os.path.join(root, d))
        tmp = os.path.join(root, 'tmp')
        make_dirs(tmp, made)
        os.chmod(tmp, 0o1777)
        bind(SHARED, root + SHARED)

        info = os.path.join(root, '.flatpak-info')
        if kind == 'file':
            with open(info, 'wb') as f:
                f.write(flatpak_info if flatpak_info is not None
                        else b'[Application]\nname=org.example.App\n')
            os.chmod(info, 0o644)
        elif kind == 'fifo':
            os.mkfifo(info, 0o644)
        elif kind == 'sparse':
            with open(info, 'wb') as f:
                f.truncate(2 << 30)
        elif kind == 'symlink':
            os.symlink(flatpak_info, info)
        elif kind == 'dir':
            os.mkdir(info, 0o755)
        elif kind != 'none':
            raise ValueError(f'unknown kind of .flatpak-info: {kind}')
        if kind != 'none':
            made.append(info)
        if owner is not None and kind != 'none':
            # Flatpak writes it as the user: soterd reads no one else's.
            os.lchown(info, USERS.get(owner, owner), USERS.get(owner, owner))
        return root
