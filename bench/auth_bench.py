#!/usr/bin/python3
"""soterd against fprintd on the same kind of reader, in one run.

One private system bus with dbusmock's polkitd (allowing both daemons'
actions) and logind; fprintd and soterd each on libfprint's virtual_device
(each daemon opens its own instance: one process cannot share a reader with
another). The same client (this script, PyGObject) measures, per round trip:

  fprintd: Claim, VerifyStart('any'), finger, VerifyStatus match, VerifyStop, Release
  soterd:  StartSoterAuthentication, ShowPrompt, finger, reply, signature verified

and prints p50/p90 of each and the ratio soterd/fprintd (target <= 1.0).

    bench/auth_bench.py [N]        (default 200 authentications each)

Needs fprintd (apt-get install fprintd); run as root or with a private bus
the user may own names on.
"""

import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import dbusmock
from gi.repository import Gio, GLib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests'))
from soterd_testlib import Agent, Call, wait_until  # noqa: E402
import virtual_reader  # noqa: E402

SOTERD = os.environ.get('SOTERD', os.path.join(ROOT, 'build', 'daemon', 'soterd'))
FPRINTD = '/usr/libexec/fprintd'
SOTER = 'io.github.soterd.Soter1'
SOTER_PATH = '/io/github/soterd/Soter1'
FPRINT = 'net.reactivated.Fprint'
ACTIONS = ['io.github.soterd.Soter1.authenticate', 'io.github.soterd.Soter1.enroll',
           'net.reactivated.fprint.device.verify', 'net.reactivated.fprint.device.enroll']


def scan(sock, print_id):
    virtual_reader.command(sock, f'SCAN {print_id}')


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


class Bench(dbusmock.DBusTestCase):
    pass


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    tmp = tempfile.mkdtemp(prefix='soterd-bench-')
    procs = []
    try:
        Bench.start_system_bus()
        address = os.environ['DBUS_SYSTEM_BUS_ADDRESS']
        polkitd, polkit_obj = Bench.spawn_server_template('polkitd', {}, stdout=subprocess.DEVNULL)
        procs.append(polkitd)
        logind, _ = Bench.spawn_server_template('logind', {}, stdout=subprocess.DEVNULL)
        procs.append(logind)
        import dbus
        polkit_obj.SetAllowed(dbus.Array(ACTIONS, signature='s'))

        conn = Gio.DBusConnection.new_for_address_sync(
            address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)

        def call(name, path, iface, method, args=None, reply=None):
            return conn.call_sync(name, path, iface, method, args,
                                  GLib.VariantType(reply) if reply else None, 0, 60000,
                                  None).unpack()

        # ---- fprintd -------------------------------------------------------
        fp_sock = os.path.join(tmp, 'fprintd-reader')
        env = dict(os.environ, STATE_DIRECTORY=os.path.join(tmp, 'fprint'),
                   FP_VIRTUAL_DEVICE=fp_sock, FP_DRIVERS_WHITELIST='virtual_device')
        os.makedirs(env['STATE_DIRECTORY'])
        procs.append(subprocess.Popen([FPRINTD, '-t'], env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        Bench.wait_for_bus_object(FPRINT, '/net/reactivated/Fprint/Manager', system_bus=True)
        dev = call(FPRINT, '/net/reactivated/Fprint/Manager', FPRINT + '.Manager',
                   'GetDefaultDevice', reply='(o)')[0]
        status = []
        conn.signal_subscribe(FPRINT, FPRINT + '.Device', None, dev, None, 0,
                              lambda c, s, p, i, sig, args: status.append((sig, args.unpack())))
        devcall = lambda m, a=None, r=None: call(FPRINT, dev, FPRINT + '.Device', m, a, r)  # noqa

        devcall('Claim', GLib.Variant('(s)', ('',)))
        devcall('EnrollStart', GLib.Variant('(s)', ('right-index-finger',)))
        for _ in range(5):
            scan(fp_sock, 'bench-finger')
        wait_until(lambda: any(s == 'EnrollStatus' and a[1] for s, a in status), 'fprintd enroll')
        assert status[-1][1][0] == 'enroll-completed', status[-1]
        devcall('Release')

        fprintd_ms = []
        for _ in range(n):
            status.clear()
            t0 = time.perf_counter()
            devcall('Claim', GLib.Variant('(s)', ('',)))
            devcall('VerifyStart', GLib.Variant('(s)', ('any',)))
            scan(fp_sock, 'bench-finger')
            wait_until(lambda: any(s == 'VerifyStatus' and a[1] for s, a in status),
                       'fprintd verify')
            result = [a for s, a in status if s == 'VerifyStatus'][-1][0]
            devcall('VerifyStop')
            devcall('Release')
            fprintd_ms.append((time.perf_counter() - t0) * 1000)
            assert result == 'verify-match', result

        # ---- soterd --------------------------------------------------------
        so_sock = os.path.join(tmp, 'soterd-reader')
        conf = os.path.join(tmp, 'soterd.conf')
        open(conf, 'w').close()
        soterd = subprocess.Popen([SOTERD, '-t', '--config', conf],
                                  env=dict(os.environ, STATE_DIRECTORY=os.path.join(tmp, 'soter'),
                                           FP_VIRTUAL_DEVICE=so_sock,
                                           FP_DRIVERS_WHITELIST='virtual_device'),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(soterd)
        Bench.wait_for_bus_object(SOTER, SOTER_PATH, system_bus=True)
        agent = Agent(Gio.DBusConnection.new_for_address_sync(
            address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None))
        agent.register()
        enroll = []
        conn.signal_subscribe(None, SOTER, 'EnrollStatus', SOTER_PATH, None, 0,
                              lambda *a: enroll.append(a[5].unpack()))
        call(SOTER, SOTER_PATH, SOTER, 'Enroll', GLib.Variant('(s)', ('right-index-finger',)))
        for _ in range(5):
            scan(so_sock, 'bench-finger')
        wait_until(lambda: enroll and enroll[-1][1], 'soterd enroll')
        auth_json = call(SOTER, SOTER_PATH, SOTER, 'GetAuthKey', GLib.Variant('(s)', ('',)),
                         '(ss)')[0]

        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding
        auth_key = serialization.load_pem_public_key(json.loads(auth_json)['pub_key'].encode())
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=20)

        soterd_ms = []
        split = []   # call → ShowPrompt, the scan itself, scan → reply
        for i in range(n):
            t0 = time.perf_counter()
            c = Call(conn, 'StartSoterAuthentication',
                     GLib.Variant('(sass)', (f'bench-{i}', ['fingerPrint'], 'bench')), '(sssus)')
            agent.wait_shown(i + 1)
            t1 = time.perf_counter()
            scan(so_sock, 'bench-finger')
            t2 = time.perf_counter()
            _, result, sig, code, msg = c.wait()
            split.append(((t1 - t0) * 1000, (t2 - t1) * 1000, (time.perf_counter() - t2) * 1000))
            auth_key.verify(base64.b64decode(sig), result.encode(), pss, hashes.SHA256())
            soterd_ms.append((time.perf_counter() - t0) * 1000)
            assert code == 0, msg

        f50, f90 = pct(fprintd_ms, 50), pct(fprintd_ms, 90)
        s50, s90 = pct(soterd_ms, 50), pct(soterd_ms, 90)
        print(f'| round trip, {n} each, same bus and client | p50 ms | p90 ms |')
        print('|---|---|---|')
        print(f'| fprintd: Claim, VerifyStart, match, VerifyStop, Release | {f50:.2f} | {f90:.2f} |')
        print(f'| soterd: StartSoterAuthentication → verified reply | {s50:.2f} | {s90:.2f} |')
        print(f'| ratio soterd/fprintd (target ≤ 1.0) | {s50 / f50:.2f} | {s90 / f90:.2f} |')
        print(f'(means: fprintd {statistics.mean(fprintd_ms):.2f} ms, '
              f'soterd {statistics.mean(soterd_ms):.2f} ms)')
        print('soterd p50 split (ms): call → ShowPrompt %.2f, scan %.2f, scan → verified reply %.2f'
              % tuple(statistics.median(x[k] for x in split) for k in range(3)))
        return 0
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait()
        Bench.tearDownClass()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
