"""The cache of job-status answers: its bounds, and when an answer of a job not ended holds."""

from __future__ import annotations

from activitylog.http.job_answers import (
    EndedJobBodies,
    JobAnswerCache,
    UnendedJobBodies,
    answer_for,
    etag_matches,
)

ONE_KB = b"x" * 1024


def test_ended_bodies_are_bounded_by_bytes_held() -> None:
    bodies = EndedJobBodies(capacity=1000, max_bytes=10 * 1024)
    for job_id in range(100):
        bodies.put(1, job_id, answer_for(ONE_KB, f'"{job_id}.1"', ended=True))

    assert 0 < len(bodies) < 10
    assert bodies.bytes_held <= 10 * 1024
    assert bodies.get(1, 99) is not None  # the newest stay
    assert bodies.get(1, 0) is None


def test_ended_bodies_are_bounded_by_count_and_drop_the_least_recently_used() -> None:
    bodies = EndedJobBodies(capacity=2)
    for job_id in (1, 2):
        bodies.put(1, job_id, answer_for(b"{}", f'"{job_id}.1"', ended=True))
    bodies.get(1, 1)
    bodies.put(1, 3, answer_for(b"{}", '"3.1"', ended=True))

    assert bodies.get(1, 2) is None
    assert bodies.get(1, 1) is not None
    assert bodies.get(1, 3) is not None


def test_replacing_an_answer_does_not_count_it_twice() -> None:
    bodies = EndedJobBodies()
    bodies.put(1, 1, answer_for(ONE_KB, '"1.1"', ended=True))
    once = bodies.bytes_held
    for _ in range(2):
        bodies.put(1, 1, answer_for(ONE_KB, '"1.1"', ended=True))

    assert len(bodies) == 1
    assert bodies.bytes_held == once > len(ONE_KB)


def test_an_answer_not_ended_holds_only_while_the_token_is_the_same() -> None:
    bodies = UnendedJobBodies()
    answer = answer_for(b"{}", '"1.1"', ended=False)
    bodies.put(1, 1, answer, token=(1, 5))

    assert bodies.get(1, 1, (1, 5)) is answer
    assert bodies.get(1, 1, (1, 6)) is None
    assert bodies.get(1, 1, (1, 5)) is None  # dropped with the old token
    assert len(bodies) == 0


def test_without_a_token_nothing_is_kept() -> None:
    bodies = UnendedJobBodies()
    bodies.put(1, 1, answer_for(b"{}", '"1.1"', ended=False), token=None)

    assert bodies.get(1, 1, None) is None
    assert len(bodies) == 0


def test_the_cache_takes_the_token_before_the_caller_reads() -> None:
    tokens = iter([1, 2])
    cache = JobAnswerCache(lambda: next(tokens))

    answer, token = cache.lookup(1, 1)
    assert (answer, token) == (None, 1)
    cache.put(1, 1, answer_for(b"{}", '"1.1"', ended=False), token)

    # Something was committed meanwhile: the store's token moved on, the answer is dropped.
    assert cache.lookup(1, 1) == (None, 2)


def test_ended_answers_need_no_token() -> None:
    cache = JobAnswerCache(lambda: None)
    ended = answer_for(b"{}", '"1.2"', ended=True)
    cache.put(1, 1, ended, None)

    assert cache.lookup(1, 1) == (ended, None)


def test_headers_are_those_the_route_sets() -> None:
    running = answer_for(b'{"a":1}', '"7.3"', ended=False)
    ended = answer_for(b'{"a":1}', '"7.4"', ended=True)

    assert running.select(None) == (
        200,
        b'{"a":1}',
        (
            (b"etag", b'"7.3"'),
            (b"retry-after", b"3"),
            (b"content-length", b"7"),
            (b"content-type", b"application/json"),
        ),
    )
    assert running.select('"7.3"') == (304, b"", ((b"etag", b'"7.3"'), (b"retry-after", b"3")))
    assert ended.select('W/"7.4", "x"') == (304, b"", ((b"etag", b'"7.4"'),))


def test_etag_matching_is_weak() -> None:
    assert etag_matches('W/"1.2"', '"1.2"')
    assert etag_matches(' "0.1" , "1.2"', '"1.2"')
    assert etag_matches("*", '"1.2"')
    assert not etag_matches('"1.20"', '"1.2"')


def test_ended_bodies_are_dropped_after_their_max_age_since_retention_may_prune_them() -> None:
    now = [0.0]
    bodies = EndedJobBodies(max_age=60, clock=lambda: now[0])
    bodies.put(1, 7, answer_for(b"{}", '"7.1"', ended=True))
    now[0] = 59.0
    assert bodies.get(1, 7) is not None
    now[0] = 61.0
    assert bodies.get(1, 7) is None  # a job pruned elsewhere is read again: 404 then
    assert len(bodies) == 0
