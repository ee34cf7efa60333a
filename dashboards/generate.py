#!/usr/bin/env python3
"""Writes skein-broker.json, skein-hosts.json and skein-agents.json (Grafana's classic dashboard JSON model) from
the panel lists below, so panels stay uniform and the files stay diffable. Edit this file, run it, commit the outputs;
Tests/Interop/test_dashboards.py checks the outputs are current and that every expression returns data over a
real scrape.

Metric names: README.md, "Metrics and health (HTTP)". `$__rate_interval` is Grafana's; the checks replace it
with 5m.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
RATE = "$__rate_interval"


def panel(title: str, targets: list[tuple[str, str]], unit: str = "short", description: str = "",
          kind: str = "timeseries", stack: bool = False) -> dict:
    """targets: (expr, legend format)."""
    p = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
        "targets": [
            {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend,
             "datasource": {"type": "prometheus", "uid": "${datasource}"}}
            for i, (expr, legend) in enumerate(targets)
        ],
    }
    if stack:
        p["fieldConfig"]["defaults"]["custom"] = {"stacking": {"mode": "normal"}}
    return p


def row(title: str) -> dict:
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


def layout(items: list[dict]) -> list[dict]:
    """Two panels per line (8 high, 12 wide); a row starts a new line."""
    out, x, y, next_id = [], 0, 0, 1
    for item in items:
        item = dict(item, id=next_id)
        next_id += 1
        if item["type"] == "row":
            if x:
                y += 8
            x = 0
            item["gridPos"] = {"x": 0, "y": y, "w": 24, "h": 1}
            y += 1
        else:
            item["gridPos"] = {"x": x, "y": y, "w": 12, "h": 8}
            x += 12
            if x >= 24:
                x, y = 0, y + 8
        out.append(item)
    return out


def datasource_variable() -> dict:
    return {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
            "current": {}, "hide": 0, "refresh": 1, "options": []}


def query_variable(name: str, label: str, query: str) -> dict:
    return {"name": name, "label": label, "type": "query",
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "query": {"query": query, "refId": "%s-variable" % name}, "definition": query,
            "refresh": 2, "includeAll": True, "multi": True, "allValue": ".*", "sort": 1,
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]}, "options": [], "hide": 0}


def dashboard(uid: str, title: str, description: str, panels: list[dict], variables: list[dict],
              tags: list[str]) -> dict:
    return {
        "uid": uid, "title": title, "description": description, "tags": tags,
        "schemaVersion": 39, "version": 1, "editable": True, "graphTooltip": 1,
        "time": {"from": "now-1h", "to": "now"}, "refresh": "30s", "timezone": "",
        "templating": {"list": [datasource_variable()] + variables},
        "annotations": {"list": []},
        "panels": layout(panels),
    }


T = 'topic=~"$topic"'
G = 'consumergroup=~"$group"'

BROKER_PANELS = [
    row("Throughput"),
    panel("Bytes in / out by topic", [
        ('sum by (topic) (rate(skein_topic_bytes_in_total{%s}[%s]))' % (T, RATE), "in {{topic}}"),
        ('sum by (topic) (rate(skein_topic_bytes_out_total{%s}[%s]))' % (T, RATE), "out {{topic}}"),
    ], unit="Bps", description="Batch bytes appended by Produce and returned by Fetch."),
    panel("Records in / out by topic", [
        ('sum by (topic) (rate(skein_topic_records_in_total{%s}[%s]))' % (T, RATE), "in {{topic}}"),
        ('sum by (topic) (rate(skein_topic_records_out_total{%s}[%s]))' % (T, RATE), "out {{topic}}"),
    ], unit="ops"),
    panel("Produce batch size", [
        ('histogram_quantile(0.5, sum by (le) (rate(skein_produce_batch_size_bytes_bucket[%s])))' % RATE, "p50"),
        ('histogram_quantile(0.99, sum by (le) (rate(skein_produce_batch_size_bytes_bucket[%s])))' % RATE, "p99"),
    ], unit="bytes"),
    panel("Log end offset growth by partition", [
        ('sum by (topic, partition) (deriv(kafka_topic_partition_current_offset{%s}[%s]))' % (T, RATE),
         "{{topic}}-{{partition}}"),
    ], unit="ops", description="Offsets per second: records appended per partition."),
    row("Requests"),
    panel("Request rate by API", [
        ('sum by (api) (rate(skein_requests_total[%s]))' % RATE, "{{api}}"),
    ], unit="reqps", stack=True),
    panel("Errors by API", [
        ('sum by (api) (rate(skein_requests_total{outcome="error"}[%s]))' % RATE, "{{api}}"),
    ], unit="reqps", description="Responses carrying any non-zero error code."),
    panel("Request latency p99 by API", [
        ('histogram_quantile(0.99, sum by (api, le) (rate(skein_request_duration_seconds_bucket[%s])))' % RATE,
         "{{api}}"),
    ], unit="s"),
    panel("Request latency p50 by API", [
        ('histogram_quantile(0.5, sum by (api, le) (rate(skein_request_duration_seconds_bucket[%s])))' % RATE,
         "{{api}}"),
    ], unit="s"),
    panel("Connections", [
        ("sum(skein_connections_open)", "open"),
        ("sum(rate(skein_connections_accepted_total[%s]))" % RATE, "accepted/s"),
    ]),
    panel("Brokers up", [
        ('sum(up{job="skein"})', "scraped brokers up"),
        ("sum(kafka_brokers)", "brokers reporting"),
    ], kind="stat"),
    row("Storage"),
    panel("Log size by topic", [
        ('sum by (topic) (skein_log_size_bytes{%s})' % T, "{{topic}}"),
    ], unit="bytes", stack=True),
    panel("Segments by topic", [
        ('sum by (topic) (skein_log_segments{%s})' % T, "{{topic}}"),
    ]),
    panel("Retention deletions", [
        ('sum by (topic) (rate(skein_log_retention_deleted_bytes_total{%s}[%s]))' % (T, RATE), "bytes {{topic}}"),
        ('sum by (topic) (increase(skein_log_retention_deleted_segments_total{%s}[%s]))' % (T, RATE),
         "segments {{topic}}"),
    ], unit="Bps"),
    panel("fsync latency", [
        ('histogram_quantile(0.5, sum by (le) (rate(skein_log_fsync_duration_seconds_bucket[%s])))' % RATE, "p50"),
        ('histogram_quantile(0.99, sum by (le) (rate(skein_log_fsync_duration_seconds_bucket[%s])))' % RATE, "p99"),
        ('sum(rate(skein_log_fsync_duration_seconds_count[%s]))' % RATE, "fsync rounds/s"),
    ], unit="s"),
    panel("Retained records by partition", [
        ('sum by (topic, partition) (kafka_topic_partition_current_offset{%s} - kafka_topic_partition_oldest_offset{%s})'
         % (T, T), "{{topic}}-{{partition}}"),
    ]),
    panel("Partitions by topic", [
        ('sum by (topic) (kafka_topic_partitions{%s})' % T, "{{topic}}"),
    ], kind="stat"),
    row("Consumer groups"),
    panel("Lag by group and topic", [
        ('sum by (consumergroup, topic) (kafka_consumergroup_lag{%s, %s})' % (G, T), "{{consumergroup}} {{topic}}"),
    ], description="High watermark − committed offset, summed over partitions."),
    panel("Lag by partition", [
        ('kafka_consumergroup_lag{%s, %s}' % (G, T), "{{consumergroup}} {{topic}}-{{partition}}"),
    ]),
    panel("Group members", [
        ('sum by (consumergroup) (kafka_consumergroup_members{%s})' % G, "{{consumergroup}}"),
    ]),
    panel("Group generation", [
        ('max by (consumergroup) (skein_group_generation{%s})' % G, "{{consumergroup}}"),
    ], description="Rises with every rebalance."),
    panel("Committed offset progress", [
        ('sum by (consumergroup, topic) (deriv(kafka_consumergroup_current_offset{%s, %s}[%s]))' % (G, T, RATE),
         "{{consumergroup}} {{topic}}"),
    ], unit="ops"),
    row("Process and host-metrics re-export"),
    panel("Broker CPU and memory", [
        ('rate(process_cpu_seconds_total{job="skein"}[%s])' % RATE, "CPU cores {{instance}}"),
        ('process_resident_memory_bytes{job="skein"} / 2^30', "RSS GiB {{instance}}"),
    ]),
    panel("Open file descriptors", [
        ('process_open_fds{job="skein"}', "open {{instance}}"),
        ('process_max_fds{job="skein"}', "max {{instance}}"),
    ]),
    panel("Hosts exported", [
        ("sum(skein_host_metrics_hosts)", "hosts"),
        ("sum(rate(skein_host_metrics_records_total[%s]))" % RATE, "records/s"),
        ("sum(rate(skein_host_metrics_malformed_total[%s]))" % RATE, "malformed/s"),
        ("sum(increase(skein_host_metrics_expired_total[%s]))" % RATE, "expired"),
    ]),
    panel("Seconds since each host's last sample set", [
        ("time() - skein_host_last_seen_timestamp_seconds", "{{host}}"),
    ], unit="s"),
    panel("Build", [("skein_build_info", "{{version}}")], kind="stat"),
]

H = 'host=~"$host"'

HOST_PANELS = [
    row("CPU and load"),
    panel("CPU busy by host", [
        ('1 - avg by (host) (rate(node_cpu_seconds_total{%s, mode="idle"}[%s]))' % (H, RATE), "{{host}}"),
    ], unit="percentunit"),
    panel("CPU by mode", [
        ('sum by (mode) (rate(node_cpu_seconds_total{%s, mode!="idle"}[%s]))' % (H, RATE), "{{mode}}"),
    ], unit="short", stack=True, description="Cores busy in each mode, all selected hosts."),
    panel("Load average", [
        ('node_load1{%s}' % H, "1m {{host}}"),
        ('node_load5{%s}' % H, "5m {{host}}"),
        ('node_load15{%s}' % H, "15m {{host}}"),
    ]),
    panel("Load per CPU", [
        ('node_load1{%s} / on (host) group_left count by (host) (node_cpu_seconds_total{%s, mode="idle"})'
         % (H, H), "{{host}}"),
    ]),
    row("Memory"),
    panel("Memory used", [
        ('node_memory_MemTotal_bytes{%s} - node_memory_MemAvailable_bytes{%s}' % (H, H), "used {{host}}"),
        ('node_memory_MemTotal_bytes{%s}' % H, "total {{host}}"),
    ], unit="bytes"),
    panel("Memory available", [
        ('node_memory_MemAvailable_bytes{%s} / node_memory_MemTotal_bytes{%s}' % (H, H), "{{host}}"),
    ], unit="percentunit"),
    panel("Page cache and buffers", [
        ('node_memory_Cached_bytes{%s} + node_memory_Buffers_bytes{%s}' % (H, H), "{{host}}"),
        ('node_memory_MemFree_bytes{%s}' % H, "free {{host}}"),
    ], unit="bytes"),
    panel("Swap used", [
        ('node_memory_SwapTotal_bytes{%s} - node_memory_SwapFree_bytes{%s}' % (H, H), "{{host}}"),
    ], unit="bytes"),
    row("Filesystems and disks"),
    panel("Filesystem used", [
        ('1 - node_filesystem_avail_bytes{%s} / node_filesystem_size_bytes{%s}' % (H, H),
         "{{host}} {{mountpoint}}"),
    ], unit="percentunit"),
    panel("Filesystem available", [
        ('node_filesystem_avail_bytes{%s}' % H, "{{host}} {{mountpoint}}"),
    ], unit="bytes"),
    panel("Inodes used", [
        ('1 - node_filesystem_files_free{%s} / node_filesystem_files{%s}' % (H, H), "{{host}} {{mountpoint}}"),
    ], unit="percentunit"),
    panel("Disk throughput", [
        ('rate(node_disk_read_bytes_total{%s}[%s])' % (H, RATE), "read {{host}} {{device}}"),
        ('rate(node_disk_written_bytes_total{%s}[%s])' % (H, RATE), "write {{host}} {{device}}"),
    ], unit="Bps"),
    panel("Disk IOPS", [
        ('rate(node_disk_reads_completed_total{%s}[%s])' % (H, RATE), "reads {{host}} {{device}}"),
        ('rate(node_disk_writes_completed_total{%s}[%s])' % (H, RATE), "writes {{host}} {{device}}"),
    ], unit="iops"),
    panel("Disk busy", [
        ('rate(node_disk_io_time_seconds_total{%s}[%s])' % (H, RATE), "{{host}} {{device}}"),
    ], unit="percentunit"),
    row("Network"),
    panel("Network traffic", [
        ('rate(node_network_receive_bytes_total{%s, device!="lo"}[%s])' % (H, RATE), "rx {{host}} {{device}}"),
        ('rate(node_network_transmit_bytes_total{%s, device!="lo"}[%s])' % (H, RATE), "tx {{host}} {{device}}"),
    ], unit="Bps"),
    panel("Network packets", [
        ('rate(node_network_receive_packets_total{%s}[%s])' % (H, RATE), "rx {{host}} {{device}}"),
        ('rate(node_network_transmit_packets_total{%s}[%s])' % (H, RATE), "tx {{host}} {{device}}"),
    ], unit="pps"),
    panel("Network errors", [
        ('rate(node_network_receive_errs_total{%s}[%s])' % (H, RATE), "rx {{host}} {{device}}"),
        ('rate(node_network_transmit_errs_total{%s}[%s])' % (H, RATE), "tx {{host}} {{device}}"),
    ], unit="pps"),
    row("Agents"),
    panel("Seconds since last sample set", [
        ('time() - skein_host_last_seen_timestamp_seconds{%s}' % H, "{{host}}"),
    ], unit="s", description="From the broker's /metrics; a host disappears after host.metrics.ttl.ms."),
    panel("Agent CPU and memory", [
        ('rate(skein_agent_cpu_seconds_total{%s}[%s])' % (H, RATE), "CPU cores {{host}}"),
        ('skein_agent_resident_memory_bytes{%s} / 2^20' % H, "RSS MiB {{host}}"),
    ]),
    panel("Agent delivery", [
        ('skein_agent_records_buffered{%s}' % H, "buffered {{host}}"),
        ('increase(skein_agent_records_dropped_total{%s}[%s])' % (H, RATE), "dropped {{host}}"),
    ]),
    panel("Uptime", [
        ('node_time_seconds{%s} - node_boot_time_seconds{%s}' % (H, H), "{{host}}"),
    ], unit="s"),
    panel("Kernel", [
        ('node_uname_info{%s}' % H, "{{host}} {{release}}"),
    ], kind="table"),
]

I = 'instance=~"$instance"'
S = 'instance=~"$instance", source=~"$source"'

# Each agent's own /metrics (job skein-agent in prometheus.yml): log shipping per source, the memory cap, files.
AGENT_PANELS = [
    row("Log shipping"),
    panel("Records read and committed by source", [
        ('sum by (instance, source) (rate(skein_agent_log_records_total{%s}[%s]))' % (S, RATE),
         "read {{instance}} {{source}}"),
        ('sum by (instance, source) (rate(skein_agent_log_records_committed_total{%s}[%s]))' % (S, RATE),
         "committed {{instance}} {{source}}"),
    ], unit="ops", description="Records handed to the delivery core, and records in committed transactions."),
    panel("Sequence number by source", [
        ('max by (instance, source) (skein_agent_source_sequence{%s})' % S, "{{instance}} {{source}}"),
    ], description="The per-source sequence of the last committed record (header skein.seq): +1 per record, "
                   "no gaps across restarts."),
    panel("Delivery latency", [
        ('histogram_quantile(0.5, sum by (instance, le) (rate(skein_agent_delivery_latency_seconds_bucket{%s}[%s])))'
         % (I, RATE), "p50 {{instance}}"),
        ('histogram_quantile(0.99, sum by (instance, le) (rate(skein_agent_delivery_latency_seconds_bucket{%s}[%s])))'
         % (I, RATE), "p99 {{instance}}"),
    ], unit="s", description="From a line read to its transaction committed."),
    panel("Transactions", [
        ('sum by (instance, outcome) (rate(skein_agent_transactions_total{%s}[%s]))' % (I, RATE),
         "{{outcome}} {{instance}}"),
    ], unit="ops", description="One transaction per batch of lines; aborted ones are retried and never read "
                               "by read_committed consumers."),
    panel("Memory buffered against the cap", [
        ('max by (instance) (skein_agent_memory_buffered_bytes{%s})' % I, "buffered {{instance}}"),
        ('max by (instance) (skein_agent_memory_cap_bytes{%s})' % I, "cap {{instance}}"),
    ], unit="bytes", description="At the cap (memory_cap) sources pause; files wait on disk."),
    panel("Buffered bytes by source", [
        ('sum by (instance, source) (skein_agent_buffered_bytes{%s})' % S, "{{instance}} {{source}}"),
    ], unit="bytes", stack=True),
    panel("Time paused by backpressure", [
        ('sum by (instance) (rate(skein_agent_backpressure_seconds_total{%s}[%s]))' % (I, RATE), "{{instance}}"),
    ], unit="percentunit", description="Share of the time sources waited for room under the memory cap."),
    panel("Delivery failures, checkpoints, recovery", [
        ('sum by (instance) (increase(skein_agent_delivery_failures_total{%s}[%s]))' % (I, RATE),
         "failed attempts {{instance}}"),
        ('sum by (instance) (increase(skein_agent_checkpoints_total{%s}[%s]))' % (I, RATE),
         "checkpoints {{instance}}"),
        ('sum by (instance) (increase(skein_agent_recovery_records_scanned_total{%s}[%s]))' % (I, RATE),
         "records scanned at recovery {{instance}}"),
    ], description="A failed attempt re-reads the committed tail and retries; checkpoints bound the recovery scan."),
    panel("Dropped by source and reason", [
        ('sum by (instance, source, reason) (increase(skein_agent_source_dropped_total{%s}[%s]))' % (S, RATE),
         "{{instance}} {{source}} {{reason}}"),
    ], description="Every record a source could not keep (for example a UDP receive buffer overflow)."),
    panel("Exactly once", [
        ('min by (instance) (skein_agent_exactly_once{%s})' % I, "{{instance}}"),
    ], kind="stat", description="1: transactional delivery; 0: at-least-once (exactly_once = off, or auto against a "
                                "broker without transactions)."),
    row("File sources"),
    panel("Lines read by source", [
        ('sum by (instance, source) (rate(skein_agent_file_lines_read_total{%s}[%s]))' % (S, RATE),
         "{{instance}} {{source}}"),
    ], unit="ops"),
    panel("Bytes read by source", [
        ('sum by (instance, source) (rate(skein_agent_file_bytes_read_total{%s}[%s]))' % (S, RATE),
         "{{instance}} {{source}}"),
    ], unit="Bps"),
    panel("Lag behind the end of each file", [
        ('max by (instance, source, path) (skein_agent_file_lag_bytes{%s})' % S, "{{instance}} {{path}}"),
    ], unit="bytes", description="File size minus the position read; stays high when delivery cannot keep up."),
    panel("Files watched", [
        ('sum by (instance, source) (skein_agent_files_watched{%s})' % S, "{{instance}} {{source}}"),
    ]),
    panel("Rotations and truncations", [
        ('sum by (instance, source) (increase(skein_agent_file_rotations_total{%s}[%s]))' % (S, RATE),
         "rotations {{instance}} {{source}}"),
        ('sum by (instance, source) (increase(skein_agent_file_truncations_total{%s}[%s]))' % (S, RATE),
         "truncations {{instance}} {{source}}"),
    ], description="Renames seen, and truncations (copytruncate) after which reading restarted at 0."),
    panel("Lines lost to copytruncate", [
        ('sum by (instance, source) (increase(skein_agent_file_lines_lost_total{%s}[%s]))' % (S, RATE),
         "{{instance}} {{source}}"),
    ], description="Lines written between logrotate's copy and its truncate, where they could be detected."),
    row("Syslog sources"),
    panel("Messages received by transport", [
        ('sum by (instance, source, transport) (rate(skein_agent_syslog_messages_received_total{%s}[%s]))'
         % (S, RATE), "{{instance}} {{source}} {{transport}}"),
    ], unit="ops"),
    panel("Parse errors, truncated and kernel-dropped messages", [
        ('sum by (instance, source) (increase(skein_agent_syslog_parse_errors_total{%s}[%s]))' % (S, RATE),
         "parse errors {{instance}} {{source}}"),
        ('sum by (instance, source) (increase(skein_agent_syslog_truncated_total{%s}[%s]))' % (S, RATE),
         "truncated {{instance}} {{source}}"),
        ('sum by (instance, source) (increase(skein_agent_syslog_udp_kernel_drops_total{%s}[%s]))' % (S, RATE),
         "kernel drops {{instance}} {{source}}"),
    ], description="Messages kept raw with a parse_error field, messages cut at max_message_bytes, and UDP "
                   "datagrams the kernel dropped before the agent read them (receive buffer full)."),
    panel("TCP connections", [
        ('sum by (instance, source) (skein_agent_syslog_connections{%s})' % S, "{{instance}} {{source}}"),
    ]),
    row("journald sources"),
    panel("Journal entries read", [
        ('sum by (instance, source) (rate(skein_agent_journald_entries_read_total{%s}[%s]))' % (S, RATE),
         "{{instance}} {{source}}"),
    ], unit="ops"),
    panel("Lag behind the journal", [
        ('max by (instance, source) (skein_agent_journald_lag_seconds{%s})' % S, "{{instance}} {{source}}"),
    ], unit="s", description="Now minus the realtime timestamp of the last entry read."),
    panel("Gaps (vacuumed before they were read) and journal invalidations", [
        ('sum by (instance, source) (increase(skein_agent_journald_gaps_total{%s}[%s]))' % (S, RATE),
         "gaps {{instance}} {{source}}"),
        ('sum by (instance, source) (increase(skein_agent_journald_invalidations_total{%s}[%s]))' % (S, RATE),
         "invalidations {{instance}} {{source}}"),
    ], description="A gap means the saved cursor was vacuumed away while the agent was behind or down; "
                   "invalidations are journal rotations, vacuums and journald restarts."),
]


def broker_dashboard() -> dict:
    return dashboard(
        "skein-broker", "Skein broker",
        "Throughput, requests, storage, consumer groups and the host-metrics re-export of skeind (/metrics).",
        BROKER_PANELS,
        [query_variable("topic", "Topic", "label_values(kafka_topic_partitions, topic)"),
         query_variable("group", "Consumer group", "label_values(kafka_consumergroup_members, consumergroup)")],
        ["skein", "kafka"])


def hosts_dashboard() -> dict:
    return dashboard(
        "skein-hosts", "Skein hosts",
        "Host metrics shipped by skein-agent and re-exported by skeind on /metrics/hosts.",
        HOST_PANELS,
        [query_variable("host", "Host", "label_values(node_uname_info, host)")],
        ["skein", "hosts"])


def agents_dashboard() -> dict:
    return dashboard(
        "skein-agents", "Skein agents",
        "Log shipping of each skein-agent, scraped from its own /metrics (metrics_listen): records, transactions, "
        "the memory cap and the file sources.",
        AGENT_PANELS,
        [query_variable("instance", "Agent", "label_values(skein_agent_memory_cap_bytes, instance)"),
         query_variable("source", "Source", "label_values(skein_agent_log_records_total, source)")],
        ["skein", "agents"])


def render(d: dict) -> str:
    return json.dumps(d, indent=2, ensure_ascii=False) + "\n"


OUTPUTS = {"skein-broker.json": broker_dashboard, "skein-hosts.json": hosts_dashboard,
           "skein-agents.json": agents_dashboard}

if __name__ == "__main__":
    for name, build in OUTPUTS.items():
        (HERE / name).write_text(render(build()))
        print("wrote", HERE / name)
