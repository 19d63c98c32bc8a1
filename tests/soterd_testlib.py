"""Test harness for soterd: a private system bus, dbusmock's polkitd, the
libfprint virtual reader, a prompt agent, and soterd itself.

Runs under Debian's /usr/bin/python3 (python3-gi, python3-dbusmock). Nothing
here sleeps: every wait iterates the GLib main loop until the awaited event,
bounded by a deadline that fails the test instead of hanging it.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

import dbus
import dbusmock
from gi.repository import Gio, GLib

import virtual_reader

BUS_NAME = 'io.github.soterd.Soter1'
PATH = '/io/github/soterd/Soter1'
IFACE = 'io.github.soterd.Soter1'
AGENT_IFACE = 'io.github.soterd.Soter1.Agent'
ACTIONS = ['io.github.soterd.Soter1.authenticate', 'io.github.soterd.Soter1.enroll']

SOTERD = os.environ.get('SOTERD', os.path.join(os.path.dirname(__file__), '..', 'build',
                                               'daemon', 'soterd'))
XML = os.environ.get('SOTER_INTERFACE_XML',
                     os.path.join(os.path.dirname(__file__), '..', 'dbus-interfaces',
                                  'io.github.soterd.Soter1.xml'))
NODE_INFO = Gio.DBusNodeInfo.new_for_xml(open(XML).read())
DEADLINE = int(os.environ.get('SOTER_TEST_DEADLINE', '30'))
# A RequestTimeout the tests wait out, yet long enough for the steps before
# it (under valgrind a whole authentication takes a second or two).
SHORT_TIMEOUT = 5 if os.environ.get('SOTERD_WRAPPER') else 1
# Runs soterd's clients (test-client, soterctl) under a tool, e.g. valgrind.
CLIENT_WRAPPER = os.environ.get('SOTER_CLIENT_WRAPPER', '').split()
_KEY_TEMPLATE = None  # a state directory with keys, for runs under a wrapper
# dbusmock polls for soterd's object every 0.1 s, 600 times by default: as
# long as DEADLINE, which runs under valgrind raise (a soterd that has to
# make its device key there takes minutes).
BUS_OBJECT_POLLS = max(600, DEADLINE * 10)


def child_env(**extra):
    """The environment for soterd and C test programs: where the harness runs
    with sanitizer options of its own (Python under an ASan preload), the
    children get theirs back."""
    env = dict(os.environ, **extra)
    if 'SOTER_CHILD_ASAN_OPTIONS' in env:
        env['ASAN_OPTIONS'] = env['SOTER_CHILD_ASAN_OPTIONS']
    return env


def wait_until(predicate, what, deadline=DEADLINE):
    """Iterates the main loop until predicate() is true; fails after deadline."""
    ctx = GLib.MainContext.default()
    expired = []
    source = GLib.timeout_add_seconds(deadline, lambda: expired.append(True) or False)
    try:
        while not predicate():
            if expired:
                raise AssertionError(f'timed out after {deadline} s waiting for {what}')
            ctx.iteration(True)
    finally:
        if not expired:
            GLib.source_remove(source)


def state_files(state):
    """{relative path: bytes} of everything in the state directory."""
    files = {}
    for dirpath, _, names in os.walk(state):
        for name in names:
            path = os.path.join(dirpath, name)
            with open(path, 'rb') as f:
                files[os.path.relpath(path, state)] = f.read()
    return files


def stop_process(proc):
    """SIGTERM (unless it has exited), then its exit status; None for no process."""
    if proc is None:
        return None
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=DEADLINE)


def under_asan(pid):
    with open(f'/proc/{pid}/maps') as f:
        return 'libasan' in f.read()


def rss_kib(pid):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    raise AssertionError('no VmRSS')


class Call:
    """A method call in flight; .reply (a tuple) or .error once it returned."""

    def __init__(self, conn, method, args, reply_type):
        self.reply = None
        self.error = None
        self.done = False
        self.method = method
        conn.call(BUS_NAME, PATH, IFACE, method, args,
                  GLib.VariantType(reply_type) if reply_type else None,
                  Gio.DBusCallFlags.NONE, max(120, DEADLINE) * 1000, None, self._on_reply)

    def _on_reply(self, conn, res):
        try:
            self.reply = conn.call_finish(res).unpack()
        except GLib.Error as e:
            self.error = e
        self.done = True

    def wait(self):
        wait_until(lambda: self.done, f'the reply to {self.method}')
        if self.error is not None:
            raise self.error
        return self.reply


class Agent:
    """A prompt agent as a desktop would run one, recording what it is told."""

    def __init__(self, conn, path='/test/agent'):
        self.conn = conn
        self.path = path
        self.shown = []     # (request_id, details)
        self.updates = []   # (request_id, message)
        self.closed = []    # (request_id, outcome)
        self.on_show = None  # called with (request_id, details) after ShowPrompt returned
        self.reg_id = conn.register_object(path, NODE_INFO.lookup_interface(AGENT_IFACE),
                                           self._on_call, None, None)

    def _on_call(self, conn, sender, path, iface, method, params, invocation):
        args = params.unpack()
        {'ShowPrompt': self.shown, 'UpdatePrompt': self.updates,
         'ClosePrompt': self.closed}[method].append(args)
        invocation.return_value(None)
        if method == 'ShowPrompt' and self.on_show is not None:
            self.on_show(*args)

    def register(self):
        Call(self.conn, 'RegisterAgent', GLib.Variant('(o)', (self.path,)), None).wait()

    def wait_shown(self, n=1):
        wait_until(lambda: len(self.shown) >= n, 'ShowPrompt')
        return self.shown[n - 1][0]

    def wait_closed(self, n=1):
        wait_until(lambda: len(self.closed) >= n, 'ClosePrompt')
        return self.closed[n - 1]

    def cancel(self, request_id):
        Call(self.conn, 'CancelPrompt', GLib.Variant('(s)', (request_id,)), None).wait()


class SoterdTestCase(dbusmock.DBusTestCase):
    """Each test gets a fresh state directory and a fresh soterd."""

    config = {'LockoutSeconds': 30}
    with_reader = True
    with_agent = True   # the harness's own prompt agent, registered in setUp

    @classmethod
    def setUpClass(cls):
        cls.start_system_bus()
        cls.bus_address = os.environ['DBUS_SYSTEM_BUS_ADDRESS']
        cls.polkitd, cls.polkitd_obj = cls.spawn_server_template('polkitd', {},
                                                                 stdout=subprocess.DEVNULL)

    @classmethod
    def tearDownClass(cls):
        cls.polkitd.terminate()
        cls.polkitd.wait()
        super().tearDownClass()

    def setUp(self):
        self.polkitd_obj.SetAllowed(dbus.Array(ACTIONS, signature='s'))
        self.tmp = tempfile.mkdtemp(prefix='soterd-test-')
        self.state = os.path.join(self.tmp, 'state')
        self.socket = os.path.join(self.tmp, 'virtual-reader')
        self.conf = os.path.join(self.tmp, 'soterd.conf')
        config = dict(self.config)
        # The file store unless a test asks for a TPM: KeyStore=auto would
        # take a real /dev/tpmrm0 and define soterd's counter index in it.
        config.setdefault('KeyStore', 'file')
        if os.environ.get('SOTERD_WRAPPER'):
            # Under valgrind RSA is ~50 times slower: give requests the time
            # they need, unless the test is about the timeout itself.
            config.setdefault('RequestTimeout', 600)
        with open(self.conf, 'w') as f:
            f.write('[soterd]\n')
            for k, v in config.items():
                f.write(f'{k}={v}\n')
        self.daemon = None
        self.log = open(os.path.join(self.tmp, 'soterd.log'), 'w+')
        self.prepare_state()
        self.start_daemon()
        self.conn = self.connect()
        self.agent = Agent(self.connect())
        if self.with_agent:
            self.agent.register()

    def tearDown(self):
        rc = self.stop_daemon()
        self.log.seek(0)
        log = self.log.read()
        self.log.close()
        # A failed case shows soterd's log (with each request's steps): an
        # intermittent failure in CI is then readable from the test log.
        if os.environ.get('SOTER_TEST_SHOW_LOG') or self._failed():
            sys.stderr.write(f'--- soterd log of {self.id()}\n{log}')
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.assertNotIn('CRITICAL', log, 'soterd logged a critical warning')
        self.assertNotIn('Sanitizer', log, 'soterd failed a sanitizer check')
        self.assertNotIn('runtime error:', log, 'soterd did something undefined (UBSan)')
        self.assertNotIn('definitely lost', log, 'soterd leaked memory (valgrind)')
        self.assertIn(rc, (None, 0), 'soterd did not exit cleanly on SIGTERM')

    def _failed(self):
        result = getattr(self._outcome, 'result', None)
        return result is not None and any(t is self for t, _ in result.failures + result.errors)

    # --- the daemon ------------------------------------------------------

    def prepare_state(self):
        """Called before the first start, e.g. to mount a filesystem there.
        Under a wrapper (valgrind), the state starts with keys made once by
        a plain soterd, as a later start of soterd finds them: RSA key
        generation under memcheck takes minutes."""
        if os.environ.get('SOTERD_WRAPPER') and os.environ.get('SOTER_TEST_KEYS_FRESH') != '1':
            shutil.copytree(self.key_template(), self.state)

    @classmethod
    def key_template(cls):
        global _KEY_TEMPLATE
        if _KEY_TEMPLATE is None:
            state = tempfile.mkdtemp(prefix='soterd-keys-')
            shutil.rmtree(state)
            env = child_env(STATE_DIRECTORY=state, FP_DRIVERS_WHITELIST='virtual_device')
            env.pop('FP_VIRTUAL_DEVICE', None)
            conf = os.path.join(os.path.dirname(state), os.path.basename(state) + '.conf')
            with open(conf, 'w') as f:
                f.write('[soterd]\nKeyStore=file\n')
            daemon = subprocess.Popen([SOTERD, '--no-idle-exit', '--config', conf], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                cls.wait_for_bus_object(BUS_NAME, PATH, system_bus=True,
                                        timeout=BUS_OBJECT_POLLS)
                conn = Gio.bus_get_sync(Gio.BusType.SYSTEM, None)
                Call(conn, 'GetAuthKey', GLib.Variant('(s)', ('',)), '(ss)').wait()
            finally:
                daemon.terminate()
                daemon.wait(timeout=DEADLINE)
            _KEY_TEMPLATE = state
        return _KEY_TEMPLATE

    def daemon_env(self):
        env = child_env(STATE_DIRECTORY=self.state, G_DEBUG='fatal-criticals',
                        G_MESSAGES_DEBUG='soterd', FP_DRIVERS_WHITELIST='virtual_device')
        if self.with_reader:
            env['FP_VIRTUAL_DEVICE'] = self.socket
        else:
            env.pop('FP_VIRTUAL_DEVICE', None)
        return env

    def start_daemon(self, args=('--no-idle-exit',)):
        # SOTERD_WRAPPER runs soterd under a tool, e.g. valgrind.
        wrapper = os.environ.get('SOTERD_WRAPPER', '').split()
        self.daemon = subprocess.Popen([*wrapper, SOTERD, '--config', self.conf, *args],
                                       env=self.daemon_env(), stdout=self.log,
                                       stderr=subprocess.STDOUT)
        self.wait_for_bus_object(BUS_NAME, PATH, system_bus=True, timeout=BUS_OBJECT_POLLS)

    def stop_daemon(self):
        rc = stop_process(self.daemon)
        self.daemon = None
        return rc

    def restart_daemon(self):
        self.assertEqual(self.stop_daemon(), 0)
        self.start_daemon()
        # Agents are per daemon: register again, as a real agent does when
        # the name reappears.
        self.agent.register()

    def restart_with_config(self, **config):
        """Restarts soterd with @config added to its configuration file."""
        self.assertEqual(self.stop_daemon(), 0)
        with open(self.conf, 'a') as f:
            for key, value in config.items():
                f.write(f'{key}={value}\n')
        self.start_daemon()
        self.agent.register()

    # --- the bus ---------------------------------------------------------

    def connect(self):
        return Gio.DBusConnection.new_for_address_sync(
            self.bus_address,
            Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)

    def call(self, method, args=None, reply_type=None, conn=None):
        return Call(conn or self.conn, method, args, reply_type).wait()

    def start_auth(self, challenge='challenge', modes=('fingerPrint',), content='', conn=None):
        return Call(conn or self.conn, 'StartSoterAuthentication',
                    GLib.Variant('(sass)', (challenge, list(modes), content)), '(sssus)')

    def get_property(self, name):
        v = self.conn.call_sync(BUS_NAME, PATH, 'org.freedesktop.DBus.Properties', 'Get',
                                GLib.Variant('(ss)', (IFACE, name)), None,
                                Gio.DBusCallFlags.NONE, -1, None)
        return v.unpack()[0]

    # --- the virtual reader ----------------------------------------------

    def reader(self, command):
        virtual_reader.command(self.socket, command)

    def miss(self, print_id='someone-else'):
        """A non-matching scan, then wait for the agent's "try again", as a
        user would before putting a finger on the reader again."""
        n = len(self.agent.updates)
        self.reader(f'SCAN {print_id}')
        wait_until(lambda: len(self.agent.updates) > n, 'UpdatePrompt after a miss')

    def enroll(self, finger='right-index-finger', print_id='finger-1', conn=None):
        conn = conn or self.conn
        statuses = []
        sub = conn.signal_subscribe(None, IFACE, 'EnrollStatus', PATH, None,
                                    Gio.DBusSignalFlags.NONE,
                                    lambda *a: statuses.append(a[5].unpack()), )
        try:
            Call(conn, 'Enroll', GLib.Variant('(s)', (finger,)), None).wait()
            for _ in range(5):
                self.reader(f'SCAN {print_id}')
            wait_until(lambda: statuses and statuses[-1][1], 'the end of enrollment')
        finally:
            conn.signal_unsubscribe(sub)
        return statuses

    def authenticate(self, challenge='challenge', print_id='finger-1', content='', conn=None):
        """A whole successful-path authentication: start, wait for the prompt, scan."""
        call = self.start_auth(challenge, content=content, conn=conn)
        n = len(self.agent.shown) + 1
        self.agent.wait_shown(n)
        self.reader(f'SCAN {print_id}')
        return call.wait()

    # --- keys and signatures ---------------------------------------------

    def write(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, 'wb') as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        return path

    def openssl_verify(self, pub_pem, data, signature_b64):
        """SPEC §6's reference check, with the openssl command line."""
        import base64
        pub = self.write('pub.pem', pub_pem + '\n')
        sig = self.write('sig.bin', base64.b64decode(signature_b64, validate=True))
        dat = self.write('data', data.encode())
        r = subprocess.run(['openssl', 'dgst', '-sha256', '-sigopt', 'rsa_padding_mode:pss',
                            '-sigopt', 'rsa_pss_saltlen:20', '-sigopt', 'rsa_mgf1_md:sha256',
                            '-verify', pub, '-signature', sig, dat],
                           capture_output=True, text=True)
        return r.returncode == 0 and 'Verified OK' in r.stdout

    def keys(self):
        pem, cpu_id, tee_n, tee_v = self.call('GetDeviceKey', reply_type='(ssss)')
        ask_json, ask_sig = self.call('GetAppSecureKey', reply_type='(ss)')
        auth_json, auth_sig = self.call('GetAuthKey', GLib.Variant('(s)', ('',)), '(ss)')
        return {'device': pem, 'cpu_id': cpu_id, 'tee_n': tee_n, 'tee_v': tee_v,
                'ask_json': ask_json, 'ask_sig': ask_sig,
                'auth_json': auth_json, 'auth_sig': auth_sig,
                'ask_pub': json.loads(ask_json)['pub_key'],
                'auth_pub': json.loads(auth_json)['pub_key']}

    def assert_store_refused(self, reason, last_counter=0):
        """With the state as it is: soterd answers 90001 / NotSupported,
        never reads a finger, logs @reason and writes nothing (soterd is
        stopped after)."""
        files = state_files(self.state)
        shown = len(self.agent.shown)
        self.start_daemon()
        self.agent.register()
        call = self.start_auth()
        wait_until(lambda: call.done or len(self.agent.shown) > shown, 'the reply or a prompt')
        if len(self.agent.shown) > shown:
            self.reader('SCAN finger-1')  # to see what it would sign
        _, result, _, code, msg = call.wait()
        if result:
            self.fail(f'soterd signed counter {json.loads(result)["counter"]}; the last '
                      f'before was {last_counter}')
        self.assertEqual(len(self.agent.shown), shown, 'the reader was used without a key store')
        self.assertEqual(code, 90001, msg)
        self.assertIn('key store', msg)
        with self.assertRaisesRegex(GLib.Error, 'NotSupported'):
            self.call('GetDeviceKey', reply_type='(ssss)')
        with self.assertRaisesRegex(GLib.Error, 'NotSupported'):
            self.call('GetAuthKey', GLib.Variant('(s)', ('',)), '(ss)')
        self.assertIn(reason, self.daemon_log())
        self.stop_daemon()
        self.assertEqual(state_files(self.state), files, 'soterd changed the state directory')

    def daemon_log(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()
