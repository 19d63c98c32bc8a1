#!/usr/bin/python3
"""libsoter against a running soterd on a private bus: the C API (each case
of test-client, run as its own test) and the same library through PyGObject,
from Debian's /usr/bin/python3 with the typelib from the build tree; and
prompt agents (libsoter's SoterAgent, agents/soter-text-agent) that outlive
a soterd restart."""

import os
import re
import signal
import subprocess
import sys

import dbus

sys.path.insert(0, os.path.dirname(__file__))
import taprunner  # noqa: E402
from soterd_testlib import (CLIENT_WRAPPER, DEADLINE, SoterdTestCase, child_env,  # noqa: E402
                            wait_until)

import gi  # noqa: E402
gi.require_version('Soter', '1')
from gi.repository import Gio, GLib, Soter  # noqa: E402

TEST_CLIENT = os.environ.get('SOTER_TEST_CLIENT',
                             os.path.join(os.path.dirname(__file__), '..', 'build', 'tests',
                                          'test-client'))
TEXT_AGENT = os.path.join(os.path.dirname(__file__), '..', 'agents', 'soter-text-agent')
LIBSOTER = os.environ.get('LIBSOTER', os.path.join(os.path.dirname(__file__), '..', 'build',
                                                   'client-lib', 'libsoter.so'))


class TestCApi(SoterdTestCase):
    """Each GTest case of test-client, with its own soterd and state."""
    with_agent = False  # test-client brings its own SoterAgent

    def run_case(self, path):
        env = child_env(SOTER_TEST_READER=self.socket, SOTER_TEST_TMP=self.tmp,
                        G_DEBUG='fatal-criticals')
        r = subprocess.run([*CLIENT_WRAPPER, TEST_CLIENT, '-p', path], env=env, capture_output=True,
                           text=True, timeout=4 * DEADLINE)
        self.assertEqual(r.returncode, 0, f'{path} failed:\n{r.stdout}{r.stderr}')
        self.assertIn(f'ok 1 {path}', r.stdout.replace('# ', ''))


def _c_cases():
    out = subprocess.run([TEST_CLIENT, '-l'], capture_output=True, text=True, check=True).stdout
    return [line.strip() for line in out.splitlines() if line.startswith('/')]


for _path in _c_cases():
    def _case(self, path=_path):
        self.run_case(path)
    setattr(TestCApi, 'test_c' + _path.replace('/', '_').replace('-', '_'), _case)


class TestPyGObject(SoterdTestCase):
    """What a Python app and a Python prompt agent write."""
    with_agent = False

    def setUp(self):
        super().setUp()
        self.client = Soter.Client.new_sync(None)
        self.shown = []
        self.closed = []

    def tearDown(self):
        self.client = None
        super().tearDown()

    def finish(self, start, finish, *args):
        """Runs an async method to its end, iterating the main loop."""
        box = []
        start(*args, lambda src, res: box.append(res))
        wait_until(lambda: box, f'{start.__name__} to finish')
        return finish(box[0])

    def enroll(self, finger='right-index-finger'):
        statuses = []
        started = self.client.connect('enroll-started',
                                      lambda c: [self.reader('SCAN finger-1') for _ in range(5)])
        status = self.client.connect('enroll-status', lambda c, r, d: statuses.append((r, d)))
        try:
            ok = self.finish(self.client.enroll, self.client.enroll_finish, finger, None)
        finally:
            self.client.disconnect(started)
            self.client.disconnect(status)
        self.assertTrue(ok)
        return statuses

    def make_agent(self, on_show):
        agent = Soter.Agent.new(self.client, False)
        agent.connect('show', lambda a, rid, content, app, uid, modes:
                      self.shown.append((rid, content, app, uid, modes)) or on_show(a, rid))
        agent.connect('close', lambda a, rid, outcome: self.closed.append((rid, outcome)))
        self.assertTrue(agent.register_sync(None))
        return agent

    def authenticate(self, challenge, content='', cancellable=None):
        return self.finish(self.client.start_authentication,
                           self.client.start_authentication_finish,
                           challenge, ['fingerPrint'], content, cancellable)

    def test_authenticate_and_verify_with_openssl(self):
        statuses = self.enroll()
        self.assertEqual(statuses, [('enroll-stage-passed', False)] * 5 +
                         [('enroll-completed', True)])
        self.assertEqual(self.client.list_enrolled_fingers_sync(None), ['right-index-finger'])
        self.assertTrue(self.client.is_enrolled_sync('fingerPrint', None))

        _agent = self.make_agent(lambda a, rid: self.reader('SCAN finger-1'))
        result = self.authenticate('py-challenge', 'Log in to Example')
        self.assertTrue(result.check())
        self.assertEqual((result.props.err_code, result.props.err_msg, result.props.auth_mode),
                         (0, 'startSoterAuthentication:ok', 'fingerPrint'))
        # A script: named by its interpreter and its path.
        app_id = f'{os.path.realpath(sys.executable)} {sys.argv[0]}'
        self.assertEqual(self.shown[0][1:], ('Log in to Example', app_id, os.getuid(),
                                             ['fingerPrint']))
        wait_until(lambda: self.closed, 'the prompt to close')
        self.assertEqual(self.closed[0], (self.shown[0][0], 0))

        ok, pem, cpu_id, tee_n, tee_v = self.client.get_device_key_sync(None)
        ok, ask, ask_sig = self.client.get_app_secure_key_sync(None)
        ok, auth, auth_sig = self.client.get_auth_key_sync(None, None)
        import json
        self.assertTrue(self.openssl_verify(json.loads(auth)['pub_key'],
                                            result.get_result_json(),
                                            result.get_result_json_signature()))
        self.assertTrue(self.openssl_verify(json.loads(ask)['pub_key'], auth, auth_sig))
        self.assertTrue(self.openssl_verify(pem, ask, ask_sig))
        self.assertEqual(json.loads(result.get_result_json())['cpu_id'], cpu_id)

    def test_soter_errors_raise_in_the_soter_domain(self):
        # A SOTER failure is a result; check() raises it as Soter.Error.
        result = self.authenticate('c')
        self.assertEqual(result.props.err_code, Soter.Error.NOT_ENROLLED)
        with self.assertRaises(GLib.Error) as cm:
            result.check()
        self.assertTrue(cm.exception.matches(Soter.error_quark(), Soter.Error.NOT_ENROLLED))

        # A D-Bus error of soterd's (real polkit refusal, from the mock) too.
        self.polkitd_obj.SetAllowed(dbus.Array([], signature='s'))
        with self.assertRaises(GLib.Error) as cm:
            self.client.get_app_secure_key_sync(None)
        self.assertTrue(cm.exception.matches(Soter.error_quark(), Soter.Error.NOT_AUTHORIZED),
                        cm.exception)
        self.assertNotIn('GDBus.Error', cm.exception.message)

    def test_gio_cancellable_cancels_and_frees_the_reader(self):
        self.enroll()
        cancellable = Gio.Cancellable()
        _agent = self.make_agent(lambda a, rid: cancellable.cancel())
        with self.assertRaises(GLib.Error) as cm:
            self.authenticate('c', cancellable=cancellable)
        self.assertTrue(cm.exception.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED))
        wait_until(lambda: self.closed, 'the prompt to close')
        self.assertEqual(self.closed[0][1], Soter.Error.CANCELLED)

    def test_agent_cancel_from_python(self):
        self.enroll()
        _agent = self.make_agent(lambda a, rid: a.cancel(rid, None, None))
        result = self.authenticate('c')
        self.assertEqual(result.props.err_code, Soter.Error.CANCELLED)

    def test_only_soterd_may_call_the_agent(self):
        agent = self.make_agent(lambda a, rid: None)
        other = self.connect()
        box = []
        other.call(self.client.get_connection().get_unique_name(), agent.get_object_path(),
                   'io.github.soterd.Soter1.Agent', 'ShowPrompt',
                   GLib.Variant('(sa{sv})', ('forged', {'auth_content': GLib.Variant('s', 'Pay')})),
                   None, Gio.DBusCallFlags.NONE, -1, None,
                   lambda c, res: box.append(res))
        wait_until(lambda: box, 'the forged ShowPrompt to be answered')
        with self.assertRaises(GLib.Error) as cm:
            other.call_finish(box[0])
        self.assertIn('AccessDenied', cm.exception.message)
        self.assertEqual(self.shown, [])


class AgentProcess:
    """A prompt agent in a process of its own, kept running while soterd
    restarts: its standard output, line by line, as the main loop reads it."""

    def __init__(self, test, argv, env, stop_signal=None):
        self.stop_signal = stop_signal  # else closing standard input stops it
        self.errors = open(os.path.join(test.tmp, 'agent.err'), 'w+')
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.errors)
        self.lines = []
        self.next = 0  # expect() looks from here on: lines are taken in order
        self.eof = False
        self._partial = b''
        self._watch = GLib.io_add_watch(self.proc.stdout.fileno(), GLib.PRIORITY_DEFAULT,
                                        GLib.IO_IN | GLib.IO_HUP, self._on_output)
        test.addCleanup(self.kill)

    def _on_output(self, fd, condition):
        data = os.read(fd, 4096)
        if not data:
            self.eof = True
            self._watch = None
            return GLib.SOURCE_REMOVE
        *lines, self._partial = (self._partial + data).split(b'\n')
        self.lines += [line.decode() for line in lines]
        return GLib.SOURCE_CONTINUE

    def _find(self, text):
        for i in range(self.next, len(self.lines)):
            if text in self.lines[i]:
                return i
        if self.eof:
            self.errors.seek(0)
            raise AssertionError(f'the agent exited before saying "{text}": {self.lines}\n'
                                 f'{self.errors.read()}')
        return None

    def expect(self, text):
        """Waits for a line holding @text after the last one expected."""
        wait_until(lambda: self._find(text) is not None, f'"{text}" from the agent')
        i = self._find(text)
        self.next = i + 1
        return self.lines[i]

    def stop(self):
        if self.stop_signal is None:
            self.proc.stdin.close()
        else:
            self.proc.send_signal(self.stop_signal)
        rc = self.proc.wait(timeout=DEADLINE)
        self.errors.seek(0)
        return rc, self.errors.read()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self._watch is not None:
            GLib.source_remove(self._watch)
        self.proc.stdout.close()
        if not self.proc.stdin.closed:
            self.proc.stdin.close()
        self.errors.close()


class TestAgentsAcrossRestarts(SoterdTestCase):
    """Agents watch soterd's name and register again when soterd returns
    (SPEC §7). Each agent here is a process of its own that nothing but
    itself registers again: the harness's agent (which restart_daemon()
    would register again) stays unregistered."""
    with_agent = False

    def c_agent(self, *args):
        return AgentProcess(self, [*CLIENT_WRAPPER, TEST_CLIENT, '--agent', *args],
                            child_env(G_DEBUG='fatal-criticals'))

    def restart(self):
        self.assertEqual(self.stop_daemon(), 0)
        self.start_daemon()

    def authenticate_through(self, agent, challenge):
        """An authentication the agent process shows; returns soterd's reply."""
        call = self.start_auth(challenge)
        request_id = agent.expect('show ').split()[1]
        self.reader('SCAN finger-1')
        reply = call.wait()
        agent.expect(f'close {request_id} 0')
        return reply

    def assert_stops_cleanly(self, agent):
        rc, errors = agent.stop()
        self.assertEqual(rc, 0, errors)

    def test_soter_agent_registers_again_with_its_options(self):
        self.enroll()
        agent = self.c_agent('fallback')
        agent.expect('ready')
        self.restart()
        # The registered property drops when soterd leaves, and comes back
        # once the agent has registered with the new soterd on its own.
        agent.expect('unregistered')
        agent.expect('registered')
        # As a fallback agent again: soterd logged both registrations so.
        self.assertEqual(len(re.findall(r'Prompt agent \S+ registered .*\(fallback\)',
                                        self.daemon_log())), 2, self.daemon_log())
        mode, _json, _sig, code, msg = self.authenticate_through(agent, 'after-restart')
        self.assertEqual((code, mode), (0, 'fingerPrint'), msg)
        self.assert_stops_cleanly(agent)

    def test_a_prompt_shown_when_soterd_dies_is_closed_with_90007(self):
        self.enroll()
        agent = self.c_agent()
        agent.expect('ready')
        call = self.start_auth('before-the-crash')
        request_id = agent.expect('show ').split()[1]
        # Killed, soterd never sends ClosePrompt: the agent closes the prompt itself.
        self.daemon.kill()
        self.daemon.wait(timeout=DEADLINE)
        self.daemon = None
        agent.expect(f'close {request_id} 90007')
        with self.assertRaises(GLib.Error):
            call.wait()
        self.start_daemon()
        agent.expect('registered')
        self.assertEqual(self.authenticate_through(agent, 'after-the-crash')[3], 0)
        self.assert_stops_cleanly(agent)

    def test_text_agent_registers_again(self):
        self.enroll()
        # The text agent is Python without libsoter: the harness's own
        # environment (under ASan, the runtime preloaded without leak checks).
        agent = AgentProcess(self, [sys.executable, TEXT_AGENT, '--address', self.bus_address],
                             dict(os.environ), stop_signal=signal.SIGTERM)
        agent.expect('registered; waiting for authentication requests')
        self.restart()
        agent.expect('soterd restarted; registered again')
        call = self.start_auth('after-restart')
        agent.expect('Touch the fingerprint reader')
        self.reader('SCAN finger-1')
        self.assertEqual(call.wait()[3], 0)
        agent.expect('request confirmed')
        self.assert_stops_cleanly(agent)


class TestLibrary(SoterdTestCase):
    with_reader = False
    with_agent = False

    def test_only_the_api_is_exported(self):
        out = subprocess.run(['nm', '-D', '--defined-only', LIBSOTER], capture_output=True,
                             text=True, check=True).stdout
        symbols = [line.split()[-1].split('@')[0] for line in out.splitlines()
                   if line.split()[-2] in ('T', 'D', 'B', 'R')]
        self.assertTrue(symbols)
        for sym in symbols:
            self.assertTrue(sym.startswith(('soter_client_', 'soter_agent_', 'soter_result_',
                                            'soter_error_')), sym)
            self.assertFalse(sym.startswith('soter_dbus_'), sym)
        self.assertIn('soter_client_start_authentication', symbols)


if __name__ == '__main__':
    taprunner.main(sys.modules[__name__])
