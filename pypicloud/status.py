"""Project status markers (PEP 792): what a project's status is and what it means here.

A project with no record is ``active``. The record is kept in the package database only
(never in storage, so a bucket or directory stays what the original pypicloud reads), as a
small JSON text that every backend stores the same way.
"""

from __future__ import annotations

import dataclasses
import enum
import json

#: A reason is one line of plain text, shown in pages and meta tags.
MAX_REASON = 400


class Status(enum.Enum):
    ACTIVE = "active"
    ARCHIVED = "archived"
    QUARANTINED = "quarantined"
    DEPRECATED = "deprecated"


class InvalidStatus(ValueError):
    """A status or reason a client sent that cannot be kept; the message says why."""


@dataclasses.dataclass(frozen=True)
class ProjectStatus:
    status: Status = Status.ACTIVE
    reason: str = ""

    @property
    def is_active(self) -> bool:
        return self.status is Status.ACTIVE

    @property
    def refuses_uploads(self) -> bool:
        """PEP 792: an archived or quarantined project takes no new files."""
        return self.status in (Status.ARCHIVED, Status.QUARANTINED)

    @property
    def hides_files(self) -> bool:
        """PEP 792: a quarantined project offers no file for installation."""
        return self.status is Status.QUARANTINED

    def upload_refusal(self) -> str:
        """The message an upload refused by this status gets (twine shows it)."""
        message = f"Project is {self.status.value}: uploads are not allowed"
        return f"{message} ({self.reason})" if self.reason else message

    def as_json(self) -> dict[str, str]:
        """PEP 792's ``project-status`` object: the reason only when there is one."""
        found = {"status": self.status.value}
        if self.reason:
            found["reason"] = self.reason
        return found

    def dumps(self) -> str:
        """The text a backend keeps."""
        return json.dumps(self.as_json(), sort_keys=True)


ACTIVE = ProjectStatus()


def parse(status: object, reason: object = None) -> ProjectStatus:
    """A status from what a client sent (a JSON body, a form): InvalidStatus if wrong.

    The reason is plain text: whitespace runs (newlines too) become one space, control
    characters are refused, and it is at most MAX_REASON characters."""
    if not isinstance(status, str):
        raise InvalidStatus("status must be a string")
    try:
        kind = Status(status.strip().lower())
    except ValueError:
        known = ", ".join(s.value for s in Status)
        raise InvalidStatus(f"Unknown status {status[:40]!r}: expected one of {known}") from None
    if reason is None:
        reason = ""
    if not isinstance(reason, str):
        raise InvalidStatus("reason must be a string")
    text = " ".join(reason.split())
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InvalidStatus("reason must be plain text (no control characters)")
    if len(text) > MAX_REASON:
        raise InvalidStatus(f"reason is too long (at most {MAX_REASON} characters)")
    return ProjectStatus(kind, text)


def loads(text: str | None) -> ProjectStatus:
    """What a backend kept; anything unreadable is ``active`` (never a failed request)."""
    if not text:
        return ACTIVE
    try:
        found = json.loads(text)
        return parse(found.get("status"), found.get("reason"))
    except (ValueError, AttributeError):  # InvalidStatus is a ValueError
        return ACTIVE
