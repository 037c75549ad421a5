"""Verdicts, the comparison of dropsim with the real proxy, and the matrix (terminal,
JSON, Markdown).

A run's verdict: refused (the client got an HTTP status instead of a 101), closed (a
close frame reached the client), dropped (either side saw its connection end in a way its
peer's script does not explain) or survived. A side's EOF after the other side's own FIN
(shut_at) is explained: that FIN was forwarded. "After" is judged on the clock both sides
share, from when the FIN was really sent: each side counts from its own time zero, and on
a busy machine the backend's (its accept) can come well after the client's.

dropsim matches the real proxy when the verdicts are the same, each side saw the same
events in the same order, each at most TOLERANCE (or the scenario's own tolerance) from
the real one, and the counters the scenario names are equal.
"""

import json
import os

from proxies import FAMILIES

TOLERANCE = 0.050
# Each real proxy's column, then dropsim's with its profile.
COLUMNS = tuple(col for f in FAMILIES for col in (f.key, f"dropsim-{f.key}"))


def side_dict(side):
    return {"events": [[k, t] for k, t in side.events], "stats": side.stats, "error": side.error}


def verdict(scenario, client, server):
    """(verdict, seconds since the upgrade or None) of one run."""
    if client.error or server.error:
        return "error", None
    first = client.events[0] if client.events else None
    if first and first[0].startswith("HTTP"):
        return "refused", first[1]
    if first and first[0].startswith("close"):
        return "closed", first[1]
    ends = _unexplained(client, server.shut) + _unexplained(server, client.shut)
    return ("dropped", min(ends)) if ends else ("survived", None)


def _unexplained(side, peer_shut):
    for kind, t in side.events:
        # 1 ms: the event times are rounded to 0.1 ms.
        if kind == "EOF" and None not in (peer_shut, side.t0) and side.t0 + t >= peer_shut - 0.001:
            continue  # the peer's own FIN, forwarded
        if kind.startswith("request without"):
            continue
        return [t]
    return []


def compare(scenario, real, sim):
    """The differences between the real proxy's run and dropsim's: (kind, sentence) pairs,
    kind "time" for a drop time off by more than the tolerance, "outcome" for anything else."""
    tolerance = scenario.tolerance if scenario.tolerance is not None else TOLERANCE
    if real["error"] or sim["error"]:
        return [("outcome", f"run failed: {real['error'] or sim['error']}")]
    diffs = []
    if real["verdict"] != sim["verdict"]:
        diffs.append(("outcome", f"verdict: real {real['verdict']}, dropsim {sim['verdict']}"))
    for side in ("client", "server"):
        r, s = real[side]["events"], sim[side]["events"]
        if [k for k, _ in r] != [k for k, _ in s]:
            diffs.append(("outcome", f"{side}: real {events_text(r)}, dropsim {events_text(s)}"))
            continue
        for (kind, tr), (_, ts) in zip(r, s):
            if abs(tr - ts) > tolerance:
                diffs.append(("time", f"{side} {kind}: real at {tr:.3f}s, dropsim at {ts:.3f}s "
                                      f"(tolerance {tolerance * 1000:.0f} ms)"))
    request_r, request_s = real["server"]["stats"].get("request"), sim["server"]["stats"].get("request")
    if request_r != request_s:
        diffs.append(("outcome", f"backend request: real {request_r!r}, dropsim {request_s!r}"))
    for stat in scenario.compare_stats:
        for side in ("client", "server"):
            vr, vs = real[side]["stats"].get(stat), sim[side]["stats"].get(stat)
            if vr != vs:
                diffs.append(("outcome", f"{side} {stat}: real {vr}, dropsim {vs}"))
    return diffs


def events_text(events, digits=3):
    return ", ".join(f"{k}@{t:.{digits}f}" for k, t in events) if events else "open"


def cell(run, digits=3):
    """One matrix cell: verdict, when, what the client (c) and the backend (s) saw."""
    if run is None:
        return "-"
    if run["error"]:
        return "error"
    head = run["verdict"]
    if run["at"] is not None:
        head += f" {run['at']:.{digits}f}s"
    return f"{head}; c: {side_text(run['client'], digits)}; s: {side_text(run['server'], digits)}"


def side_text(side, digits):
    if not side["events"] and side["stats"].get("request") == "no connection":
        return "no connection"
    return events_text(side["events"], digits)


def status_mark(entry, family):
    comparison = entry["comparisons"].get(family)
    return comparison["status"] if comparison else "-"


def print_matrix(entries, out):
    """The matrix on the terminal, one scenario per block of four lines."""
    print(f"\nFidelity matrix (T = 1 s, tolerance {TOLERANCE * 1000:.0f} ms; "
          "c: client, s: backend; events @ seconds since the upgrade)\n", file=out)
    for e in entries:
        marks = "  ".join(f"{f.key}: {status_mark(e, f.key)}" for f in FAMILIES if e["comparisons"].get(f.key))
        print(f"{e['name']}  [{marks}]  {e['title']}", file=out)
        for col in COLUMNS:
            if col in e["runs"]:
                print(f"    {col:16} {cell(e['runs'][col])}", file=out)
        for f, c in e["comparisons"].items():
            for d in c["diffs"]:
                print(f"    ! {f}: {d}", file=out)
            if c.get("retried"):
                print(f"    ~ {f}: matched only on the second attempt (first: {'; '.join(c['first_diffs'])})",
                      file=out)
        print(file=out)


def summary(entries):
    counts = {"ok": 0, "FAIL": 0, "known": 0}
    for e in entries:
        for c in e["comparisons"].values():
            counts[c["status"]] = counts.get(c["status"], 0) + 1
    return counts


def write_json(entries, meta, path):
    with open(path, "w") as f:
        json.dump({**meta, "tolerance_s": TOLERANCE, "scenarios": entries}, f, indent=1)


def write_markdown(entries, meta, path):
    marks = {"ok": "✓", "FAIL": "✗ differs", "known": "≈ known difference"}
    titles = [f.title for f in FAMILIES]
    header = "".join(f" {f.title} | dropsim `{f.key}` |" for f in FAMILIES)
    lines = [
        f"# Fidelity: dropsim against real {', '.join(titles[:-1])} and {titles[-1]}",
        "",
        "Generated by `make fidelity` (tests/conformance/run.py); `make test` runs the same",
        "suite. Every scenario runs through the real proxy (Debian's packages, started in the",
        "foreground with a generated config) and through dropsim with the matching profile and",
        "the same settings (`--set`), with the same scripted WebSocket or TCP client and",
        f"backend on 127.0.0.1. T = 1 s. {meta['versions']}.",
        "",
        "A cell: the verdict and when (seconds since the upgrade, or since connect for raw",
        "TCP); then what the client (c) and the backend (s) saw, each event with its time:",
        "EOF (a FIN), RST, EOF+RST (a FIN and at once an RST), `close NNNN` (a WebSocket close",
        "frame), `HTTP NNN` (the upgrade refused), `open` (nothing ended). dropsim matches when",
        "the verdict and the events on each side are the same and every time is within",
        f"{TOLERANCE * 1000:.0f} ms of the real one (a scenario that moves MiBs allows more:",
        "its drop time depends on how fast the machine moves them; see scenarios.py).",
        "",
        "| scenario |" + header,
        "|---|" + "---|" * len(COLUMNS),
    ]
    for e in entries:
        row = [f"**{e['name']}**: {e['title']}"]
        for col in COLUMNS:
            run = e["runs"].get(col)
            text = cell(run, 2).replace("; ", "<br>") if run else "–"
            family = col.replace("dropsim-", "")
            if col.startswith("dropsim-") and run:
                text += f"<br>{marks[status_mark(e, family)]}"
            row.append(text)
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "✓ matches, ≈ a known difference (below), ✗ differs (the suite fails).", "",
              "## Known differences", "",
              "Where dropsim cannot match the real proxy; reported, not failed. A scenario",
              "in *italics* matched in this run.", ""]
    by_reason = {}
    for e in entries:
        for family, c in e["comparisons"].items():
            if c.get("reason"):
                name = f"**{e['name']}**" if c["status"] == "known" else f"*{e['name']}*"
                by_reason.setdefault(c["reason"], []).append(f"{name} ({family})")
    for reason, where in by_reason.items():
        lines.append(f"- {', '.join(where)}: {reason}")
    if not by_reason:
        lines.append("None.")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
