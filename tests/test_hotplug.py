#!/usr/bin/python3
"""Readers that come and go: a USB fingerprint reader plugged in, pulled out
and plugged in again while soterd runs, as a user does with a USB reader.

libfprint's virtual reader cannot be plugged back in once unplugged, so these
cases give soterd a USB reader made with umockdev: a sysfs test bed with a
root hub, to which the test adds an AuthenTec AES3500 (08ff:5731, a libfprint
driver that needs no I/O to be listed) and removes it again, each time with
the uevent the kernel would send. libusb (under GUsb, under libfprint) reads
the test bed and receives the uevents through umockdev's preload library.
The test process sends them, so it runs under that library too: it
re-executes itself under umockdev-wrapper. Without umockdev installed, the
cases are skipped and say so.

The emulated reader has its sysfs attributes and USB descriptors but no
device behind its node: its USB transfers fail, and soterd must answer that
(enroll-failed), release the reader and serve the next call.
"""

import os
import shutil
import sys
import unittest

PRELOAD = 'libumockdev-preload.so.0'
# An AddressSanitizer soterd needs its runtime first in LD_PRELOAD (meson
# sets this in an ASan build).
ASAN_RUNTIME = [os.environ['SOTER_ASAN_RUNTIME']] if os.environ.get('SOTER_ASAN_RUNTIME') else []

if __name__ == '__main__' and PRELOAD not in os.environ.get('LD_PRELOAD', '') \
        and shutil.which('umockdev-wrapper'):
    os.execvp('umockdev-wrapper', ['umockdev-wrapper', sys.executable] + sys.argv)

from gi.repository import Gio, GLib  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
import taprunner  # noqa: E402
from soterd_testlib import IFACE, PATH, SoterdTestCase, wait_until  # noqa: E402

try:
    import gi
    gi.require_version('UMockdev', '1.0')
    from gi.repository import UMockdev
    UMOCKDEV = PRELOAD in os.environ.get('LD_PRELOAD', '')
except (ImportError, ValueError):
    UMOCKDEV = False

HUB = '/sys/devices/pci0000:00/0000:00:14.0/usb1'
READER = HUB + '/1-1'


def usb_device(path, busnum, devnum, devpath, vid, pid, descriptors, speed):
    """A USB device in umockdev's record format: what udev and libusb read
    in sysfs (attributes end with a new line, as the kernel's do)."""
    node = f'bus/usb/{busnum:03d}/{devnum:03d}'
    return (f'P: {path[len("/sys"):]}\n'
            f'N: {node}\n'
            f'E: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\nE: DEVNAME=/dev/{node}\n'
            f'E: BUSNUM={busnum:03d}\nE: DEVNUM={devnum:03d}\n'
            f'A: idVendor={vid:04x}\\n\nA: idProduct={pid:04x}\\n\n'
            f'A: busnum={busnum}\\n\nA: devnum={devnum}\\n\nA: devpath={devpath}\\n\n'
            f'A: speed={speed}\\n\n'
            f'H: descriptors={descriptors}\n')


def descriptors(vid, pid, device_class, interface_class, endpoints):
    """USB 2.0 device descriptor, one configuration, one interface."""
    le16 = lambda v: f'{v & 0xff:02x}{v >> 8:02x}'  # noqa: E731
    eps = ''.join(f'0705{addr:02x}{kind:02x}{le16(size)}{interval:02x}'
                  for addr, kind, size, interval in endpoints)
    total = 9 + 9 + 7 * len(endpoints)
    return (f'12010002{device_class:02x}000040{le16(vid)}{le16(pid)}0001000000' '01'
            f'0902{le16(total)}010100a032'
            f'09040000{len(endpoints):02x}{interface_class:02x}000000'
            + eps)


ROOT_HUB = usb_device(HUB, 1, 1, 0, 0x1d6b, 0x0002,
                      descriptors(0x1d6b, 0x0002, 0x09, 0x09, [(0x81, 3, 4, 12)]), 480)
AES3500 = usb_device(READER, 1, 2, 1, 0x08ff, 0x5731,
                     descriptors(0x08ff, 0x5731, 0, 0xff, [(0x81, 2, 64, 0), (0x02, 2, 64, 0)]),
                     12)


NEEDS_UMOCKDEV = unittest.skipUnless(
    UMOCKDEV, 'needs umockdev (apt-get install umockdev gir1.2-umockdev-1.0)')


class UsbReaderTestCase(SoterdTestCase):
    """soterd on a sysfs test bed with a root hub, and the helpers to plug
    the AES3500 in and pull it out."""
    with_reader = False   # the USB reader comes and goes; the virtual one is not there
    usb_drivers = 'aes3500'

    def setUp(self):
        self.testbed = UMockdev.Testbed.new()
        self.assertTrue(self.testbed.add_from_string(ROOT_HUB))
        self.plugged_at_start()
        super().setUp()
        self.changes = []
        self.conn.signal_subscribe(None, 'org.freedesktop.DBus.Properties', 'PropertiesChanged',
                                   PATH, None, Gio.DBusSignalFlags.NONE,
                                   lambda *a: self.changes.append(a[5].unpack()[1]))
        # GDBus sends the match rule without waiting: one round trip to the
        # bus on the same connection makes sure it is in place before a test
        # plugs a reader (the uevent reaches soterd without the bus; on a busy
        # machine its PropertiesChanged once came first and was lost).
        self.conn.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus',
                            'org.freedesktop.DBus', 'GetId', None, None,
                            Gio.DBusCallFlags.NONE, -1, None)

    def tearDown(self):
        try:
            super().tearDown()
        finally:
            self.testbed = None

    def plugged_at_start(self):
        pass

    def daemon_env(self):
        env = super().daemon_env()
        drivers = [self.usb_drivers] + (['virtual_device'] if self.with_reader else [])
        env['FP_DRIVERS_WHITELIST'] = ':'.join(drivers)
        env['UMOCKDEV_DIR'] = self.testbed.get_root_dir()
        env['LD_PRELOAD'] = ':'.join(ASAN_RUNTIME + [PRELOAD])
        return env

    # --- the reader, as the kernel would show it ---------------------------

    def plug(self):
        self.assertTrue(self.testbed.add_from_string(AES3500))
        self.testbed.uevent(READER, 'add')

    def pull(self):
        self.testbed.uevent(READER, 'remove')
        self.testbed.remove_device(READER)

    def wait_modes(self, modes):
        """Waits for PropertiesChanged to announce @modes, then checks that
        the property and CheckIsSupportSoterAuthentication say the same."""
        wait_until(lambda: any(c.get('SupportedModes') == modes for c in self.changes),
                   f'SupportedModes to become {modes}')
        self.changes.clear()
        self.assertEqual(self.get_property('SupportedModes'), modes)
        self.assertEqual(self.call('CheckIsSupportSoterAuthentication', reply_type='(as)'),
                         (modes,))


@NEEDS_UMOCKDEV
class TestHotplug(UsbReaderTestCase):
    def test_reader_plugged_in_pulled_out_and_plugged_in_again(self):
        self.assertEqual(self.get_property('SupportedModes'), [])
        for _ in range(3):
            self.plug()
            self.wait_modes(['fingerPrint'])
            self.pull()
            self.wait_modes([])
        self.plug()
        self.wait_modes(['fingerPrint'])
        log = self.daemon_log()
        self.assertEqual(log.count('Fingerprint reader AuthenTec AES3500 (aes3500) connected'), 4)
        self.assertEqual(log.count('Fingerprint reader AuthenTec AES3500 (aes3500) removed'), 3)

    def test_a_reader_whose_transfers_fail_is_answered_and_released(self):
        self.plug()
        self.wait_modes(['fingerPrint'])
        # Its USB transfers fail (the test bed has no device behind the
        # node): the enrollment ends with enroll-failed, and the next one
        # gets the reader again and the same answer (it was released).
        statuses = []
        self.conn.signal_subscribe(None, IFACE, 'EnrollStatus', PATH, None,
                                   Gio.DBusSignalFlags.NONE,
                                   lambda *a: statuses.append(a[5].unpack()))
        for n in (1, 2):
            self.call('Enroll', GLib.Variant('(s)', ('right-index-finger',)))
            wait_until(lambda: len(statuses) == n, 'the enrollment to end')
            self.assertEqual(statuses[-1], ('enroll-failed', True))
        ended = f'Enrollment for uid {os.getuid()} ended: USB error'
        self.assertEqual(self.daemon_log().count(ended), 2)
        self.assertEqual(self.call('ListEnrolledFingers', reply_type='(as)'), ([],))
        self.pull()
        self.wait_modes([])


@NEEDS_UMOCKDEV
class TestReaderPresentAtStart(UsbReaderTestCase):
    """The reader was there before soterd: found by enumeration, then gone and
    back like any other."""

    def plugged_at_start(self):
        self.assertTrue(self.testbed.add_from_string(AES3500))

    def test_found_at_start_then_pulled_out_and_plugged_in_again(self):
        self.assertEqual(self.get_property('SupportedModes'), ['fingerPrint'])
        self.pull()
        self.wait_modes([])
        self.plug()
        self.wait_modes(['fingerPrint'])


@NEEDS_UMOCKDEV
class TestReaderReturnsAfterUnplugMidRequest(UsbReaderTestCase):
    """The virtual reader unplugged in the middle of a request (90007), then a
    USB reader plugged in: soterd offers SOTER again."""

    with_reader = True

    def test_usb_reader_offered_after_the_virtual_one_left_mid_request(self):
        self.assertEqual(self.get_property('SupportedModes'), ['fingerPrint'])
        self.enroll()
        call = self.start_auth()
        self.agent.wait_shown()
        self.reader('UNPLUG')
        _, result, sig, code, msg = call.wait()
        self.assertEqual((code, result, sig), (90007, '', ''), msg)
        self.assertIn('reader was removed', msg)
        self.wait_modes([])
        self.plug()
        self.wait_modes(['fingerPrint'])


if __name__ == '__main__':
    taprunner.main(sys.modules[__name__])
