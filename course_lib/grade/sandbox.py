"""The bubblewrap sandbox around student code (``--sandbox``).

Inside it a process sees: read-only binds of the system (/usr and the /lib, /lib64, /bin links),
of the Python installation, of the virtual environment and of ``course_lib``; a private /tmp
(tmpfs, size-limited); its own /proc and /dev; nothing else. So it cannot see the grader's files
(tests, hidden tests, other submissions, the output folder) nor, through /proc, the grader's
processes. ``--unshare-all`` takes away the network, ``--die-with-parent`` and the private pid
namespace make sure nothing it started outlives the grader, ``--new-session`` keeps it off the
grader's terminal, and it runs without capabilities (and as ``nobody`` where user namespaces work).

Debian/Ubuntu: ``apt-get install bubblewrap``.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

TMP_BYTES = 256 << 20  # the private /tmp lives in memory: keep it small
_SYSTEM_LINKS = ("/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin")
# Files under /etc that libraries read (the dynamic linker's cache, fonts for matplotlib, time
# zone); the rest of /etc stays out of sight.
_ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/fonts", "/etc/localtime", "/etc/mime.types")


def bwrap_path() -> str | None:
    """The bwrap executable, or None when bubblewrap is not installed."""
    return shutil.which("bwrap")


def read_only_roots() -> list[Path]:
    """Host folders a sandboxed Python needs: its installation, the venv, and course_lib."""
    import course_lib

    candidates = [
        Path(sys.base_prefix),
        Path(sys.prefix),
        Path(os.path.realpath(sys.executable)).parent.parent,
        Path(course_lib.__file__).resolve().parent,
    ]
    roots: list[Path] = []
    for path in sorted({p.resolve() for p in candidates}, key=lambda p: len(p.parts)):
        if str(path) == "/usr" or str(path).startswith("/usr/") or any(path.is_relative_to(r) for r in roots):
            continue
        roots.append(path)
    return roots


@functools.lru_cache(maxsize=1)
def _user_namespace_args() -> tuple[str, ...]:
    """Run as ``nobody`` in a user namespace where the kernel allows it, else as is."""
    base = [bwrap_path(), "--unshare-all", "--ro-bind", "/usr", "/usr", *_link_args()]
    for extra in (("--unshare-user", "--uid", "65534", "--gid", "65534"), ()):
        try:
            done = subprocess.run([*base, *extra, "/usr/bin/true"], capture_output=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0:
            return tuple(extra)
    return ()


def usable() -> tuple[bool, str]:
    """Whether sandboxing works on this machine, and why not."""
    if bwrap_path() is None:
        return False, "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    try:
        done = subprocess.run(
            [*prefix([]), "/usr/bin/true"], capture_output=True, timeout=30, env=minimal_env("/tmp")
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bwrap does not run: {exc}"
    if done.returncode != 0:
        return False, f"bwrap does not run here: {done.stderr.decode(errors='replace').strip()}"
    return True, ""


def _link_args() -> list[str]:
    args = []
    for path in _SYSTEM_LINKS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    return args


def prefix(writable: list[Path], chdir: str = "/tmp") -> list[str]:
    """The bwrap command line to put in front of a command.

    ``writable`` folders are bound read-write at the same path (the notebook run's working folder);
    everything else the sandbox sees is read-only or private.
    """
    args = [
        bwrap_path(),
        "--unshare-all",
        *_user_namespace_args(),
        "--die-with-parent",
        "--new-session",
        "--cap-drop", "ALL",
        "--hostname", "sandbox",
        "--ro-bind", "/usr", "/usr",
        *_link_args(),
    ]
    for path in _ETC_FILES:
        args += ["--ro-bind-try", path, path]
    # The private /tmp comes before the read-only roots: bwrap mounts in order, so a checkout or
    # venv that lives under /tmp (a CI clone, say) is bound on top of it instead of hidden by it.
    args += ["--proc", "/proc", "--dev", "/dev", "--size", str(TMP_BYTES), "--tmpfs", "/tmp"]
    for root in read_only_roots():
        args += ["--ro-bind", str(root), str(root)]
    for path in writable:
        args += ["--bind", str(path), str(path)]
    # The sandbox's root is a tmpfs of its own that holds the mount points: read-only, so that
    # the only place to write is the size-limited /tmp (and the ``writable`` folders).
    args += ["--remount-ro", "/", "--chdir", chdir]
    return args


def minimal_env(home: str) -> dict[str, str]:
    """The environment of student code: nothing of the grader's (its paths, its tokens)."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": "/tmp" if home == "/tmp" else home,
        "USER": "student",
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": home,
        # One thread each: workers run side by side on shared machines, and every BLAS thread
        # reserves address space against the memory limit.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
