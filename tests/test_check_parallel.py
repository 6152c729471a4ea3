"""Big configs are checked by two processes (``check --jobs 2``, core/util/parallel.py);
the findings must equal a one-process run, in the same order, and a child that fails
changes nothing but the time."""

from __future__ import annotations

import os
import signal

import pytest
from cfgtext import mp, write_cfg
from clirun import run

from tlsmgm_cli import exitcodes
from tlsmgm_cli.core import checks
from tlsmgm_cli.core.errors import UsageError
from tlsmgm_cli.core.loader import load_domains
from tlsmgm_cli.core.util import parallel

needs_fork = pytest.mark.skipif(not parallel.can_fork(), reason="no fork here (macOS, 1 CPU or no os.fork)")


def _big_cfg(tmp_path, pki):
    parts = []
    n = checks._PARALLEL_MIN_DOMAINS + 10
    for i in range(n):
        name = f"d{i}"
        cert, key = pki.server.cert_path, pki.server.key_path
        if i % 401 == 0:
            cert = tmp_path / f"missing{i}.pem"  # faults in both halves
        elif i % 401 == 7:
            key = pki.wrong_key.key_path
        parts += [mp("server_domain", name), mp("match_ip_address", f"[{name}]10.0.{i // 250}.{i % 250}:5061"),
                  mp("certificate", f"[{name}]{cert}"), mp("private_key", f"[{name}]{key}"),
                  mp("ca_list", f"[{name}]{pki.ca.cert_path}")]
    return write_cfg(tmp_path, "".join(parts)), n


def _assert_same(forked, sequential, n):
    assert [f.to_dict() for f in forked.findings] == [f.to_dict() for f in sequential.findings]
    rules = {f.rule for f in forked.findings}
    assert {"TLS200"} <= rules  # the missing certificates were found
    late = [f for f in forked.findings if f.domain == f"d{n - 1 - (n - 1) % 401}"]
    assert late, "the second half's faults must be reported"


def test_two_process_check_equals_one_process(tmp_path, pki):
    cfg, n = _big_cfg(tmp_path, pki)
    calls = []
    forked = checks.run_checks(load_domains(str(cfg)), jobs=2,
                               progress=lambda done, total: calls.append((done, total)))
    sequential = checks.run_checks(load_domains(str(cfg)), jobs=1)
    _assert_same(forked, sequential, n)
    assert calls[-1] == (n, n)


@needs_fork
def test_a_check_child_that_dies_falls_back_to_one_process(tmp_path, pki, monkeypatch):
    cfg, n = _big_cfg(tmp_path, pki)
    parent = os.getpid()
    check_domains = checks._check_domains

    def dies_in_the_child(*args, **kwargs):
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return check_domains(*args, **kwargs)

    monkeypatch.setattr(checks, "_check_domains", dies_in_the_child)
    forked = checks.run_checks(load_domains(str(cfg)), jobs=2)
    monkeypatch.undo()
    _assert_same(forked, checks.run_checks(load_domains(str(cfg)), jobs=1), n)
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # the dead child was reaped


# ---- the fork helper -------------------------------------------------------------------------
@needs_fork
def test_run_in_two_runs_the_second_half_in_a_child():
    done = []
    pid, in_child = parallel.run_in_two(lambda: done.append(os.getpid()),
                                        lambda child: (os.getpid(), child), jobs=2)
    assert in_child is True and pid != os.getpid() and done == [os.getpid()]
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


def test_jobs_1_never_forks():
    order = []
    result = parallel.run_in_two(lambda: order.append("first"),
                                 lambda child: order.append(("second", child, os.getpid())) or "r", jobs=1)
    assert result == "r" and order == ["first", ("second", False, os.getpid())]


@needs_fork
@pytest.mark.parametrize("how", ["exit", "raise", "kill", "unpicklable"])
def test_a_child_that_fails_falls_back(how):
    parent = os.getpid()

    def second(child):
        if child:
            if how == "exit":
                os._exit(3)
            if how == "raise":
                raise RuntimeError("child failed")
            if how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            return lambda: None  # cannot be pickled
        return ("here", os.getpid())

    assert parallel.run_in_two(lambda: None, second, jobs=2) == ("here", parent)
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


@needs_fork
def test_the_child_is_reaped_when_the_first_half_raises():
    def first():
        raise ValueError("first half failed")

    with pytest.raises(ValueError, match="first half failed"):
        parallel.run_in_two(first, lambda child: child, jobs=2)
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


def test_gc_paused_restores_the_collector():
    import gc

    assert gc.isenabled()
    with pytest.raises(KeyError), parallel.gc_paused():
        assert not gc.isenabled()
        raise KeyError
    assert gc.isenabled()


@pytest.mark.parametrize("value, env, expected", [
    (None, None, parallel.DEFAULT_JOBS), (1, "2", 1), (None, "1", 1), (None, "4", 4), ("2", None, 2),
])
def test_jobs_setting(monkeypatch, value, env, expected):
    if env is None:
        monkeypatch.delenv(parallel.JOBS_ENV, raising=False)
    else:
        monkeypatch.setenv(parallel.JOBS_ENV, env)
    assert parallel.jobs_setting(value) == expected


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_bad_jobs_are_usage_errors(monkeypatch, value):
    monkeypatch.setenv(parallel.JOBS_ENV, value)
    with pytest.raises(UsageError, match=parallel.JOBS_ENV):
        parallel.jobs_setting(None)


@pytest.mark.parametrize("args, env", [(["--jobs", "0"], None), ([], {"TLSMGM_JOBS": "many"})])
def test_check_refuses_bad_jobs(tmp_path, args, env):
    cfg = write_cfg(tmp_path, mp("server_domain", "d"))
    result = run("check", "-c", cfg, "--no-db", *args, env=env)
    assert result.exit_code == exitcodes.USAGE, result.output
    assert "jobs" in result.stderr.lower()


def test_check_jobs_1_and_2_print_the_same_report(tmp_path, pki):
    cfg, _n = _big_cfg(tmp_path, pki)
    now = ["--now", "2030-01-01T00:00:00Z", "--format", "json", "--no-db"]
    one = run("check", "-c", cfg, *now, "--jobs", "1")
    two = run("check", "-c", cfg, *now, "--jobs", "2")
    assert one.exit_code == two.exit_code == exitcodes.PROBLEMS
    strip = [line for line in one.stdout.splitlines() if "duration" not in line]
    assert strip == [line for line in two.stdout.splitlines() if "duration" not in line]
