import os

from openlive.bench.procstat import cpu_seconds, parse_cpu_seconds, parse_status_kib, peak_rss_mib


def test_parse_cpu_seconds_reads_utime_plus_stime_after_a_name_with_spaces() -> None:
    fields = ["S", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "250", "150", "0", "0"]
    line = "1234 (python (a) b) " + " ".join(fields)
    assert parse_cpu_seconds(line, ticks_per_second=100) == 4.0


def test_parse_status_kib() -> None:
    text = "Name:\tpython\nVmPeak:\t  900 kB\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n"
    assert parse_status_kib(text, "VmHWM") == 2048
    assert parse_status_kib(text, "VmRSS") == 1024
    assert parse_status_kib(text, "VmSwap") is None


def test_live_process_numbers_are_plausible() -> None:
    cpu = cpu_seconds(os.getpid())
    peak = peak_rss_mib(os.getpid())
    assert cpu is not None and cpu > 0
    assert peak is not None and peak > 10
    assert cpu_seconds(2**22 + 7) is None  # no such process
