#!/usr/bin/python3
"""The main job, end to end, on a private system bus: soterd on libfprint's
virtual reader, polkit (dbusmock's polkitd allowing soterd's actions), the
terminal prompt agent, an app that enrolls a finger and asks for a SOTER
authentication, and a relying party that verifies the whole key chain with
the openssl command line. The demo plays the user's finger by writing to
the virtual reader's socket when the agent shows the prompt."""

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile

from gi.repository import Gio, GLib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests'))
import virtual_reader  # noqa: E402
SOTERD = os.environ.get('SOTERD', os.path.join(ROOT, 'build', 'daemon', 'soterd'))
SOTERCTL = os.environ.get('SOTERCTL', os.path.join(ROOT, 'build', 'tools', 'soterctl'))
NAME = 'io.github.soterd.Soter1'
PATH = '/io/github/soterd/Soter1'
ACTIONS = [NAME + '.authenticate', NAME + '.enroll']


def step(text):
    print(f'\n== {text}', flush=True)


def wait_until(pred, what, seconds=30):
    ctx, expired = GLib.MainContext.default(), []
    src = GLib.timeout_add_seconds(seconds, lambda: expired.append(1) or False)
    while not pred():
        if expired:
            sys.exit(f'demo: timed out waiting for {what}')
        ctx.iteration(True)
    if not expired:
        GLib.source_remove(src)


def main():
    tmp = tempfile.mkdtemp(prefix='soterd-demo-')
    procs = []
    try:
        conf = os.path.join(tmp, 'bus.conf')
        with open(conf, 'w') as f:
            f.write(f'''<busconfig><type>system</type>
<listen>unix:path={tmp}/bus</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/>
<allow eavesdrop="true"/><allow own="*"/></policy></busconfig>''')
        bus = subprocess.Popen(['dbus-daemon', '--config-file', conf, '--nofork',
                                '--print-address'], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
        procs.append(bus)
        address = bus.stdout.readline().strip()
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=address)
        conn = Gio.DBusConnection.new_for_address_sync(
            address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)

        def wait_name(name):
            owned = []
            watch = Gio.bus_watch_name_on_connection(conn, name, Gio.BusNameWatcherFlags.NONE,
                                                     lambda *a: owned.append(True), None)
            wait_until(lambda: owned, name)
            Gio.bus_unwatch_name(watch)

        step('polkit: dbusmock polkitd, allowing ' + ', '.join(ACTIONS))
        procs.append(subprocess.Popen(['/usr/bin/python3', '-m', 'dbusmock', '--template',
                                       'polkitd', '--system'], env=env,
                                      stdout=subprocess.DEVNULL))
        wait_name('org.freedesktop.PolicyKit1')
        conn.call_sync('org.freedesktop.PolicyKit1', '/org/freedesktop/PolicyKit1/Authority',
                       'org.freedesktop.DBus.Mock', 'SetAllowed', GLib.Variant('(as)', (ACTIONS,)),
                       None, 0, -1, None)

        step('soterd on the virtual reader (state in a temporary directory)')
        reader = os.path.join(tmp, 'reader')
        soterd_conf = os.path.join(tmp, 'soterd.conf')
        with open(soterd_conf, 'w') as f:
            # The documented defaults, but for the key store: files in the
            # temporary state, where auto would take this machine's TPM (and
            # leave soterd's counter index defined in it).
            f.write('[soterd]\nKeyStore=file\n')
        procs.append(subprocess.Popen([SOTERD, '--no-idle-exit', '--config', soterd_conf],
                                      env=dict(env, STATE_DIRECTORY=os.path.join(tmp, 'state'),
                                               FP_VIRTUAL_DEVICE=reader,
                                               FP_DRIVERS_WHITELIST='virtual_device')))
        wait_name(NAME)

        step('the terminal prompt agent')
        agent = subprocess.Popen([os.path.join(ROOT, 'agents', 'soter-text-agent'),
                                  '--address', address], env=env, stdout=subprocess.PIPE,
                                 text=True)
        procs.append(agent)
        line = agent.stdout.readline()
        print(line, end='', flush=True)

        def touch(print_id):
            virtual_reader.command(reader, f'SCAN {print_id}')

        def call(method, args=None, reply=None):
            return conn.call_sync(NAME, PATH, NAME, method, args,
                                  GLib.VariantType(reply) if reply else None, 0, 120000,
                                  None).unpack()

        step('the app enrolls the right index finger (5 touches)')
        statuses = []
        conn.signal_subscribe(None, NAME, 'EnrollStatus', PATH, None, 0,
                              lambda *a: statuses.append(a[5].unpack()))
        call('Enroll', GLib.Variant('(s)', ('right-index-finger',)))
        for _ in range(5):
            touch('demo-finger')
        wait_until(lambda: statuses and statuses[-1][1], 'enrollment')
        print('   EnrollStatus:', ', '.join(s for s, _ in statuses))

        step('the app registers its keys with its server')
        device_pem, cpu_id, tee_n, tee_v = call('GetDeviceKey', reply='(ssss)')
        ask_json, ask_sig = call('GetAppSecureKey', reply='(ss)')
        auth_json, auth_sig = call('GetAuthKey', GLib.Variant('(s)', ('',)), '(ss)')
        print(f'   cpu_id {cpu_id}, key store {tee_n} {tee_v}')

        step("the app calls StartSoterAuthentication('order #4711: pay 12.00 EUR', "
             "['fingerPrint'], 'Pay 12.00 EUR to Example Shop')")
        result = {}
        conn.call(NAME, PATH, NAME, 'StartSoterAuthentication',
                  GLib.Variant('(sass)', ('order #4711: pay 12.00 EUR', ['fingerPrint'],
                                          'Pay 12.00 EUR to Example Shop')),
                  GLib.VariantType('(sssus)'), 0, 120000, None,
                  lambda c, r: result.update(reply=c.call_finish(r).unpack()))
        for _ in range(3):   # the agent's two lines of prompt and its hint
            print(agent.stdout.readline(), end='', flush=True)
        print('   (the demo touches the reader with the enrolled finger)', flush=True)
        touch('demo-finger')
        wait_until(lambda: 'reply' in result, 'the reply')
        print(agent.stdout.readline(), end='', flush=True)
        mode, result_json, signature, err_code, err_msg = result['reply']
        print(f'   authMode            {mode}\n   resultJSON          {result_json}\n'
              f'   resultJSONSignature {signature[:40]}…\n   errCode             {err_code}\n'
              f'   errMsg              {err_msg}')
        if err_code != 0:
            sys.exit('demo: authentication failed')

        step("the app's server verifies the chain with the openssl command line")

        def verify(label, pub_pem, data, sig_b64):
            files = {'pub.pem': pub_pem + '\n', 'data': data}
            for n, content in files.items():
                with open(os.path.join(tmp, n), 'w') as f:
                    f.write(content)
            with open(os.path.join(tmp, 'sig'), 'wb') as f:
                f.write(base64.b64decode(sig_b64, validate=True))
            cmd = ['openssl', 'dgst', '-sha256', '-sigopt', 'rsa_padding_mode:pss',
                   '-sigopt', 'rsa_pss_saltlen:20', '-sigopt', 'rsa_mgf1_md:sha256',
                   '-verify', os.path.join(tmp, 'pub.pem'), '-signature',
                   os.path.join(tmp, 'sig'), os.path.join(tmp, 'data')]
            r = subprocess.run(cmd, capture_output=True, text=True)
            print(f'   {label:<34} {r.stdout.strip() or r.stderr.strip()}')
            return r.returncode == 0

        ok = all([
            verify('app secure key by the device key', device_pem, ask_json, ask_sig),
            verify('auth key by the app secure key', json.loads(ask_json)['pub_key'],
                   auth_json, auth_sig),
            verify('resultJSON by the auth key', json.loads(auth_json)['pub_key'],
                   result_json, signature),
        ])
        doc = json.loads(result_json)
        ok = ok and doc['raw'] == 'order #4711: pay 12.00 EUR' and doc['cpu_id'] == cpu_id

        step("the same with soterctl verify: chain, claims, and replay protection")
        files = {}
        for name, content in [('device.pem', device_pem + '\n'), ('ask.json', ask_json),
                              ('ask.sig', ask_sig), ('auth.json', auth_json),
                              ('auth.sig', auth_sig), ('result.json', result_json),
                              ('result.sig', signature)]:
            files[name] = os.path.join(tmp, name)
            with open(files[name], 'w') as f:
                f.write(content)
        cmd = [SOTERCTL, 'verify', '--device-key', files['device.pem'],
               '--app-key', files['ask.json'], files['ask.sig'],
               '--auth-key', files['auth.json'], files['auth.sig'],
               '--challenge', 'order #4711: pay 12.00 EUR',
               '--state', os.path.join(tmp, 'server-counters'),
               files['result.json'], files['result.sig']]
        first = subprocess.run(cmd, capture_output=True, text=True)
        print('   first time: ', (first.stdout + first.stderr).strip())
        again = subprocess.run(cmd, capture_output=True, text=True)
        print('   replayed:   ', (again.stdout + again.stderr).strip())
        ok = ok and first.returncode == 0 and again.returncode == 1
        print('\nsoterd demo: ' + ('signature chain verified, challenge and device match, replay refused'
                                   if ok else 'VERIFICATION FAILED'))
        return 0 if ok else 1
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
