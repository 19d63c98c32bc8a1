"""Running a test file again inside a mount namespace of its own, so that
the mounts it makes (bind mounts, a tmpfs) vanish with it and nothing on
the machine changes. Root only; elsewhere the file runs as it is, and
SOTER_NO_MOUNT_NAMESPACE says why its mounting cases skip."""

import os
import subprocess
import sys

UNSHARE = ['unshare', '--mount', '--propagation', 'private']


def inside():
    return os.environ.get('SOTER_IN_MOUNT_NAMESPACE') == '1'


def why_not():
    return os.environ.get('SOTER_NO_MOUNT_NAMESPACE',
                          'needs root, to mount in a mount namespace of its own')


def reexec():
    """Does not return when it can enter a namespace."""
    if os.geteuid() != 0 or inside():
        return
    if subprocess.run(UNSHARE + ['true'], capture_output=True).returncode == 0:
        env = dict(os.environ, SOTER_IN_MOUNT_NAMESPACE='1')
        os.execvpe('unshare', UNSHARE + [sys.executable, *sys.argv], env)
    os.environ['SOTER_NO_MOUNT_NAMESPACE'] = ('this machine gives no mount namespace '
                                              '(unshare --mount failed)')
