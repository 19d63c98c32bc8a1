#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A remote-controlled client of soterd on the system bus, run by a test as
another uid (and maybe chrooted, in a cgroup of its own): see
multiuser_testlib.Peer for the test side.

Runs under Debian's /usr/bin/python3 with PyGObject only (no dbus-python,
no test library: it must run inside a fake root that holds nothing but /usr,
/etc, /dev, /proc and the directory this script and the interface XML were
copied to).

Protocol: JSON, one object a line. Before anything else the peer reads ONE
line from stdin (any content: the test writes it once it has moved the peer
into its cgroup), then connects to $DBUS_SYSTEM_BUS_ADDRESS and reports
    {"event": "ready", "unique_name": ":1.7", "pid": 1234, "uid": 61001}
Then commands on stdin, each with an "id" that its reply carries:
    {"id": 1, "cmd": "call", "method": "GetDeviceKey", "sig": null, "args": [],
     "reply_type": "(ssss)"}            optional: dest, path, iface, timeout_ms
        → {"id": 1, "reply": [...]}
        | {"id": 1, "error": {"name": "io.github...", "message": "...",
                              "domain": "g-dbus-error-quark", "code": 36}}
    {"id": 2, "cmd": "register_agent", "path": "/peer/agent", "fallback": false}
        (RegisterAgent; with "fallback": true, "options": {...} or
         "with_options": true, RegisterAgentWithOptions)
    {"id": 3, "cmd": "unregister_agent", "path": "/peer/agent"}
    {"id": 4, "cmd": "cancel_prompt", "request_id": "..."}
    {"id": 5, "cmd": "subscribe", "member": "EnrollStatus"}   (soterd's signals)
    {"id": 6, "cmd": "quit"}
Events (no "id"): {"event": "ShowPrompt" | "UpdatePrompt" | "ClosePrompt",
"path": agent path, "args": [request_id, details-or-message-or-outcome]} once
the agent has answered the call (at once, with an empty reply); a subscribed
signal as {"event": member, "args": [...]}. EOF on stdin quits.

In a "call", "args" is the JSON form of the GVariant of type "sig"; a "v"
in it is given either as {"type": "u", "value": 7} or as a plain JSON value
(bool → b, int → i, float → d, str → s).
"""

import json
import os
import sys

from gi.repository import Gio, GLib

BUS_NAME = 'io.github.soterd.Soter1'
PATH = '/io/github/soterd/Soter1'
IFACE = 'io.github.soterd.Soter1'
AGENT_IFACE = 'io.github.soterd.Soter1.Agent'
# Every call's timeout (GDBus's 25 s by default is too short for soterd
# under valgrind, which makes a new uid's keys first).
TIMEOUT_MS = int(os.environ.get('SOTER_PEER_TIMEOUT_MS', '-1'))


def _infer(value):
    if isinstance(value, dict) and set(value) == {'type', 'value'}:
        return value['type'], value['value']
    if isinstance(value, bool):
        return 'b', value
    if isinstance(value, int):
        return 'i', value
    if isinstance(value, float):
        return 'd', value
    if isinstance(value, str):
        return 's', value
    raise ValueError(f'give the type of the variant holding {value!r}')


def _prepare(vt, value):
    """JSON → what GLib.Variant(type, value) takes, with "v" made variants.
    Types are handled as strings: PyGObject's VariantType.first()/next()
    hand out views into a string they do not keep alive."""
    sig = vt.dup_string() if isinstance(vt, GLib.VariantType) else vt
    if sig == 'v':
        t, v = _infer(value)
        return GLib.Variant(t, _prepare(t, v))
    if sig.startswith('('):
        return tuple(_prepare(t, item)
                     for t, item in zip(GLib.Variant.split_signature(sig), value))
    if sig.startswith('a{'):
        key_t, value_t = GLib.Variant.split_signature('(' + sig[2:-1] + ')')
        return {_prepare(key_t, k): _prepare(value_t, v) for k, v in value.items()}
    if sig.startswith('a'):
        return [_prepare(sig[1:], item) for item in value]
    return value


def to_variant(sig, args):
    if not sig:
        return None
    return GLib.Variant(sig, _prepare(GLib.VariantType(sig), args))


def _plain(value):
    if isinstance(value, GLib.Variant):
        return _plain(value.unpack())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return list(value)
    return value


def error_json(e):
    name = Gio.DBusError.get_remote_error(e) if Gio.DBusError.is_remote_error(e) else None
    message = e.message
    if name and message.startswith(f'GDBus.Error:{name}: '):
        message = message[len(f'GDBus.Error:{name}: '):]
    return {'name': name, 'message': message, 'domain': str(e.domain), 'code': e.code}


class Peer:
    def __init__(self, xml_path):
        self.node = Gio.DBusNodeInfo.new_for_xml(open(xml_path).read())
        self.loop = GLib.MainLoop()
        self.conn = None
        self.agents = {}   # path → registration id
        self.buf = b''

    def emit(self, obj):
        sys.stdout.write(json.dumps(obj) + '\n')
        sys.stdout.flush()

    def start(self):
        sys.stdin.buffer.readline()   # "go": the test has put us where we belong
        address = os.environ['DBUS_SYSTEM_BUS_ADDRESS']
        self.conn = Gio.DBusConnection.new_for_address_sync(
            address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        self.conn.set_exit_on_close(False)
        self.conn.connect('closed', lambda *a: self.emit({'event': 'closed'}))
        fd = sys.stdin.fileno()
        os.set_blocking(fd, False)
        GLib.io_add_watch(fd, GLib.PRIORITY_DEFAULT, GLib.IO_IN | GLib.IO_HUP | GLib.IO_ERR,
                          self.on_stdin)
        self.emit({'event': 'ready', 'unique_name': self.conn.get_unique_name(),
                   'pid': os.getpid(), 'uid': os.getuid()})
        self.loop.run()

    def on_stdin(self, fd, cond):
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return True
        if not data:
            self.loop.quit()
            return False
        self.buf += data
        while b'\n' in self.buf:
            line, self.buf = self.buf.split(b'\n', 1)
            if line.strip():
                self.command(json.loads(line))
        return True

    def reply(self, cid, **kw):
        self.emit(dict(id=cid, **kw))

    def command(self, c):
        cid = c.get('id')
        try:
            getattr(self, 'cmd_' + c['cmd'])(cid, c)
        except Exception as e:  # a bad command: say so, keep running
            self.reply(cid, error={'name': None, 'message': f'{type(e).__name__}: {e}',
                                   'domain': 'bus_peer', 'code': 0})

    def dbus_call(self, cid, method, params, reply_type=None, dest=BUS_NAME, path=PATH,
                  iface=IFACE, timeout_ms=None, then=None):
        if timeout_ms is None:
            timeout_ms = TIMEOUT_MS
        def done(conn, res):
            try:
                out = conn.call_finish(res)
            except GLib.Error as e:
                self.reply(cid, error=error_json(e))
                return
            if then is not None:
                then()
            self.reply(cid, reply=_plain(out.unpack()) if out is not None else [])
        self.conn.call(dest, path, iface, method, params,
                       GLib.VariantType(reply_type) if reply_type else None,
                       Gio.DBusCallFlags.NONE, timeout_ms, None, done)

    def cmd_call(self, cid, c):
        self.dbus_call(cid, c['method'], to_variant(c.get('sig'), c.get('args', [])),
                       c.get('reply_type'), c.get('dest', BUS_NAME), c.get('path', PATH),
                       c.get('iface', IFACE), c.get('timeout_ms'))

    def cmd_register_agent(self, cid, c):
        path = c.get('path', '/peer/agent')
        if path not in self.agents:
            self.agents[path] = self.conn.register_object(
                path, self.node.lookup_interface(AGENT_IFACE), self.on_agent_call, None, None)
        options = dict(c.get('options') or {})
        if c.get('fallback'):
            options['fallback'] = {'type': 'b', 'value': True}
        if options or c.get('with_options'):
            params = to_variant('(oa{sv})', [path, options])
            self.dbus_call(cid, 'RegisterAgentWithOptions', params)
        else:
            self.dbus_call(cid, 'RegisterAgent', GLib.Variant('(o)', (path,)))

    def cmd_unregister_agent(self, cid, c):
        path = c.get('path', '/peer/agent')

        def unexport():
            reg = self.agents.pop(path, None)
            if reg is not None:
                self.conn.unregister_object(reg)
        self.dbus_call(cid, 'UnregisterAgent', GLib.Variant('(o)', (path,)), then=unexport)

    def cmd_cancel_prompt(self, cid, c):
        self.dbus_call(cid, 'CancelPrompt', GLib.Variant('(s)', (c['request_id'],)))

    def cmd_subscribe(self, cid, c):
        member = c.get('member')

        def on_signal(conn, sender, path, iface, name, params):
            self.emit({'event': name, 'args': _plain(params.unpack())})
        self.conn.signal_subscribe(c.get('sender'), c.get('iface', IFACE), member,
                                   c.get('path', PATH), None, Gio.DBusSignalFlags.NONE,
                                   on_signal)
        self.reply(cid, reply=[])

    def cmd_quit(self, cid, c):
        self.reply(cid, reply=[])
        self.loop.quit()

    def on_agent_call(self, conn, sender, path, iface, method, params, invocation):
        invocation.return_value(None)
        self.emit({'event': method, 'path': path, 'sender': sender,
                   'args': _plain(params.unpack())})


def main():
    xml = sys.argv[1] if len(sys.argv) > 1 else os.environ.get('SOTER_INTERFACE_XML')
    if not xml:
        xml = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           'io.github.soterd.Soter1.xml')
    peer = Peer(xml)
    peer.start()
    if not peer.conn.is_closed():
        peer.conn.flush_sync(None)


if __name__ == '__main__':
    main()
