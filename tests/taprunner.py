"""Runs unittest cases and reports each one as a TAP line, so that meson (and
the summary at the end of scripts/run-tests.sh) counts individual test cases."""

import sys
import traceback
import unittest


class TapResult(unittest.TestResult):
    def __init__(self, stream):
        super().__init__()
        self.stream = stream
        self.n = 0
        self.status = None

    # A test may report more than once (a failing tearDown after a passing
    # body): it still counts once, as its worst outcome.
    def startTest(self, test):
        super().startTest(test)
        self.status = 'ok'
        self.skip = None

    def stopTest(self, test):
        super().stopTest(test)
        self.n += 1
        suffix = f' # SKIP {self.skip}' if self.skip is not None and self.status == 'ok' else ''
        self._line(f'{self.status} {self.n} - {test.id()}{suffix}')

    def _line(self, text):
        self.stream.write(text + '\n')
        self.stream.flush()

    def _diag(self, err):
        for line in ''.join(traceback.format_exception(*err)).splitlines():
            self._line('# ' + line)

    def addSuccess(self, test):
        pass

    def addFailure(self, test, err):
        self._diag(err)
        self.status = 'not ok'
        self.failures.append((test, ''))

    def addError(self, test, err):
        self._diag(err)
        self.status = 'not ok'
        self.errors.append((test, ''))

    def addSkip(self, test, reason):
        self.skip = reason

    def addSubTest(self, test, subtest, err):
        if err is not None:
            self._diag(err)
            self.status = 'not ok'
            self.failures.append((subtest, ''))


def main(module):
    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    only = sys.argv[1:]
    if only:
        suite = unittest.TestSuite(t for t in _flatten(suite)
                                   if any(o in t.id() for o in only))
    result = TapResult(sys.stdout)
    suite.run(result)
    sys.stdout.write(f'1..{result.n}\n')
    sys.exit(0 if result.wasSuccessful() else 1)


def _flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _flatten(t)
        else:
            yield t
