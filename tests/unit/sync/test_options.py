"""The sync.* settings' derived values."""

from __future__ import annotations

from pypicloud.sync.options import SyncOptions


def test_backoff_doubles_per_receive_up_to_fifteen_minutes():
    options = SyncOptions(retry_seconds=30)
    assert [options.backoff(n) for n in (1, 2, 3, 6, 20)] == [30, 60, 120, 900, 900]
    assert SyncOptions(retry_seconds=0).backoff(5) == 0


def test_the_dead_letter_queue_name_fits_sqs_limit():
    assert SyncOptions(queue_name="q" * 80).dead_letter_name.endswith("-dead-letter")
    assert len(SyncOptions(queue_name="q" * 80).dead_letter_name) == 80
