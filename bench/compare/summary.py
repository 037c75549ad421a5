"""The pure half of bench/compare.py: medians, ratios, the table and docs/performance.md.

No sockets, no processes: bench/test_compare.py tests all of it.

Results are kept as {metric key: {target: [value per round]}}. A target is one of
TARGETS, or of SCALING_TARGETS for the scaling rows; a metric is one of METRICS (its
label, unit and how many decimals), or SCALING.
"""

from dataclasses import dataclass
import statistics

# The columns, in order. "nginx" is nginx stream for the raw TCP rows and nginx's http
# proxy (an upgraded connection) for the WebSocket row; HAProxy likewise tcp or http mode;
# dropsim runs the matching profile (nginx-stream or nginx).
TARGETS = ("direct", "nginx", "dropsim", "haproxy")
TITLES = {"direct": "direct loopback", "nginx": "nginx", "dropsim": "dropsim", "haproxy": "HAProxy"}
REFERENCE = "nginx"
RATIO_OF = ("dropsim", "haproxy")  # each gets a "÷ nginx" column after its own

# The scaling rows (for `dropsim run --threads N`): each proxy at 1 and 2 workers, nginx
# stream's worker_processes beside dropsim's threads, with direct loopback for reference.
# A scaling target is the proxy it starts and its workers.
SCALED = {"nginx-w1": ("nginx", 1), "nginx-w2": ("nginx", 2),
          "dropsim-t1": ("dropsim", 1), "dropsim-t2": ("dropsim", 2)}
SCALING_TARGETS = ("direct", *SCALED)
SCALING_BASE = {"nginx-w2": "nginx-w1", "dropsim-t2": "dropsim-t1"}  # the "2 ÷ 1" ratios
TITLES.update({"nginx-w1": "nginx stream, worker_processes 1", "nginx-w2": "nginx stream, worker_processes 2",
               "dropsim-t1": "dropsim, --threads 1", "dropsim-t2": "dropsim, --threads 2"})


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    decimals: int = 1


METRICS = (
    Metric("tcp_bulk", "bulk raw TCP, one stream (iperf3)", "Gbit/s", 1),
    Metric("ws_bulk", "bulk WebSocket, both ways summed", "Gbit/s", 2),
    Metric("pp_p50", "64 B ping-pong round trip p50 (sockperf)", "µs", 1),
    Metric("pp_p99", "64 B ping-pong round trip p99", "µs", 1),
    Metric("pp_added_p50", "p50 round trip added by the proxy", "µs", 1),
    Metric("rss_per_session", "RSS per idle session at {n} sessions", "KB", 2),
    Metric("timer_p50", "idle-timer lateness at {n} sessions, p50", "ms", 1),
    Metric("timer_p99", "idle-timer lateness at {n} sessions, p99", "ms", 1),
    Metric("timer_max", "idle-timer lateness at {n} sessions, max", "ms", 1),
    Metric("timer_own_p50", "the same by dropsim's own clock (its lateness histogram), p50 at most", "ms", 1),
    Metric("timer_own_p99", "the same by dropsim's own clock, p99 at most", "ms", 1),
    Metric("timer_own_within_2ms", "the same by dropsim's own clock, share fired within 2 ms", "%", 1),
)
SCALING = Metric("tcp_bulk_parallel", "4 parallel bulk streams, summed (iperf3 -P 4)", "Gbit/s", 1)


def median(values):
    """The median of the numbers in `values` that are not None; None when there are none."""
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def quantile(values, p):
    """The p-quantile (0..1) of `values`, nearest rank (as dropsim_bench does); None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[int(p * (len(ordered) - 1) + 0.5)]


def ratio(value, reference):
    """value / reference, or None when either is missing or not positive (a timer that
    fired early has no meaningful ratio)."""
    if value is None or reference is None or reference <= 0 or value < 0:
        return None
    return value / reference


def fmt_value(value, decimals):
    """A number with thousands separators and `decimals` places; '–' for None."""
    if value is None:
        return "–"
    return f"{value:,.{decimals}f}"


def fmt_ratio(r):
    """A ratio as '0.93×' (two significant places below 10, one above); '–' for None."""
    if r is None:
        return "–"
    return f"{r:.2f}×" if r < 10 else f"{r:.1f}×"


def summarize(results):
    """{metric: {target: median}} from {metric: {target: [per round]}}, with the derived
    metric pp_added_p50 = median p50 of the target minus that of direct loopback."""
    summary = {m: {t: median(v) for t, v in by_target.items()} for m, by_target in results.items()}
    p50 = summary.get("pp_p50", {})
    direct = p50.get("direct")
    added = {}
    for t in TARGETS:
        if t != "direct" and direct is not None and p50.get(t) is not None:
            added[t] = p50[t] - direct
    if added:
        summary["pp_added_p50"] = added
    return summary


def table(summary, sessions=9000):
    """The markdown table: one row per metric measured, a column per target and a ratio
    to nginx for dropsim and HAProxy. Rows with nothing measured are left out, and the
    table too when no row is left (a run of the scaling rows alone)."""
    if not any(measured(summary.get(m.key)) for m in METRICS):
        return ""
    header = ["measurement"]
    for t in TARGETS:
        header.append(TITLES[t])
        if t in RATIO_OF:
            header.append(f"{TITLES[t]} ÷ nginx")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for m in METRICS:
        row = summary.get(m.key)
        if not measured(row):
            continue
        label = m.label.format(n=f"{sessions:,}")
        cells = [f"{label} ({m.unit})"]
        for t in TARGETS:
            cells.append(fmt_value(row.get(t), m.decimals))
            if t in RATIO_OF:
                cells.append(fmt_ratio(ratio(row.get(t), row.get(REFERENCE))))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def measured(row):
    """Whether a {target: median} row holds any figure."""
    return bool(row) and any(v is not None for v in row.values())


def scaling_table(summary, cpus):
    """The "Scaling" section: the 4-stream Gbit/s of each scaling target, and for each
    proxy at 2 workers its ratio to itself at 1. '' when nothing of it was measured."""
    row = summary.get(SCALING.key)
    if not measured(row):
        return ""
    lines = ["## Scaling: 4 parallel bulk streams", "",
             f"The load generator shares the machine's {cpus} cores with the proxy: iperf3's "
             "client and server (before iperf3 3.16 each drives all its streams from one thread) "
             "compete with a second worker for the same CPUs, so 2 ÷ 1 measures the whole "
             "machine, not the proxy alone, and falls short of 2× for that reason too. "
             "2 ÷ 1 is each proxy at 2 workers over itself at 1: nginx's worker_processes, "
             "dropsim's `run --threads`.", "",
             f"| target | {SCALING.label} ({SCALING.unit}) | 2 ÷ 1 |", "|---|---|---|"]
    for t in SCALING_TARGETS:
        base = SCALING_BASE.get(t)
        scaled = fmt_ratio(ratio(row.get(t), row.get(base))) if base else ""
        lines.append(f"| {TITLES[t]} | {fmt_value(row.get(t), SCALING.decimals)} | {scaled} |")
    return "\n".join(lines) + "\n"


def rounds_table(results):
    """Every round's value, per metric and target, in the order they were measured: the
    spread behind each median."""
    lines = ["| measurement | target | rounds |", "|---|---|---|"]
    for m, names in [(m, TARGETS) for m in METRICS] + [(SCALING, SCALING_TARGETS)]:
        for t in names:
            values = results.get(m.key, {}).get(t)
            if values:
                shown = ", ".join(fmt_value(v, m.decimals) for v in values)
                lines.append(f"| {m.key} ({m.unit}) | {TITLES[t]} | {shown} |")
    return "\n".join(lines) + "\n"


def markdown(table_text, machine, notes, reproduce, date, rounds_text="", scaling_text=""):
    """docs/performance.md: the table, the machine, the date, notes, the scaling section,
    every round's values and how to reproduce. `machine` is [(name, value)], `notes` a
    list of sentences."""
    out = ["# Performance: dropsim beside nginx and HAProxy", "",
           "Generated by `make bench-compare` (bench/compare.py); do not edit by hand. "
           "Absolute numbers vary from machine to machine: only the ratios between columns of "
           "one run mean anything. Each cell is the median over the rounds; the rounds ran the "
           "targets in a shuffled order.", "",
           f"Measured {date}.", ""] + ([table_text] if table_text else [])
    if notes:
        out += ["Notes:", ""] + [f"- {n}" for n in notes] + [""]
    if scaling_text:
        out += [scaling_text.rstrip("\n"), ""]
    out += ["## Machine", "", "| | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in machine]
    if rounds_text:
        out += ["", "## Every round", "", rounds_text.rstrip("\n")]
    out += ["", "## How to reproduce", "", "```sh", reproduce, "```", ""]
    return "\n".join(out)
