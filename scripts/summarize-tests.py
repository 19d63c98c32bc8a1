#!/usr/bin/env python3
"""Counts individual test cases from meson's logs and prints the closing line
'N passed, N failed, N skipped'.

Each TAP subtest (a GTest case, a Python test method) is one case. A test
program that crashed or timed out without reporting a failing case counts as
one failed case more, so a crash can never read as a pass."""

import json
import os
import sys
import xml.etree.ElementTree as ET

# Arguments: meson log directories, each optionally with ':LOGBASE' when the
# run used 'meson test --logbase LOGBASE' (default testlog).
log_dirs = sys.argv[1:] or ['build/meson-logs']
passed = failed = skipped = 0


def count(arg):
    global passed, failed, skipped
    logs, _, base = arg.partition(':')
    base = base or 'testlog'
    failed_suites = set()
    tree = ET.parse(os.path.join(logs, base + '.junit.xml'))
    for suite in tree.getroot().iter('testsuite'):
        cases = list(suite.iter('testcase'))
        for case in cases:
            if case.find('failure') is not None or case.find('error') is not None:
                failed += 1
                failed_suites.add(suite.get('name'))
                print(f"FAILED: {suite.get('name')}: {case.get('name')}")
            elif case.find('skipped') is not None:
                skipped += 1
            else:
                passed += 1

    with open(os.path.join(logs, base + '.json')) as f:
        for line in f:
            t = json.loads(line)
            if t['result'] in ('OK', 'SKIP', 'EXPECTEDFAIL'):
                continue
            if not any(s.endswith(t['name']) for s in failed_suites):
                failed += 1
                print(f"FAILED: {t['name']}: the test program ended with {t['result']}")


for d in log_dirs:
    count(d)

print(f'{passed} passed, {failed} failed, {skipped} skipped')
sys.exit(1 if failed else 0)
