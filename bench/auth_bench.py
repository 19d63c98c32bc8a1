#!/usr/bin/python3
"""soterd against fprintd on the same kind of reader, in one run.

One private system bus with dbusmock's polkitd (allowing both daemons'
actions) and logind; fprintd and soterd each on libfprint's virtual_device
(each daemon opens its own instance: one process cannot share a reader with
another). The same client (this script, PyGObject) measures, per round trip:

  fprintd: Claim, VerifyStart('any'), finger, VerifyStatus match, VerifyStop, Release
  soterd:  StartSoterAuthentication, ShowPrompt, finger, reply, signature verified

and prints p50/p90 of each and the ratio soterd/fprintd (target <= 1.0).
In the same run it also measures:

  - the floor: one RSA-2048 PSS sign (OpenSSL, through python3-cryptography),
    one atomic counter write with fsync (temporary, fsync, rename, fsync of
    the directory, on the state directory's filesystem) and one D-Bus round
    trip (Peer.Ping to soterd), and soterd's p50 against their sum
    (target <= 2x);
  - throughput with 8 clients at once (authentications per second);
  - RSS of each daemon idle and after the N authentications (target: soterd
    below fprintd);
  - start-up: from the call that makes D-Bus start soterd (activation from a
    service file) to its answer (target <= 50 ms).

    bench/auth_bench.py [N]        (default 1000 authentications each)

SOTER_BENCH_LOG=FILE appends soterd's messages to FILE; with
G_MESSAGES_DEBUG=soterd they include each request's steps and their times,
and the bench prints the median time of each step over the single-client
authentications.

Needs fprintd (apt-get install fprintd); run as root or with a private bus
the user may own names on.
"""

import base64
import json
import os
import re
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


BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={tmp}/bus</listen>
  <auth>EXTERNAL</auth>
  <servicedir>{tmp}/services</servicedir>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""


def rss_kib(pid):
    with open(f'/proc/{pid}/status') as f:
        return int(next(line for line in f if line.startswith('VmRSS:')).split()[1])


def memory_kib(pid):
    """What RSS is made of: Private_Dirty (the daemon's own heap, stacks and
    written data), the RSS of each shared library mapping, summed by file
    name (clean file pages, shared with every process mapping them), and
    Private_Dirty by where it is (a library's relocated data, the heap,
    anonymous mappings: thread stacks and malloc arenas)."""
    with open(f'/proc/{pid}/smaps_rollup') as f:
        rollup = {line.split(':')[0]: int(line.split()[1]) for line in f if line.endswith('kB\n')}
    libs, dirty = {}, {}
    name = None
    with open(f'/proc/{pid}/smaps') as f:
        for line in f:
            fields = line.split()
            if '-' in fields[0] and len(fields) >= 5 and not fields[0].endswith(':'):
                name = os.path.basename(fields[5]) if len(fields) > 5 else '(anonymous)'
            elif fields[0] == 'Rss:' and '.so' in name:
                libs[name] = libs.get(name, 0) + int(fields[1])
            elif fields[0] == 'Private_Dirty:' and int(fields[1]):
                dirty[name] = dirty.get(name, 0) + int(fields[1])
    return rollup, libs, dirty


def top(kib_by_name, n=8):
    return ', '.join(f'{k} {v}' for k, v in sorted(kib_by_name.items(), key=lambda kv: -kv[1])[:n])


def step_medians(log, offset, count):
    """Median time (since the call arrived) of each step soterd logged, over
    the first @count requests in @log after @offset: the single-client ones."""
    steps, order = {}, {}   # order: request id → its place among the requests
    with open(log, errors='replace') as f:
        f.seek(offset)
        for m in re.finditer(r'Request (\w+): (.+?) at ([0-9.]+) ms', f.read()):
            rid, step, ms = m.groups()
            if order.setdefault(rid, len(order)) < count:
                steps.setdefault(step, []).append(float(ms))
    return sorted(((statistics.median(v), k) for k, v in steps.items()))


def median_ms(fn, times):
    samples = []
    for _ in range(times):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    tmp = tempfile.mkdtemp(prefix='soterd-bench-')
    procs = []
    try:
        # A system-type bus of our own, which starts soterd from a service
        # file as the real one does (dbus-daemon's environment is passed on).
        so_sock = os.path.join(tmp, 'soterd-reader')
        conf = os.path.join(tmp, 'soterd.conf')
        with open(conf, 'w') as f:
            f.write('[soterd]\nIdleTimeout=3600\nKeyStore=file\n')
        os.makedirs(os.path.join(tmp, 'services'))
        exec_line = f'{SOTERD} --config {conf}'
        log = os.environ.get('SOTER_BENCH_LOG')
        log_offset = os.path.getsize(log) if log and os.path.exists(log) else 0
        if log:
            # soterd's messages to a file (with G_MESSAGES_DEBUG=soterd, each
            # request's steps and their times).
            exec_line = (f"/bin/sh -c 'exec {exec_line} "
                         f">>{log} 2>&1'")
        with open(os.path.join(tmp, 'services', SOTER + '.service'), 'w') as f:
            f.write(f'[D-BUS Service]\nName={SOTER}\nExec={exec_line}\n')
        with open(os.path.join(tmp, 'bus.conf'), 'w') as f:
            f.write(BUS_CONFIG.format(tmp=tmp))
        bus = subprocess.Popen(['dbus-daemon', '--nofork', '--print-address',
                                '--config-file=' + os.path.join(tmp, 'bus.conf')],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env=dict(os.environ, STATE_DIRECTORY=os.path.join(tmp, 'soter'),
                                        FP_VIRTUAL_DEVICE=so_sock,
                                        FP_DRIVERS_WHITELIST='virtual_device'))
        procs.append(bus)
        address = bus.stdout.readline().strip()
        os.environ['DBUS_SYSTEM_BUS_ADDRESS'] = address
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
        fprintd_pid = procs[-1].pid
        fprintd_rss_idle = rss_kib(fprintd_pid)
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
        fprintd_rss_after = rss_kib(fprintd_pid)
        fprintd_mem, fprintd_libs, fprintd_dirty = memory_kib(fprintd_pid)

        # ---- soterd --------------------------------------------------------
        def ping():
            call(SOTER, SOTER_PATH, 'org.freedesktop.DBus.Peer', 'Ping')

        def soterd_pid():
            return call('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
                        'GetConnectionUnixProcessID', GLib.Variant('(s)', (SOTER,)), '(u)')[0]

        def stop_soterd():
            os.kill(soterd_pid(), 15)
            while call('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
                       'NameHasOwner', GLib.Variant('(s)', (SOTER,)), '(b)')[0]:
                time.sleep(0.002)  # a bench: polling the bus is fine here

        # Start-up, D-Bus activation: the first start makes the device key.
        first_start_ms = median_ms(ping, 1)
        stop_soterd()
        starts = []
        for _ in range(10):
            starts.append(median_ms(ping, 1))
            stop_soterd()
        start_ms = statistics.median(starts)
        ping()
        soterd_rss_idle = rss_kib(soterd_pid())
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

        steps = step_medians(log, log_offset, n) if log else []
        soterd_rss_after = rss_kib(soterd_pid())
        soterd_mem, soterd_libs, soterd_dirty = memory_kib(soterd_pid())

        # ---- the floor, in the same run ----------------------------------------
        from cryptography.hazmat.primitives.asymmetric import rsa
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        doc = result.encode()
        sign_ms = median_ms(lambda: key.sign(doc, pss, hashes.SHA256()), 200)
        state_dir = os.path.join(tmp, 'soter')

        def counter_write():
            path = os.path.join(state_dir, 'bench-counter')
            fd = os.open(path + '.tmp', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.write(fd, b'123456789\n')
            os.fsync(fd)
            os.close(fd)
            os.rename(path + '.tmp', path)
            dfd = os.open(state_dir, os.O_RDONLY | os.O_DIRECTORY)
            os.fsync(dfd)
            os.close(dfd)
        write_ms = median_ms(counter_write, 200)
        os.unlink(os.path.join(state_dir, 'bench-counter'))
        ping_ms = median_ms(ping, 200)
        floor_ms = sign_ms + write_ms + ping_ms

        # What SPEC adds before a finger may be read, measured the same way:
        # polkit's answer for the caller (§8), and the prompt agent's
        # acknowledgement of ShowPrompt (§7), from the same polkitd and agent.
        def polkit_check():
            subject = ('system-bus-name', {'name': GLib.Variant('s', conn.get_unique_name())})
            reply = call('org.freedesktop.PolicyKit1', '/org/freedesktop/PolicyKit1/Authority',
                         'org.freedesktop.PolicyKit1.Authority', 'CheckAuthorization',
                         GLib.Variant('((sa{sv})sa{ss}us)',
                                      (subject, ACTIONS[0], {}, 0, '')), '((bba{ss}))')
            assert reply[0][0], reply

        def agent_round_trip():
            # Asynchronous: the agent answers from this process's main loop.
            box = []
            conn.call(agent.conn.get_unique_name(), agent.path, 'io.github.soterd.Soter1.Agent',
                      'ShowPrompt', GLib.Variant('(sa{sv})', ('floor', {})), None,
                      Gio.DBusCallFlags.NONE, 60000, None, lambda c, r: box.append(r))
            wait_until(lambda: box, 'the agent')
            conn.call_finish(box[0])
        polkit_ms = median_ms(polkit_check, 200)
        agent_ms = median_ms(agent_round_trip, 200)
        spec_floor_ms = floor_ms + polkit_ms + agent_ms

        # ---- throughput, 8 clients at once ----------------------------------------
        agent.on_show = lambda request_id, details: scan(so_sock, 'bench-finger')
        conns = [Gio.DBusConnection.new_for_address_sync(
            address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None) for _ in range(8)]
        total = min(n, 400)
        started = finished = 0
        pending = {}
        t0 = time.perf_counter()
        while finished < total:
            for i, c in enumerate(conns):
                if i not in pending and started < total:
                    started += 1
                    pending[i] = Call(c, 'StartSoterAuthentication',
                                      GLib.Variant('(sass)', (f'tp-{started}', ['fingerPrint'],
                                                              '')), '(sssus)')
            wait_until(lambda: any(c.done for c in pending.values()), 'an answer')
            for i, c in list(pending.items()):
                if c.done:
                    assert c.wait()[3] == 0
                    del pending[i]
                    finished += 1
        throughput = total / (time.perf_counter() - t0)

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
        if steps:
            print('inside soterd, median ms since the call arrived: ' +
                  ' → '.join(f'{step} {ms:.2f}' for ms, step in steps))
        print()
        print('| the floor, same run | median ms |')
        print('|---|---|')
        print(f'| RSA-2048 PSS sign (OpenSSL) | {sign_ms:.2f} |')
        print(f'| atomic counter write, fsync of file and directory | {write_ms:.2f} |')
        print(f'| D-Bus round trip (Peer.Ping to soterd) | {ping_ms:.2f} |')
        print(f'| floor (sum) | {floor_ms:.2f} |')
        print(f'| soterd p50 / floor (target ≤ 2.0) | {s50 / floor_ms:.2f} |')
        print(f'| soterd p50 above the floor | {s50 - floor_ms:.2f} |')
        print(f'| polkit CheckAuthorization for the caller (same polkitd) | {polkit_ms:.2f} |')
        print(f'| agent ShowPrompt round trip (same agent) | {agent_ms:.2f} |')
        print(f'| floor + those two, which SPEC puts before any finger | {spec_floor_ms:.2f} |')
        print(f'| soterd p50 / that | {s50 / spec_floor_ms:.2f} |')
        print()
        print('| other measures | soterd | fprintd | target |')
        print('|---|---|---|---|')
        print(f'| authentications/s, 8 clients at once ({total}) | {throughput:.0f} | | |')
        print(f'| RSS idle, KiB | {soterd_rss_idle} | {fprintd_rss_idle} | soterd below |')
        print(f'| RSS after {n} authentications, KiB | {soterd_rss_after} | {fprintd_rss_after} '
              f'| soterd below |')
        print(f'| after: Private_Dirty (own heap, stacks, data), KiB | '
              f'{soterd_mem["Private_Dirty"]} | {fprintd_mem["Private_Dirty"]} | |')
        print(f'| after: PSS (shared pages divided among their users), KiB | '
              f'{soterd_mem["Pss"]} | {fprintd_mem["Pss"]} | |')
        print(f'| after: RSS of shared libraries only one of them maps, KiB | '
              f'{sum(v for k, v in soterd_libs.items() if k not in fprintd_libs)} | '
              f'{sum(v for k, v in fprintd_libs.items() if k not in soterd_libs)} | |')
        print(f'| start-up by D-Bus activation to the first answer, median of 10, ms | '
              f'{start_ms:.1f} | | ≤ 50 |')
        print(f'| first start ever (makes the device key), ms | {first_start_ms:.1f} | | |')
        print()
        print('shared libraries only soterd maps, RSS KiB: ' + ', '.join(
            f'{k} {v}' for k, v in sorted(soterd_libs.items(), key=lambda kv: -kv[1])
            if k not in fprintd_libs))
        print('shared libraries only fprintd maps, RSS KiB: ' + ', '.join(
            f'{k} {v}' for k, v in sorted(fprintd_libs.items(), key=lambda kv: -kv[1])
            if k not in soterd_libs))
        print(f'Private_Dirty KiB by mapping, soterd: {top(soterd_dirty)}')
        print(f'Private_Dirty KiB by mapping, fprintd: {top(fprintd_dirty)}')
        stop_soterd()
        return 0
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
