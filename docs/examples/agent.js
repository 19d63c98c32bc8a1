// agent.js — a soterd prompt agent in GJS, on libsoter's SoterAgent: the
// start of a GNOME Shell extension's prompt (a modal dialog there; lines on
// standard output here). Run it with `gjs agent.js`; Enter cancels the
// prompt shown, Ctrl-D quits.
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.Soter = '1';
const {Gio, GLib, Soter} = imports.gi;

Gio._promisify(Soter.Client, 'new', 'new_finish');
Gio._promisify(Soter.Agent.prototype, 'register', 'register_finish');
Gio._promisify(Soter.Agent.prototype, 'cancel', 'cancel_finish');
Gio._promisify(Gio.DataInputStream.prototype, 'read_line_async', 'read_line_finish_utf8');

const loop = new GLib.MainLoop(null, false);
let status = 0;
let shown = null; // the request_id of the prompt on screen

async function main() {
    const agent = Soter.Agent.new(await Soter.Client.new(null), false);

    agent.connect('show', (_agent, requestId, authContent, appId, uid, modes) => {
        shown = requestId;
        // app_name (and app_icon) where soterd knows the app by a desktop file
        const name = agent.dup_details(requestId)
            .lookup_value('app_name', new GLib.VariantType('s'))?.unpack() ?? appId;
        print(`${name} (uid ${uid}) asks: ${authContent}`);
        print(`Touch the fingerprint reader (${modes.join(', ')}); Enter cancels.`);
    });
    agent.connect('update', (_agent, requestId, message) => print(message));
    agent.connect('close', (_agent, requestId, outcome) => {
        if (requestId === shown)
            shown = null;
        print(outcome === 0 ? 'Done.' : `Closed (error ${outcome}).`);
    });
    // soterd forgets its agents when it stops: the agent registers again
    // by itself when soterd is back.
    agent.connect('notify::registered', () =>
        print(agent.registered ? 'Registered with soterd.' : 'soterd left; waiting for it.'));

    try {
        await agent.register(null);
    } catch (e) {
        if (Gio.DBusError.get_remote_error(e) === 'io.github.soterd.Soter1.Error.AgentExists')
            printerr(`Another prompt agent serves this session: ${e.message}`);
        else
            printerr(`Cannot register with soterd: ${e.message}`);
        status = 1;
        return;
    }

    const input = new Gio.DataInputStream({
        base_stream: new Gio.UnixInputStream({fd: 0, close_fd: false}),
    });
    for (;;) {
        const [line] = await input.read_line_async(GLib.PRIORITY_DEFAULT, null);
        if (line === null)
            break;
        if (shown !== null)
            await agent.cancel(shown, null); // the app gets 90008
    }
    agent.unregister_sync(null);
}

main().catch(e => {
    printerr(e);
    status = 1;
}).finally(() => loop.quit());
loop.run();
imports.system.exit(status);
