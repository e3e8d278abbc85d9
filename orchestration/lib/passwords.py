"""The embedded server's superuser password and the folders it must keep to itself.

The password is generated once, stored as a SCRAM verifier on the server and in plain text only in
a libpq password file (``<home>/.pgpass``, mode 0600, the user's own), which every command finds
through ``passfile`` (``PGPASSFILE`` in what ``value-view env`` prints). ``pg_hba.conf`` asks for
it on every connection, TCP and unix socket, replication included.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from orchestration.lib.database import SettingsError

PASSFILE_NAME = ".pgpass"
PASSFILE_HOSTS = ("127.0.0.1", "localhost")
HBA_MARKER = "# value-view: every connection needs the password (scram-sha-256)"
HBA_TEXT = f"""{HBA_MARKER}
# TYPE  DATABASE        USER            ADDRESS                 METHOD
local   all             all                                     scram-sha-256
host    all             all             127.0.0.1/32            scram-sha-256
host    all             all             ::1/128                 scram-sha-256
local   replication     all                                     scram-sha-256
host    replication     all             127.0.0.1/32            scram-sha-256
host    replication     all             ::1/128                 scram-sha-256
"""
# Methods that let a connection in without the password.
WEAK_METHODS = ("trust", "password", "ident", "peer")


def new_password() -> str:
    return secrets.token_urlsafe(32)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a new file created with mode 0600 (never readable by
    anyone else, not even for a moment), replacing ``path`` whatever it was."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.replace(temporary, path)


def write_passfile(path: Path, user: str, password: str) -> None:
    """A libpq password file giving ``user``'s password for the local server only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, "".join(f"{host}:*:*:{user}:{password}\n" for host in PASSFILE_HOSTS))


def read_password(path: Path, user: str) -> str | None:
    """``user``'s password in the password file ``path``; None when the file or entry is missing.
    A file others may read or write is refused (libpq would ignore it)."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
        raise SettingsError(f"{path} must be a plain file of your own")
    if info.st_mode & 0o077:
        raise SettingsError(
            f"{path} is readable by others (mode {stat.S_IMODE(info.st_mode):04o}); "
            f"run `chmod 600 {path}`"
        )
    for line in path.read_text().splitlines():
        fields = line.split(":")
        if len(fields) == 5 and fields[3] == user:
            return fields[4]
    return None


def hba_is_strict(text: str) -> bool:
    """Whether a pg_hba.conf asks every connection for a password (no trust, peer...)."""
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if any(field in WEAK_METHODS for field in fields):
            return False
    return HBA_MARKER in text


def private_folder(path: Path, owners: tuple[int, ...]) -> int:
    """Create ``path`` (mode 0700) or accept it only when it is a real folder (not a symlink)
    owned by one of ``owners``; returns an open descriptor of it (the caller closes it), so the
    checks and any chmod/chown apply to that very folder."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        kind = "a symlink" if path.is_symlink() else "not a folder"
        raise SettingsError(
            f"{path} is {kind}; remove it: the server's socket folder must be its own"
        ) from None
    info = os.fstat(descriptor)
    if info.st_uid not in owners:
        os.close(descriptor)
        raise SettingsError(
            f"{path} belongs to another user (uid {info.st_uid}); remove it: the server's socket "
            "folder must be its own"
        )
    os.fchmod(descriptor, 0o700)
    return descriptor
