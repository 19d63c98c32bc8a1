#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The desktop's prompt agent (agents/gtk, soter-prompt) as a user meets it:
the real agent process, under Xvfb with a private session bus and the
AT-SPI bus, serves a soterd on the private system bus. What the window shows
and what its controls do are read and driven through the accessibility tree
(pyatspi), Escape through the X server (xdotool); a screenshot of the prompt
goes to SOTER_SCREENSHOT_DIR on every run.

Nothing sleeps: each wait polls (the tree every 50 ms) in the GLib main
loop, bounded by the harness's deadline.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import taprunner  # noqa: E402
from soterd_testlib import (DEADLINE, SoterdTestCase, child_env, stop_process,  # noqa: E402
                            wait_until)

from gi.repository import GLib  # noqa: E402

PROMPT = os.environ.get('SOTER_PROMPT', os.path.join(os.path.dirname(__file__), '..', 'build',
                                                     'agents', 'gtk', 'soter-prompt'))
SCREENSHOTS = os.environ.get('SOTER_SCREENSHOT_DIR')
# Run once with a desktop's GTK theme (e.g. Breeze, as Plasma sets it).
GTK_THEME = os.environ.get('SOTER_PROMPT_GTK_THEME')
AT_SPI_BUS_LAUNCHER = '/usr/libexec/at-spi-bus-launcher'
CONTENT = 'Pay 12.00 EUR to Example Shop'
# A script is named by its interpreter and its path (SPEC §9).
APP_ID = f'{os.path.realpath(sys.executable)} {sys.argv[0]}'
SHOP_ID = 'org.example.Shop'
REGISTERED = 'Registered with soterd as the session'
EXISTS = 'Another prompt agent serves this session'

pyatspi = None  # imported once the session and AT-SPI buses are up


def cgroup2_mount():
    with open('/proc/self/mounts') as f:
        for line in f:
            fields = line.split()
            if fields[2] == 'cgroup2':
                return fields[1]
    return None


def missing_tools():
    tools = ['Xvfb', 'xdotool', 'import']
    missing = [t for t in tools if shutil.which(t) is None]
    if not os.access(AT_SPI_BUS_LAUNCHER, os.X_OK):
        missing.append(AT_SPI_BUS_LAUNCHER)
    if not os.access(PROMPT, os.X_OK):
        missing.append(PROMPT)
    return missing


def poll_until(probe, what, deadline=DEADLINE, interval_ms=50):
    """Calls probe() every interval_ms in the main loop until it returns
    something other than None or False; returns that, or fails at deadline."""
    box = []

    def tick():
        value = probe()
        if value is not None and value is not False:
            box.append(value)
            return False
        return True

    source = GLib.timeout_add(interval_ms, tick)
    try:
        wait_until(lambda: box, what, deadline)
    finally:
        if not box:
            GLib.source_remove(source)
    return box[0]


def walk(acc, depth=0):
    """(role name, name) of acc and its descendants."""
    if acc is None or depth > 30:
        return []
    out = [(acc.getRoleName(), acc.name or '')]
    for i in range(acc.childCount):
        out += walk(acc.getChildAtIndex(i), depth + 1)
    return out


def find(acc, role, name=None, depth=0):
    """The first descendant of acc (or acc) with that role and name."""
    if acc is None or depth > 30:
        return None
    if acc.getRoleName() == role and (name is None or acc.name == name):
        return acc
    for i in range(acc.childCount):
        found = find(acc.getChildAtIndex(i), role, name, depth + 1)
        if found is not None:
            return found
    return None


class TestGtkAgent(SoterdTestCase):
    with_agent = False  # the agent under test serves soterd

    @classmethod
    def setUpClass(cls):
        missing = missing_tools()
        if missing:
            raise taprunner.unittest.SkipTest('needs ' + ', '.join(missing))
        super().setUpClass()
        cls.runtime = tempfile.mkdtemp(prefix='soter-prompt-runtime-')
        os.chmod(cls.runtime, 0o700)
        # Xvfb picks a free display and writes its number to the pipe.
        r, w = os.pipe()
        cls.xvfb = subprocess.Popen(['Xvfb', '-displayfd', str(w), '-screen', '0', '1024x768x24',
                                     '-nolisten', 'tcp'], pass_fds=(w,),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(w)
        with os.fdopen(r) as f:
            number = f.readline().strip()
        if not number:
            raise AssertionError('Xvfb did not start')
        cls.display = f':{number}'
        os.environ['DISPLAY'] = cls.display
        os.environ['XDG_RUNTIME_DIR'] = cls.runtime
        os.environ.pop('WAYLAND_DISPLAY', None)
        cls.start_session_bus()
        cls.atspi_bus = subprocess.Popen([AT_SPI_BUS_LAUNCHER, '--launch-immediately'],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        global pyatspi
        import pyatspi as _pyatspi
        pyatspi = _pyatspi
        # The a11y bus is up once the registry answers.
        poll_until(lambda: pyatspi.Registry.getDesktop(0) is not None, 'the AT-SPI registry')

    @classmethod
    def tearDownClass(cls):
        for p in (cls.atspi_bus, cls.xvfb):
            p.terminate()
            p.wait(timeout=DEADLINE)
        shutil.rmtree(cls.runtime, ignore_errors=True)
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.enroll()
        self.prompt = None
        self.prompt_log = open(os.path.join(self.tmp, 'soter-prompt.log'), 'w+')

    def tearDown(self):
        rc = self.stop_prompt()
        log = self.prompt_text()
        self.prompt_log.close()
        if os.environ.get('SOTER_TEST_SHOW_LOG') or self._failed():
            sys.stderr.write(f'--- soter-prompt log of {self.id()}\n{log}')
        super().tearDown()
        self.assertNotIn('CRITICAL', log, 'soter-prompt logged a critical warning')
        self.assertNotIn('Sanitizer', log, 'soter-prompt failed a sanitizer check')
        self.assertNotIn('runtime error:', log, 'soter-prompt did something undefined (UBSan)')
        self.assertIn(rc, (None, 0), 'soter-prompt did not exit cleanly on SIGTERM')

    # --- the agent process -----------------------------------------------

    def start_prompt(self, wait_for=REGISTERED):
        env = child_env(GDK_BACKEND='x11', G_MESSAGES_DEBUG='soter-prompt libsoter',
                        GSETTINGS_BACKEND='memory', LANG='C.UTF-8', LANGUAGE='')
        for var in ('GTK_A11Y', 'NO_AT_BRIDGE', 'GTK_THEME', 'LD_PRELOAD'):
            env.pop(var, None)
        if GTK_THEME:
            env['GTK_THEME'] = GTK_THEME
        # GTK's own allocations at exit are not ours to report.
        asan = env.get('ASAN_OPTIONS', '')
        env['ASAN_OPTIONS'] = ':'.join(filter(None, [asan, 'detect_leaks=0']))
        self.prompt = subprocess.Popen([PROMPT], env=env, stdout=self.prompt_log,
                                       stderr=subprocess.STDOUT)
        if wait_for:
            self.wait_prompt_log(wait_for)

    def stop_prompt(self):
        rc = stop_process(self.prompt)
        self.prompt = None
        return rc

    def prompt_text(self):
        self.prompt_log.flush()
        with open(self.prompt_log.name) as f:
            return f.read()

    def wait_prompt_log(self, text):
        poll_until(lambda: text in self.prompt_text() or
                   (self.prompt.poll() is not None and
                    self.fail(f'soter-prompt exited:\n{self.prompt_text()}')),
                   f'"{text}" in soter-prompt\'s log')

    # --- the accessibility tree ------------------------------------------

    def app(self):
        """soter-prompt's application in the AT-SPI tree, or None."""
        desktop = pyatspi.Registry.getDesktop(0)
        desktop.clear_cache()
        for i in range(desktop.childCount):
            app = desktop.getChildAtIndex(i)
            if app is None:
                continue
            try:
                if app.get_process_id() == self.prompt.pid:
                    app.set_cache_mask(pyatspi.Atspi.Cache.NONE)
                    return app
            except GLib.Error:
                continue
        return None

    def window(self, title=APP_ID):
        app = self.app()
        if app is None:
            return None
        for role in ('frame', 'dialog'):
            win = find(app, role, title)
            if win is not None:
                return win
        return None

    def wait_window(self, title=APP_ID):
        return poll_until(lambda: self.window(title), f'the prompt window "{title}"')

    def wait_window_gone(self, title=APP_ID):
        poll_until(lambda: self.window(title) is None, f'the prompt window "{title}" to close')

    def texts(self, title=APP_ID):
        win = self.window(title)
        return walk(win) if win is not None else []

    def screenshot(self, name, title=APP_ID):
        """The prompt window as X shows it, under SOTER_SCREENSHOT_DIR."""
        if not SCREENSHOTS:
            return None
        xid = self.xid(title)
        os.makedirs(SCREENSHOTS, exist_ok=True)
        path = os.path.join(SCREENSHOTS, name)
        subprocess.run(['import', '-display', self.display, '-window', xid, path], check=True,
                       timeout=DEADLINE)
        return path

    def xid(self, title=APP_ID):
        def probe():
            r = subprocess.run(['xdotool', 'search', '--onlyvisible', '--name',
                                '^' + re.escape(title) + '$'],
                               capture_output=True, text=True)
            ids = r.stdout.split()
            return ids[-1] if ids else None
        return poll_until(probe, f'the X window "{title}"')

    # --- the cases -------------------------------------------------------

    def test_prompt_shows_the_app_and_its_content_and_cancel_gives_90008(self):
        self.start_prompt()
        call = self.start_auth(content=CONTENT)
        win = self.wait_window()
        self.assertEqual(win.name, APP_ID)
        shown = poll_until(lambda: [n for r, n in self.texts() if r == 'label'] or None,
                           'the labels')
        self.assertIn(APP_ID, shown)       # the heading names the app
        self.assertIn(CONTENT, shown)      # the body is the app's text
        self.assertIn('Touch the fingerprint reader', shown)
        self.assertIsNotNone(find(win, 'image', 'Fingerprint'), walk(win))
        # Every element has a role and a name.
        for role, name in walk(win):
            if role in ('label', 'push button', 'image', 'dialog', 'frame'):
                self.assertTrue(name, f'a {role} without a name: {walk(win)}')
        button = find(win, 'push button', 'Cancel')
        self.assertIsNotNone(button, walk(win))
        self.assertIn('click', [button.queryAction().getName(i)
                                for i in range(button.queryAction().nActions)])
        button.queryAction().doAction(0)
        _, result, _, code, msg = call.wait()
        self.assertEqual((result, code), ('', 90008), msg)
        self.wait_window_gone()

    def daemon_env(self):
        # The system's desktop files, as soterd reads them: one for the app below.
        share = os.path.join(self.tmp, 'share')
        os.makedirs(os.path.join(share, 'applications'), exist_ok=True)
        with open(os.path.join(share, 'applications', f'{SHOP_ID}.desktop'), 'w') as f:
            f.write('[Desktop Entry]\nType=Application\nName=Example Shop\n'
                    'Icon=applications-office\nExec=shop\n')
        return dict(super().daemon_env(), XDG_DATA_DIRS=share)

    def test_an_app_known_by_its_desktop_file_titles_the_window(self):
        """A desktop starts an app in a unit named after its desktop id;
        soterd gives the agent the desktop file's name, which titles the
        window. (This test process is the app: it moves itself into such a
        cgroup for the call.)"""
        cg2 = cgroup2_mount()
        if cg2 is None or os.geteuid() != 0:
            self.skipTest('needs root and a cgroup2 hierarchy, to start the app in a unit')
        with open('/proc/self/cgroup') as f:
            home = next(line.split('::', 1)[1].strip() for line in f if line.startswith('0::'))
        top = os.path.join(cg2, f'soterd-gtk-test-{os.getpid()}')
        unit = os.path.join(top, f'app-gnome-{SHOP_ID}-4242.scope')
        self.start_prompt()   # the agent is not the app: started outside the unit
        os.makedirs(unit)
        try:
            with open(os.path.join(unit, 'cgroup.procs'), 'w') as f:
                f.write(str(os.getpid()))
            call = self.start_auth(content=CONTENT)
            win = self.wait_window('Example Shop')
            labels = poll_until(lambda: [n for r, n in self.texts('Example Shop')
                                         if r == 'label'] or None, 'the labels')
            self.assertIn('Example Shop', labels)
            self.assertIn(CONTENT, labels)
            self.assertNotIn(APP_ID, labels)
            self.screenshot('soter-prompt-app.png', 'Example Shop')
            find(win, 'push button', 'Cancel').queryAction().doAction(0)
            self.assertEqual(call.wait()[3], 90008)
        finally:
            # Everything in the unit (this process, a screenshot's helper)
            # back where it came from.
            with open(os.path.join(unit, 'cgroup.procs')) as f:
                pids = f.read().split()
            for pid in pids:
                with open(os.path.join(cg2 + home.rstrip('/'), 'cgroup.procs'), 'w') as f:
                    f.write(pid)
            os.rmdir(unit)
            os.rmdir(top)

    def test_a_miss_shows_soterds_message_in_place(self):
        self.start_prompt()
        call = self.start_auth(content=CONTENT)
        self.wait_window()
        self.reader('SCAN wrong-id')
        poll_until(lambda: any(r == 'label' and n.startswith('Not recognized, try again (')
                               for r, n in self.texts()) or None, 'the UpdatePrompt message')
        path = self.screenshot('soter-prompt.png')
        if path:
            sys.stderr.write(f'# screenshot: {path}\n')
        self.reader('SCAN wrong-id')
        poll_until(lambda: any(r == 'label' and n.startswith('Not recognized, try again (1 of')
                               for r, n in self.texts()) or None, 'the second message')
        # One status line, changed in place.
        statuses = [n for r, n in self.texts() if n.startswith('Not recognized')]
        self.assertEqual(len(statuses), 1, statuses)
        self.reader('SCAN finger-1')
        _, result, _, code, msg = call.wait()
        self.assertEqual(code, 0, msg)
        self.wait_window_gone()

    def test_escape_cancels(self):
        self.start_prompt()
        call = self.start_auth(content=CONTENT)
        self.wait_window()
        xid = self.xid()
        # No window manager: give the window the focus, then the key (XTEST).
        subprocess.run(['xdotool', 'windowfocus', '--sync', xid], check=True, timeout=DEADLINE)
        subprocess.run(['xdotool', 'key', 'Escape'], check=True, timeout=DEADLINE)
        _, result, _, code, msg = call.wait()
        self.assertEqual((result, code), ('', 90008), msg)
        self.wait_window_gone()

    def test_success_closes_the_window(self):
        self.start_prompt()
        call = self.start_auth(content=CONTENT)
        self.wait_window()
        self.reader('SCAN finger-1')
        _, result, _, code, msg = call.wait()
        self.assertEqual(code, 0, msg)
        self.assertTrue(result)
        self.wait_window_gone()

    def test_waits_quietly_behind_another_agent_and_takes_over_from_the_next_soterd(self):
        # Another regular agent holds the session: refused, said once.
        self.agent.register()
        self.start_prompt(wait_for=EXISTS)
        call = self.start_auth(content=CONTENT)
        self.agent.wait_shown(1)
        self.agent.cancel(self.agent.shown[0][0])
        self.assertEqual(call.wait()[3], 90008)
        self.assertIsNone(self.window())
        # The next soterd: the harness's agent does not register again.
        self.assertEqual(self.stop_daemon(), 0)
        self.start_daemon()
        self.wait_prompt_log(REGISTERED)
        self.assertEqual(self.prompt_text().count(EXISTS), 1, self.prompt_text())
        call = self.start_auth(content=CONTENT)
        self.wait_window()
        self.reader('SCAN finger-1')
        self.assertEqual(call.wait()[3], 0)
        self.wait_window_gone()

    def test_registers_again_when_soterd_restarts_and_starts_it_no_more(self):
        self.start_prompt()
        self.assertEqual(self.stop_daemon(), 0)
        # soterd gone: the agent waits; nothing on screen, nothing logged
        # above debug.
        self.start_daemon()
        self.wait_prompt_log('registered again with soterd')
        call = self.start_auth(content=CONTENT)
        self.wait_window()
        self.reader('SCAN finger-1')
        self.assertEqual(call.wait()[3], 0)
        self.wait_window_gone()
        self.assertNotIn('WARNING', self.prompt_text())


if __name__ == '__main__':
    taprunner.main(sys.modules[__name__])
