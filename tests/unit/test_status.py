"""Project status (PEP 792): parsing what clients send, reading what backends keep, and
the service's rules (uploads refused, files withheld, one database read per serial)."""

from __future__ import annotations

import pytest

from pypicloud.status import (
    ACTIVE,
    MAX_REASON,
    InvalidStatus,
    ProjectStatus,
    Status,
    loads,
    parse,
)
from pypicloud.uploads import Refusal, UploadRefused
from tests.unit.test_packages import request, service


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        ("active", None, ProjectStatus()),
        ("ARCHIVED ", "", ProjectStatus(Status.ARCHIVED)),
        (
            "quarantined",
            " malware\n\tfound  here ",
            ProjectStatus(Status.QUARANTINED, "malware found here"),
        ),
        ("deprecated", "x" * MAX_REASON, ProjectStatus(Status.DEPRECATED, "x" * MAX_REASON)),
    ],
)
def test_parse_accepts_the_four_statuses(status, reason, expected):
    assert parse(status, reason) == expected


@pytest.mark.parametrize(
    ("status", "reason", "message"),
    [
        ("retired", None, "Unknown status 'retired': expected one of active, archived"),
        ("", None, "Unknown status"),
        (None, None, "status must be a string"),
        (["active"], None, "status must be a string"),
        ("archived", 3, "reason must be a string"),
        ("archived", "x" * (MAX_REASON + 1), "too long"),
        ("archived", "bell\x07", "plain text"),
        ("archived", "del\x7f", "plain text"),
    ],
)
def test_parse_refuses_with_a_reason(status, reason, message):
    with pytest.raises(InvalidStatus, match=message.replace("(", r"\(")):
        parse(status, reason)


def test_the_json_object_has_a_reason_only_when_set():
    assert ProjectStatus(Status.ARCHIVED).as_json() == {"status": "archived"}
    assert ProjectStatus(Status.ARCHIVED, "old").as_json() == {
        "status": "archived",
        "reason": "old",
    }


@pytest.mark.parametrize("kept", [None, "", "not json", "[]", '{"status": "gone"}', '{"x": 1}'])
def test_what_cannot_be_read_back_is_active(kept):
    assert loads(kept) == ACTIVE


def test_dumps_and_loads_round_trip():
    for status in Status:
        value = ProjectStatus(status, "because")
        assert loads(value.dumps()) == value


@pytest.mark.parametrize(
    ("status", "refuses", "hides"),
    [
        (Status.ACTIVE, False, False),
        (Status.DEPRECATED, False, False),
        (Status.ARCHIVED, True, False),
        (Status.QUARANTINED, True, True),
    ],
)
def test_what_each_status_means(status, refuses, hides):
    assert ProjectStatus(status).refuses_uploads is refuses
    assert ProjectStatus(status).hides_files is hides


# -- the service -----------------------------------------------------------------------------


def test_an_archived_project_refuses_uploads_and_stores_nothing():
    packages = service()
    packages.upload(request("alpha", "1.0"))
    packages.set_status("Alpha", ProjectStatus(Status.ARCHIVED, "frozen"))
    with pytest.raises(UploadRefused) as refused:
        packages.upload(request("alpha", "2.0"))
    assert refused.value.kind is Refusal.INVALID
    assert refused.value.message == "Project is archived: uploads are not allowed (frozen)"
    assert sorted(packages.storage.files) == [request("alpha", "1.0").filename]


def test_quarantine_offers_no_files_and_active_drops_the_record():
    packages = service()
    packages.upload(request("alpha", "1.0"))
    packages.set_status("alpha", ProjectStatus(Status.QUARANTINED))
    assert packages.offered("alpha") == []
    assert len(packages.files("alpha")) == 1
    packages.set_status("alpha", ACTIVE)
    assert packages.cache.statuses == {}
    assert len(packages.offered("alpha")) == 1


def test_the_status_is_read_once_per_serial():
    packages = service()
    reads: list[str] = []
    real = packages.cache.project_status
    packages.cache.project_status = lambda name: reads.append(name) or real(name)
    for _ in range(3):
        packages.status("alpha")
    assert reads == ["alpha"]
    packages.set_status("alpha", ProjectStatus(Status.DEPRECATED))  # moves the serial
    reads.clear()
    assert packages.status("alpha").status is Status.DEPRECATED
    assert packages.status("alpha").status is Status.DEPRECATED
    assert reads == ["alpha"]


def test_the_quarantined_projects_are_one_batched_read_per_serial():
    """The home page's search asks for every project's status: one batched read, kept
    until the serial moves, and only quarantined projects are in the answer."""
    packages = service()
    for name in ("alpha", "beta", "gamma"):
        packages.upload(request(name, "1.0"))
    packages.set_status("alpha", ProjectStatus(Status.QUARANTINED, "malware"))
    packages.set_status("beta", ProjectStatus(Status.ARCHIVED))
    batches: list[list[str]] = []
    real = packages.cache.project_statuses

    def batched(names):
        batches.append(list(names))
        return real(batches[-1])

    packages.cache.project_statuses = batched
    one_by_one = packages.cache.project_status
    packages.cache.project_status = lambda name: pytest.fail("one read per name")
    assert packages.quarantined() == {"alpha"}
    assert packages.quarantined() == {"alpha"}
    assert batches == [["alpha", "beta", "gamma"]]
    packages.cache.project_status = one_by_one
    packages.set_status("alpha", ACTIVE)  # moves the serial
    assert packages.quarantined() == frozenset()
    assert len(batches) == 2
