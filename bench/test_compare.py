#!/usr/bin/python3
"""The pure parts of bench/compare.py: medians, ratios, the table, docs/performance.md,
the generated proxy configs, the WebSocket frame skipper and the arguments. Starts no
process and opens no socket; asserts nothing about speed. ctest: bench.compare.

    /usr/bin/python3 -m unittest -v bench/test_compare.py
"""

import contextlib
import io
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "compare"))
import backend  # noqa: E402
import compare  # noqa: E402
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
        seen = []
        real = targets.start_on_free_port
        targets.start_on_free_port = lambda name, log, argv, busy: seen.append(argv(4242))
        try:
            targets.start_proxy("dropsim", "tcp", "/tmp", 9, "/bin/dropsim", 1024, None, args.dropsim_args)
        finally:
            targets.start_on_free_port = real
        self.assertEqual(seen[0][-3:], ["127.0.0.1:9", "--splice", "--seed=1"])


if __name__ == "__main__":
    unittest.main()
