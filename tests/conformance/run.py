"""Fidelity suite: every scenario through the real proxies (proxies.FAMILIES) and through
dropsim's matching profile, compared. Standard library only; run with the system Python:

    /usr/bin/python3 tests/conformance/run.py --dropsim build/dropsim [--json F] [--markdown F]
        [--jobs N] [scenario ...]

Exit code 0 when dropsim matches every real proxy (known differences are reported, not
failed), 1 when something differs, 77 (CTest's skip code here) when a real proxy is not
installed.
"""

import argparse
import os
import socket
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peers  # noqa: E402
import proxies  # noqa: E402
import report  # noqa: E402
import scenarios  # noqa: E402

SKIP = 77
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_one(scenario, column, binary):
    """One connection of `scenario` through the proxy of `column`; a run dict."""
    family = column.replace("dropsim-", "")
    setup = scenario.setup(family)
    run = {"proxy": column, "error": None, "verdict": None, "at": None}
    with tempfile.TemporaryDirectory(prefix=f"fidelity-{scenario.name}-{column}-") as tmp:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        proxy = None
        try:
            upstream = listener.getsockname()[1]
            action = getattr(scenario, "action", None)  # (t, on the real proxy, on dropsim)
            if column.startswith("dropsim-"):
                proxy = proxies.start_dropsim(binary, setup, tmp, upstream, api=action is not None)
            else:
                proxy = proxies.start_real(setup, tmp, upstream)
            if scenario.backend_down:
                listener.close()
            if action is not None:
                at, on_real, on_dropsim = action
                act = (lambda: on_dropsim(proxy)) if column.startswith("dropsim-") else \
                    (lambda: on_real(setup, tmp, proxy))
                action = (at, act)
            client, server = peers.exchange(proxy.port, None if scenario.backend_down else listener,
                                            scenario.ws, scenario.client, scenario.server,
                                            scenario.duration, action)
            run["client"], run["server"] = report.side_dict(client), report.side_dict(server)
            run["verdict"], run["at"] = report.verdict(scenario, client, server)
            run["error"] = client.error or server.error
        except Exception as e:  # a proxy that would not start: reported as that run's error
            run["error"] = str(e)
        finally:
            listener.close()
            if proxy is not None:
                proxy.stop()
                run["log"] = proxy.log()[-4000:]
    return run


def run_pairs(pairs, binary, jobs):
    """Runs (scenario, family) pairs, the real proxy and dropsim side by side: the light
    ones `jobs` at a time, then the heavy ones (MiBs through the proxy) one pair at a
    time, so that CPU contention on a small machine does not move their drop times."""
    results = {}
    for heavy, width in ((False, jobs), (True, 2)):
        tasks = [(s, col) for s, family in pairs if s.heavy == heavy
                 for col in (family, f"dropsim-{family}")]
        with ThreadPoolExecutor(max_workers=width) as pool:
            futures = {(s.name, col): pool.submit(run_one, s, col, binary) for s, col in tasks}
            results.update({key: f.result() for key, f in futures.items()})
    return results


def judge(scenario, family, real, sim):
    """ok, known (a difference the scenario names, reported) or FAIL, with the differences."""
    diffs = report.compare(scenario, real, sim)
    known = scenario.known.get(family)
    excused = known is not None and not (real["error"] or sim["error"]) and all(
        kind == "time" or not known.timing_only for kind, _ in diffs)
    status = "ok" if not diffs else "known" if excused else "FAIL"
    return {"status": status, "diffs": [text for _, text in diffs],
            "reason": known.reason if known else None}


def versions():
    return "Reference: " + ", ".join(proxies.version(f) for f in proxies.FAMILIES)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", help="scenario names (default: all)")
    parser.add_argument("--dropsim", default=os.environ.get("DROPSIM_BINARY") or f"{REPO}/build/dropsim")
    parser.add_argument("--json", help="write the matrix as JSON here")
    parser.add_argument("--markdown", help="write the matrix as Markdown here (docs/fidelity.md)")
    parser.add_argument("--jobs", type=int, default=8, help="runs in parallel (default 8)")
    parser.add_argument("--no-retry", action="store_true", help="do not re-run a differing pair once")
    args = parser.parse_args()

    missing = proxies.missing_programs()
    if missing:
        print("SKIPPED: the fidelity suite needs the real proxies: " + "; ".join(missing)
              + ". Install them with scripts/deps.sh.")
        return SKIP
    if not os.access(args.dropsim, os.X_OK):
        print(f"dropsim binary not found at {args.dropsim} (build it, or pass --dropsim)")
        return 2

    started = time.monotonic()
    chosen = scenarios.by_name(args.scenarios)
    families = [f.key for f in proxies.FAMILIES]
    pairs = [(s, f) for s in chosen for f in families if s.setup(f)]
    runs = run_pairs(pairs, args.dropsim, args.jobs)
    comparisons = {(s.name, f): judge(s, f, runs[(s.name, f)], runs[(s.name, f"dropsim-{f}")])
                   for s, f in pairs}

    retry = [(s, f) for s, f in pairs if comparisons[(s.name, f)]["status"] == "FAIL"]
    if retry and not args.no_retry:
        again = run_pairs(retry, args.dropsim, args.jobs)
        for s, f in retry:
            first = comparisons[(s.name, f)]
            second = judge(s, f, again[(s.name, f)], again[(s.name, f"dropsim-{f}")])
            if second["status"] != "FAIL":
                second.update(retried=True, first_diffs=first["diffs"])
                runs[(s.name, f)], runs[(s.name, f"dropsim-{f}")] = again[(s.name, f)], again[(s.name, f"dropsim-{f}")]
                comparisons[(s.name, f)] = second

    entries = []
    for s in chosen:
        present = [f for f in families if s.setup(f)]
        entries.append({
            "name": s.name, "title": s.title,
            "runs": {col: runs[(s.name, col)] for f in present for col in (f, f"dropsim-{f}")},
            "comparisons": {f: comparisons[(s.name, f)] for f in present},
        })
    report.print_matrix(entries, sys.stdout)
    for e in entries:  # the proxies' logs where something differs, to see why
        for f, c in e["comparisons"].items():
            if c["status"] == "FAIL":
                for col in (f, f"dropsim-{f}"):
                    print(f"--- {e['name']} / {col} log:\n{e['runs'][col].get('log', '')}")
    elapsed = time.monotonic() - started
    meta = {"T_s": scenarios.T, "versions": versions(), "runtime_s": round(elapsed, 1)}
    if args.json:
        report.write_json(entries, meta, args.json)
    if args.markdown:
        report.write_markdown(entries, meta, args.markdown)
    counts = report.summary(entries)
    print(f"fidelity: {counts['ok']} match, {counts['known']} known differences, "
          f"{counts['FAIL']} differ; {len(runs)} runs in {elapsed:.1f}s")
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
