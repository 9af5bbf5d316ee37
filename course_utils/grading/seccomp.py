"""A seccomp filter for the grading sandbox (book/grading.md), given to bubblewrap with
``--seccomp FD``: a small classic-BPF program, written here, that refuses the system calls a
notebook has no use for and that widen the kernel's attack surface: debugging and reading
other processes (``ptrace``, ``process_vm_*``), kernel modules and ``kexec``, ``bpf``,
``perf_event_open``, ``userfaultfd``, ``io_uring``, the kernel keyring, mounting and every
new namespace (``unshare``, ``setns``, ``clone`` with a namespace flag; ``clone3``, whose
flags a filter cannot read, answers "not implemented" so that the C library falls back to
``clone``), and clock, swap, reboot and accounting controls. Refused calls fail with
``EPERM``; a call from another architecture's ABI (x32 on x86-64) ends the process.

Only x86-64 and AArch64 are known; elsewhere :func:`program` returns None and the sandbox
runs without the filter (the report says so).
"""

from __future__ import annotations

import errno
import platform
import struct

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
X32_BIT = 0x40000000  # x86-64's x32 ABI: system call numbers with this bit set

#: Refused system calls by name; their numbers per architecture below.
REFUSED = ("ptrace", "process_vm_readv", "process_vm_writev", "kexec_load", "kexec_file_load", "init_module",
           "finit_module", "delete_module", "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key",
           "request_key", "mount", "umount2", "pivot_root", "swapon", "swapoff", "reboot", "acct", "quotactl",
           "setns", "unshare", "io_uring_setup", "io_uring_enter", "io_uring_register", "open_by_handle_at",
           "name_to_handle_at", "lookup_dcookie", "fanotify_init", "syslog", "personality", "settimeofday",
           "clock_settime", "clock_adjtime", "adjtimex", "kcmp", "open_tree", "move_mount", "fsopen", "fsconfig",
           "fsmount", "fspick", "mount_setattr", "iopl", "ioperm", "uselib", "ustat", "sysfs", "vhangup")
NUMBERS = {
    "x86_64": {"ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "kexec_load": 246,
               "kexec_file_load": 320, "init_module": 175, "finit_module": 313, "delete_module": 176, "bpf": 321,
               "perf_event_open": 298, "userfaultfd": 323, "keyctl": 250, "add_key": 248, "request_key": 249,
               "mount": 165, "umount2": 166, "pivot_root": 155, "swapon": 167, "swapoff": 168, "reboot": 169,
               "acct": 163, "quotactl": 179, "setns": 308, "unshare": 272, "io_uring_setup": 425,
               "io_uring_enter": 426, "io_uring_register": 427, "open_by_handle_at": 304, "name_to_handle_at": 303,
               "lookup_dcookie": 212, "fanotify_init": 300, "syslog": 103, "personality": 135,
               "settimeofday": 164, "clock_settime": 227, "clock_adjtime": 305, "adjtimex": 159, "kcmp": 312,
               "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
               "mount_setattr": 442, "iopl": 172, "ioperm": 173, "uselib": 134, "ustat": 136, "sysfs": 139,
               "vhangup": 153, "clone": 56, "clone3": 435},
    "aarch64": {"ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271, "kexec_load": 104,
                "kexec_file_load": 294, "init_module": 105, "finit_module": 273, "delete_module": 106, "bpf": 280,
                "perf_event_open": 241, "userfaultfd": 282, "keyctl": 219, "add_key": 217, "request_key": 218,
                "mount": 40, "umount2": 39, "pivot_root": 41, "swapon": 224, "swapoff": 225, "reboot": 142,
                "acct": 89, "quotactl": 60, "setns": 268, "unshare": 97, "io_uring_setup": 425,
                "io_uring_enter": 426, "io_uring_register": 427, "open_by_handle_at": 265,
                "name_to_handle_at": 264, "lookup_dcookie": 18, "fanotify_init": 262, "syslog": 116,
                "personality": 92, "settimeofday": 170, "clock_settime": 112, "clock_adjtime": 266,
                "adjtimex": 171, "kcmp": 272, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
                "fsmount": 432, "fspick": 433, "mount_setattr": 442, "clone": 220, "clone3": 435},
}
#: clone's flags that make a namespace (CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID,
#: NEWNET, NEWTIME).
NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x80

# classic BPF
LD_W_ABS, JEQ, JGE, JSET, RET = 0x20, 0x15, 0x35, 0x45, 0x06
ALLOW, KILL = 0x7FFF0000, 0x80000000


def errno_return(number: int) -> int:
    return 0x00050000 | (number & 0xFFFF)


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k & 0xFFFFFFFF)


def machine() -> str:
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine().lower(), platform.machine().lower())


def program(arch: str | None = None) -> bytes | None:
    """The filter for ``arch`` (this machine's by default) as ``struct sock_filter`` records,
    or None when the architecture is not known."""
    arch = arch or machine()
    if arch not in AUDIT_ARCH:
        return None
    numbers = NUMBERS[arch]
    refused = sorted({numbers[name] for name in REFUSED if name in numbers})
    code = [_insn(LD_W_ABS, 4),  # seccomp_data.arch
            _insn(JEQ, AUDIT_ARCH[arch], jt=1), _insn(RET, KILL),
            _insn(LD_W_ABS, 0)]  # seccomp_data.nr
    if arch == "x86_64":
        code += [_insn(JGE, X32_BIT, jf=1), _insn(RET, KILL)]
    for number in refused:
        code += [_insn(JEQ, number, jf=1), _insn(RET, errno_return(errno.EPERM))]
    code += [_insn(JEQ, numbers["clone3"], jf=1), _insn(RET, errno_return(errno.ENOSYS)),
             _insn(JEQ, numbers["clone"], jf=3),
             _insn(LD_W_ABS, 16),  # the low half of clone's first argument, its flags
             _insn(JSET, NAMESPACE_FLAGS, jf=1), _insn(RET, errno_return(errno.EPERM)),
             _insn(RET, ALLOW)]
    return b"".join(code)
