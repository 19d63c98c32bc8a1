#!/usr/bin/python3
"""soterd on a private system bus, with dbusmock's polkitd, libfprint's
virtual reader and a test prompt agent: what an app, an agent and a relying
party would each check."""

import hashlib
import json
import os
import subprocess
import sys

import dbus

from gi.repository import Gio, GLib

sys.path.insert(0, os.path.dirname(__file__))
import taprunner  # noqa: E402
from soterd_testlib import (CLIENT_WRAPPER, IFACE, PATH, SHORT_TIMEOUT, Agent, Call,  # noqa: E402
                            SoterdTestCase, wait_until)

SOTERCTL = os.environ.get('SOTERCTL', os.path.join(os.path.dirname(__file__), '..', 'build',
                                                   'tools', 'soterctl'))
SOTERCTL_CMD = [*CLIENT_WRAPPER, SOTERCTL]  # under valgrind in the 'sanitizers' suite

OK_MSG = 'startSoterAuthentication:ok'
FAIL = 'startSoterAuthentication:fail '


class TestAuthentication(SoterdTestCase):
    def test_enroll_then_authenticate_and_verify_the_key_chain(self):
        statuses = self.enroll()
        self.assertEqual(statuses[-1], ('enroll-completed', True))
        self.assertEqual([s for s, _ in statuses[:-1]], ['enroll-stage-passed'] * 5)

        keys = self.keys()
        mode, result, sig, code, msg = self.authenticate('order-4711',
                                                         content='Pay 12.00 EUR')
        self.assertEqual((code, msg, mode), (0, OK_MSG, 'fingerPrint'))

        # The whole chain, with the openssl command line.
        self.assertTrue(self.openssl_verify(keys['auth_pub'], result, sig),
                        'resultJSON does not verify against the auth key')
        self.assertTrue(self.openssl_verify(keys['ask_pub'], keys['auth_json'], keys['auth_sig']),
                        'the auth key does not verify against the app secure key')
        self.assertTrue(self.openssl_verify(keys['device'], keys['ask_json'], keys['ask_sig']),
                        'the app secure key does not verify against the device key')

        # One changed byte must break it.
        self.assertFalse(self.openssl_verify(keys['auth_pub'], result.replace('4711', '4712'), sig))

        # The prompt the agent saw.
        request_id, details = self.agent.shown[0]
        self.assertEqual(details['auth_content'], 'Pay 12.00 EUR')
        self.assertEqual(details['uid'], os.getuid())
        self.assertEqual(details['modes'], ['fingerPrint'])
        # A script is named by its interpreter and its path.
        self.assertEqual(details['app_id'], f'{os.path.realpath(sys.executable)} {sys.argv[0]}')
        self.assertEqual(self.agent.wait_closed(), (request_id, 0))

    def test_relying_parties_verify_soterd_output(self):
        """soterctl verify (the whole chain, with replay state) and
        python3-cryptography both accept what soterd signs."""
        self.enroll()
        k = self.keys()
        _, result, sig, code, _ = self.authenticate('server-chal-1')
        self.assertEqual(code, 0)
        f = {name: self.write(name, data) for name, data in [
            ('device.pem', k['device'] + '\n'), ('ask.json', k['ask_json']),
            ('ask.sig', k['ask_sig']), ('auth.json', k['auth_json']),
            ('auth.sig', k['auth_sig']), ('result.json', result), ('result.sig', sig)]}
        state = os.path.join(self.tmp, 'server-state')

        def soterctl(challenge):
            return subprocess.run([*SOTERCTL_CMD, 'verify', '--device-key', f['device.pem'],
                                   '--app-key', f['ask.json'], f['ask.sig'],
                                   '--auth-key', f['auth.json'], f['auth.sig'],
                                   '--challenge', challenge, '--state', state,
                                   f['result.json'], f['result.sig']],
                                  capture_output=True, text=True)

        r = soterctl('server-chal-1')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"cpu_id {k['cpu_id']}", r.stdout)
        r = soterctl('server-chal-1')
        self.assertEqual(r.returncode, 1)
        self.assertIn('replayed', r.stderr)
        r = soterctl('server-chal-2')
        self.assertEqual(r.returncode, 1)
        self.assertIn('challenge', r.stderr)

        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding
        import base64
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=20)
        for pem, data, signature in [(k['device'], k['ask_json'], k['ask_sig']),
                                     (k['ask_pub'], k['auth_json'], k['auth_sig']),
                                     (k['auth_pub'], result, sig)]:
            key = serialization.load_pem_public_key(pem.encode())
            key.verify(base64.b64decode(signature), data.encode(), pss, hashes.SHA256())

    def test_result_json_has_every_spec_key_with_the_right_type(self):
        self.enroll()
        keys = self.keys()
        _, result, _, code, _ = self.authenticate('abc')
        self.assertEqual(code, 0)
        # Parsed by Debian's python3 in a process of its own, as a server would.
        parsed = subprocess.run(['/usr/bin/python3', '-c',
                                 'import json,sys; print(json.dumps(json.loads(sys.stdin.read())))'],
                                input=result, capture_output=True, text=True, check=True)
        doc = json.loads(parsed.stdout)
        self.assertEqual(list(doc), ['raw', 'fid', 'counter', 'tee_n', 'tee_v', 'fp_n', 'fp_v',
                                     'cpu_id', 'uid'])
        for key in doc:
            self.assertIsInstance(doc[key], int if key == 'counter' else str, key)
        self.assertEqual(doc['raw'], 'abc')
        self.assertEqual(doc['fid'], '7')  # FP_FINGER_RIGHT_INDEX
        self.assertEqual(doc['uid'], str(os.getuid()))
        self.assertEqual(doc['tee_n'], 'soterd-software')
        self.assertEqual(doc['fp_n'], 'virtual_device')
        fp_v = subprocess.run(['pkg-config', '--modversion', 'libfprint-2'], capture_output=True,
                              text=True).stdout.strip()
        self.assertEqual(doc['fp_v'], fp_v)

        # cpu_id: SHA-256 of the device key's DER SubjectPublicKeyInfo.
        der = subprocess.run(['openssl', 'pkey', '-pubin', '-outform', 'DER'],
                             input=(keys['device'] + '\n').encode(), capture_output=True,
                             check=True).stdout
        self.assertEqual(doc['cpu_id'], hashlib.sha256(der).hexdigest())
        self.assertEqual(keys['cpu_id'], doc['cpu_id'])
        self.assertEqual((keys['tee_n'], keys['tee_v']), (doc['tee_n'], doc['tee_v']))

        # key_json in Tencent's shape, and counters in order of making.
        ask, auth = json.loads(keys['ask_json']), json.loads(keys['auth_json'])
        for k in (ask, auth):
            self.assertEqual(list(k), ['pub_key', 'cpu_id', 'counter', 'uid'])
            self.assertTrue(k['pub_key'].startswith('-----BEGIN PUBLIC KEY-----\n'))
            self.assertTrue(k['pub_key'].endswith('\n-----END PUBLIC KEY-----'))
            self.assertEqual((k['cpu_id'], k['uid']), (doc['cpu_id'], doc['uid']))
        self.assertLess(ask['counter'], auth['counter'])
        self.assertLess(auth['counter'], doc['counter'])

    def test_raw_round_trips_any_challenge(self):
        self.enroll()
        keys = self.keys()
        challenges = [
            'say "hello"', 'back\\slash \\" \\u0041', 'line\nbreak\r\n', 'tab\there',
            'ctl \x01\x07\x1b\x1f\x7f', 'emoji 🔐👍🏽', '中文挑战 日本語 한국어', '</script>&<',
            'a' * 512,
        ]
        for n, challenge in enumerate(challenges, 1):
            _, result, sig, code, msg = self.authenticate(challenge)
            self.assertEqual(code, 0, msg)
            self.assertEqual(json.loads(result)['raw'], challenge)
            self.assertTrue(self.openssl_verify(keys['auth_pub'], result, sig), repr(challenge))

    def test_counter_strictly_increases_across_restart(self):
        self.enroll()
        counters = []
        for _ in range(3):
            counters.append(json.loads(self.authenticate()[1])['counter'])
        self.restart_daemon()
        for _ in range(2):
            counters.append(json.loads(self.authenticate()[1])['counter'])
        self.assertEqual(counters, sorted(set(counters)))

    def test_retry_is_shown_to_the_agent_and_not_counted_as_a_miss(self):
        self.enroll()
        call = self.start_auth()
        self.agent.wait_shown()
        self.reader('RETRY 2')
        wait_until(lambda: self.agent.updates, 'UpdatePrompt')
        self.assertIn('Center your finger', self.agent.updates[0][1])
        self.reader('SCAN finger-1')
        self.assertEqual(call.wait()[3], 0)

    def test_properties_and_support(self):
        self.assertEqual(self.get_property('SupportedModes'), ['fingerPrint'])
        self.assertEqual(self.get_property('TeeName'), 'soterd-software')
        self.assertRegex(self.get_property('Version'), r'^\d+\.\d+\.\d+$')
        self.assertEqual(self.call('CheckIsSupportSoterAuthentication', reply_type='(as)'),
                         (['fingerPrint'],))

    def test_is_enrolled_list_and_delete(self):
        check = lambda mode: self.call('CheckIsSoterEnrolledInDevice',  # noqa: E731
                                       GLib.Variant('(s)', (mode,)), '(bus)')
        self.assertEqual(check('fingerPrint'), (False, 0, 'checkIsSoterEnrolledInDevice:ok'))
        self.enroll('left-thumb', 'thumb')
        self.enroll('', 'index')  # "" is right-index-finger
        self.assertEqual(check('fingerPrint'), (True, 0, 'checkIsSoterEnrolledInDevice:ok'))
        self.assertEqual(check('facial')[:2], (False, 90003))
        self.assertEqual(self.call('ListEnrolledFingers', reply_type='(as)'),
                         (['left-thumb', 'right-index-finger'],))
        self.call('DeleteEnrolledFinger', GLib.Variant('(s)', ('left-thumb',)))
        self.assertEqual(self.call('ListEnrolledFingers', reply_type='(as)'),
                         (['right-index-finger'],))
        with self.assertRaisesRegex(GLib.Error, 'NotEnrolled'):
            self.call('DeleteEnrolledFinger', GLib.Variant('(s)', ('left-thumb',)))
        with self.assertRaisesRegex(GLib.Error, 'InvalidArgs'):
            self.call('DeleteEnrolledFinger', GLib.Variant('(s)', ('left-toe',)))

    def test_auth_keys_per_scene(self):
        default = self.call('GetAuthKey', GLib.Variant('(s)', ('default',)), '(ss)')
        self.assertEqual(self.call('GetAuthKey', GLib.Variant('(s)', ('',)), '(ss)'), default)
        other = self.call('GetAuthKey', GLib.Variant('(s)', ('payments',)), '(ss)')
        self.assertNotEqual(json.loads(other[0])['pub_key'], json.loads(default[0])['pub_key'])
        with self.assertRaisesRegex(GLib.Error, 'InvalidArgs'):
            self.call('GetAuthKey', GLib.Variant('(s)', ('../../device',)), '(ss)')
        # Keys are stable: asking again gives the same key and signature.
        self.assertEqual(self.call('GetAuthKey', GLib.Variant('(s)', ('payments',)), '(ss)'), other)

    def test_state_files_are_private(self):
        self.enroll()
        self.keys()
        for root, dirs, files in os.walk(self.state):
            for name in files:
                mode = os.stat(os.path.join(root, name)).st_mode & 0o777
                self.assertEqual(mode, 0o600, os.path.join(root, name))
                self.assertFalse(name.startswith('.') or '~' in name, f'left-over {name}')
            for name in dirs:
                self.assertEqual(os.stat(os.path.join(root, name)).st_mode & 0o077, 0, name)

    def test_private_keys_never_reach_the_log(self):
        import base64
        import re
        from cryptography.hazmat.primitives.serialization import load_der_private_key

        self.enroll()
        self.keys()
        self.authenticate()
        log = self.daemon_log()
        self.assertNotIn('PRIVATE KEY', log)
        # Each private key as soterd holds it (device.pem, ask.key,
        # auth-default.key): no line of its PEM body, nor its DER or its
        # secret numbers in hex, in either case, may be in the log.
        keys = 0
        for root, _, names in os.walk(os.path.join(self.state, 'keys')):
            for name in names:
                with open(os.path.join(root, name)) as f:
                    text = f.read()
                m = re.search(r'-----BEGIN PRIVATE KEY-----\n(.*?)-----END PRIVATE KEY-----',
                              text, re.S)
                if m is None:
                    continue
                keys += 1
                lines = m.group(1).split()
                der = base64.b64decode(''.join(lines), validate=True)
                numbers = load_der_private_key(der, None).private_numbers()
                secrets = {f'{name}: PEM line {i + 1}': line
                           for i, line in enumerate(lines) if len(line) == 64}
                secrets[f'{name}: DER'] = der.hex()
                for what in ('d', 'p', 'q', 'dmp1', 'dmq1', 'iqmp'):
                    v = getattr(numbers, what)
                    secrets[f'{name}: {what}'] = v.to_bytes((v.bit_length() + 7) // 8, 'big').hex()
                for what, secret in secrets.items():
                    for form in {secret, secret.upper()}:
                        self.assertFalse(form in log, f'{what} is in soterd\'s log')
        self.assertEqual(keys, 3, 'device.pem, ask.key and auth-default.key')


class TestErrors(SoterdTestCase):
    # Short enough to wait for, long enough to outlast a restart: under
    # valgrind on a busy machine one took 11 s, and the lock-out had ended.
    config = {'LockoutAttempts': 5,
              'LockoutSeconds': 30 if os.environ.get('SOTERD_WRAPPER') else 2}

    def assert_fails(self, call, code, msg_part=''):
        mode, result, sig, err, msg = call.wait() if isinstance(call, Call) else call
        self.assertEqual(err, code, msg)
        self.assertTrue(msg.startswith(FAIL), msg)
        self.assertIn(msg_part, msg)
        self.assertEqual((result, sig), ('', ''))
        return msg

    def test_90002_polkit_denied_before_the_reader(self):
        self.enroll()
        self.polkitd_obj.SetAllowed(dbus.Array([], signature='s'))
        self.assert_fails(self.start_auth(), 90002, 'authorize')
        self.assertEqual(self.agent.shown, [])
        with self.assertRaisesRegex(GLib.Error, 'NotAuthorized'):
            self.call('GetAppSecureKey', reply_type='(ss)')
        with self.assertRaisesRegex(GLib.Error, 'NotAuthorized'):
            self.call('GetAuthKey', GLib.Variant('(s)', ('',)), '(ss)')
        with self.assertRaisesRegex(GLib.Error, 'NotAuthorized'):
            self.call('Enroll', GLib.Variant('(s)', ('',)))

    def test_90003_modes(self):
        for modes in ([], ['speech'], ['facial'], ['bogus'], ['FINGERPRINT']):
            self.assert_fails(self.start_auth(modes=modes), 90003, 'mode')
        self.assertEqual(self.agent.shown, [])

    def test_90004_challenge(self):
        self.assert_fails(self.start_auth(''), 90004, 'empty')
        self.assert_fails(self.start_auth('x' * 513), 90004, '512')
        self.assert_fails(self.start_auth('挑' * 513), 90004, '512')
        # Invalid UTF-8 cannot cross the bus at all: the bus daemon refuses
        # the message, so soterd never sees it (the unit tests cover the check).
        self.assertEqual(self.agent.shown, [])

    def test_90005_auth_content_counts_characters(self):
        self.enroll()
        self.assert_fails(self.start_auth(content='请' * 43), 90005, '42')
        self.assert_fails(self.start_auth(content='x' * 43), 90005, '42')
        _, _, _, code, _ = self.authenticate(content='请' * 42)
        self.assertEqual(code, 0)

    def test_90005_auth_content_that_hides_or_reorders_text(self):
        # What the agent shows must be what the app sent (SPEC §9): each
        # class is refused before anything is shown, though the caller has
        # a print and an agent.
        self.enroll()
        for content, message in (
                ('Pay 12.00\nEUR', 'a control character (U+000A)'),
                ('Pay \x9b2J', 'a control character (U+009B)'),
                ('Pay \u202e00.12 EUR', 'a bidirectional control character (U+202E)'),
                ('Pay \u2067x\u2069', 'a bidirectional control character (U+2067)'),
                ('Pay 1\u200b2 EUR', 'an invisible format character (U+200B)'),
                ('\ufeffPay', 'an invisible format character (U+FEFF)'),
                ('Pay\u00ad12', 'an invisible format character (U+00AD)')):
            call = self.start_auth(content=content)
            wait_until(lambda: call.done or self.agent.shown, 'the reply or a prompt')
            self.assertEqual(self.agent.shown, [], f'{content!r} was shown to the agent')
            msg = self.assert_fails(call, 90005)
            self.assertEqual(msg, f'{FAIL}authContent holds {message}')
        # The same text without them is fine.
        _, _, _, code, _ = self.authenticate(content='Pay 12.00 EUR')
        self.assertEqual(code, 0)

    def test_90007_no_agent_means_no_finger_read(self):
        self.enroll()
        self.call('UnregisterAgent', GLib.Variant('(o)', (self.agent.path,)),
                  conn=self.agent.conn)
        self.assert_fails(self.start_auth(), 90007,
                          'no prompt agent is registered for the session')
        self.assertEqual(self.agent.shown, [])

    def test_90007_request_timeout(self):
        self.enroll()
        self.restart_with_config(RequestTimeout=SHORT_TIMEOUT)
        call = self.start_auth()
        self.agent.wait_shown()
        self.assert_fails(call, 90007, 'timed out')
        self.assertEqual(self.agent.wait_closed()[1], 90007)

    def test_90007_one_pending_request_per_caller(self):
        self.enroll()
        first = self.start_auth()
        self.agent.wait_shown()
        self.assert_fails(self.start_auth(), 90007, 'already in progress')
        self.reader('SCAN finger-1')
        self.assertEqual(first.wait()[3], 0)

    def test_90008_cancel_from_the_app(self):
        self.enroll()
        call = self.start_auth()
        self.agent.wait_shown()
        self.call('CancelSoterAuthentication')
        self.assert_fails(call, 90008, 'app cancelled')
        self.assertEqual(self.agent.wait_closed()[1], 90008)

    def test_90008_cancel_from_the_agent(self):
        self.enroll()
        call = self.start_auth()
        request_id = self.agent.wait_shown()
        self.agent.cancel(request_id)
        self.assert_fails(call, 90008, 'user cancelled')

    def test_cancel_prompt_only_by_the_agent_that_shows_it(self):
        self.enroll()
        call = self.start_auth()
        request_id = self.agent.wait_shown()
        with self.assertRaisesRegex(GLib.Error, 'AccessDenied'):
            self.call('CancelPrompt', GLib.Variant('(s)', (request_id,)))
        self.reader('SCAN finger-1')
        self.assertEqual(call.wait()[3], 0)

    def test_90008_agent_leaving_the_bus_cancels(self):
        self.enroll()
        call = self.start_auth()
        self.agent.wait_shown()
        self.agent.conn.close_sync(None)
        self.assert_fails(call, 90008, 'prompt agent left')

    def test_90009_three_misses_each_shown_to_the_agent(self):
        self.enroll()
        call = self.start_auth()
        self.agent.wait_shown()
        self.miss()
        self.miss()
        self.reader('SCAN someone-else')
        self.assert_fails(call, 90009, 'not recognized')
        self.assertEqual(len(self.agent.updates), 2)
        self.assertIn('Not recognized', self.agent.updates[0][1])
        self.assertEqual(self.agent.wait_closed()[1], 90009)

    def test_90010_lockout_survives_restart_and_expires(self):
        self.enroll()
        # Keys first: a restart waits for keys being made, and the lock-out
        # must still stand when soterd is back.
        self.keys()
        call = self.start_auth()
        self.agent.wait_shown()
        self.miss()
        self.miss()
        self.reader('SCAN wrong')
        self.assert_fails(call, 90009)
        call = self.start_auth()
        self.agent.wait_shown(2)
        self.miss()
        self.reader('SCAN wrong')
        self.assert_fails(call, 90010, 'too many failed attempts')

        self.restart_daemon()
        msg = self.assert_fails(self.start_auth(), 90010, 'locked until')
        self.assertEqual(len(self.agent.shown), 2, 'a locked request must not prompt')

        # Wait for the moment the daemon named, then the uid may try again.
        until = GLib.DateTime.new_from_iso8601(msg.rsplit(' ', 1)[1], None).to_unix()
        # Nothing else happens meanwhile: a timer wakes the loop to look at
        # the clock. (One timer set for that moment was not enough: GLib
        # rounds a seconds timer, which then woke the loop just before it,
        # and the test waited for its deadline.)
        tick = GLib.timeout_add(100, lambda: True)
        try:
            wait_until(lambda: GLib.DateTime.new_now_utc().to_unix() > until, 'the lock-out to end')
        finally:
            GLib.source_remove(tick)
        _, _, _, code, _ = self.authenticate()
        self.assertEqual(code, 0)

    def test_90010_a_match_resets_the_misses(self):
        self.enroll()
        for _ in range(3):
            call = self.start_auth()
            self.agent.wait_shown(len(self.agent.shown) + 1)
            self.miss()
            self.miss()
            self.reader('SCAN finger-1')
            self.assertEqual(call.wait()[3], 0)

    def test_90011_nothing_enrolled(self):
        self.assert_fails(self.start_auth(), 90011, 'enrolled')
        self.assertEqual(self.agent.shown, [])


class TestState(SoterdTestCase):
    def test_keys_and_device_id_survive_restart(self):
        before = self.keys()
        self.restart_daemon()
        self.assertEqual(self.keys(), before)

    def test_unusable_key_store_is_90001_and_nothing_is_overwritten(self):
        self.enroll()
        self.keys()
        counter = os.path.join(self.state, 'keys', 'counter')
        self.stop_daemon()
        with open(counter, 'w') as f:
            f.write('not a number\n')
        self.start_daemon()
        self.agent.register()
        _, _, _, code, msg = self.start_auth().wait()
        self.assertEqual(code, 90001)
        self.assertIn('key store', msg)
        self.assertEqual(self.agent.shown, [], 'the reader was used without a key store')
        with self.assertRaisesRegex(GLib.Error, 'NotSupported'):
            self.call('GetDeviceKey', reply_type='(ssss)')
        self.assertEqual(self.call('CheckIsSupportSoterAuthentication', reply_type='(as)'), ([],))
        # soterd refused to start the counter again: the file is as it was.
        with open(counter) as f:
            self.assertEqual(f.read(), 'not a number\n')
        self.assertIn('refusing to reuse counter values', self.daemon_log())

    def test_missing_counter_beside_the_device_key_is_90001(self):
        # Started again from 1, the counter would sign values a relying
        # party has seen: the store is refused, as a corrupt counter is.
        self.enroll()
        self.keys()
        _, result, _, code, _ = self.authenticate()
        self.assertEqual(code, 0)
        self.stop_daemon()
        os.unlink(os.path.join(self.state, 'keys', 'counter'))
        self.assert_store_refused('counter is missing beside the device key',
                                  json.loads(result)['counter'])

    def test_missing_device_key_beside_used_keys_is_90001(self):
        # A new device key would be a second identity beside the app keys
        # the old one signed (and the relying parties pinned).
        self.keys()
        self.stop_daemon()
        os.unlink(os.path.join(self.state, 'keys', 'device.pem'))
        self.assert_store_refused('refusing to make a new device key')

    def test_new_store_started_twice_before_any_key(self):
        # A first start makes the counter file with the device key, so a
        # store that never made a key is still whole the second time. (Under
        # valgrind the state starts from made keys: a weaker check there.)
        device = self.call('GetDeviceKey', reply_type='(ssss)')
        self.restart_daemon()
        self.assertEqual(self.call('GetDeviceKey', reply_type='(ssss)'), device)
        self.assertEqual(json.loads(self.keys()['ask_json'])['counter'], 1)

    def test_enroll_rejects_unknown_fingers(self):
        with self.assertRaisesRegex(GLib.Error, 'InvalidArgs'):
            self.call('Enroll', GLib.Variant('(s)', ('left-toe',)))
        self.assertEqual(self.call('ListEnrolledFingers', reply_type='(as)'), ([],))


class TestNoReader(SoterdTestCase):
    with_reader = False

    def test_90001_without_a_reader(self):
        self.assertEqual(self.call('CheckIsSupportSoterAuthentication', reply_type='(as)'), ([],))
        self.assertEqual(self.get_property('SupportedModes'), [])
        _, _, _, code, msg = self.start_auth().wait()
        self.assertEqual(code, 90001)
        self.assertIn('no fingerprint reader', msg)


class TestCallers(SoterdTestCase):
    def test_caller_leaving_frees_the_reader_for_the_next(self):
        self.enroll()
        leaving = self.connect()
        self.start_auth(conn=leaving)
        first_id = self.agent.wait_shown()
        leaving.close_sync(None)
        self.assertEqual(self.agent.wait_closed(), (first_id, 90008))

        _, _, _, code, _ = self.authenticate()
        self.assertEqual(code, 0)

    def test_one_pending_authentication_per_uid(self):
        """A user's many connections do not fill the reader's line: the
        second authentication of a uid is refused at once (callers of
        different uids queue in order: test_identity.py)."""
        self.enroll()
        self.keys()
        conns = [self.connect() for _ in range(3)]
        first = self.start_auth('caller-0', conn=conns[0])
        self.agent.wait_shown()
        for i, conn in enumerate(conns[1:], 1):
            _, _, _, code, msg = self.start_auth(f'caller-{i}', conn=conn).wait()
            self.assertEqual((code, msg), (90007, FAIL + 'an authentication for this user is '
                                                   'already in progress'))
        self.assertEqual(len(self.agent.shown), 1)
        self.reader('SCAN finger-1')
        self.assertEqual(json.loads(first.wait()[1])['raw'], 'caller-0')
        # Its turn ended with it.
        self.assertEqual(self.authenticate('caller-3', conn=conns[1])[3], 0)

    def test_cancel_while_waiting_for_the_reader(self):
        self.enroll()
        other = self.connect()
        first = self.start_auth()
        self.agent.wait_shown()
        second = self.start_auth(conn=other)
        self.call('CancelSoterAuthentication', conn=other)
        self.assertEqual(second.wait()[3], 90008)
        self.reader('SCAN finger-1')
        self.assertEqual(first.wait()[3], 0)
        self.assertEqual(len(self.agent.shown), 1)

    def test_enroll_caller_leaving_frees_the_reader(self):
        leaving = self.connect()
        Call(leaving, 'Enroll', GLib.Variant('(s)', ('',)), None).wait()
        leaving.close_sync(None)
        # The uid's one enrollment ends once soterd has seen the caller go
        # (under valgrind that takes a moment): until then a new one is
        # refused at once, as a user who restarts the app at once would see.
        tick = GLib.timeout_add(50, lambda: True)
        try:
            def enrollment_taken():
                try:
                    self.call('Enroll', GLib.Variant('(s)', ('',)))
                    return True
                except GLib.Error as e:
                    self.assertIn('An enrollment for this user is already in progress', e.message)
                    return False
            wait_until(enrollment_taken, 'the first enrollment to end')
        finally:
            GLib.source_remove(tick)
        # The reader is free again: the new enrollment gets it and completes.
        statuses = []
        sub = self.conn.signal_subscribe(None, IFACE, 'EnrollStatus', PATH, None,
                                         Gio.DBusSignalFlags.NONE,
                                         lambda *a: statuses.append(a[5].unpack()))
        try:
            for _ in range(5):
                self.reader('SCAN finger-1')
            wait_until(lambda: statuses and statuses[-1][1], 'the end of enrollment')
        finally:
            self.conn.signal_unsubscribe(sub)
        self.assertEqual(statuses[-1], ('enroll-completed', True))
        self.assertEqual(self.call('ListEnrolledFingers', reply_type='(as)'),
                         (['right-index-finger'],))

    def test_agent_registrations_per_connection_are_bounded(self):
        conn = self.connect()
        fallback = {'fallback': GLib.Variant('b', True)}
        for n in range(8):
            a = Agent(conn, f'/test/many/{n}')
            Call(conn, 'RegisterAgentWithOptions', GLib.Variant('(oa{sv})', (a.path, fallback)),
                 None).wait()
        with self.assertRaisesRegex(GLib.Error, 'LimitsExceeded'):
            a = Agent(conn, '/test/many/8')
            Call(conn, 'RegisterAgentWithOptions', GLib.Variant('(oa{sv})', (a.path, fallback)),
                 None).wait()
        # Registering the same path again is not a new registration.
        self.agent.register()

    def test_agent_unregister_and_foreign_unregister(self):
        with self.assertRaisesRegex(GLib.Error, 'InvalidArgs'):
            self.call('UnregisterAgent', GLib.Variant('(o)', (self.agent.path,)))
        self.call('UnregisterAgent', GLib.Variant('(o)', (self.agent.path,)), conn=self.agent.conn)


    def test_fallback_agent_serves_only_when_no_other_does(self):
        self.enroll()
        fallback = Agent(self.connect(), '/test/fallback')
        Call(fallback.conn, 'RegisterAgentWithOptions',
             GLib.Variant('(oa{sv})', (fallback.path, {'fallback': GLib.Variant('b', True)})),
             None).wait()
        # Registered after the regular agent, and still not chosen.
        self.assertEqual(self.authenticate()[3], 0)
        self.assertEqual((len(self.agent.shown), len(fallback.shown)), (1, 0))

        # With the regular agent gone, the fallback one serves.
        self.call('UnregisterAgent', GLib.Variant('(o)', (self.agent.path,)), conn=self.agent.conn)
        call = self.start_auth()
        fallback.wait_shown()
        self.reader('SCAN finger-1')
        self.assertEqual(call.wait()[3], 0)
        self.assertEqual(len(self.agent.shown), 1)

    def test_register_agent_refuses_unknown_options(self):
        for options in ({'fallback': GLib.Variant('s', 'yes')}, {'modal': GLib.Variant('b', True)}):
            with self.assertRaisesRegex(GLib.Error, 'InvalidArgs.*Unknown agent option'):
                self.call('RegisterAgentWithOptions',
                          GLib.Variant('(oa{sv})', ('/test/odd', options)))

    def test_app_cancel_ends_its_enrollment_and_stores_nothing(self):
        statuses = []
        sub = self.conn.signal_subscribe(None, 'io.github.soterd.Soter1', 'EnrollStatus', None,
                                         None, Gio.DBusSignalFlags.NONE,
                                         lambda *a: statuses.append(a[5].unpack()))
        try:
            self.call('Enroll', GLib.Variant('(s)', ('left-thumb',)))
            self.reader('SCAN finger-1')
            wait_until(lambda: statuses, 'the first enrollment stage')
            self.call('CancelSoterAuthentication')
            wait_until(lambda: statuses[-1][1], 'the end of the enrollment')
        finally:
            self.conn.signal_unsubscribe(sub)
        self.assertEqual(statuses[-1], ('enroll-failed', True))
        self.assertEqual(self.call('ListEnrolledFingers', reply_type='(as)'), ([],))
        # The reader is free: the next enrollment completes.
        self.assertEqual(self.enroll()[-1], ('enroll-completed', True))


class TestLifecycle(SoterdTestCase):
    config = {'IdleTimeout': 1}

    def test_sigterm_answers_pending_requests_and_exits_cleanly(self):
        self.enroll()
        call = self.start_auth()
        self.agent.wait_shown()
        self.assertEqual(self.stop_daemon(), 0)
        _, _, _, code, msg = call.wait()
        self.assertEqual((code, msg), (90007, FAIL + 'soterd is shutting down'))

    def test_sigterm_while_keys_are_made_for_an_ended_request(self):
        # An app's first authentication makes its keys in a worker thread
        # while the prompt is up; the request can end first (cancelled here).
        # soterd must let that work finish before it exits (OpenSSL is torn
        # down at exit), and what it made must be whole. (Under valgrind the
        # state starts with the keys made: then only the clean exit is checked.)
        self.enroll()
        call = self.start_auth()
        self.agent.wait_shown()
        self.call('CancelSoterAuthentication')
        self.assertEqual(call.wait()[3], 90008)
        self.assertEqual(self.stop_daemon(), 0)
        self.start_daemon()
        self.agent.register()
        keys = self.keys()
        _, result, sig, code, msg = self.authenticate()
        self.assertEqual(code, 0, msg)
        self.assertTrue(self.openssl_verify(keys['auth_pub'], result, sig))
        self.assertTrue(self.openssl_verify(keys['ask_pub'], keys['auth_json'], keys['auth_sig']))

    def test_idle_exit_and_agents_keep_it_alive(self):
        self.stop_daemon()
        self.start_daemon(args=())
        self.agent.register()
        self.call('UnregisterAgent', GLib.Variant('(o)', (self.agent.path,)), conn=self.agent.conn)
        # With nothing registered and nothing pending it exits on its own.
        self.assertEqual(self.daemon.wait(timeout=30), 0)
        self.assertIn('Idle for 1 s, exiting', self.daemon_log())
        self.daemon = None

    def test_configuration_directory_from_systemd(self):
        # ConfigurationDirectory= sets CONFIGURATION_DIRECTORY: soterd reads
        # soterd.conf there when no --config is given.
        from soterd_testlib import SOTERD
        confdir = os.path.join(self.tmp, 'etc')
        os.mkdir(confdir)
        with open(os.path.join(confdir, 'soterd.conf'), 'w') as f:
            f.write('[soterd]\nKeyStore=tape\n')
        r = subprocess.run([SOTERD], capture_output=True, text=True,
                           env=dict(os.environ, CONFIGURATION_DIRECTORY=confdir,
                                    STATE_DIRECTORY=self.state))
        self.assertEqual(r.returncode, 1)
        self.assertIn(os.path.join(confdir, 'soterd.conf') + ': KeyStore must be auto, file or tpm',
                      r.stderr)

    def test_version(self):
        from soterd_testlib import SOTERD
        out = subprocess.run([SOTERD, '--version'], capture_output=True, text=True, check=True)
        self.assertRegex(out.stdout, r'^soterd \d+\.\d+\.\d+\n$')


if __name__ == '__main__':
    taprunner.main(sys.modules[__name__])
