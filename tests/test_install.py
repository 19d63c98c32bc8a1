#!/usr/bin/python3
"""soterd as a distribution installs it, tested with the real things.

`meson install --destdir` must list exactly the expected files. Then, in a
mount namespace of its own (so nothing on this machine changes) where the
installed tree's libexec and polkit actions stand at their real paths: a
real dbus-daemon with a system bus configuration that includes the installed
bus policy; the real /usr/lib/polkit-1/polkitd reading the installed .policy
and a rules.d of the test's; soterd started by D-Bus activation from the
installed service file; and callers run as another uid with setpriv.

Runs as root (it mounts, starts polkitd and switches uid); elsewhere each
case is skipped, saying so."""

import atexit
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import mountns  # noqa: E402
import taprunner  # noqa: E402
import virtual_reader  # noqa: E402
from gi.repository import GLib  # noqa: E402

BUILD = os.environ.get('SOTER_BUILD_ROOT', os.path.join(os.path.dirname(__file__), '..', 'build'))
BUS_NAME = 'io.github.soterd.Soter1'
PATH = '/io/github/soterd/Soter1'
POLKITD = '/usr/lib/polkit-1/polkitd'
DEADLINE = int(os.environ.get('SOTER_TEST_DEADLINE', '30'))
NOBODY = pwd.getpwnam('nobody')
AS_NOBODY = ['setpriv', f'--reuid={NOBODY.pw_uid}', f'--regid={NOBODY.pw_gid}', '--clear-groups']

IS_ROOT = os.geteuid() == 0
NEEDS_ROOT = 'needs root: it mounts in a namespace of its own, runs polkitd and switches uid'


_INSTALLED = {}


def installed():
    """(destdir, build options): `meson install --destdir` once for every
    case; the tree goes when the test program exits."""
    if not _INSTALLED:
        tmp = tempfile.mkdtemp(prefix='soterd-install-')
        atexit.register(shutil.rmtree, tmp, ignore_errors=True)
        os.chmod(tmp, 0o755)
        dest = os.path.join(tmp, 'dest')
        subprocess.run(['meson', 'install', '-C', BUILD, '--destdir', dest, '--no-rebuild',
                        '--quiet'], check=True, stdout=subprocess.DEVNULL)
        _INSTALLED.update(dest=dest, options=options())
    return _INSTALLED['dest'], _INSTALLED['options']


def options():
    out = subprocess.run(['meson', 'introspect', '--buildoptions', BUILD], capture_output=True,
                         text=True, check=True).stdout
    return {o['name']: o['value'] for o in json.loads(out)}


def expected_files(o):
    """Everything `meson install` should put down, by the build's options."""
    p = o['prefix']
    lib = os.path.join(p, o['libdir'])
    share = os.path.join(p, o['datadir'])
    inc = os.path.join(p, o['includedir'], 'soter')
    dbus = o['dbus_datadir'] or os.path.join(share, 'dbus-1')
    unitdir = o['systemdsystemunitdir'] or subprocess.run(
        ['pkg-config', '--define-variable=prefix=' + p, '--variable=systemdsystemunitdir',
         'systemd'], capture_output=True, text=True).stdout.strip() or \
        os.path.join(p, 'lib', 'systemd', 'system')
    files = {
        os.path.join(p, o['libexecdir'], 'soterd'),
        os.path.join(p, o['bindir'], 'soterctl'),
        os.path.join(p, o['bindir'], 'soter-text-agent'),
        os.path.join(unitdir, 'soterd.service'),
        os.path.join(dbus, 'system-services', 'io.github.soterd.Soter1.service'),
        os.path.join(dbus, 'system.d', 'io.github.soterd.Soter1.conf'),
        os.path.join(share, 'dbus-1', 'interfaces', 'io.github.soterd.Soter1.xml'),
        os.path.join(share, 'polkit-1', 'actions', 'io.github.soterd.Soter1.policy'),
        os.path.join(p, o['mandir'], 'man8', 'soterd.8'),
        os.path.join(p, o['mandir'], 'man1', 'soterctl.1'),
        os.path.join(share, 'gir-1.0', 'Soter-1.gir'),
        os.path.join(lib, 'girepository-1.0', 'Soter-1.typelib'),
        os.path.join(lib, 'pkgconfig', 'soter.pc'),
        os.path.join(lib, 'pkgconfig', 'soter-verify.pc'),
    }
    files |= {os.path.join(inc, h) for h in ('soter.h', 'soter-agent.h', 'soter-client.h',
                                             'soter-enum-types.h', 'soter-error.h',
                                             'soter-result.h', 'soter-verify.h')}
    files |= {os.path.join(lib, f) for f in ('libsoter.so', 'libsoter.so.1', 'libsoter.so.1.0.0',
                                             'libsoter-verify.so', 'libsoter-verify.so.0',
                                             'libsoter-verify.so.0.1.0')}
    # The desktop agent, where the build has it (-Dgtk_agent, GTK 4 found).
    if os.path.exists(os.path.join(BUILD, 'agents', 'gtk', 'soter-prompt')):
        userunitdir = subprocess.run(
            ['pkg-config', '--define-variable=prefix=' + p, '--variable=systemduserunitdir',
             'systemd'], capture_output=True, text=True).stdout.strip() or \
            os.path.join(p, 'lib', 'systemd', 'user')
        files |= {os.path.join(p, o['libexecdir'], 'soter-prompt'),
                  os.path.join(p, o['sysconfdir'], 'xdg', 'autostart',
                               'io.github.soterd.Prompt.desktop'),
                  os.path.join(userunitdir, 'soter-prompt.service')}
    # One catalog for each language of po/LINGUAS.
    with open(os.path.join(os.path.dirname(__file__), '..', 'po', 'LINGUAS')) as f:
        files |= {os.path.join(p, o['localedir'], lang, 'LC_MESSAGES', 'soterd.mo')
                  for line in f if not line.startswith('#') for lang in line.split()}
    return {os.path.normpath(f) for f in files}


def installed_files(root):
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            found.add('/' + os.path.relpath(os.path.join(dirpath, name), root))
    return found


def wait_for(predicate, what):
    """Polls @predicate until it holds, failing after the deadline: for what
    gives this process no event to wait on (a name another process takes on
    a bus, a process that is not our child exiting)."""
    end = time.monotonic() + DEADLINE
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f'timed out after {DEADLINE} s waiting for {what}')
        time.sleep(0.02)


@unittest.skipUnless(IS_ROOT, NEEDS_ROOT)
class TestInstall(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dest, cls.opts = installed()

    def in_dest(self, path):
        return os.path.join(self.dest, path.lstrip('/'))

    def test_destdir_lists_exactly_the_expected_files(self):
        found = installed_files(self.dest)
        docs = {f for f in found if '/doc/soter-1/' in f}
        if self.opts['docs']:
            self.assertTrue(any(f.endswith('/doc/soter-1/index.html') for f in docs), docs)
        else:
            self.assertEqual(docs, set())
        self.assertEqual(found - docs, expected_files(self.opts))

    def test_installed_files_say_what_debian_expects(self):
        o = self.opts
        soterd = os.path.join(o['prefix'], o['libexecdir'], 'soterd')
        unit = [f for f in installed_files(self.dest) if f.endswith('/soterd.service')][0]
        with open(self.in_dest(unit)) as f:
            text = f.read()
        for line in ('Type=dbus', 'BusName=io.github.soterd.Soter1', 'StateDirectory=soterd',
                     'StateDirectoryMode=0700', 'Documentation=man:soterd(8)',
                     f'ExecStart={soterd}'):
            self.assertIn(line + '\n', text)
        service = [f for f in installed_files(self.dest) if f.endswith('Soter1.service')][0]
        with open(self.in_dest(service)) as f:
            text = f.read()
        for line in ('Name=io.github.soterd.Soter1', f'Exec={soterd}', 'User=root',
                     'SystemdService=soterd.service'):
            self.assertIn(line + '\n', text)
        self.assertTrue(os.access(self.in_dest(soterd), os.X_OK))
        # The text agent, with the paths of this install; the policy, translated.
        agent = self.in_dest(os.path.join(o['prefix'], o['bindir'], 'soter-text-agent'))
        self.assertTrue(os.access(agent, os.X_OK))
        with open(agent) as f:
            self.assertIn(f"LOCALEDIR = '{os.path.join(o['prefix'], o['localedir'])}'\n", f.read())
        policy = [f for f in installed_files(self.dest) if f.endswith('Soter1.policy')][0]
        with open(self.in_dest(policy)) as f:
            self.assertIn('<description xml:lang="zh_CN">', f.read())

    def test_unit_is_hardened_to_at_most_2(self):
        unit = [f for f in installed_files(self.dest) if f.endswith('/soterd.service')][0]
        r = subprocess.run(['systemd-analyze', 'security', '--offline=yes', '--no-pager',
                            self.in_dest(unit)], capture_output=True, text=True)
        m = re.search(r'Overall exposure level for soterd.service: ([0-9.]+)', r.stdout)
        self.assertIsNotNone(m, r.stdout + r.stderr)
        self.assertLessEqual(float(m.group(1)), 2.0, r.stdout)


# The default policy of Debian's /usr/share/dbus-1/system.conf, which every
# service's system.d file punches holes in.
BUS_CONFIG = '''<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <servicedir>{servicedir}</servicedir>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Properties"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"
          send_member="UpdateActivationEnvironment"/>
  </policy>
  <includedir>/usr/share/dbus-1/system.d</includedir>
  <includedir>{systemd_dir}</includedir>
</busconfig>
'''

GRANT_NOBODY = '''polkit.addRule(function(action, subject) {
    if ((action.id == "io.github.soterd.Soter1.authenticate" ||
         action.id == "io.github.soterd.Soter1.enroll") && subject.user == "nobody")
        return polkit.Result.YES;
});
'''


@unittest.skipUnless(IS_ROOT, NEEDS_ROOT)
class TestRealBus(unittest.TestCase):
    """Cases in order, on one bus: soterd's state carries from one to the next."""

    @classmethod
    def setUpClass(cls):
        if not mountns.inside():
            raise unittest.SkipTest(mountns.why_not())
        cls.dest, o = installed()
        prefix = o['prefix']
        if prefix != '/usr':
            # polkitd reads /usr/share/polkit-1/actions only, and the mounts
            # must not create directories on this machine.
            raise unittest.SkipTest(f'checks an install with --prefix=/usr, as Debian\'s; '
                                    f'this build has {prefix}')
        cls.tmp = tempfile.mkdtemp(prefix='soterd-bus-')
        os.chmod(cls.tmp, 0o755)
        d = lambda p: os.path.join(cls.dest, p.lstrip('/'))  # noqa: E731
        libexec = os.path.join(prefix, o['libexecdir'])
        actions = os.path.join(prefix, o['datadir'], 'polkit-1', 'actions')
        dbus = o['dbus_datadir'] or os.path.join(prefix, o['datadir'], 'dbus-1')
        cls.soterd = os.path.join(libexec, 'soterd')
        cls.soterctl_path = d(os.path.join(prefix, o['bindir'], 'soterctl'))
        cls.libdir = d(os.path.join(prefix, o['libdir']))

        # The installed tree where the service file and polkitd look.
        cls.rules = os.path.join(cls.tmp, 'rules.d')
        os.mkdir(cls.rules)
        for src, target in ((d(libexec), libexec), (d(actions), actions),
                            (cls.rules, '/etc/polkit-1/rules.d')):
            subprocess.run(['mount', '--bind', src, target], check=True)

        cls.state = os.path.join(cls.tmp, 'state')
        cls.reader_socket = os.path.join(cls.tmp, 'virtual-reader')
        cls.out = os.path.join(cls.tmp, 'out')
        os.mkdir(cls.out)
        os.chmod(cls.out, 0o777)
        socket = os.path.join(cls.tmp, 'system_bus_socket')
        conf = os.path.join(cls.tmp, 'system.conf')
        with open(conf, 'w') as f:
            f.write(BUS_CONFIG.format(socket=socket, servicedir=d(os.path.join(dbus, 'system-services')),
                                      systemd_dir=d(os.path.join(dbus, 'system.d'))))
        # Activated services get the bus daemon's environment: soterd's
        # state and the virtual reader come through it, as systemd's
        # StateDirectory= would give the first.
        # Its configuration too, as ConfigurationDirectory= would: the file
        # store, so that a machine's own TPM is left alone.
        confdir = os.path.join(cls.tmp, 'etc-soterd')
        os.mkdir(confdir)
        with open(os.path.join(confdir, 'soterd.conf'), 'w') as f:
            f.write('[soterd]\nKeyStore=file\n')
        env = dict(os.environ, STATE_DIRECTORY=cls.state, FP_VIRTUAL_DEVICE=cls.reader_socket,
                   FP_DRIVERS_WHITELIST='virtual_device', CONFIGURATION_DIRECTORY=confdir)
        cls.procs = []
        cls.bus = subprocess.Popen(['dbus-daemon', '--nofork', '--config-file=' + conf,
                                    '--print-address'], env=env, stdout=subprocess.PIPE, text=True)
        cls.procs.append(cls.bus)
        cls.address = cls.bus.stdout.readline().strip()
        os.environ['DBUS_SYSTEM_BUS_ADDRESS'] = cls.address
        cls.polkitd = None

    @classmethod
    def tearDownClass(cls):
        cls.stop_polkitd()
        owner = cls.name_owner_pid()
        if owner:
            # soterd first, so it leaves the bus it is on cleanly.
            os.kill(owner, 15)
            wait_for(lambda: not os.path.exists(f'/proc/{owner}'), 'soterd to exit')
        for p in reversed(cls.procs):
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=DEADLINE)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # --- helpers ---------------------------------------------------------

    @classmethod
    def bus_call(cls, dest, path, method, *args, user=None):
        """gdbus call on the system bus, as root or as nobody: (returncode,
        the reply unpacked, stderr)."""
        cmd = ['gdbus', 'call', '--system', '--dest', dest, '--object-path', path,
               '--method', method, *args]
        r = subprocess.run((AS_NOBODY if user == 'nobody' else []) + cmd, capture_output=True,
                           text=True, timeout=DEADLINE)
        reply = GLib.Variant.parse(None, r.stdout, None, None).unpack() if r.returncode == 0 \
            else None
        return r.returncode, reply, r.stderr

    @classmethod
    def bus_method(cls, method, *args, user=None):
        return cls.bus_call('org.freedesktop.DBus', '/org/freedesktop/DBus',
                            'org.freedesktop.DBus.' + method, *args, user=user)

    @classmethod
    def name_owner_pid(cls):
        rc, reply, _ = cls.bus_method('GetConnectionUnixProcessID', BUS_NAME)
        return reply[0] if rc == 0 else None

    @classmethod
    def start_polkitd(cls, rules=''):
        cls.stop_polkitd()
        for name in os.listdir(cls.rules):
            os.unlink(os.path.join(cls.rules, name))
        if rules:
            with open(os.path.join(cls.rules, '10-soterd-test.rules'), 'w') as f:
                f.write(rules)
        cls.polkitd = subprocess.Popen([POLKITD, '--no-debug'], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        wait_for(lambda: cls.bus_method('NameHasOwner', 'org.freedesktop.PolicyKit1')[1] == (True,),
                 'polkitd on the bus')

    @classmethod
    def stop_polkitd(cls):
        if cls.polkitd is not None and cls.polkitd.poll() is None:
            cls.polkitd.terminate()
            cls.polkitd.wait(timeout=DEADLINE)
        cls.polkitd = None

    def soterctl(self, *args, user='nobody', stdin=None, wait=True):
        env = dict(os.environ, LD_LIBRARY_PATH=self.libdir, LC_ALL='C.UTF-8')
        cmd = (AS_NOBODY if user == 'nobody' else []) + [self.soterctl_path, *args]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        if not wait:
            return proc
        out, err = proc.communicate(timeout=DEADLINE)
        return proc.returncode, out, err

    def scan_when(self, proc, text, scans=1):
        """Reads soterctl's stderr until @text, then touches the reader."""
        seen = ''
        while text not in seen:
            line = proc.stderr.readline()
            if not line:
                raise AssertionError(f'soterctl never said {text!r}: {seen}')
            seen += line
        for _ in range(scans):
            virtual_reader.command(self.reader_socket, 'SCAN finger-1')
        out, err = proc.communicate(timeout=DEADLINE)
        return proc.returncode, out, seen + err

    # --- the cases, in order ---------------------------------------------

    def test_1_only_root_may_own_the_name(self):
        rc, _, err = self.bus_method('RequestName', BUS_NAME, '4', user='nobody')
        self.assertNotEqual(rc, 0)
        self.assertIn('AccessDenied', err)
        self.assertIsNone(self.name_owner_pid(), 'nobody must not have got the name')

    def test_2_activation_from_the_installed_service_file(self):
        self.start_polkitd()
        self.assertIsNone(self.name_owner_pid())
        rc, reply, err = self.bus_call(BUS_NAME, PATH, 'org.freedesktop.DBus.Properties.Get',
                                       BUS_NAME, 'Version', user='nobody')
        self.assertEqual(rc, 0, err)
        pid = self.name_owner_pid()
        self.assertEqual(os.readlink(f'/proc/{pid}/exe'), self.soterd)
        self.assertEqual(os.stat(f'/proc/{pid}').st_uid, 0)
        # root may own it (and is told someone already does)
        rc, reply, err = self.bus_method('RequestName', BUS_NAME, '4')
        self.assertEqual(reply, (3,), err)  # DBUS_REQUEST_NAME_REPLY_EXISTS

    def test_3_nothing_but_the_manager_may_be_called(self):
        rc, _, err = self.bus_call(BUS_NAME, PATH, 'org.freedesktop.DBus.Properties.Set',
                                   BUS_NAME, 'Version', '<"x">', user='nobody')
        self.assertNotEqual(rc, 0)
        self.assertIn('AccessDenied: Rejected send message', err)

    def test_4_nobody_without_a_session_is_refused_by_real_polkit(self):
        self.start_polkitd()
        rc, out, err = self.soterctl('auth', '--challenge', 'c')
        self.assertEqual(rc, 12, err)
        self.assertIn('errCode: 90002', out)
        rc, out, err = self.soterctl('keys')
        self.assertEqual(rc, 12, err)
        rc, out, err = self.soterctl('enroll')
        self.assertEqual(rc, 12, err)

    def test_5_a_rule_lets_nobody_enroll_and_authenticate(self):
        self.start_polkitd(GRANT_NOBODY)
        rc, out, err = self.scan_when(self.soterctl('enroll', wait=False),
                                      'place your finger on the reader', scans=5)
        self.assertEqual(rc, 0, err)
        self.assertIn('Enroll result: enroll-completed', out)

        rc, out, err = self.soterctl('keys', '-o', self.out)
        self.assertEqual(rc, 0, err)
        rc, out, err = self.scan_when(
            self.soterctl('auth', '--challenge', 'installed', '-o', self.out, wait=False),
            'Place an enrolled finger on the reader')
        self.assertEqual(rc, 0, err)
        self.assertIn('errCode: 0', out)
        result = json.loads(open(os.path.join(self.out, 'result.json')).read())
        self.assertEqual(result['uid'], str(NOBODY.pw_uid))

        f = lambda n: os.path.join(self.out, n)  # noqa: E731
        rc, out, err = self.soterctl('verify', '--device-key', f('device-key.pem'),
                                     '--app-key', f('app-key.json'), f('app-key.sig'),
                                     '--auth-key', f('auth-key.json'), f('auth-key.sig'),
                                     '--challenge', 'installed', f('result.json'),
                                     f('result.sig'), user='root')
        self.assertEqual(rc, 0, err)

    def test_6_real_polkit_reads_the_translated_policy(self):
        # As an agent asks, in the session's locale (pkaction asks in none).
        self.start_polkitd()
        rc, reply, err = self.bus_call('org.freedesktop.PolicyKit1',
                                       '/org/freedesktop/PolicyKit1/Authority',
                                       'org.freedesktop.PolicyKit1.Authority.EnumerateActions',
                                       'zh_CN.UTF-8', user='root')
        self.assertEqual(rc, 0, err)
        actions = {a[0]: a[1:3] for a in reply[0]}
        self.assertEqual(actions[BUS_NAME + '.authenticate'],
                         ('用指纹确认操作（SOTER）', '有应用程序请求您用指纹进行签名确认'))


def main():
    mountns.reexec()
    taprunner.main(sys.modules[__name__])

if __name__ == '__main__':
    main()
