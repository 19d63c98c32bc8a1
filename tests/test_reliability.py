#!/usr/bin/python3
"""soterd under what real machines do to it: killed at random moments, a
full disk. Whatever happens, nothing already stored is lost or damaged, no
counter value is handed out twice, every reply verifies, and no temporary
file is left behind.

The full-disk cases mount a small tmpfs, in a mount namespace of the test's
own: they run as root only and are skipped elsewhere, saying so."""

import base64
import json
import os
import random
import signal
import subprocess
import sys

import dbus
from gi.repository import Gio, GLib

sys.path.insert(0, os.path.dirname(__file__))
import mountns  # noqa: E402
import taprunner  # noqa: E402
from soterd_testlib import (ACTIONS, AGENT_IFACE, NODE_INFO, SHORT_TIMEOUT, Agent,  # noqa: E402
                            Call, SoterdTestCase, state_files, wait_until)

from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: E402

KILLS = int(os.environ.get('SOTER_CRASH_KILLS', '200'))
PSS20 = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=20)


def verifies(pub_pem, data, signature_b64):
    key = serialization.load_pem_public_key(pub_pem.encode())
    try:
        key.verify(base64.b64decode(signature_b64, validate=True), data.encode(), PSS20,
                   hashes.SHA256())
        return True
    except Exception:
        return False


def temporaries(state):
    return [p for p in state_files(state) if '.tmp-' in os.path.basename(p)]


class TestCrashSafety(SoterdTestCase):
    kills = KILLS
    max_delay_ms = 12   # from the reader's scan (or the call) to the kill

    def kill_after(self, delay_ms):
        """SIGKILL soterd @delay_ms from now, from the main loop."""
        pid = self.daemon.pid

        def kill():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return False
        GLib.timeout_add(delay_ms, kill)

    def wait_dead(self, *calls):
        wait_until(lambda: self.daemon.poll() is not None or all(c.done for c in calls),
                   'soterd to be killed or to answer')
        if self.daemon.poll() is None:
            os.kill(self.daemon.pid, signal.SIGKILL)
        self.daemon.wait()
        wait_until(lambda: all(c.done for c in calls), 'the calls to end')
        self.daemon = None

    def test_sigkill_at_random_moments_loses_nothing(self):
        seed = int(os.environ.get('SOTER_CRASH_SEED', random.randrange(1 << 30)))
        rng = random.Random(seed)
        note = f'(seed {seed}; SOTER_CRASH_SEED={seed} repeats this run)'

        self.enroll()
        k = self.keys()
        before = {key: k[key] for key in ('device', 'cpu_id', 'ask_json', 'auth_json')}
        signed = []   # (counter, pub_pem, json, signature), in the order received
        signed.append((json.loads(k['auth_json'])['counter'], k['ask_pub'], k['auth_json'],
                       k['auth_sig']))
        kinds = {'auth': 0, 'enroll': 0, 'scene': 0}
        answered = 0

        for i in range(self.kills):
            kind = rng.choice(['auth', 'auth', 'auth', 'enroll', 'scene'])
            kinds[kind] += 1
            delay = rng.randint(0, self.max_delay_ms)
            if kind == 'auth':
                call = self.start_auth(f'crash-{i}')
                self.agent.wait_shown(len(self.agent.shown) + 1)
                self.reader('SCAN finger-1')
                self.kill_after(delay)
            elif kind == 'enroll':
                call = Call(self.conn, 'Enroll', GLib.Variant('(s)', ('left-thumb',)), None)
                self.kill_after(delay)
                wait_until(lambda: call.done or self.daemon.poll() is not None, 'Enroll')
                try:
                    for _ in range(rng.randint(1, 5) if call.reply is not None else 0):
                        self.reader('SCAN finger-2')
                except OSError:
                    pass  # killed meanwhile: the reader went with it
            else:
                call = Call(self.conn, 'GetAuthKey', GLib.Variant('(s)', (f'scene{i}',)), '(ss)')
                self.kill_after(delay)
            self.wait_dead(call)

            if call.reply is not None and kind == 'auth':
                _, result, sig, code, msg = call.reply
                self.assertIn(code, (0, 90007), f'{msg} {note}')
                self.assertNotEqual(code, 90001, note)
                if code == 0:
                    answered += 1
                    signed.append((json.loads(result)['counter'], k['auth_pub'], result, sig))
            elif call.reply is not None and kind == 'scene':
                key_json, sig = call.reply
                answered += 1
                signed.append((json.loads(key_json)['counter'], k['ask_pub'], key_json, sig))

            self.start_daemon()
            self.agent.register()

        # Everything stored is there, and the same.
        after = self.keys()
        self.assertEqual({key: after[key] for key in before}, before, note)
        self.assertIn('right-index-finger',
                      self.call('ListEnrolledFingers', reply_type='(as)')[0], note)
        self.assertEqual(temporaries(self.state), [], note)

        # Every reply a client received verifies, and no counter was handed
        # out twice: they only grow, in the order they were received.
        for counter, pub, data, sig in signed:
            self.assertTrue(verifies(pub, data, sig), f'{data} does not verify {note}')
        counters = [c for c, *_ in signed]
        self.assertEqual(counters, sorted(set(counters)), f'counters reused {note}')

        # And soterd goes on: the next authentication signs a higher counter.
        _, result, sig, code, msg = self.authenticate('after-the-crashes')
        self.assertEqual(code, 0, msg)
        self.assertGreater(json.loads(result)['counter'], counters[-1])
        cleaned = self.daemon_log().count('left by an interrupted write')
        sys.stderr.write(f'# {self.kills} kills ({kinds}), {answered} answered before the kill, '
                         f'{cleaned} interrupted writes cleaned up at the next start {note}\n')


class TestFaults(SoterdTestCase):
    def assert_fails(self, call, code, text):
        _, result, sig, got, msg = call.wait()
        self.assertEqual((got, result, sig), (code, '', ''), msg)
        self.assertIn(text, msg)

    def test_reader_error_mid_request_then_it_serves_again(self):
        self.enroll()
        call = self.start_auth()
        self.agent.wait_shown()
        self.reader('ERROR 256')  # FP_DEVICE_ERROR_REMOVED, as a reader pulled out
        self.assert_fails(call, 90007, 'reader was removed')
        self.assertEqual(self.agent.wait_closed()[1], 90007)
        # The reader is picked up again for the next request.
        self.assertEqual(self.authenticate()[3], 0)

    def test_reader_unplugged_mid_request(self):
        self.enroll()
        changed = []
        self.conn.signal_subscribe(None, 'org.freedesktop.DBus.Properties', 'PropertiesChanged',
                                   '/io/github/soterd/Soter1', None, Gio.DBusSignalFlags.NONE,
                                   lambda *a: changed.append(a[5].unpack()))
        call = self.start_auth()
        self.agent.wait_shown()
        self.reader('UNPLUG')
        self.assert_fails(call, 90007, 'reader was removed')
        # soterd says the device no longer supports SOTER, and means it.
        wait_until(lambda: any('SupportedModes' in c[1] for c in changed),
                   'SupportedModes to change')
        self.assertEqual(self.get_property('SupportedModes'), [])
        self.assertEqual(self.call('CheckIsSupportSoterAuthentication', reply_type='(as)'), ([],))
        self.assert_fails(self.start_auth(), 90001, 'no fingerprint reader')

    def test_unusable_auth_key_ends_the_request_and_is_kept(self):
        self.enroll()
        self.assertEqual(self.authenticate()[3], 0)
        path = os.path.join(self.state, 'keys', 'apps', str(os.getuid()), 'auth-default.key')
        with open(path, 'rb') as f:
            good = f.read()
        with open(path, 'wb') as f:
            f.write(b'not a key\n')
        shown = len(self.agent.shown)
        self.assert_fails(self.start_auth(), 90007, 'auth key cannot be used')
        # A prompt shown meanwhile (the key is read while the reader is
        # claimed) is closed with the same code. The agent's connection is
        # not the caller's: a call on it, answered after anything soterd
        # sent it before, makes sure its ShowPrompt has arrived if it was sent.
        self.call('CheckIsSupportSoterAuthentication', reply_type='(as)', conn=self.agent.conn)
        if len(self.agent.shown) > shown:
            self.assertEqual(self.agent.wait_closed(shown + 1)[1], 90007)
        # Not replaced by a new key (relying parties pinned the old one).
        with open(path, 'rb') as f:
            self.assertEqual(f.read(), b'not a key\n')
        # The reader was given back: with the key restored, the next one signs.
        with open(path, 'wb') as f:
            f.write(good)
        self.assertEqual(self.authenticate()[3], 0)

    def test_polkit_restarted_is_asked_again(self):
        self.enroll()
        self.assertEqual(self.authenticate()[3], 0)
        # soterd keeps its handle on polkit between requests: a new polkitd
        # must be the one asked, and what it says must hold.
        self.polkitd.terminate()
        self.polkitd.wait()
        cls = type(self)
        cls.polkitd, cls.polkitd_obj = cls.spawn_server_template('polkitd', {},
                                                                 stdout=subprocess.DEVNULL)
        self.polkitd_obj.SetAllowed(dbus.Array([], signature='s'))
        self.assert_fails(self.start_auth(), 90002, 'authorize')
        self.polkitd_obj.SetAllowed(dbus.Array(ACTIONS, signature='s'))
        self.assertEqual(self.authenticate()[3], 0)

    def test_polkit_not_answering_ends_at_the_timeout(self):
        self.restart_with_config(RequestTimeout=SHORT_TIMEOUT)
        self.enroll()
        # The app's keys made first (no request timeout on that call): the
        # authentication after polkit's return must fit in the short
        # timeout, and two RSA keys under ASan on a busy machine did not.
        self.keys()
        os.kill(self.polkitd.pid, signal.SIGSTOP)
        try:
            self.assert_fails(self.start_auth(), 90007, 'timed out')
        finally:
            os.kill(self.polkitd.pid, signal.SIGCONT)
        self.assertEqual(self.authenticate()[3], 0)

    def test_agent_not_answering_ends_at_the_timeout(self):
        self.restart_with_config(RequestTimeout=SHORT_TIMEOUT)
        self.enroll()
        silent = Agent(self.connect(), '/test/silent')
        silent._on_call = lambda conn, sender, path, iface, method, params, inv: \
            silent.shown.append(method)  # and never answers
        silent.conn.unregister_object(silent.reg_id)
        silent.reg_id = silent.conn.register_object(silent.path,
                                                    NODE_INFO.lookup_interface(AGENT_IFACE),
                                                    silent._on_call, None, None)
        # The session's agent holds it: the silent one takes its place.
        self.call('UnregisterAgent', GLib.Variant('(o)', (self.agent.path,)), conn=self.agent.conn)
        silent.register()
        self.assert_fails(self.start_auth(), 90007, 'timed out')
        self.assertEqual(silent.shown[0], 'ShowPrompt')


class TestHostileInput(SoterdTestCase):
    """Malformed and hostile calls get clear D-Bus errors or SOTER codes; soterd
    stays up and serves the next caller."""

    def raw_call(self, method, args, iface='io.github.soterd.Soter1',
                 path='/io/github/soterd/Soter1'):
        box = []
        self.conn.call('io.github.soterd.Soter1', path, iface, method, args, None,
                       Gio.DBusCallFlags.NONE, 60000, None, lambda c, r: box.append(r))
        wait_until(lambda: box, f'the answer to {method}')
        try:
            return self.conn.call_finish(box[0]).unpack()
        except GLib.Error as e:
            return e

    def assert_dbus_error(self, result, name):
        self.assertIsInstance(result, GLib.Error, result)
        self.assertIn(name, result.message)

    def test_malformed_calls_are_refused_clearly(self):
        V = GLib.Variant
        for method, args, error in [
                ('StartSoterAuthentication', V('(s)', ('c',)), 'InvalidArgs'),
                ('StartSoterAuthentication', V('(sss)', ('c', 'fingerPrint', '')), 'InvalidArgs'),
                ('StartSoterAuthentication', V('(asass)', ([], [], '')), 'InvalidArgs'),
                ('GetAuthKey', V('(u)', (7,)), 'InvalidArgs'),
                ('GetAuthKey', V('(s)', ('../../etc/passwd',)), ''),
                ('GetAuthKey', V('(s)', ('x' * 100000,)), ''),
                ('Enroll', V('(s)', ('../../../tmp/x',)), 'InvalidArgs'),
                ('DeleteEnrolledFinger', V('(s)', ('../counter',)), ''),
                ('CancelPrompt', V('(s)', ('x' * 100000,)), 'AccessDenied'),
                ('RegisterAgentWithOptions', V('(oa{sv})', ('/a', {'fallback': V('u', 1)})),
                 'InvalidArgs'),
                ('NoSuchMethod', None, 'UnknownMethod')]:
            with self.subTest(method=method, args=args):
                r = self.raw_call(method, args)
                self.assertIsInstance(r, GLib.Error, f'{method} accepted {args}')
                self.assertIn(error, r.message)
        self.assert_dbus_error(self.raw_call('Get', V('(ss)', ('io.github.soterd.Soter1', 'Nope')),
                                             iface='org.freedesktop.DBus.Properties'),
                               'InvalidArgs')
        self.assert_dbus_error(self.raw_call('Set', V('(ssv)', ('io.github.soterd.Soter1',
                                                                'Version', V('s', 'evil'))),
                                             iface='org.freedesktop.DBus.Properties'),
                               'InvalidArgs')
        self.assert_dbus_error(self.raw_call('Ping', None, iface='io.github.soterd.Soter1.Nope'),
                               'No such interface')
        self.assert_dbus_error(self.raw_call('ListEnrolledFingers', None, path='/nope'),
                               'Object does not exist')
        self.assertEqual(self.get_property('Version'), self.get_property('Version'))
        self.assertNotEqual(self.get_property('Version'), 'evil')

    def test_huge_and_many_arguments_get_soter_codes(self):
        V = GLib.Variant
        for args, code in [
                (V('(sass)', ('x' * (4 << 20), ['fingerPrint'], '')), 90004),
                (V('(sass)', ('c', ['fingerPrint'], 'y' * (4 << 20))), 90005),
                (V('(sass)', ('c', [f'mode{i}' for i in range(10000)], '')), 90003),
                (V('(sass)', ('c', ['speech'] * 10000, '')), 90003),
                (V('(sass)', ('c', [], '')), 90003),
                (V('(sass)', ('c', ['x' * 65536], '')), 90003)]:
            with self.subTest(code=code):
                mode, result, sig, got, msg = self.raw_call('StartSoterAuthentication', args)
                self.assertEqual((got, result, sig), (code, '', ''), msg)
        self.assertEqual(self.agent.shown, [])

    def test_still_serving_after_the_abuse(self):
        self.test_malformed_calls_are_refused_clearly()
        self.test_huge_and_many_arguments_get_soter_codes()
        self.enroll()
        self.assertEqual(self.authenticate()[3], 0)
        self.assertIsNone(self.daemon.poll())


class TestFullDisk(SoterdTestCase):
    """The state directory on a tmpfs that then fills up."""

    def prepare_state(self):
        if not mountns.inside():
            self.skipTest(mountns.why_not())
        os.makedirs(self.state)
        subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', self.state],
                       check=True)
        self.addCleanup(subprocess.run, ['umount', '-l', self.state])

    def fill(self):
        """Fills the filesystem to the last byte; returns the filler's path."""
        filler = os.path.join(self.state, 'filler')
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for size in (65536, 4096, 1):
                try:
                    while True:
                        os.write(fd, b'\0' * size)
                except OSError:
                    pass
        finally:
            os.close(fd)
        return filler

    def test_full_disk_is_90007_and_nothing_stored_is_damaged(self):
        self.enroll()
        k = self.keys()
        _, result, _, code, _ = self.authenticate('before')
        self.assertEqual(code, 0)
        last = json.loads(result)['counter']
        stored = state_files(self.state)

        filler = self.fill()
        # Counter values are reserved in blocks: authentications go on until
        # the block is used up and a new reservation must be written. Those
        # signed meanwhile are as good as any; then the disk stops it.
        for i in range(200):
            call = self.start_auth(f'full-{i}')
            self.agent.wait_shown(2 + i)
            self.reader('SCAN finger-1')
            _, result, sig, code, msg = call.wait()
            if code != 0:
                break
            self.assertTrue(verifies(k['auth_pub'], result, sig))
            self.assertGreater(json.loads(result)['counter'], last)
            last = json.loads(result)['counter']
        self.assertEqual((code, result, sig), (90007, '', ''), msg)
        self.assertIn('No space left on device', msg)

        with self.assertRaisesRegex(GLib.Error, 'No space left on device'):
            self.call('GetAuthKey', GLib.Variant('(s)', ('new-scene',)), '(ss)')
        statuses = self.enroll(finger='left-thumb', print_id='finger-2')
        self.assertEqual(statuses[-1], ('enroll-failed', True))

        # Nothing stored changed, nothing half-written is left.
        now = state_files(self.state)
        del now['filler']
        self.assertEqual(now, stored)
        self.assertEqual(temporaries(self.state), [])

        # Room again: soterd carries on, from a higher counter.
        os.unlink(filler)
        _, result, sig, code, msg = self.authenticate('after')
        self.assertEqual(code, 0, msg)
        self.assertGreater(json.loads(result)['counter'], last)
        self.assertTrue(verifies(k['auth_pub'], result, sig))
        self.assertEqual(self.call('ListEnrolledFingers', reply_type='(as)'),
                         (['right-index-finger'],))


def main():
    mountns.reexec()
    taprunner.main(sys.modules[__name__])

if __name__ == '__main__':
    main()
