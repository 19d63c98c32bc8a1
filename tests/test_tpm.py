#!/usr/bin/python3
"""soterd's TPM key store against swtpm (a software TPM 2.0), one fresh TPM
per test: what a relying party, an administrator and an attacker holding the
state directory would each check."""

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from gi.repository import GLib

sys.path.insert(0, os.path.dirname(__file__))
import swtpm  # noqa: E402
import taprunner  # noqa: E402
import test_reliability  # noqa: E402
from soterd_testlib import SoterdTestCase, state_files  # noqa: E402

TPM2_NVREAD = shutil.which('tpm2_nvread')
NV_INDEX = '0x01534f54'  # soterd's default TpmCounterIndex
OK_MSG = 'startSoterAuthentication:ok'


class TpmTestCase(SoterdTestCase):
    key_store = 'tpm'

    @classmethod
    def setUpClass(cls):
        if swtpm.SWTPM is None or TPM2_NVREAD is None:
            raise unittest.SkipTest('swtpm or tpm2-tools is not installed (Debian packages '
                                    'swtpm, swtpm-tools, tpm2-tools: scripts/install-deps.sh '
                                    'installs them)')
        super().setUpClass()

    def setUp(self):
        self.tpm_state = tempfile.mkdtemp(prefix='soterd-swtpm-')
        self.swtpm_pid, self.tcti = swtpm.start(self.tpm_state)
        self.config = dict(SoterdTestCase.config, KeyStore=self.key_store, TpmTcti=self.tcti)
        super().setUp()

    def tearDown(self):
        try:
            super().tearDown()
        finally:
            try:
                os.kill(self.swtpm_pid, 15)
            except ProcessLookupError:
                pass  # the test stopped it
            shutil.rmtree(self.tpm_state, ignore_errors=True)

    def prepare_state(self):
        pass  # no key template: TPM keys are made in the TPM, quickly

    def tpm2(self, *args):
        """tpm2-tools on the same TPM; only while soterd is stopped (swtpm
        serves one connection at a time)."""
        return subprocess.run(list(args), env=dict(os.environ, TPM2TOOLS_TCTI=self.tcti),
                              capture_output=True, check=True).stdout

    def auth_value(self):
        with open(os.path.join(self.state, 'tpm', 'auth'), 'rb') as f:
            return f.read()

    def nv_counter(self):
        out = self.tpm2('tpm2_nvread', '-C', NV_INDEX, '-P', 'hex:' + self.auth_value().hex(),
                        NV_INDEX)
        return int.from_bytes(out, 'big')

    def authenticate_ok(self, challenge='challenge'):
        mode, result, sig, code, msg = self.authenticate(challenge)
        self.assertEqual((code, msg), (0, OK_MSG))
        return result, sig


class TestTpmKeyStore(TpmTestCase):
    def test_chain_verifies_with_openssl_and_tee_names_the_tpm(self):
        self.enroll()
        keys = self.keys()
        result, sig = self.authenticate_ok('order-4711')

        self.assertTrue(self.openssl_verify(keys['auth_pub'], result, sig))
        self.assertTrue(self.openssl_verify(keys['ask_pub'], keys['auth_json'], keys['auth_sig']))
        self.assertTrue(self.openssl_verify(keys['device'], keys['ask_json'], keys['ask_sig']))
        self.assertFalse(self.openssl_verify(keys['auth_pub'], result.replace('4711', '4712'),
                                             sig))
        # Many signatures: PSS salt 20 made on the host, the RSA step in the TPM.
        for i in range(20):
            result, sig = self.authenticate_ok(f'c{i}')
            self.assertTrue(self.openssl_verify(keys['auth_pub'], result, sig), result)

        fields = json.loads(result)
        # swtpm is IBM's reference TPM: manufacturer "IBM", firmware a.b.c.d.
        self.assertEqual((keys['tee_n'], fields['tee_n']), ('TPM2 IBM', 'TPM2 IBM'))
        self.assertRegex(keys['tee_v'], r'^\d+\.\d+\.\d+\.\d+$')
        self.assertEqual(fields['tee_v'], keys['tee_v'])
        # cpu_id is still SPEC §5's: the device key's SPKI, hashed.
        der = subprocess.run(['openssl', 'pkey', '-pubin', '-outform', 'DER'],
                             input=keys['device'].encode() + b'\n', capture_output=True,
                             check=True).stdout
        self.assertEqual(keys['cpu_id'], hashlib.sha256(der).hexdigest())
        self.assertEqual(fields['cpu_id'], keys['cpu_id'])

    def test_no_private_key_material_in_the_state_directory(self):
        self.enroll()
        keys = self.keys()
        self.authenticate_ok()
        self.stop_daemon()

        self.assertFalse(os.path.exists(os.path.join(self.state, 'keys')),
                         'the file store was used')
        files = state_files(self.state)
        self.assertIn(os.path.join('tpm', 'apps', str(os.getuid()), 'ask.key'), files)
        for name, data in files.items():
            path = os.path.join(self.state, name)
            self.assertNotIn(b'PRIVATE KEY', data, path)
            # Nothing OpenSSL can read as a private key, PEM or DER.
            for form in ('PEM', 'DER'):
                r = subprocess.run(['openssl', 'pkey', '-inform', form, '-in', path, '-noout'],
                                   capture_output=True)
                self.assertNotEqual(r.returncode, 0, f'{path} holds a private key ({form})')
        # The key files hold TPM-wrapped blobs: the public part is the key the
        # relying party got, the private part is encrypted by the TPM.
        ask = os.path.join(self.state, 'tpm', 'apps', str(os.getuid()), 'ask.key')
        with open(ask) as f:
            lines = dict(line.split(': ', 1) for line in f.read().splitlines())
        self.assertEqual(set(lines), {'tpm2-public', 'tpm2-private', 'key_json', 'signature'})
        self.assertEqual(json.loads(lines['key_json'])['pub_key'], keys['ask_pub'])
        modulus = subprocess.run(['openssl', 'rsa', '-pubin', '-noout', '-modulus'],
                                 input=keys['ask_pub'] + '\n', capture_output=True, text=True,
                                 check=True).stdout.strip().split('=')[1]
        self.assertIn(bytes.fromhex(modulus), base64.b64decode(lines['tpm2-public']))
        self.assertNotIn(bytes.fromhex(modulus), base64.b64decode(lines['tpm2-private']))
        self.start_daemon()

    def test_counter_is_the_tpm_nv_counter_and_a_file_rollback_cannot_replay_it(self):
        self.enroll()
        first = json.loads(self.authenticate_ok()[0])['counter']
        self.stop_daemon()
        self.assertEqual(self.nv_counter(), first)
        # An attacker (or a backup) puts the state directory back as it was.
        snapshot = os.path.join(self.tmp, 'snapshot')
        shutil.copytree(self.state, snapshot)
        self.start_daemon()
        self.agent.register()
        second = json.loads(self.authenticate_ok()[0])['counter']
        self.assertGreater(second, first)
        self.stop_daemon()
        shutil.rmtree(self.state)
        shutil.copytree(snapshot, self.state)
        self.start_daemon()
        self.agent.register()
        third = json.loads(self.authenticate_ok()[0])['counter']
        self.assertGreater(third, second, 'a counter value came back after a rollback')
        self.stop_daemon()
        self.assertEqual(self.nv_counter(), third)
        self.start_daemon()

    def test_keys_and_counter_survive_restart(self):
        self.enroll()
        before = self.keys()
        first = json.loads(self.authenticate_ok()[0])['counter']
        self.restart_daemon()
        self.assertEqual(self.keys(), before)
        self.assertGreater(json.loads(self.authenticate_ok()[0])['counter'], first)

    def test_wrong_auth_value_fails_cleanly_and_changes_nothing(self):
        self.enroll()
        before = self.keys()
        self.stop_daemon()
        auth = os.path.join(self.state, 'tpm', 'auth')
        good = self.auth_value()
        with open(auth, 'wb') as f:
            f.write(bytes(b ^ 0xff for b in good))
        contents = state_files(self.state)

        self.start_daemon()
        self.agent.register()
        _, _, _, code, msg = self.start_auth().wait()
        self.assertEqual(code, 90001)
        self.assertEqual(self.agent.shown, [], 'the reader was used without a key store')
        with self.assertRaisesRegex(GLib.Error, 'NotSupported'):
            self.call('GetAuthKey', GLib.Variant('(s)', ('',)), '(ss)')
        self.assertIn("the TPM refused soterd's auth value", self.daemon_log())
        self.stop_daemon()
        self.assertEqual(state_files(self.state), contents)

        with open(auth, 'wb') as f:
            f.write(good)
        self.start_daemon()
        self.agent.register()
        self.assertEqual(self.keys(), before)
        self.authenticate_ok()

    def test_device_key_and_cpu_id_survive_a_reinstall(self):
        self.enroll()
        before = self.keys()
        last = json.loads(self.authenticate_ok()[0])['counter']
        self.stop_daemon()
        # A reinstall: the state directory is gone. The old counter index
        # refuses the new auth value, and soterd's log says what to do.
        shutil.rmtree(self.state)
        self.start_daemon()
        with self.assertRaisesRegex(GLib.Error, 'NotSupported'):
            self.call('GetDeviceKey', reply_type='(ssss)')
        self.assertIn(f"free the old index with 'tpm2_nvundefine {NV_INDEX}'", self.daemon_log())
        self.stop_daemon()
        self.tpm2('tpm2_nvundefine', NV_INDEX)
        self.start_daemon()
        self.agent.register()
        self.enroll()
        after = self.keys()
        self.assertEqual((after['device'], after['cpu_id']), (before['device'], before['cpu_id']))
        self.assertNotEqual(after['ask_pub'], before['ask_pub'])
        self.assertTrue(self.openssl_verify(after['device'], after['ask_json'], after['ask_sig']))
        # A new index starts above every counter this TPM has had.
        self.assertGreater(json.loads(self.authenticate_ok()[0])['counter'], last)

    def nv_defined(self):
        return int(NV_INDEX, 16) in [int(h.strip().lstrip('- '), 16) for h in
                                     self.tpm2('tpm2_getcap', 'handles-nv-index')
                                     .decode().split('\n') if h.strip()]

    def test_lost_auth_value_beside_keys_is_90001_and_no_new_one_is_made(self):
        # Every key and the index were made with it: a new value opens
        # none of them (and, the index gone too, would count anew).
        self.enroll()
        before = self.keys()
        self.authenticate_ok()
        self.stop_daemon()
        auth = os.path.join(self.state, 'tpm', 'auth')
        good = self.auth_value()
        os.unlink(auth)
        self.assert_store_refused('auth is missing, but')
        self.assertFalse(os.path.exists(auth))

        with open(auth, 'wb') as f:
            f.write(good)
        os.chmod(auth, 0o600)
        self.start_daemon()
        self.agent.register()
        self.assertEqual(self.keys(), before)
        self.authenticate_ok()

    def test_lost_counter_index_beside_keys_is_90001_and_not_defined_again(self):
        # The file store's counter file missing beside its device key: the
        # index was undefined, or the TPM cleared (its keys gone with it).
        # soterd does not carry on under keys that may not be this TPM's.
        self.enroll()
        self.keys()
        self.authenticate_ok()
        self.stop_daemon()
        self.tpm2('tpm2_nvundefine', NV_INDEX)
        self.assert_store_refused(f'The TPM has no NV index {NV_INDEX}, but')
        self.assertFalse(self.nv_defined(), 'soterd defined its counter index again')

    def test_lost_device_pub_is_made_again_with_the_same_device_key(self):
        # device.pub is a cache: the index opened with soterd's auth value,
        # so the TPM was not cleared, and the owner seed gives the same key.
        self.enroll()
        before = self.keys()
        self.stop_daemon()
        os.unlink(os.path.join(self.state, 'tpm', 'device.pub'))
        self.start_daemon()
        self.agent.register()
        self.assertEqual(self.keys(), before)
        self.assertTrue(os.path.exists(os.path.join(self.state, 'tpm', 'device.pub')))
        result, sig = self.authenticate_ok()
        self.assertTrue(self.openssl_verify(before['auth_pub'], result, sig))

    def test_unreachable_tpm_is_90001_not_a_silent_file_store(self):
        self.stop_daemon()
        os.kill(self.swtpm_pid, 15)
        self.start_daemon()
        self.agent.register()
        _, _, _, code, _ = self.start_auth().wait()
        self.assertEqual(code, 90001)
        self.assertIn('Cannot reach the TPM at ' + self.tcti, self.daemon_log())
        self.assertFalse(os.path.exists(os.path.join(self.state, 'keys')))

    def test_bad_key_store_settings_are_refused(self):
        from soterd_testlib import SOTERD
        for line, message in (('KeyStore=tape', 'KeyStore must be auto, file or tpm'),
                              ('TpmCounterIndex=0x81000000', 'TpmCounterIndex must be'),
                              ('TpmCounterIndex=1534f54', 'TpmCounterIndex must be')):
            conf = self.write('bad.conf', f'[soterd]\n{line}\n')
            r = subprocess.run([SOTERD, '--config', conf], capture_output=True, text=True,
                               env=dict(os.environ, STATE_DIRECTORY=self.state))
            self.assertNotEqual(r.returncode, 0, line)
            self.assertIn(message, r.stderr)


class TestTpmCrashSafety(TpmTestCase, test_reliability.TestCrashSafety):
    """The reliability suite's SIGKILL test on the TPM store: soterd killed
    while it talks to the TPM (a signature or a counter step takes ~10 ms
    there) leaves nothing that stops the next one."""
    kills = int(os.environ.get('SOTER_TPM_CRASH_KILLS', '60'))
    max_delay_ms = 60   # a TPM signature with its counter step takes ~25 ms


class TestAutoKeyStore(TpmTestCase):
    key_store = 'auto'

    def test_auto_takes_the_tpm_but_keeps_an_existing_file_store(self):
        self.assertEqual(self.keys()['tee_n'], 'TPM2 IBM')
        self.stop_daemon()
        shutil.rmtree(self.state)
        with open(self.conf, 'a') as f:
            f.write('KeyStore=file\n')
        self.start_daemon()
        file_keys = self.keys()
        self.assertEqual(file_keys['tee_n'], 'soterd-software')
        # auto again: the keys apps registered stay where they are.
        self.restart_with_config(KeyStore='auto')
        self.assertEqual(self.keys(), file_keys)

    def test_auto_falls_back_to_files_only_where_there_is_no_store_yet(self):
        self.assertEqual(self.keys()['tee_n'], 'TPM2 IBM')
        # A new state directory beside the old installation's counter index:
        # no store yet, so auto takes files, and leaves nothing of the attempt.
        self.stop_daemon()
        shutil.rmtree(self.state)
        self.start_daemon()
        self.assertEqual(self.keys()['tee_n'], 'soterd-software')
        self.assertFalse(os.path.exists(os.path.join(self.state, 'tpm')))
        self.assertIn('Not using the TPM', self.daemon_log())
        # A TPM store exists: a TPM that stops answering leaves the key store
        # unusable, never a new file store with other keys.
        self.stop_daemon()
        shutil.rmtree(self.state)
        self.tpm2('tpm2_nvundefine', NV_INDEX)
        self.start_daemon()
        self.assertEqual(self.keys()['tee_n'], 'TPM2 IBM')
        self.stop_daemon()
        os.kill(self.swtpm_pid, 15)
        self.start_daemon()
        with self.assertRaisesRegex(GLib.Error, 'NotSupported'):
            self.call('GetDeviceKey', reply_type='(ssss)')
        self.assertFalse(os.path.exists(os.path.join(self.state, 'keys')))

if __name__ == '__main__':
    taprunner.main(sys.modules[__name__])
