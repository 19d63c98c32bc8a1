#!/usr/bin/python3
"""The README's examples, run as written against a test soterd on the
private system bus.

- Every command line in the ```sh blocks of "Using it from a shell: busctl",
  top to bottom, as a user types them: each must exit 0 and print what its
  "# →" comment says ("…" stands for anything). Whatever the section holds
  is run: an example added there is tested the same way.
- The GJS agent of "Writing another prompt agent", which the README quotes
  from docs/examples/agent.js: the quote must be the file, and the file
  must serve an authentication (and a cancel) through gjs and libsoter.

State an example needs is made as a user would make it: the harness's agent
shows busctl's prompts, and the virtual reader is touched when a prompt or
soterctl asks for a finger. Nothing sleeps: the main loop serves the agent
while the commands run, and every wait is bounded.
"""

import os
import re
import shlex
import signal
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import taprunner  # noqa: E402
from soterd_testlib import (CLIENT_WRAPPER, DEADLINE, SoterdTestCase, child_env,  # noqa: E402
                            wait_until)

from gi.repository import GLib  # noqa: E402

SOURCE_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
README = os.environ.get('SOTER_README', os.path.join(SOURCE_ROOT, 'README.md'))
EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(README)), 'docs', 'examples', 'agent.js')
SOTERCTL = os.environ.get('SOTERCTL', os.path.join(SOURCE_ROOT, 'build', 'tools', 'soterctl'))
GJS = '/usr/bin/gjs'

BUSCTL_SECTION = 'Using it from a shell: busctl'
AGENT_SECTION = 'Writing another prompt agent'
# What soterd ties to the calling connection, which a busctl call closes as
# soon as it has its reply: these cannot work from busctl (see the README).
NEEDS_A_CONNECTION_THAT_STAYS = {
    'Enroll': 'the enrollment is cancelled when busctl leaves the bus',
    'RegisterAgent': 'busctl exports no agent object, and the agent vanishes with busctl',
    'RegisterAgentWithOptions': 'busctl exports no agent object, and the agent vanishes '
                                'with busctl',
    'UnregisterAgent': 'busctl\'s connection has no agent registered',
    'CancelPrompt': 'only the agent shown the prompt may cancel it',
    'CancelSoterAuthentication': 'busctl\'s connection has no request of its own to cancel',
}
FINGER = 'finger-1'   # the print the user's finger leaves on the virtual reader
ENROLL_STAGES = 5     # the virtual reader's


def section(title):
    """The README text under '## title', up to the next '## ' heading."""
    with open(README) as f:
        text = f.read()
    m = re.search(rf'^## {re.escape(title)}\n(.*?)(?=^## |\Z)', text, re.M | re.S)
    if m is None:
        raise AssertionError(f'README.md has no section "## {title}"')
    return m.group(1)


def fenced(text, lang):
    """The contents of the ```lang blocks in text."""
    return re.findall(rf'^```{lang}\n(.*?)^```$', text, re.M | re.S)


class Example:
    def __init__(self, line, assignments):
        self.line = line
        self.assignments = list(assignments)
        m = re.search(r'\s#\s*→\s?(.*)$', line)
        self.expected = [m.group(1).rstrip()] if m else []

    def words(self):
        """The command's words, with the assignments before it expanded."""
        env = {}
        for a in self.assignments:
            name, value = a.split('=', 1)
            env[name] = ' '.join(shlex.split(value))
        line = re.sub(r'\$(\w+)', lambda m: env.get(m.group(1), m.group(0)), self.line)
        return shlex.split(line, comments=True)

    def matches(self, output):
        if self.expected == ['(no output)']:
            return output == ''
        pattern = '.*'.join(re.escape(part) for part in '\n'.join(self.expected).split('…'))
        return re.fullmatch(pattern, output.rstrip('\n'), re.S) is not None


def busctl_examples():
    """The command lines of the busctl section's sh blocks, each with its
    expected output: '# → …' after the command, or on comment lines of
    its own right below it (one per output line)."""
    blocks = fenced(section(BUSCTL_SECTION), 'sh')
    if not blocks:
        raise AssertionError(f'"{BUSCTL_SECTION}" has no ```sh block')
    examples = []
    for block in blocks:
        assignments = []
        last = None
        for line in block.splitlines():
            line = line.rstrip()
            if not line:
                last = None
                continue
            if line.startswith('#'):
                m = re.match(r'#\s*→\s?(.*)$', line)
                if m:
                    if last is None:
                        raise AssertionError(f'an expected output under no command: {line}')
                    last.expected.append(m.group(1).rstrip())
                continue
            if line.endswith('\\'):
                raise AssertionError(f'one command per line, please: {line}')
            if re.match(r'[A-Za-z_]\w*=', line) and len(shlex.split(line, comments=True)) == 1:
                assignments.append(line)
                last = None
                continue
            last = Example(line, assignments)
            examples.append(last)
    return examples


class Process:
    """A command run while the main loop goes on: its output line by line,
    and a callback per line (to touch the reader when it asks)."""

    def __init__(self, test, argv, env, on_line=None, stdin=subprocess.DEVNULL):
        self.on_line = on_line
        self.proc = subprocess.Popen(argv, env=env, stdin=stdin, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.out = {'stdout': b'', 'stderr': b''}
        self.lines = []  # (stream, line), as they came
        self.next = 0    # expect() looks from here on
        self.watches = {}
        for name in self.out:
            fd = getattr(self.proc, name).fileno()
            self.watches[name] = GLib.io_add_watch(fd, GLib.PRIORITY_DEFAULT,
                                                   GLib.IO_IN | GLib.IO_HUP,
                                                   self._on_output, name)
        test.addCleanup(self.kill)

    def _on_output(self, fd, condition, name):
        data = os.read(fd, 4096)
        if not data:
            self.watches.pop(name)
            return GLib.SOURCE_REMOVE
        done = self.out[name].count(b'\n')
        self.out[name] += data
        for line in self.out[name].split(b'\n')[done:-1]:
            self.lines.append((name, line.decode()))
            if self.on_line is not None:
                self.on_line(name, line.decode())
        return GLib.SOURCE_CONTINUE

    @property
    def stdout(self):
        return self.out['stdout'].decode()

    @property
    def stderr(self):
        return self.out['stderr'].decode()

    def wait(self, what):
        """Waits for the command to end; returns its exit status."""
        wait_until(lambda: not self.watches, what)
        return self.proc.wait(timeout=DEADLINE)

    def _find(self, text):
        for i in range(self.next, len(self.lines)):
            if text in self.lines[i][1]:
                return i
        if not self.watches:
            raise AssertionError(f'exited before saying "{text}":\n{self.stdout}{self.stderr}')
        return None

    def expect(self, text):
        """Waits for a line holding @text after the last one expected."""
        wait_until(lambda: self._find(text) is not None, f'"{text}"')
        i = self._find(text)
        self.next = i + 1
        return self.lines[i][1]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for watch in self.watches.values():
            GLib.source_remove(watch)
        self.watches = {}
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if f is not None and not f.closed:
                f.close()


class TestBusctlSection(SoterdTestCase):
    """The busctl section, top to bottom, as uid 0 with the harness's agent
    registered for uid 0 (it shows busctl's authentication prompts)."""

    def setUp(self):
        super().setUp()
        # The README's soterctl is the build's (under valgrind, under memcheck).
        bin_dir = os.path.join(self.tmp, 'bin')
        os.mkdir(bin_dir)
        soterctl = os.path.join(bin_dir, 'soterctl')
        with open(soterctl, 'w') as f:
            f.write('#!/bin/sh\nexec %s "$@"\n' % shlex.join([*CLIENT_WRAPPER, SOTERCTL]))
        os.chmod(soterctl, stat.S_IRWXU)
        self.env = child_env(PATH=bin_dir + ':/usr/bin:/bin',
                             DBUS_SYSTEM_BUS_ADDRESS=self.bus_address)
        # Not instrumented: busctl and sh get no ASan runtime (soterctl
        # links its own).
        self.env.pop('LD_PRELOAD', None)
        # The user touches the reader when the prompt is shown.
        self.agent.on_show = lambda request_id, details: self.reader(f'SCAN {FINGER}')

    def on_line(self, stream, line):
        # soterctl enroll asks for the finger once, for every stage.
        if 'place your finger on the reader' in line:
            for _ in range(ENROLL_STAGES):
                self.reader(f'SCAN {FINGER}')

    def test_the_section_has_examples(self):
        examples = busctl_examples()
        self.assertGreaterEqual(len([e for e in examples if e.words()[0] == 'busctl']), 8)

    def test_no_example_needs_the_connection_busctl_closes(self):
        for example in busctl_examples():
            words = example.words()
            if words[0] != 'busctl':
                continue
            with self.subTest(example.line):
                self.assertNotIn('monitor', words, 'busctl monitor never exits')
                if 'call' in words:
                    i = words.index('call') + 1
                    while words[i].startswith('-'):
                        i += 1
                    method = words[i + 3]
                    if method in NEEDS_A_CONNECTION_THAT_STAYS:
                        self.fail(f'{method} cannot work from busctl: '
                                  f'{NEEDS_A_CONNECTION_THAT_STAYS[method]}')

    def test_ctrl_c_on_the_waiting_busctl_cancels(self):
        """What the section says instead of CancelSoterAuthentication."""
        self.enroll(print_id=FINGER)
        auth = [e for e in busctl_examples() if 'StartSoterAuthentication' in e.words()]
        self.assertEqual(len(auth), 1)
        self.agent.on_show = None  # the user does not touch the reader
        busctl = Process(self, auth[0].words(), self.env)
        request_id = self.agent.wait_shown()
        busctl.proc.send_signal(signal.SIGINT)
        self.assertNotEqual(busctl.wait('busctl to exit'), 0)
        self.assertEqual(self.agent.wait_closed(), (request_id, 90008))
        self.assertIn('the caller left the bus', self.daemon_log())
        # (That the reader is free for the next request is test_soterd.py's
        # test_caller_leaving_frees_the_reader_for_the_next.)

    def test_every_example_as_written(self):
        examples = busctl_examples()
        for example in examples:
            # A later example may depend on an earlier one (enrolled, then
            # listed, then deleted): the first failure stops the run.
            self.assertTrue(example.expected,
                            f'say what this prints, in a "# →" comment: {example.line}')
            script = '\n'.join([*example.assignments, example.line])
            proc = Process(self, ['/bin/sh', '-c', script], self.env, self.on_line)
            rc = proc.wait(example.line)
            self.assertEqual(rc, 0, f'{example.line}\nexited {rc}:\n{proc.stdout}{proc.stderr}')
            self.assertTrue(example.matches(proc.stdout),
                            f'{example.line}\nprinted:\n{proc.stdout}\nnot what the README '
                            f'says:\n' + '\n'.join(example.expected))


class TestGjsAgent(SoterdTestCase):
    """docs/examples/agent.js, the README's GJS agent, through gjs and the
    build's libsoter (GI_TYPELIB_PATH, LD_LIBRARY_PATH: tests/meson.build)."""
    with_agent = False  # the example is the agent

    def gjs_agent(self):
        if not os.access(GJS, os.X_OK):
            self.skipTest('gjs is not installed (scripts/install-deps.sh installs it)')
        # gjs is not instrumented: under ASan it runs with the runtime
        # preloaded and without leak checks, as the harness's Python does.
        env = dict(os.environ, G_DEBUG='fatal-criticals')
        return Process(self, [GJS, EXAMPLE], env, stdin=subprocess.PIPE)

    def stop(self, agent):
        """Ctrl-D: the example unregisters and exits 0."""
        agent.proc.stdin.close()
        rc = agent.wait('the example to exit')
        self.assertEqual(rc, 0, agent.stderr)
        self.assertNotIn('CRITICAL', agent.stderr)
        self.assertNotIn('WARNING', agent.stderr)

    def test_the_readme_quotes_the_example(self):
        with open(EXAMPLE) as f:
            self.assertIn(f.read(), fenced(section(AGENT_SECTION), 'js'))

    def test_an_authentication_through_the_example(self):
        self.enroll(print_id=FINGER)
        agent = self.gjs_agent()
        agent.expect('Registered with soterd.')

        call = self.start_auth('order #4711', content='Pay 12.00 EUR')
        self.assertRegex(agent.expect('asks: Pay 12.00 EUR'), r'^\S.* \(uid 0\) asks: ')
        agent.expect('Touch the fingerprint reader (fingerPrint); Enter cancels.')
        self.reader(f'SCAN {FINGER}')
        mode, result_json, _sig, code, msg = call.wait()
        self.assertEqual((code, mode), (0, 'fingerPrint'), msg)
        self.assertIn('"raw":"order #4711"', result_json)
        agent.expect('Done.')

        # A miss: the example shows soterd's message.
        call = self.start_auth('again')
        agent.expect('Touch the fingerprint reader')
        self.reader('SCAN someone-else')
        agent.expect('try again')
        # Enter cancels the prompt shown: the app gets 90008.
        agent.proc.stdin.write(b'\n')
        agent.proc.stdin.flush()
        self.assertEqual(call.wait()[3], 90008)
        agent.expect('Closed (error 90008).')
        self.stop(agent)

    def test_the_example_registers_again_when_soterd_restarts(self):
        self.enroll(print_id=FINGER)
        agent = self.gjs_agent()
        agent.expect('Registered with soterd.')
        self.assertEqual(self.stop_daemon(), 0)
        agent.expect('soterd left; waiting for it.')
        self.start_daemon()
        agent.expect('Registered with soterd.')
        call = self.start_auth('after-restart')
        agent.expect('Touch the fingerprint reader')
        self.reader(f'SCAN {FINGER}')
        self.assertEqual(call.wait()[3], 0)
        self.stop(agent)

    def test_the_example_says_when_another_agent_holds_the_session(self):
        self.agent.register()
        agent = self.gjs_agent()
        rc = agent.wait('the example to give up')
        self.assertEqual(rc, 1, agent.stdout + agent.stderr)
        self.assertIn('Another prompt agent serves this session', agent.stderr)


if __name__ == '__main__':
    taprunner.main(sys.modules[__name__])
