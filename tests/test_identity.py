#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Who calls soterd (issue 15): several uids, logind sessions and sandboxed
callers, each a bus_peer.py driven from here. As root, in cgroup and mount
namespaces of the file's own (multiuser_testlib.reexec()); otherwise every
case skips and says why.

So far: smoke tests of the infrastructure itself."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import multiuser_testlib  # noqa: E402

if __name__ == '__main__':
    multiuser_testlib.reexec()

import taprunner  # noqa: E402
from multiuser_testlib import (ALICE, BOB, MultiUserTestCase, PeerError,  # noqa: E402
                               cgroup_of, sd_login, session_cgroup, set_display,
                               user_unit_cgroup, write_session)

OK_MSG = 'startSoterAuthentication:ok'


class TestInfrastructure(MultiUserTestCase):
    def test_two_uids_are_admitted_and_answered(self):
        alice = self.spawn_peer(ALICE)
        bob = self.spawn_peer('soter-bob')
        own_pem = self.call('GetDeviceKey', reply_type='(ssss)')[0]
        for peer, uid in ((alice, ALICE), (bob, BOB)):
            creds = self.bus_credentials(peer.unique_name)
            self.assertEqual((creds['UnixUserID'], creds['ProcessID']), (uid, peer.pid))
            pem, cpu_id, _, _ = peer.call('GetDeviceKey', reply_type='(ssss)').wait()
            self.assertEqual(pem, own_pem)   # one device key, whoever asks
            self.assertEqual(peer.call('CheckIsSoterEnrolledInDevice', '(s)', ['fingerPrint'],
                                       '(bus)').wait()[0], False)
        # A call soterd refuses comes back as its D-Bus error.
        with self.assertRaises(PeerError) as cm:
            alice.call('DeleteEnrolledFinger', '(s)', ['no-such-finger']).wait()
        self.assertTrue(cm.exception.name, cm.exception)
        self.assertEqual(alice.quit(), 0)

    def test_a_peer_in_a_session_scope(self):
        scope = session_cgroup(ALICE, 'c7')
        self.assertTrue(scope.endswith('/user.slice/user-61001.slice/session-c7.scope'), scope)
        write_session('c7', ALICE)
        alice = self.spawn_peer(ALICE, cgroup=scope)
        self.assertEqual(cgroup_of(alice.pid), '/user.slice/user-61001.slice/session-c7.scope')
        self.assertEqual(sd_login('pid_get_session', alice.pid), 'c7')
        self.assertEqual(sd_login('session_get_type', 'c7'), 'wayland')
        self.assertEqual(sd_login('pid_get_session', os.getpid()), None)
        # What soterd is told by the bus, and what it made of it.
        creds = self.bus_credentials(alice.unique_name)
        self.assertEqual((creds['UnixUserID'], creds['ProcessID']), (ALICE, alice.pid))
        alice.register_agent()
        self.assertIn(f'Prompt agent {alice.unique_name}/peer/agent registered for uid {ALICE}, '
                      'session c7', self.daemon_log())

    def test_a_desktop_app_unit_has_no_session(self):
        unit = user_unit_cgroup(BOB, 'app-gnome-org.gnome.Calc-1234.scope')
        bob = self.spawn_peer(BOB, cgroup=unit)
        self.assertEqual(sd_login('pid_get_session', bob.pid), None)
        self.assertEqual(sd_login('pid_get_user_unit', bob.pid),
                         'app-gnome-org.gnome.Calc-1234.scope')

    def test_display_is_read_back_by_sd_login(self):
        self.assertEqual(sd_login('uid_get_display', ALICE), None)
        set_display(ALICE, 'c7')
        self.assertEqual(sd_login('uid_get_display', ALICE), 'c7')
        set_display(ALICE, None)
        self.assertEqual(sd_login('uid_get_display', ALICE), None)

    def test_a_chrooted_peer_with_flatpak_info(self):
        info = b'[Application]\nname=org.example.App\n'
        root = self.fake_root(info)
        alice = self.spawn_peer(ALICE, root=root)
        self.assertEqual(os.readlink(f'/proc/{alice.pid}/root'), root)
        with open(f'/proc/{alice.pid}/root/.flatpak-info', 'rb') as f:
            self.assertEqual(f.read(), info)
        self.assertTrue(alice.call('GetDeviceKey', reply_type='(ssss)').wait()[0]
                        .startswith('-----BEGIN PUBLIC KEY-----'))
        self.assertEqual(self.bus_credentials(alice.unique_name)['UnixUserID'], ALICE)

    def test_fake_root_kinds(self):
        for kind, check in [('fifo', lambda st: st.st_mode & 0o170000 == 0o010000),
                            ('sparse', lambda st: st.st_size == 2 << 30 and st.st_blocks == 0),
                            ('dir', lambda st: st.st_mode & 0o170000 == 0o040000)]:
            st = os.lstat(os.path.join(self.fake_root(kind=kind), '.flatpak-info'))
            self.assertTrue(check(st), (kind, st))
        root = self.fake_root('/etc/passwd', kind='symlink')
        self.assertEqual(os.readlink(os.path.join(root, '.flatpak-info')), '/etc/passwd')
        self.assertFalse(os.path.lexists(os.path.join(self.fake_root(kind='none'),
                                                      '.flatpak-info')))

    def test_a_peer_agent_is_recorded_and_asked(self):
        scope = session_cgroup(ALICE, 'c8')
        alice = self.spawn_peer(ALICE, cgroup=scope)
        alice.register_agent()
        self.assertEqual(self.enroll_peer(alice)[-1], ('enroll-completed', True))
        call = alice.start_auth('chal-alice', content='Alice pays')
        request_id, details = alice.wait_event('ShowPrompt')
        self.assertEqual((details['uid'], details['auth_content']), (ALICE, 'Alice pays'))
        self.reader('SCAN finger-1')
        mode, result, sig, code, msg = call.wait()
        self.assertEqual((code, msg), (0, OK_MSG))
        self.assertEqual(alice.wait_event('ClosePrompt'), [request_id, 0])
        self.assertEqual(self.agent.shown, [])   # root's agent is not alice's
        alice.unregister_agent()


if __name__ == '__main__':
    taprunner.main(sys.modules[__name__])
