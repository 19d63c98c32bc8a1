#!/usr/bin/python3
"""soterctl verify as a server operator runs it: Tencent's real samples,
standard input, exit codes and one-line errors. No D-Bus, no daemon."""

import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import taprunner  # noqa: E402

SOTERCTL = os.environ.get('SOTERCTL', os.path.join(os.path.dirname(__file__), '..', 'build',
                                                   'tools', 'soterctl'))
# Runs soterctl under a tool, e.g. valgrind.
CLIENT_WRAPPER = os.environ.get('SOTER_CLIENT_WRAPPER', '').split()
S = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'tencent-soter-samples')


def sample(name):
    return os.path.join(S, name)


def soterctl(*args, stdin=None):
    return subprocess.run([*CLIENT_WRAPPER, SOTERCTL, 'verify', *args], input=stdin,
                          capture_output=True)


class TestSoterctlVerify(unittest.TestCase):
    def test_tencent_chain_from_the_app_key(self):
        r = soterctl('--app-key-pem', sample('ask.pem'),
                     '--auth-key', sample('auth_key_json.txt'), sample('auth_key_signature.bin'),
                     '--challenge', "I'm a demo challenge string",
                     sample('final_json.txt'), sample('final_signature.bin'))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), 'verified: cpu_id 0900000026030000241a1e8e9e44c3a8e05b9c0c, '
                                            'uid 10115, fid 2313170, counter 246\n')

    def test_huawei_salt_32_with_base64_signature_on_stdin(self):
        with open(sample('hw_final_signature.txt'), 'rb') as f:
            sig = f.read()
        r = soterctl('--auth-key-pem', sample('hw_auth_key.pem'),
                     '--challenge', 'cd99c126b2fa8cc2022b8fbaa288fd37735c824c1712735791',
                     sample('hw_final_json.txt'), '-', stdin=sig)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b'counter 59', r.stdout)

    def test_failures_name_what_failed_and_exit_1(self):
        with tempfile.TemporaryDirectory() as tmp:
            changed = os.path.join(tmp, 'final_json.txt')
            with open(sample('final_json.txt'), 'rb') as f:
                data = f.read()
            with open(changed, 'wb') as f:
                f.write(data.replace(b'246', b'247'))
            r = soterctl('--auth-key-pem', sample('auth_key.pem'), changed,
                         sample('final_signature.bin'))
            self.assertEqual(r.returncode, 1)
            self.assertEqual(r.stderr.count(b'\n'), 1)
            self.assertIn(b'resultJSON by auth key: the signature does not match', r.stderr)

            badsig = os.path.join(tmp, 'sig')
            with open(badsig, 'w') as f:
                f.write('not*base64')
            r = soterctl('--auth-key-pem', sample('auth_key.pem'), sample('final_json.txt'), badsig)
            self.assertEqual(r.returncode, 1)
            self.assertIn(b'not standard base64', r.stderr)

            r = soterctl('--app-key-pem', sample('ask.pem'),
                         '--auth-key', sample('auth_key_json.txt'), sample('final_signature.bin'),
                         sample('final_json.txt'), sample('final_signature.bin'))
            self.assertEqual(r.returncode, 1)
            self.assertIn(b'auth key by app secure key', r.stderr)

    def test_replay_is_refused_with_a_state_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            args = ('--auth-key-pem', sample('auth_key.pem'), '--state',
                    os.path.join(tmp, 'counters'), sample('final_json.txt'),
                    sample('final_signature.bin'))
            self.assertEqual(soterctl(*args).returncode, 0)
            r = soterctl(*args)
            self.assertEqual(r.returncode, 1)
            self.assertIn(b'replayed: counter 246 is not above 246', r.stderr)
            self.assertEqual(sorted(os.listdir(tmp)), ['counters', 'counters.lock'])

    def test_usage_errors_exit_2(self):
        for args in ([], ['--auth-key-pem', sample('auth_key.pem')],
                     ['--device-key', sample('ask.pem'), 'a', 'b'],
                     ['--bogus'], ['--auth-key-pem', sample('auth_key.pem'), '-', '-']):
            r = soterctl(*args, stdin=b'')
            self.assertEqual(r.returncode, 2, args)
        r = subprocess.run([*CLIENT_WRAPPER, SOTERCTL, 'verify', '--help'], capture_output=True)
        self.assertEqual(r.returncode, 0)
        self.assertIn(b'Usage: soterctl verify', r.stdout)


if __name__ == '__main__':
    taprunner.main(sys.modules[__name__])
