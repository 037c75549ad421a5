#!/usr/bin/python3
"""The pure parts of bench/compare.py: medians, ratios, the table, the scaling section,
docs/performance.md, iperf3's report, the generated proxy configs and command lines, the
WebSocket frame skipper and the arguments. Starts no
process and opens no socket; asserts nothing about speed. ctest: bench.compare.

    /usr/bin/python3 -m unittest -v bench/test_compare.py
"""

import contextlib
import io
import json
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "compare"))
import backend  # noqa: E402
import compare  # noqa: E402
import loads  # noqa: E402
import summary  # noqa: E402
import targets  # noqa: E402
import wsproto  # noqa: E402


class Figures(unittest.TestCase):
    def test_median_skips_missing(self):
        self.assertEqual(summary.median([3, None, 1, 2]), 2)
        self.assertEqual(summary.median([1, 2, 3, 4]), 2.5)
        self.assertIsNone(summary.median([None]))
        self.assertIsNone(summary.median([]))

    def test_quantile_nearest_rank(self):
        values = list(range(1, 101))
        self.assertEqual(summary.quantile(values, 0.5), 51)
        self.assertEqual(summary.quantile(values, 0.99), 99)
        self.assertEqual(summary.quantile([5], 0.99), 5)
        self.assertIsNone(summary.quantile([], 0.5))

    def test_ratio(self):
        self.assertAlmostEqual(summary.ratio(12.0, 24.0), 0.5)
        self.assertIsNone(summary.ratio(None, 1.0))
        self.assertIsNone(summary.ratio(1.0, None))
        self.assertIsNone(summary.ratio(1.0, 0.0))
        self.assertIsNone(summary.ratio(-3.0, 2.0))  # a timer that fired early

    def test_formatting(self):
        self.assertEqual(summary.fmt_value(None, 1), "–")
        self.assertEqual(summary.fmt_value(1234.567, 1), "1,234.6")
        self.assertEqual(summary.fmt_ratio(0.934), "0.93×")
        self.assertEqual(summary.fmt_ratio(12.34), "12.3×")
        self.assertEqual(summary.fmt_ratio(None), "–")

    def test_summarize_takes_medians_and_derives_the_added_round_trip(self):
        results = {"pp_p50": {"direct": [10, 12, 11], "nginx": [20, 18, 19], "dropsim": [30, 31, 29]}}
        s = summary.summarize(results)
        self.assertEqual(s["pp_p50"], {"direct": 11, "nginx": 19, "dropsim": 30})
        self.assertEqual(s["pp_added_p50"], {"nginx": 8, "dropsim": 19})

    def test_table_has_ratio_columns_and_skips_empty_rows(self):
        s = {"tcp_bulk": {"direct": 40.0, "nginx": 20.0, "dropsim": 10.0, "haproxy": None},
             "rss_per_session": {"nginx": 8.0, "dropsim": 4.0},
             "ws_bulk": {"nginx": None}}
        lines = summary.table(s, sessions=9000).splitlines()
        self.assertEqual(lines[0], "| measurement | direct loopback | nginx | dropsim | dropsim ÷ nginx "
                                   "| HAProxy | HAProxy ÷ nginx |")
        self.assertEqual(lines[1], "|---|---|---|---|---|---|---|")
        self.assertEqual(lines[2], "| bulk raw TCP, one stream (iperf3) (Gbit/s) | 40.0 | 20.0 | 10.0 | 0.50× | – | – |")
        self.assertEqual(lines[3], "| RSS per idle session at 9,000 sessions (KB) | – | 8.00 | 4.00 | 0.50× | – | – |")
        self.assertEqual(len(lines), 4)  # no WebSocket row: nothing in it

    def test_rounds_table_lists_every_round(self):
        text = summary.rounds_table({"tcp_bulk": {"nginx": [1.0, 2.0], "dropsim": [3.0]}})
        self.assertEqual(text.splitlines()[2:], ["| tcp_bulk (Gbit/s) | nginx | 1.0, 2.0 |",
                                                 "| tcp_bulk (Gbit/s) | dropsim | 3.0 |"])

    def test_markdown_document(self):
        text = summary.markdown("| t |\n", [("CPUs (nproc)", "2")], ["a note"], "make bench", "2026-12-07 06:00 UTC")
        self.assertIn("Measured 2026-12-07 06:00 UTC.", text)
        self.assertIn("| t |", text)
        self.assertIn("- a note", text)
        self.assertIn("| CPUs (nproc) | 2 |", text)
        self.assertIn("```sh\nmake bench\n```", text)


# iperf3 -J's report of a -P 4 run, cut to what the harness reads and what it must not:
# per-stream figures and the sender's sum stand beside the receiver's sum.
IPERF3_P4 = {
    "start": {"test_start": {"num_streams": 4, "duration": 3}},
    "intervals": [],
    "end": {
        "streams": [{"receiver": {"bits_per_second": 3.0e9}}, {"receiver": {"bits_per_second": 2.5e9}},
                    {"receiver": {"bits_per_second": 2.25e9}}, {"receiver": {"bits_per_second": 2.25e9}}],
        "sum_sent": {"bits_per_second": 10.4e9},
        "sum_received": {"bits_per_second": 10.0e9},
    },
}


class Scaling(unittest.TestCase):
    FIGURES = {"tcp_bulk_parallel": {"direct": 40.0, "nginx-w1": 12.0, "nginx-w2": 18.0,
                                     "dropsim-t1": 10.0, "dropsim-t2": 11.0}}

    def test_iperf3_report_gives_the_received_sum(self):
        self.assertAlmostEqual(loads.iperf3_received_gbits(json.dumps(IPERF3_P4)), 10.0)

    def test_iperf3_failures_are_errors(self):
        refused = dict(IPERF3_P4, end={}, error="unable to connect to server: Connection refused")
        with self.assertRaisesRegex(RuntimeError, "^iperf3: unable to connect to server"):
            loads.iperf3_received_gbits(json.dumps(refused))
        with self.assertRaisesRegex(RuntimeError, "no JSON report: iperf3: error - control socket"):
            loads.iperf3_received_gbits("", "iperf3: error - control socket has closed unexpectedly\n")
        with self.assertRaisesRegex(RuntimeError, "no end.sum_received"):
            loads.iperf3_received_gbits(json.dumps(dict(IPERF3_P4, end={"sum_sent": {}})))

    def test_summarize_takes_medians_per_scaling_target(self):
        s = summary.summarize({"tcp_bulk_parallel": {"dropsim-t1": [9.0, 10.0, 30.0], "dropsim-t2": [12.0, 11.0]}})
        self.assertEqual(s["tcp_bulk_parallel"], {"dropsim-t1": 10.0, "dropsim-t2": 11.5})

    def test_section_has_each_target_and_the_two_over_one_ratios(self):
        lines = summary.scaling_table(self.FIGURES, cpus=2).splitlines()
        self.assertEqual(lines[0], "## Scaling: 4 parallel bulk streams")
        self.assertIn("shares the machine's 2 cores", lines[2])
        self.assertIn("iperf3's client and server", lines[2])
        self.assertEqual(lines[4:], [
            "| target | 4 parallel bulk streams, summed (iperf3 -P 4) (Gbit/s) | 2 ÷ 1 |",
            "|---|---|---|",
            "| direct loopback | 40.0 |  |",
            "| nginx stream, worker_processes 1 | 12.0 |  |",
            "| nginx stream, worker_processes 2 | 18.0 | 1.50× |",
            "| dropsim, --threads 1 | 10.0 |  |",
            "| dropsim, --threads 2 | 11.0 | 1.10× |",
        ])

    def test_a_failed_target_leaves_its_cell_and_ratio_empty(self):
        figures = {"tcp_bulk_parallel": dict(self.FIGURES["tcp_bulk_parallel"], **{"dropsim-t2": None})}
        lines = summary.scaling_table(figures, cpus=2).splitlines()
        self.assertEqual(lines[-1], "| dropsim, --threads 2 | – | – |")
        self.assertEqual(lines[-3], "| nginx stream, worker_processes 2 | 18.0 | 1.50× |")
        self.assertEqual(summary.scaling_table({"tcp_bulk_parallel": {"dropsim-t1": None}}, cpus=2), "")
        self.assertEqual(summary.scaling_table({}, cpus=2), "")

    def test_scaling_stays_out_of_the_main_table_and_into_the_rounds(self):
        self.assertEqual(summary.table(self.FIGURES), "")  # a run of the scaling rows alone
        both = dict(self.FIGURES, tcp_bulk={"direct": 20.0})
        self.assertNotIn("parallel", summary.table(both))
        rounds = summary.rounds_table({"tcp_bulk_parallel": {"nginx-w2": [17.0, 18.0]}})
        self.assertEqual(rounds.splitlines()[2:], ["| tcp_bulk_parallel (Gbit/s) | nginx stream, worker_processes 2 "
                                                   "| 17.0, 18.0 |"])

    def test_markdown_puts_the_section_after_the_notes(self):
        text = summary.markdown("| t |\n", [], ["a note"], "make bench", "now", "",
                                summary.scaling_table(self.FIGURES, cpus=2))
        self.assertLess(text.index("- a note"), text.index("## Scaling"))
        self.assertLess(text.index("## Scaling"), text.index("## Machine"))

    def test_every_scaling_target_starts_a_proxy_at_its_workers(self):
        self.assertEqual(compare.MEASUREMENTS["tcp_bulk_parallel"][1], summary.SCALING_TARGETS)
        self.assertEqual(compare.proxy_of("dropsim-t2"), ("dropsim", 2))
        self.assertEqual(compare.proxy_of("nginx-w1"), ("nginx", 1))
        self.assertEqual(compare.proxy_of("nginx"), ("nginx", None))
        self.assertIn("tcp_bulk_parallel", compare.parse_args([]).only)  # part of the default run
        self.assertEqual(compare.parse_args(["--only", "tcp_bulk_parallel"]).only, {"tcp_bulk_parallel"})


class OwnLateness(unittest.TestCase):
    METRICS = "\n".join([
        "# TYPE dropsim_timer_lateness_seconds histogram",
        'dropsim_timer_lateness_seconds_bucket{proxy="proxy",le="0.0005"} 10',
        'dropsim_timer_lateness_seconds_bucket{proxy="proxy",le="0.001"} 60',
        'dropsim_timer_lateness_seconds_bucket{proxy="proxy",le="0.002"} 95',
        'dropsim_timer_lateness_seconds_bucket{proxy="proxy",le="0.005"} 99',
        'dropsim_timer_lateness_seconds_bucket{proxy="proxy",le="0.01"} 100',
        'dropsim_timer_lateness_seconds_bucket{proxy="proxy",le="+Inf"} 100',
        'dropsim_timer_lateness_seconds_sum{proxy="proxy"} 0.123',
        'dropsim_timer_lateness_seconds_count{proxy="proxy"} 100',
        'dropsim_timer_firings_total{proxy="proxy",timer="proxy_timeout"} 100', ""])

    def test_bounds_of_p50_and_p99_and_the_share_within_2_ms(self):
        got = loads.lateness_from_metrics(self.METRICS)
        self.assertEqual(got["timer_own_p50"], 1.0)   # 60 of 100 by 1 ms, 10 by 0.5 ms
        self.assertEqual(got["timer_own_p99"], 5.0)   # 99 by 5 ms
        self.assertEqual(got["timer_own_within_2ms"], 95.0)
        self.assertEqual(got["timer_own_count"], 100)

    def test_no_firing_gives_nothing(self):
        empty = self.METRICS.replace("} 10\n", "} 0\n").replace("} 60", "} 0").replace("} 95", "} 0") \
            .replace("} 99", "} 0").replace("} 100\n", "} 0\n")
        self.assertEqual(loads.lateness_from_metrics(empty), {})
        self.assertEqual(loads.lateness_from_metrics(""), {})

    def test_the_timer_dropsim_serves_its_api(self):
        cmd = []
        real = targets.start_on_free_port
        try:
            targets.start_on_free_port = lambda name, log, argv, busy: cmd.extend(argv(40000)) or targets.Process(
                name, None, 40000, log)
            p = targets.start_proxy("dropsim", "tcp", "/tmp", 1, "dropsim", 1024, "5s", (), None, True)
        finally:
            targets.start_on_free_port = real
        self.assertNotIn("--no-api", cmd)
        self.assertEqual(cmd[cmd.index("--api") + 1], f"127.0.0.1:{p.api_port}")


class Configs(unittest.TestCase):
    def test_nginx_stream(self):
        conf = targets.nginx_config("/tmp/x", "stream", 2000, 3000, nofile=20000, timeout="5s")
        for line in ("worker_processes 1;", "worker_rlimit_nofile 20000;", "worker_connections 19936;",
                     "listen 127.0.0.1:2000 backlog=4096;", "proxy_pass 127.0.0.1:3000;", "proxy_timeout 5s;",
                     f"load_module {targets.NGINX_STREAM_MODULE};"):
            self.assertIn(line, conf)

    def test_nginx_http_upgrade(self):
        conf = targets.nginx_config("/tmp/x", "http", 2000, 3000, nofile=1024)
        for line in ("proxy_pass http://127.0.0.1:3000;", "proxy_http_version 1.1;",
                     "proxy_set_header Upgrade $http_upgrade;", 'proxy_set_header Connection "upgrade";',
                     "client_body_temp_path /tmp/x/client_body;"):
            self.assertIn(line, conf)
        self.assertNotIn("load_module", conf)

    def test_haproxy(self):
        conf = targets.haproxy_config("http", 2000, 3000, maxconn=9500, timeout="5s")
        for line in ("nbthread 1", "maxconn 9500", "mode http", "timeout client 5s", "timeout server 5s",
                     "timeout tunnel 5s", "bind 127.0.0.1:2000", "server s1 127.0.0.1:3000"):
            self.assertIn(line, conf)
        self.assertNotIn("timeout tunnel", targets.haproxy_config("tcp", 2000, 3000, maxconn=256))


class Frames(unittest.TestCase):
    def test_skipper_counts_binary_and_returns_the_rest(self):
        stream = (backend.bulk_frame(mask=True)
                  + wsproto.encode_frame(wsproto.OP_BINARY, b"x" * 300)
                  + wsproto.encode_frame(wsproto.OP_TEXT, b"12 0.5", mask=True)
                  + wsproto.encode_frame(wsproto.OP_CLOSE, wsproto.close_payload(1000)))
        for step in (1, 7, 4096, len(stream)):  # any split of the stream gives the same
            skipper, frames = backend.FrameSkipper(), []
            for i in range(0, len(stream), step):
                frames += skipper.feed(stream[i:i + step])
            self.assertEqual(skipper.binary_bytes, backend.MESSAGE + 300)
            self.assertEqual(frames, [(wsproto.OP_TEXT, b"12 0.5"), (wsproto.OP_CLOSE, wsproto.close_payload(1000))])


class Arguments(unittest.TestCase):
    def test_quick_and_only(self):
        args = compare.parse_args(["--quick", "--only", "rss,timer"])
        self.assertEqual((args.rounds, args.seconds), (1, 1))
        self.assertEqual(args.only, {"rss", "timer"})
        self.assertEqual(compare.parse_args([]).rounds, 5)
        with self.assertRaises(SystemExit), contextlib.redirect_stderr(io.StringIO()):
            compare.parse_args(["--only", "nonsense"])

    def test_dropsim_args_reach_the_command_line(self):
        args = compare.parse_args(["--dropsim-arg=--splice", "--dropsim-arg=--seed=1"])
        self.assertEqual(args.dropsim_args, ["--splice", "--seed=1"])
        self.assertEqual(compare.parse_args([]).dropsim_args, [])
        argv = proxy_argv("dropsim", "/tmp", args.dropsim_args)
        self.assertEqual(argv[-3:], ["127.0.0.1:9", "--splice", "--seed=1"])
        self.assertNotIn("--threads", argv)  # the other rows run binaries without it too

    def test_workers_reach_dropsim_and_nginx(self):
        argv = proxy_argv("dropsim", "/tmp", ["--splice"], workers=2)
        self.assertEqual(argv[-4:], ["127.0.0.1:9", "--threads", "2", "--splice"])
        with tempfile.TemporaryDirectory() as tmp:
            proxy_argv("nginx", tmp, workers=2)
            self.assertIn("worker_processes 2;", targets.read_file(f"{tmp}/nginx.conf"))
            proxy_argv("nginx", tmp)
            self.assertIn("worker_processes 1;", targets.read_file(f"{tmp}/nginx.conf"))
        with self.assertRaises(ValueError):
            proxy_argv("haproxy", "/tmp", workers=2)

    def test_a_refused_option_shows_in_the_first_line(self):
        log = "The following arguments were not expected: 2 --threads\nRun with --help for more information.\n"
        self.assertEqual(targets.start_failure("dropsim", 2, log).splitlines(), [
            "dropsim exited with status 2: The following arguments were not expected: 2 --threads",
            "Run with --help for more information."])
        self.assertEqual(targets.start_failure("nginx", None, ""), "nginx was not listening after 10 s, its log empty")


def proxy_argv(target, tmp, dropsim_args=(), workers=None):
    """The argv start_proxy would run for a tcp `target` (its config written into tmp), run nothing."""
    seen = []
    real = targets.start_on_free_port
    targets.start_on_free_port = lambda name, log, argv, busy: seen.append(argv(4242))
    try:
        targets.start_proxy(target, "tcp", tmp, 9, "/bin/dropsim", 1024, None, dropsim_args, workers)
    finally:
        targets.start_on_free_port = real
    return seen[0]


if __name__ == "__main__":
    unittest.main()
