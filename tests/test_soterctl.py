#!/usr/bin/python3
"""soterctl as a user drives it: in a terminal (a pty) where it prompts,
with Ctrl-C, and in scripts through its exit status and --json. soterd runs
on a private bus with mock polkit and the virtual reader; soterctl brings its
own text agent unless the session has one."""

import json
import os
import pty
import re
import select
import subprocess
import sys
import tempfile
import termios
import fcntl

import dbus

sys.path.insert(0, os.path.dirname(__file__))
import taprunner  # noqa: E402
from soterd_testlib import CLIENT_WRAPPER, DEADLINE, SoterdTestCase  # noqa: E402

SOTERCTL = os.environ.get('SOTERCTL', os.path.join(os.path.dirname(__file__), '..', 'build',
                                                   'tools', 'soterctl'))
SOTERCTL_CMD = [*CLIENT_WRAPPER, SOTERCTL]  # under valgrind in the 'sanitizers' suite
EXIT_CANCELLED = 18      # 10 + (90008 - 90000)
EXIT_BAD_CHALLENGE = 14  # 90004
EXIT_NOT_AUTHORIZED = 12 # 90002
EXIT_NOT_ENROLLED = 21   # 90011


def _controlling_tty():
    # A session of its own with the pty as controlling terminal, so that ^C
    # typed into the pty is SIGINT for soterctl, as in a real terminal.
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """soterctl running in a pty; .expect() reads what the user would see."""

    def __init__(self, args, env):
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen([*SOTERCTL_CMD, *args], stdin=slave, stdout=slave,
                                     stderr=slave, env=env, preexec_fn=_controlling_tty,
                                     close_fds=True)
        os.close(slave)
        self.seen = ''

    def _read(self, timeout):
        r, _, _ = select.select([self.master], [], [], timeout)
        if not r:
            return False
        try:
            data = os.read(self.master, 4096)
        except OSError:  # EIO: the other side is closed
            return None
        if not data:
            return None
        self.seen += data.decode(errors='replace').replace('\r\n', '\n')
        return True

    def expect(self, text):
        """Reads until @text has been shown; fails after the deadline."""
        import time
        end = time.monotonic() + DEADLINE
        while text not in self.seen:
            left = end - time.monotonic()
            if left <= 0 or self._read(left) is None and text not in self.seen:
                raise AssertionError(f'soterctl never showed {text!r}; it showed:\n{self.seen}')
        return self.seen

    def type(self, data):
        os.write(self.master, data)

    def wait(self):
        """The exit status, after reading everything shown."""
        while self._read(DEADLINE) is not None and self.proc.poll() is None:
            pass
        rc = self.proc.wait(timeout=DEADLINE)
        while self._read(0):
            pass
        os.close(self.master)
        return rc


class SoterctlTestCase(SoterdTestCase):
    with_agent = False  # soterctl brings its own, unless a test registers one

    def env(self):
        return dict(os.environ, LC_ALL='C.UTF-8')

    def soterctl(self, *args):
        return subprocess.run([*SOTERCTL_CMD, *args], env=self.env(), capture_output=True,
                              text=True, timeout=DEADLINE)

    def terminal(self, *args):
        return Terminal(args, self.env())

    def enroll_in_terminal(self, finger='right-index-finger'):
        t = self.terminal('enroll', finger)
        t.expect(f'Enrolling {finger}: place your finger on the reader')
        for _ in range(5):
            self.reader('SCAN finger-1')
        self.assertEqual(t.wait(), 0, t.seen)
        return t.seen


class TestTerminal(SoterctlTestCase):
    def test_enroll_shows_every_stage(self):
        seen = self.enroll_in_terminal('left-thumb')
        self.assertEqual(seen.count('Enroll result: enroll-stage-passed'), 5, seen)
        self.assertIn('Enroll result: enroll-completed', seen)
        self.assertIn('Enrolled left-thumb.', seen)
        r = self.soterctl('list')
        self.assertEqual((r.returncode, r.stdout), (0, 'left-thumb\n'))

    def test_auth_prompts_retries_and_the_chain_verifies(self):
        self.enroll_in_terminal()
        out = tempfile.mkdtemp(dir=self.tmp)
        self.assertEqual(self.soterctl('keys', '--output-dir', out).returncode, 0)

        t = self.terminal('auth', '--challenge', 'order 66 ✓', '--content', 'Pay 5.00 EUR',
                          '--output-dir', out)
        t.expect('"Pay 5.00 EUR"')
        t.expect('Place an enrolled finger on the reader (Ctrl-C cancels).')
        self.reader('SCAN someone-else')
        t.expect('Not recognized, try again (2 of 3 attempts left)')
        self.reader('SCAN finger-1')
        self.assertEqual(t.wait(), 0, t.seen)
        self.assertIn('errCode: 0\n', t.seen)
        self.assertIn('errMsg: startSoterAuthentication:ok\n', t.seen)
        # The app is the caller's executable (under valgrind, valgrind's).
        app = re.escape(os.path.realpath(SOTERCTL)) if not CLIENT_WRAPPER else '[^\\n]+'
        self.assertRegex(t.seen, f'SOTER authentication for {app} \\(uid {os.getuid()}\\)')

        # What it wrote verifies, with soterctl verify and with openssl.
        f = lambda name: os.path.join(out, name)  # noqa: E731
        r = self.soterctl('verify', '--device-key', f('device-key.pem'),
                          '--app-key', f('app-key.json'), f('app-key.sig'),
                          '--auth-key', f('auth-key.json'), f('auth-key.sig'),
                          '--challenge', 'order 66 ✓', f('result.json'), f('result.sig'))
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(f('auth-key.json')) as a, open(f('result.json')) as j, open(f('result.sig')) as s:
            self.assertTrue(self.openssl_verify(json.load(a)['pub_key'], j.read(), s.read()))

    def test_ctrl_c_at_the_prompt_is_the_users_cancel(self):
        self.enroll_in_terminal()
        t = self.terminal('auth', '--challenge', 'c')
        t.expect('Place an enrolled finger on the reader')
        t.type(b'\x03')
        self.assertEqual(t.wait(), EXIT_CANCELLED, t.seen)
        self.assertIn('errCode: 90008', t.seen)
        self.assertIn('startSoterAuthentication:fail the user cancelled', t.seen)
        # The reader is free again.
        t = self.terminal('auth', '--challenge', 'again')
        t.expect('Place an enrolled finger on the reader')
        self.reader('SCAN finger-1')
        self.assertEqual(t.wait(), 0, t.seen)

    def test_ctrl_c_cancels_an_enrollment_and_stores_nothing(self):
        t = self.terminal('enroll')
        t.expect('place your finger on the reader')
        t.type(b'\x03')
        self.assertEqual(t.wait(), EXIT_CANCELLED, t.seen)
        self.assertIn('soterctl enroll: ', t.seen)
        self.assertEqual(self.soterctl('list').stdout, '')


class TestScripts(SoterctlTestCase):
    def test_json_output_has_taros_names(self):
        self.enroll_in_terminal()
        proc = subprocess.Popen([*SOTERCTL_CMD, 'auth', '--json', '--challenge', 'j'],
                                env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        self.assertIn('SOTER authentication for', proc.stderr.readline())
        self.reader('SCAN finger-1')
        stdout, stderr = proc.communicate(timeout=DEADLINE)
        self.assertEqual(proc.returncode, 0, stderr)
        obj = json.loads(stdout)
        self.assertEqual(sorted(obj), ['authMode', 'errCode', 'errMsg', 'resultJSON',
                                       'resultJSONSignature'])
        self.assertEqual((obj['authMode'], obj['errCode']), ('fingerPrint', 0))
        self.assertEqual(json.loads(obj['resultJSON'])['raw'], 'j')

        keys = json.loads(self.soterctl('keys', '--json').stdout)
        auth_pub = json.loads(keys['authKey']['keyJson'])['pub_key']
        self.assertTrue(self.openssl_verify(auth_pub, obj['resultJSON'],
                                            obj['resultJSONSignature']))
        self.assertTrue(self.openssl_verify(keys['deviceKey']['publicKey'],
                                            keys['appSecureKey']['keyJson'],
                                            keys['appSecureKey']['signature']))

    def test_the_sessions_agent_is_preferred_to_soterctls(self):
        self.enroll_in_terminal()
        self.agent.register()
        proc = subprocess.Popen([*SOTERCTL_CMD, 'auth', '--challenge', 's'], env=self.env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.agent.wait_shown()
        self.reader('SCAN finger-1')
        self.assertEqual(self.agent.wait_closed()[1], 0)
        stdout, stderr = proc.communicate(timeout=DEADLINE)
        self.assertEqual(proc.returncode, 0, stderr)
        self.assertNotIn('Place an enrolled finger', stderr)
        self.assertIn('errCode: 0', stdout)

    def test_soter_failures_exit_with_their_documented_status(self):
        r = self.soterctl('auth', '--challenge', '')
        self.assertEqual(r.returncode, EXIT_BAD_CHALLENGE, r.stderr)
        self.assertIn('errCode: 90004', r.stdout)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)

        r = self.soterctl('enrolled', 'fingerPrint')
        self.assertEqual((r.returncode, r.stdout), (EXIT_NOT_ENROLLED, 'no\n'))

        self.polkitd_obj.SetAllowed(dbus.Array([], signature='s'))
        r = self.soterctl('keys')
        self.assertEqual(r.returncode, EXIT_NOT_AUTHORIZED, r.stderr)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertNotIn('GDBus.Error', r.stderr)

    def test_support_list_delete(self):
        r = self.soterctl('support')
        self.assertEqual((r.returncode, r.stdout), (0, 'fingerPrint\n'))
        self.enroll_in_terminal('left-index-finger')
        r = self.soterctl('enrolled', 'fingerPrint')
        self.assertEqual((r.returncode, r.stdout), (0, 'yes\n'))
        self.assertEqual(self.soterctl('delete', 'left-index-finger').returncode, 0)
        self.assertEqual(self.soterctl('list').stdout, '')
        r = self.soterctl('delete', 'left-index-finger')
        self.assertNotEqual(r.returncode, 0)
        self.assertTrue(r.stderr.startswith('soterctl delete: '), r.stderr)

    def test_usage_and_help(self):
        for cmd in ('support', 'enrolled', 'enroll', 'list', 'delete', 'auth', 'keys', 'verify'):
            r = self.soterctl(cmd, '--help')
            self.assertEqual(r.returncode, 0, cmd)
            self.assertIn('Usage:', r.stdout, cmd)
        for args in (('auth',), ('enrolled',), ('delete', 'a', 'b'), ('frobnicate',),
                     ('list', '--bogus'), ()):
            r = self.soterctl(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertEqual(len(r.stderr.strip().splitlines()) if args else 1, 1, r.stderr)
        self.assertEqual(self.soterctl('--help').returncode, 0)

    def test_no_soterd_is_one_clear_line(self):
        self.stop_daemon()
        env = dict(self.env(), DBUS_SYSTEM_BUS_ADDRESS='unix:path=' + os.path.join(self.tmp, 'none'))
        r = subprocess.run([*SOTERCTL_CMD, 'list'], env=env, capture_output=True, text=True,
                           timeout=DEADLINE)
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith('soterctl list: cannot reach soterd: '), r.stderr)
        self.assertEqual(len(r.stderr.splitlines()), 1)


if __name__ == '__main__':
    taprunner.main(sys.modules[__name__])
