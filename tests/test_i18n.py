#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The translation machinery, end to end: po/ is complete and current, the
build's .mo translates soterctl and the text agent, the merged polkit policy
carries every language, and what scripts read stays English.

How the programs find the build's .mo: soterctl and the text agent look only
in the LOCALEDIR they were built with (config.h; the agent's is substituted at
build time), and have no test hook to look elsewhere. Each run here is in a
mount namespace of its own (unshare --mount as root, else with --user
--map-root-user) where the build tree's po/ directory, which meson lays out
as LANG/LC_MESSAGES/soterd.mo, is bind-mounted over LOCALEDIR: the real
lookup, nothing on the machine changes, and nothing needs installing.

The locale: glibc's gettext ignores LANGUAGE in the C locale, not in C.UTF-8,
so LC_ALL=C.UTF-8 LANGUAGE=zh_CN needs nothing installed. A case also builds
a real zh_CN.UTF-8 (localedef into a temporary LOCPATH, from the `locales`
package's sources) and runs with LANG=zh_CN.UTF-8 alone, as a user's session
does; it skips when the sources are missing."""

import gettext
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(__file__))
import taprunner  # noqa: E402

SRC = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
BUILD = os.path.join(SRC, 'build')
SOTERCTL = os.environ.get('SOTERCTL', os.path.join(BUILD, 'tools', 'soterctl'))
TEXT_AGENT = os.environ.get('SOTER_TEXT_AGENT', os.path.join(BUILD, 'agents', 'soter-text-agent'))
PO_BUILD = os.environ.get('SOTER_PO_BUILD_DIR', os.path.join(BUILD, 'po'))
POLICY = os.environ.get('SOTER_POLICY',
                        os.path.join(BUILD, 'polkit', 'io.github.soterd.Soter1.policy'))
LOCALEDIR = os.environ.get('SOTER_LOCALEDIR', '/usr/share/locale')
PO = os.path.join(SRC, 'po')
# Runs soterctl under a tool, e.g. valgrind (the sanitizers suite).
CLIENT_WRAPPER = os.environ.get('SOTER_CLIENT_WRAPPER', '').split()
SAMPLES = os.path.join(SRC, 'tests', 'data', 'tencent-soter-samples')
XML_LANG = '{http://www.w3.org/XML/1998/namespace}lang'
# xgettext as meson's i18n.gettext(preset: 'glib') runs it (its keywords).
XGETTEXT_ARGS = ['--from-code=UTF-8', '--add-comments', '--keyword=_', '--keyword=N_',
                 '--keyword=C_:1c,2', '--keyword=NC_:1c,2', '--keyword=g_dcgettext:2',
                 '--keyword=g_dngettext:2,3', '--keyword=g_dpgettext2:2c,3']
CJK = re.compile('[\u4e00-\u9fff]')


def linguas():
    with open(os.path.join(PO, 'LINGUAS')) as f:
        return [w for line in f if not line.startswith('#') for w in line.split()]


def clean_env(**extra):
    """os.environ without any locale setting, plus @extra."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith('LC_') or k in ('LANG', 'LANGUAGE', 'LOCPATH'))}
    env.update(extra)
    return env


ZH = {'LC_ALL': 'C.UTF-8', 'LANGUAGE': 'zh_CN'}
_NAMESPACE = []


def namespace():
    """The unshare command that lets this user bind-mount in a mount
    namespace of its own, or None with the reason in _NAMESPACE[1]."""
    if not _NAMESPACE:
        base = ['unshare', '--mount', '--propagation', 'private']
        tries = [base] if os.geteuid() == 0 else []
        tries.append(['unshare', '--user', '--map-root-user', '--mount', '--propagation',
                      'private'])
        found, why = None, 'unshare --mount (as root) or --user --mount failed here'
        if not os.path.isdir(LOCALEDIR):
            why = f'LOCALEDIR {LOCALEDIR} does not exist to mount the build\'s .mo over'
        elif shutil.which('unshare') is None:
            why = 'no unshare (util-linux)'
        else:
            for cmd in tries:
                r = subprocess.run(cmd + ['mount', '--bind', PO_BUILD, LOCALEDIR],
                                   capture_output=True)
                if r.returncode == 0:
                    found = cmd
                    break
        _NAMESPACE[:] = [found, why]
    return _NAMESPACE[0]


def run(argv, env, stdin=None):
    """@argv with the build tree's translations at LOCALEDIR."""
    ns = namespace()
    if ns is None:
        raise unittest.SkipTest(_NAMESPACE[1])
    return subprocess.run(ns + ['sh', '-c', 'mount --bind "$1" "$2" && shift 2 && exec "$@"',
                                'sh', PO_BUILD, LOCALEDIR, *argv],
                          env=env, input=stdin, capture_output=True, text=True)


def soterctl(*args, env):
    return run([*CLIENT_WRAPPER, SOTERCTL, *args], env)


def catalog(lang):
    """msgid → msgstr of po/LANG.po, as msgfmt reads it (through a .mo)."""
    with tempfile.TemporaryDirectory() as tmp:
        mo = os.path.join(tmp, 'soterd.mo')
        subprocess.run(['msgfmt', '-o', mo, os.path.join(PO, lang + '.po')], check=True)
        with open(mo, 'rb') as f:
            return {k: v for k, v in gettext.GNUTranslations(f)._catalog.items() if k}


class TestPo(unittest.TestCase):
    """po/ as a translator and a release leave it."""

    def test_every_language_checks_and_is_complete(self):
        for lang in linguas():
            with self.subTest(lang=lang):
                r = subprocess.run(['msgfmt', '--check-format', '-c', '--statistics', '-o',
                                    os.devnull, os.path.join(PO, lang + '.po')],
                                   capture_output=True, text=True, env=clean_env(LC_ALL='C'))
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertRegex(r.stderr, r'^\d+ translated messages\.\n$',
                                 'fuzzy or untranslated messages: ' + r.stderr)
                r = subprocess.run(['msgcmp', os.path.join(PO, lang + '.po'),
                                    os.path.join(PO, 'soterd.pot')], capture_output=True,
                                   text=True)
                self.assertEqual(r.returncode, 0, 'a message of soterd.pot is not translated:\n'
                                 + r.stderr)

    def test_pot_has_every_string_of_potfiles_and_no_other(self):
        with tempfile.TemporaryDirectory() as tmp:
            fresh = os.path.join(tmp, 'fresh.pot')
            r = subprocess.run(['xgettext', *XGETTEXT_ARGS, '--directory', SRC,
                                '--files-from', os.path.join(PO, 'POTFILES'), '-o', fresh],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            committed = os.path.join(PO, 'soterd.pot')
            for new, old, what in ((fresh, committed, 'missing from'),
                                   (committed, fresh, 'no longer in the sources but still in')):
                r = subprocess.run(['msgcmp', '--use-untranslated', old, new],
                                   capture_output=True, text=True)
                self.assertEqual(r.returncode, 0,
                                 f'strings {what} po/soterd.pot (meson compile soterd-pot):\n'
                                 + r.stderr)

    def test_potfiles_names_files_that_exist(self):
        with open(os.path.join(PO, 'POTFILES')) as f:
            names = [line.strip() for line in f if line.strip() and not line.startswith('#')]
        self.assertIn('polkit/io.github.soterd.Soter1.policy.in', names)
        self.assertIn('tools/soterctl.c', names)
        for name in names:
            self.assertTrue(os.path.isfile(os.path.join(SRC, name)), name)


class TestBuiltCatalog(unittest.TestCase):
    """The .mo meson builds, where the test looks for it."""

    def test_built_mo_is_the_po(self):
        for lang in linguas():
            mo = os.path.join(PO_BUILD, lang, 'LC_MESSAGES', 'soterd.mo')
            with self.subTest(lang=lang), open(mo, 'rb') as f:
                built = {k: v for k, v in gettext.GNUTranslations(f)._catalog.items() if k}
                self.assertEqual(built, catalog(lang))

    def test_prompts_are_translated(self):
        t = gettext.translation('soterd', PO_BUILD, languages=['zh_CN'])
        for msgid, words in (
                ('Place an enrolled finger on the reader (Ctrl-C cancels).', '已录入的手指'),
                ('SOTER authentication for %s (uid %u)\n', 'SOTER 验证'),
                ('Enroll result: %s\n', '录入结果'),
                ('Touch the fingerprint reader (Ctrl-C to cancel).', '指纹'),
                ('request cancelled', '已取消'),
                ('Confirm with your fingerprint', '指纹')):
            with self.subTest(msgid=msgid):
                self.assertIn(words, t.gettext(msgid))


class TestSoterctl(unittest.TestCase):
    def test_usage_in_chinese(self):
        r = soterctl('--help', env=clean_env(**ZH))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith('用法：soterctl 命令 [选项…] [参数…]\n\n命令：\n'),
                        r.stdout)
        self.assertIn('  enroll     录入一根手指的指纹\n', r.stdout)
        self.assertIn('  auth       进行一次 SOTER 验证并输出签名结果\n', r.stdout)

    def test_subcommand_help_in_chinese(self):
        r = soterctl('enroll', '--help', env=clean_env(**ZH))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('录入您的一根手指（使用 fprintd 的名称；默认为 right-index-finger）',
                      r.stdout)
        r = soterctl('auth', '--help', env=clean_env(**ZH))
        self.assertIn('--challenge=C', r.stdout)  # option names stay as typed
        self.assertIn('服务器的挑战值，签名后作为 raw 返回（必需）', r.stdout)
        r = soterctl('verify', '--help', env=clean_env(**ZH))
        self.assertTrue(r.stdout.startswith('用法：soterctl verify (--device-key PEM'), r.stdout)

    def test_errors_in_chinese(self):
        r = soterctl('frobnicate', env=clean_env(**ZH))
        self.assertEqual((r.returncode, r.stderr),
                         (2, 'soterctl：未知命令“frobnicate”；请尝试 soterctl --help\n'))
        r = soterctl('auth', env=clean_env(**ZH))
        self.assertEqual(r.returncode, 2)
        self.assertIn('必须指定 --challenge', r.stderr)
        r = soterctl('delete', env=clean_env(**ZH))
        self.assertEqual(r.stderr, 'soterctl delete：所需参数：FINGER（请参阅 soterctl delete '
                         '--help）\n')

    def test_what_scripts_read_stays_english(self):
        r = soterctl('verify', '--app-key-pem', os.path.join(SAMPLES, 'ask.pem'),
                     '--auth-key', os.path.join(SAMPLES, 'auth_key_json.txt'),
                     os.path.join(SAMPLES, 'auth_key_signature.bin'),
                     '--challenge', "I'm a demo challenge string",
                     os.path.join(SAMPLES, 'final_json.txt'),
                     os.path.join(SAMPLES, 'final_signature.bin'), env=clean_env(**ZH))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith('verified: cpu_id '), r.stdout)

    def test_c_locale_ignores_language(self):
        english = soterctl('--help', env=clean_env(LC_ALL='C.UTF-8'))
        self.assertTrue(english.stdout.startswith('Usage: soterctl COMMAND'), english.stdout)
        self.assertIsNone(CJK.search(english.stdout))
        for env in ({'LC_ALL': 'C', 'LANGUAGE': 'zh_CN'}, {'LC_ALL': 'POSIX', 'LANGUAGE': 'zh_CN'},
                    {'LANG': 'C', 'LANGUAGE': 'zh_CN'}):
            with self.subTest(env=env):
                r = soterctl('--help', env=clean_env(**env))
                self.assertEqual(r.stdout.encode(), english.stdout.encode())

    def test_a_real_zh_CN_locale(self):
        if shutil.which('localedef') is None or \
                not os.path.exists('/usr/share/i18n/locales/zh_CN'):
            self.skipTest('no localedef or no zh_CN locale source (Debian: locales)')
        with tempfile.TemporaryDirectory() as locpath:
            r = subprocess.run(['localedef', '-i', 'zh_CN', '-f', 'UTF-8',
                                os.path.join(locpath, 'zh_CN.UTF-8')], capture_output=True,
                               text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            r = soterctl('--help', env=clean_env(LANG='zh_CN.UTF-8', LOCPATH=locpath))
            self.assertTrue(r.stdout.startswith('用法：soterctl 命令'), r.stdout + r.stderr)


class TestTextAgent(unittest.TestCase):
    def test_help_in_chinese(self):
        r = run([TEXT_AGENT, '--help'], clean_env(**ZH))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('用于终端的 SOTER 提示代理。', r.stdout)
        self.assertIn('总线地址（默认：系统总线）', r.stdout)

    def test_help_in_c_is_english(self):
        r = run([TEXT_AGENT, '--help'], clean_env(LC_ALL='C.UTF-8'))
        self.assertIn('A SOTER prompt agent for a terminal.', r.stdout)
        self.assertIsNone(CJK.search(r.stdout))


class TestPolicy(unittest.TestCase):
    def test_merged_policy_has_every_language(self):
        root = ET.parse(POLICY).getroot()
        actions = root.findall('action')
        self.assertEqual(len(actions), 3)
        for lang in linguas():
            tr = catalog(lang)
            for action in actions:
                for tag in ('description', 'message'):
                    with self.subTest(lang=lang, action=action.get('id'), tag=tag):
                        plain = [e.text for e in action.findall(tag) if XML_LANG not in e.attrib]
                        local = [e.text for e in action.findall(tag)
                                 if e.get(XML_LANG) == lang]
                        self.assertEqual(len(plain), 1)
                        self.assertEqual(local, [tr[plain[0]]])
        auth = root.find("action[@id='io.github.soterd.Soter1.authenticate']")
        self.assertEqual([e.text for e in auth.findall('description')
                          if e.get(XML_LANG) == 'zh_CN'], ['用指纹确认操作（SOTER）'])

    def test_policy_is_well_formed_xml(self):
        if shutil.which('xmllint') is None:
            self.skipTest('no xmllint')
        r = subprocess.run(['xmllint', '--noout', POLICY], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == '__main__':
    taprunner.main(sys.modules[__name__])
