"""librdkafka 2.0.2's own regression tests (tests/test-runner) against skeind: one test per case of CASES in
librdkafka_suite.py, each against a skeind of its own. Cases expected to pass must pass; cases known to fail are
strict=False xfails, so one that starts passing shows as XPASS (then change its expectation in CASES). The first
run fetches and builds the runner (1 to 3 minutes on 2 cores, cached in ~/.cache/skein/librdkafka)."""

import os

import pytest

import librdkafka_suite as suite

pytestmark = pytest.mark.skeind_only("librdkafka's tests need a broker with admin APIs; the mock is librdkafka's own")


def _params():
    for case in suite.select([], os.environ.get("SKEIN_LIBRDKAFKA_SLOW") == "1"):
        marks = [pytest.mark.timeout(case.timeout + 60, func_only=True)]
        if case.expect == "fail":
            marks.append(pytest.mark.xfail(reason=case.why, strict=False))
        yield pytest.param(case, id=case.label, marks=marks)


@pytest.fixture(scope="module")
def tests_dir():
    # Fetching and building take minutes on a cold cache: fixture time is outside the per-test timeout.
    return suite.ensure_built(quiet=True)


@pytest.mark.parametrize("case", list(_params()))
def test_librdkafka(case, tests_dir, work_dir):
    result = suite.run_case(case, tests_dir, work_dir / "librdkafka" / case.label, suite.skeind_path())
    assert result.passed, result.describe()


@pytest.mark.timeout(60, func_only=True)
def test_cases_table_is_consistent(tests_dir):
    """Every case names a test this librdkafka release has, and every non-passing case says why."""
    names = {p.name.split("-", 1)[0] for p in tests_dir.glob("[0-9][0-9][0-9][0-9]-*.c*")}
    for case in suite.CASES:
        assert case.num in names, "%s: no such test in librdkafka %s" % (case.label, suite.LIBRDKAFKA_VERSION)
        assert case.expect in ("pass", "fail", "skip"), case
        assert case.expect == "pass" or case.why, "%s must say why it is expected to %s" % (case.label, case.expect)
    assert len({c.num for c in suite.CASES}) == len(suite.CASES), "a test number appears twice in CASES"
