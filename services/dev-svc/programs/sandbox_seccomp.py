"""Writes the quality gate sandbox's seccomp filter (docs/quality-gate.md, "Isolation").

Usage: python3 sandbox_seccomp.py <output.bpf>

Every system call is allowed except the ones a tested agent never needs and an escape would: they
answer EPERM (clone3 answers ENOSYS, so the C library falls back to clone, which the namespaces
already confine). Needs Debian's python3-seccomp.
"""

import errno
import sys

import seccomp

DENIED = [
    "acct", "add_key", "bpf", "chroot", "delete_module", "finit_module", "fsconfig", "fsmount",
    "fsopen", "fspick", "init_module", "io_uring_enter", "io_uring_register", "io_uring_setup",
    "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie", "mount", "mount_setattr",
    "move_mount", "name_to_handle_at", "open_by_handle_at", "open_tree", "perf_event_open",
    "pivot_root", "process_vm_readv", "process_vm_writev", "ptrace", "quotactl", "reboot",
    "request_key", "setns", "swapoff", "swapon", "syslog", "umount2", "unshare", "userfaultfd",
    "vhangup",
]


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: sandbox_seccomp.py <output.bpf>", file=sys.stderr)
        return 2
    f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in DENIED:
        try:
            f.add_rule(seccomp.ERRNO(errno.EPERM), name)
        except (RuntimeError, ValueError):
            pass  # not a system call on this architecture
    f.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    with open(sys.argv[1], "wb") as out:
        f.export_bpf(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
