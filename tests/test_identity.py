#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Who calls soterd (issue 15): several uids, logind sessions and sandboxed
callers, each a bus_peer.py driven from here. As root, in cgroup and mount
namespaces of the file's own (multiuser_testlib.reexec()); otherwise every
case skips and says why.

The infrastructure's own smoke tests, then what issue 15 asks: the app id
from a sandbox, read safely (a path component of the key store); host apps
by their unit and desktop file; one prompt agent per session, never taken
over; a fair, bounded line for the reader; and many users at once."""

import json
import os
import shutil
import sys

import dbus

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import multiuser_testlib  # noqa: E402

if __name__ == '__main__':
    multiuser_testlib.reexec()

import taprunner  # noqa: E402
from multiuser_testlib import (ALICE, BOB, CAROL, LOAD_USERS, PEER_COPY,  # noqa: E402
                               MultiUserTestCase, PeerError, cgroup_of, sd_login,
                               session_cgroup, set_display, user_unit_cgroup, write_session)
from soterd_testlib import rss_kib, state_files, under_asan, wait_until  # noqa: E402
from gi.repository import GLib  # noqa: E402

OK_MSG = 'startSoterAuthentication:ok'
FAIL = 'startSoterAuthentication:fail '
INTERNAL = 'io.github.soterd.Soter1.Error.Internal'
AGENT_EXISTS = 'io.github.soterd.Soter1.Error.AgentExists'
ACCESS_DENIED = 'org.freedesktop.DBus.Error.AccessDenied'


def flatpak_info(app_id):
    return f'[Application]\nname={app_id}\nruntime=runtime/org.example.Platform/x86_64/1\n'.encode()


def vm_hwm_kib(pid):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1])
    raise AssertionError('no VmHWM')


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



class IdentityTestCase(MultiUserTestCase):
    """Alice's desktop: her regular agent in session c7 (also her display
    session), her finger enrolled."""

    def setUp(self):
        super().setUp()
        self.c7 = session_cgroup(ALICE, 'c7')
        write_session('c7', ALICE)
        set_display(ALICE, 'c7')
        self.addCleanup(set_display, ALICE, None)
        self.alice_agent = self.spawn_peer(ALICE, cgroup=self.c7)
        self.alice_agent.register_agent()
        self.assertEqual(self.enroll_peer(self.alice_agent, print_id='alice-finger')[-1],
                         ('enroll-completed', True))

    def alice_app(self, unit='app-gnome-org.example.Shop-4242.scope', root=None):
        """An app of Alice's, started by her desktop (a unit under user@.service)."""
        return self.spawn_peer(ALICE, cgroup=user_unit_cgroup(ALICE, unit), root=root)

    def authenticate_through(self, caller, agent, print_id='alice-finger', content='Pay 1 EUR'):
        n = len(agent.events_named('ShowPrompt')) + 1
        call = caller.start_auth('chal', content=content)
        request_id, details = agent.wait_event('ShowPrompt', n)
        self.reader(f'SCAN {print_id}')
        return call.wait(), details

    def state_path(self, *parts):
        return os.path.join(self.state, *parts)

    def wait_for_log(self, text, count, what):
        """Until soterd's log holds @text @count times. Writing a log line
        wakes no main loop: a timer looks at the log every 20 ms meanwhile."""
        tick = GLib.timeout_add(20, lambda: True)
        try:
            wait_until(lambda: self.daemon_log().count(text) >= count, what)
        finally:
            GLib.source_remove(tick)


class TestSandboxedApps(IdentityTestCase):
    """.flatpak-info comes from a root the caller may have made itself."""

    def test_app_ids_that_climb_out_of_the_key_store_are_refused(self):
        # Root's keys exist; Alice's bogus ids name them, or places outside.
        self.keys()
        keys_dir = self.state_path('keys')
        before = state_files(keys_dir)
        outside = os.path.join(self.tmp, 'escaped')
        for name in ('/../0', 'x/../../0', f'../../../../../../..{outside}', '..', 'nodots'):
            app = self.alice_app(root=self.fake_root(flatpak_info(name), owner=ALICE))
            with self.assertRaises(PeerError) as cm:
                app.call('GetAppSecureKey', reply_type='(ss)').wait()
            self.assertEqual(cm.exception.name, INTERNAL, cm.exception)
            self.assertIn('is not a valid application id', cm.exception.message)
            code, msg = app.start_auth('chal').wait()[3:]
            self.assertEqual(code, 90007)
            self.assertIn('is not a valid application id', msg)
            app.kill()
        self.assertEqual(state_files(keys_dir), before, 'a key file changed')
        self.assertFalse(os.path.exists(os.path.join(keys_dir, '0')))
        self.assertFalse(os.path.exists(outside))
        self.assertEqual(self.alice_agent.events_named('ShowPrompt'), [])

    def test_a_fifo_does_not_stop_soterd(self):
        app = self.alice_app(root=self.fake_root(kind='fifo', owner=ALICE))
        # Calls that identify the caller without polkit, and with it.
        calls = [app.call('ListEnrolledFingers', reply_type='(as)'),
                 app.call('CheckIsSoterEnrolledInDevice', '(s)', ['fingerPrint'], '(bus)')]
        # Everyone else is answered meanwhile.
        self.assertEqual(self.alice_agent.call('ListEnrolledFingers', reply_type='(as)').wait(),
                         (['right-index-finger'],))
        for call in calls:
            with self.assertRaises(PeerError) as cm:
                call.wait()
            self.assertIn('.flatpak-info is not a regular file', cm.exception.message)
        with self.assertRaises(PeerError):
            app.register_agent('/fifo/agent')

    def test_a_huge_file_is_not_read(self):
        app = self.alice_app(root=self.fake_root(kind='sparse', owner=ALICE))
        peak = vm_hwm_kib(self.daemon.pid)
        with self.assertRaises(PeerError) as cm:
            app.call('GetAppSecureKey', reply_type='(ss)').wait()
        self.assertIn('is larger than 65536 bytes', cm.exception.message)
        # 2 GiB of holes, and soterd's peak memory did not move by 16 MiB.
        self.assertLess(vm_hwm_kib(self.daemon.pid) - peak, 16 * 1024)

    def test_a_symlink_directory_or_someone_elses_file_is_not_read(self):
        # The link's target is read in soterd's root, not the caller's.
        target = os.path.join(self.tmp, 'root-owned-info')
        with open(target, 'wb') as f:
            f.write(flatpak_info('org.example.Bank'))
        for root, why in ((self.fake_root(target, kind='symlink', owner=ALICE), 'regular file'),
                          (self.fake_root(kind='dir', owner=ALICE), 'regular file'),
                          # root's file (what /proc/kmsg or another user's
                          # file bind-mounted there would be)
                          (self.fake_root(flatpak_info('org.example.Bank')), 'its own file')):
            app = self.alice_app(root=root)
            with self.assertRaises(PeerError) as cm:
                app.call('GetAppSecureKey', reply_type='(ss)').wait()
            self.assertIn(f'.flatpak-info is not {"a " if why == "regular file" else ""}{why}',
                          cm.exception.message)
        self.assertFalse(os.path.exists(self.state_path('keys', 'apps', f'{ALICE}-org.example.Bank')))

    def test_a_flatpak_app_has_its_own_key_and_name(self):
        app = self.alice_app('app-flatpak-org.example.App-77.scope',
                             root=self.fake_root(flatpak_info('org.example.App'), owner=ALICE))
        host = self.alice_app()
        app_ask = json.loads(app.call('GetAppSecureKey', reply_type='(ss)').wait()[0])
        host_ask = json.loads(host.call('GetAppSecureKey', reply_type='(ss)').wait()[0])
        self.assertNotEqual(app_ask['pub_key'], host_ask['pub_key'])
        self.assertEqual((app_ask['uid'], host_ask['uid']), (str(ALICE), str(ALICE)))
        self.assertTrue(os.path.isdir(self.state_path('keys', 'apps', f'{ALICE}-org.example.App')))
        # Outside any logind session, in Alice's display session: her agent.
        (_, _, _, code, msg), details = self.authenticate_through(app, self.alice_agent)
        self.assertEqual((code, msg), (0, OK_MSG))
        self.assertEqual(details['app_id'], 'org.example.App')

    def test_a_sandboxed_app_cannot_register_an_agent(self):
        app = self.alice_app('app-flatpak-org.example.App-77.scope',
                             root=self.fake_root(flatpak_info('org.example.App'), owner=ALICE))
        for fallback in (False, True):
            with self.assertRaises(PeerError) as cm:
                app.register_agent('/sandboxed/agent', fallback=fallback)
            self.assertEqual(cm.exception.name, ACCESS_DENIED, cm.exception)
        # Its requests are still shown by Alice's own agent, and by nothing else.
        (_, _, _, code, _), details = self.authenticate_through(app, self.alice_agent)
        self.assertEqual(code, 0)
        self.assertEqual(app.events_named('ShowPrompt'), [])


class TestHostApps(IdentityTestCase):
    def daemon_env(self):
        # The system's desktop files: one for the app's unit.
        share = os.path.join(self.tmp, 'share')
        os.makedirs(os.path.join(share, 'applications'), exist_ok=True)
        with open(os.path.join(share, 'applications', 'org.example.Shop.desktop'), 'w') as f:
            f.write('[Desktop Entry]\nType=Application\nName=Example Shop\n'
                    'Icon=org.example.Shop\nExec=shop\n')
        return dict(super().daemon_env(), XDG_DATA_DIRS=share)

    def test_an_app_is_named_by_its_unit_and_desktop_file(self):
        (_, _, _, code, _), details = self.authenticate_through(self.alice_app(),
                                                                self.alice_agent)
        self.assertEqual(code, 0)
        self.assertEqual((details['app_id'], details['app_name'], details['app_icon']),
                         ('org.example.Shop', 'Example Shop', 'org.example.Shop'))
        # A unit with no desktop file: its id, and no name.
        other = self.alice_app('app-gnome-org.example.Other-9.scope')
        (_, _, _, code, _), details = self.authenticate_through(other, self.alice_agent)
        self.assertEqual(details['app_id'], 'org.example.Other')
        self.assertNotIn('app_name', details)

    def test_a_script_is_named_with_its_interpreter(self):
        caller = self.spawn_peer(ALICE, cgroup=self.c7)
        (_, _, _, code, _), details = self.authenticate_through(caller, self.alice_agent)
        self.assertEqual(code, 0)
        self.assertEqual(details['app_id'], f"{os.path.realpath('/usr/bin/python3')} {PEER_COPY}")

    def test_host_apps_share_their_uids_app_key(self):
        keys = [json.loads(p.call('GetAppSecureKey', reply_type='(ss)').wait()[0])['pub_key']
                for p in (self.alice_app(), self.spawn_peer(ALICE, cgroup=self.c7))]
        self.assertEqual(keys[0], keys[1])


class TestAgents(IdentityTestCase):
    def test_the_first_agent_holds_the_session(self):
        # Another process of Alice's, in her session or under user@.service.
        intruders = [self.spawn_peer(ALICE, cgroup=self.c7),
                     self.alice_app('app-gnome-org.example.Evil-1.scope')]
        for intruder in intruders:
            with self.assertRaises(PeerError) as cm:
                intruder.register_agent('/evil/agent')
            self.assertEqual(cm.exception.name, AGENT_EXISTS, cm.exception)
            self.assertIn('session c7', cm.exception.message)
        (_, _, _, code, _), _ = self.authenticate_through(self.alice_app(), self.alice_agent,
                                                         content='Pay 9999.00 EUR')
        self.assertEqual(code, 0)
        for intruder in intruders:
            self.assertEqual(intruder.events_named('ShowPrompt'), [])

        # Once the holder has left the bus, the next one may register.
        self.alice_agent.kill()
        self.wait_for_log('left the bus', 1, 'soterd to see the agent go')
        intruders[0].register_agent('/next/agent')
        (_, _, _, code, _), _ = self.authenticate_through(self.alice_app(), intruders[0])
        self.assertEqual(code, 0)

    def test_each_user_and_session_has_its_own_agent(self):
        c8 = session_cgroup(BOB, 'c8')
        write_session('c8', BOB)
        bob_agent = self.spawn_peer(BOB, cgroup=c8)
        bob_agent.register_agent()     # Alice's session is not Bob's
        self.enroll_peer(bob_agent, print_id='bob-finger')
        bob_app = self.spawn_peer(BOB, cgroup=c8)
        (_, _, _, code, _), _ = self.authenticate_through(bob_app, bob_agent, 'bob-finger')
        self.assertEqual(code, 0)
        (_, _, _, code, _), _ = self.authenticate_through(self.alice_app(), self.alice_agent)
        self.assertEqual(code, 0)
        self.assertEqual((len(bob_agent.events_named('ShowPrompt')),
                          len(self.alice_agent.events_named('ShowPrompt'))), (1, 1))
        # Bob cannot cancel Alice's prompt.
        call = self.alice_app().start_auth('chal')
        rid = self.alice_agent.wait_event('ShowPrompt', 2)[0]
        with self.assertRaises(PeerError):
            bob_agent.cancel_prompt(rid)
        self.alice_agent.cancel_prompt(rid)
        self.assertEqual(call.wait()[3], 90008)


class TestFairness(IdentityTestCase):
    def setUp(self):
        super().setUp()
        self.c8 = session_cgroup(BOB, 'c8')
        write_session('c8', BOB)
        self.bob_agent = self.spawn_peer(BOB, cgroup=self.c8)
        self.bob_agent.register_agent()
        self.enroll_peer(self.bob_agent, print_id='bob-finger')
        # Keys first: these cases are about the line, not about making keys.
        for agent in (self.alice_agent, self.bob_agent):
            agent.call('GetAuthKey', '(s)', [''], '(ss)').wait()

    def test_one_user_cannot_fill_the_line(self):
        alice_apps = [self.spawn_peer(ALICE, cgroup=self.c7) for _ in range(3)]
        first = alice_apps[0].start_auth('alice-0')
        self.alice_agent.wait_event('ShowPrompt')
        for n, app in enumerate(alice_apps[1:], 1):
            self.assertEqual(app.start_auth(f'alice-{n}').wait()[3:],
                             (90007, FAIL + 'an authentication for this user is already in '
                                            'progress'))
        bob = self.bob_agent.start_auth('bob')
        self.reader('SCAN alice-finger')
        self.assertEqual(first.wait()[3], 0)
        # Bob is next: not behind Alice's other calls.
        self.bob_agent.wait_event('ShowPrompt')
        self.reader('SCAN bob-finger')
        self.assertEqual(bob.wait()[3], 0)

    def test_an_enrollment_waiting_for_polkit_holds_no_place(self):
        self.polkitd_obj.SimulateHangActions(dbus.Array(['io.github.soterd.Soter1.enroll'],
                                                        signature='s'))
        try:
            enroll = self.alice_agent.call('Enroll', '(s)', ['left-thumb'])
            (_, _, _, code, _), _ = self.authenticate_through(self.bob_agent, self.bob_agent,
                                                             'bob-finger')
            self.assertEqual(code, 0)
            self.assertFalse(enroll.done)
        finally:
            self.polkitd_obj.SimulateHangActions(dbus.Array([], signature='s'))
            self.polkitd_obj.ReleaseHangingCalls()
        enroll.wait()
        self.alice_agent.call('CancelSoterAuthentication').wait()

    def test_the_line_is_bounded(self):
        self.restart_with_config(QueueLength=1)
        for agent in (self.alice_agent, self.bob_agent):
            agent.register_agent()
        carol = self.spawn_peer(CAROL)
        carol.register_agent()
        self.enroll_peer(carol, print_id='carol-finger')
        alice = self.alice_agent.start_auth('alice')
        self.alice_agent.wait_event('ShowPrompt')
        bob = self.bob_agent.start_auth('bob')        # waits: the line holds one
        self.wait_for_log('caller known and authorized', 2, 'Bob admitted')
        self.assertEqual(carol.start_auth('carol').wait()[3:],
                         (90007, FAIL + 'too many requests waiting for the reader'))
        self.reader('SCAN alice-finger')
        self.assertEqual(alice.wait()[3], 0)
        self.bob_agent.wait_event('ShowPrompt')
        self.reader('SCAN bob-finger')
        self.assertEqual(bob.wait()[3], 0)

    def test_scenes_per_app_are_bounded(self):
        self.restart_with_config(MaxScenes=2)
        app = self.alice_agent
        app.register_agent()
        for scene in ('pay', 'login'):
            app.call('GetAuthKey', '(s)', [scene], '(ss)').wait()
        with self.assertRaises(PeerError) as cm:
            app.call('GetAuthKey', '(s)', ['transfer'], '(ss)').wait()
        self.assertIn('LimitsExceeded', cm.exception.name)
        self.assertIn('at most 2 scenes', cm.exception.message)
        # Existing ones still serve, and "default" is never refused: one host
        # app cannot use up its uid's scenes and stop the others.
        app.call('GetAuthKey', '(s)', ['pay'], '(ss)').wait()
        os.unlink(self.state_path('keys', 'apps', str(ALICE), 'auth-default.key'))
        (_, _, _, code, _), _ = self.authenticate_through(self.alice_app(), self.alice_agent)
        self.assertEqual(code, 0)
        self.assertFalse(os.path.exists(self.state_path('keys', 'apps', str(ALICE),
                                                        'auth-transfer.key')))

    def test_many_scenes_at_once_make_only_the_keys_allowed(self):
        """An app asking for many new scenes at once gets one RSA generation
        at a time, and none beyond MaxScenes (each would cost root's CPU)."""
        self.restart_with_config(MaxScenes=2)
        self.alice_agent.register_agent()
        calls = [self.alice_agent.call('GetAuthKey', '(s)', [f'scene{n}'], '(ss)')
                 for n in range(12)]
        wait_until(lambda: all(c.done for c in calls), 'every GetAuthKey answered')
        made = [c for c in calls if c.error is None]
        self.assertEqual(len(made), 2)
        self.assertTrue(all('LimitsExceeded' in c.error.name for c in calls if c.error), calls)
        self.assertEqual(self.daemon_log().count(f'apps/{ALICE}/auth-scene'), 2)

    def test_a_key_being_made_holds_up_no_one_else(self):
        alice = self.alice_agent.start_auth('alice')
        self.alice_agent.wait_event('ShowPrompt')
        # Carol is new: her app and auth keys are made now (under a wrapper
        # the state starts with every test user's keys: not hers here).
        shutil.rmtree(self.state_path('keys', 'apps', str(CAROL)), ignore_errors=True)
        carol = self.spawn_peer(CAROL)
        making = carol.call('GetAuthKey', '(s)', [''], '(ss)')
        mark = f'Making a key for {self.state}/keys/apps/{CAROL}/ask.key'
        self.wait_for_log(mark, 1, "Carol's key being made")
        self.reader('SCAN alice-finger')
        wait_until(lambda: alice.done, "Alice's signature")
        self.assertFalse(making.done, "Carol's two new keys were made before Alice's signature")
        self.assertEqual(alice.wait()[3], 0)
        making.wait()


class TestLoad(MultiUserTestCase):
    """Sixteen users at once (soterd's line holds as many), each touching
    the reader whenever their agent asks, until TOTAL authentications."""

    TOTAL = int(os.environ.get('SOTER_LOAD_TOTAL', '1000'))
    CLIENTS = int(os.environ.get('SOTER_LOAD_CLIENTS', str(len(LOAD_USERS))))

    def test_many_users_at_once_all_answered_in_order_memory_flat(self):
        users = LOAD_USERS[:self.CLIENTS]
        peers = {}
        for uid in users:
            peers[uid] = self.spawn_peer(uid)
            peers[uid].register_agent()
            self.enroll_peer(peers[uid], print_id=f'finger-{uid}')
            peers[uid].call('GetAuthKey', '(s)', [''], '(ss)').wait()
        codes, counters, waited, rss = {}, [], [], {}
        shown = [0]
        started = 0
        pending = {}

        def start(uid):
            nonlocal started
            started += 1
            pending[uid] = (peers[uid].start_auth(f'load-{started}'), shown[0])

        seen = {uid: 0 for uid in users}
        for uid in users:
            start(uid)
        while pending:
            def progress():
                for uid in users:
                    if len(peers[uid].events_named('ShowPrompt')) > seen[uid]:
                        return True
                return any(c.done for c, _ in pending.values())
            wait_until(progress, 'a prompt or an answer')
            for uid in users:
                n = len(peers[uid].events_named('ShowPrompt'))
                if n > seen[uid]:
                    seen[uid] = n
                    shown[0] += 1
                    self.reader(f'SCAN finger-{uid}')
            for uid, (call, shown_at) in list(pending.items()):
                if not call.done:
                    continue
                del pending[uid]
                _, result, _, code, msg = call.wait()
                codes[code] = codes.get(code, 0) + 1
                if code == 0:
                    counters.append(json.loads(result)['counter'])
                waited.append(shown[0] - shown_at)
                done = sum(codes.values())
                if done in (100, self.TOTAL):
                    rss[done] = rss_kib(self.daemon.pid)
                if started < self.TOTAL:
                    start(uid)

        self.assertEqual(codes, {0: self.TOTAL})
        self.assertEqual(len(set(counters)), self.TOTAL)
        # Served in order of admission (identification runs in threads, so
        # a later arrival may be admitted first): nobody waits for more
        # prompts than two rounds of the others', whoever they are.
        self.assertLessEqual(max(waited), 2 * self.CLIENTS, waited)
        if not under_asan(self.daemon.pid) and 100 in rss:
            self.assertLessEqual(rss[self.TOTAL], rss[100] * 1.10, rss)
        sys.stderr.write(f'# {self.TOTAL} authentications by {self.CLIENTS} users; RSS {rss}; '
                         f'longest wait {max(waited)} prompts\n')


if __name__ == '__main__':
    taprunner.main(sys.modules[__name__])
