"""The file storage's temporary files: named after their owner, removed once abandoned.

A server killed in the middle of an upload cannot remove its temporary file, so a later
process must be able to tell garbage from a file someone is still writing. Temporaries are
named ``<owner>.<pid>.<random>``, where the owner names this host (and its pid namespace:
containers on one machine may share a hostname but not their pids). The rules:

- one of this owner whose process is gone is garbage at once;
- any other (another host's on shared storage, or a name we did not make) is garbage once
  nobody has written to it for a day;
- the original pypicloud's temporaries beside the packages (``.metadata.<hex>`` and
  ``.<filename>.<hex>``) are garbage after an hour: a live original server might still be
  writing one, but not for that long.

Age is the time since the last write (the mtime), so a slow but live upload stays young.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import secrets
import socket
import stat
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

#: Seconds after which any temporary is abandoned, whoever made it.
ABANDONED_AFTER = 24 * 3600
#: Seconds after which a temporary of the original pypicloud is abandoned.
ORIGINAL_ABANDONED_AFTER = 3600
_ORIGINAL_NAME = re.compile(r"\..+\.[0-9a-f]+")
_NOT_IN_OWNER = re.compile(r"[^A-Za-z0-9._-]")


@functools.cache
def owner() -> str:
    """Who this process is, as far as pids go: the hostname plus the pid namespace (read
    once: every upload names two temporaries)."""
    host = _NOT_IN_OWNER.sub("_", socket.gethostname()) or "localhost"
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:  # not Linux: the hostname alone
        return host
    return f"{host}+{namespace}"


def temporary_name(owner_tag: str | None = None, pid: int | None = None) -> str:
    """A fresh name for a temporary of this process (never reused: 64 random bits)."""
    owner_tag = owner() if owner_tag is None else owner_tag
    pid = os.getpid() if pid is None else pid
    return f"{owner_tag}.{pid}.{secrets.token_hex(8)}"


def parse_temporary_name(name: str) -> tuple[str, int] | None:
    """(owner, pid) of a name ``temporary_name`` made, else None."""
    parts = name.rsplit(".", 2)
    if len(parts) != 3 or not parts[0] or not parts[1].isdigit():
        return None
    if not re.fullmatch(r"[0-9a-f]+", parts[2]):
        return None
    return parts[0], int(parts[1])


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists here (a zombie counts: it is not reaped yet)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, but belongs to another user
        return True
    return True


def is_abandoned(
    name: str,
    age: float,
    *,
    owner_tag: str,
    alive: Callable[[int], bool] = pid_alive,
) -> bool:
    """Whether the temporary ``name``, last written ``age`` seconds ago, is garbage."""
    if age > ABANDONED_AFTER:
        return True
    parsed = parse_temporary_name(name)
    if parsed is None:
        return False
    tag, pid = parsed
    return tag == owner_tag and not alive(pid)


def is_original_leftover(name: str, age: float) -> bool:
    """Whether ``name`` in a version directory is an old temporary of the original pypicloud."""
    return age > ORIGINAL_ABANDONED_AFTER and _ORIGINAL_NAME.fullmatch(name) is not None


def remove_abandoned(directory: Path) -> int:
    """Remove the abandoned temporaries in ``directory``; return how many went."""
    owner_tag, now, removed = owner(), time.time(), 0
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return 0
    except OSError as exc:
        log.warning("cannot look for abandoned temporaries in %s: %s", directory, exc)
        return 0
    for entry in entries:
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            age = now - entry.stat(follow_symlinks=False).st_mtime
            if is_abandoned(entry.name, age, owner_tag=owner_tag):
                os.unlink(entry.path)
                removed += 1
                log.info("removed abandoned upload temporary %s", entry.path)
        except FileNotFoundError:
            continue  # removed by someone else meanwhile
        except OSError as exc:
            log.warning("cannot remove temporary %s: %s", entry.path, exc)
    return removed


def remove_if_original_leftover(path: Path, now: float) -> bool:
    """Remove ``path`` when it is an abandoned temporary of the original pypicloud."""
    try:
        info = path.lstat()
        if not stat.S_ISREG(info.st_mode) or not is_original_leftover(
            path.name, now - info.st_mtime
        ):
            return False
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        log.warning("cannot remove leftover %s: %s", path, exc)
        return False
    log.info("removed an abandoned temporary of the original pypicloud: %s", path)
    return True
