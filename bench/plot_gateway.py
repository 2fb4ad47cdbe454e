"""Plots `biometricsctl bench gateway` results: python3 plot_gateway.py RESULTS.json OUT.png

Three panels, one bar per server: room fan-out deliveries per second (log scale, with the server CPU per delivery of
the least disturbed round), RSS per idle connection (with the 8 KiB goal), and emit→ack latency p50/p99 (log scale).
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"gateway": "#2b7bba", "raw": "#7f7f7f", "python-socketio": "#e08a1e"}
LABELS = {"gateway": "our gateway", "raw": "raw NIO\n(limit)", "python-socketio": "python-socketio\n+ aiohttp"}


def main(source: str, target: str) -> None:
    with open(source) as f:
        report = json.load(f)
    servers = [s for s in report["servers"] if s.get("summary")]
    names = [s["kind"] for s in servers]
    labels = [LABELS.get(n, n) for n in names]
    colors = [COLORS.get(n, "#555555") for n in names]
    summary = [s["summary"] for s in servers]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8))

    ax = axes[0]
    rates = [s.get("deliveriesPerSecond") or 0 for s in summary]
    bars = ax.bar(labels, rates, color=colors)
    ax.set_yscale("log")
    ax.set_title("room fan-out: deliveries / s (higher is better)")
    for bar, s in zip(bars, summary):
        if s.get("deliveriesPerSecond"):
            cpu = s.get("lowestServerMicrosecondsPerDelivery") or s["serverMicrosecondsPerDelivery"]
            ax.annotate(f"{s['deliveriesPerSecond']:,.0f}/s\n{cpu:.2f} µs CPU (lowest round)",
                        (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=8)
    ax.margins(y=0.25)

    ax = axes[1]
    per_connection = [(s.get("bytesPerIdleConnection") or 0) / 1024 for s in summary]
    bars = ax.bar(labels, per_connection, color=colors)
    ax.axhline(8, color="#c0392b", linestyle="--", linewidth=1, label="goal ≤ 8 KiB")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("RSS per idle connection, KiB (lower is better)")
    for bar, s, value in zip(bars, summary, per_connection):
        held = s.get("idleConnectionsHeld") or 0
        ax.annotate(f"{value:.1f} KiB\n{held:,} held", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=8)
    ax.margins(y=0.2)

    ax = axes[2]
    width = 0.38
    xs = range(len(names))
    p50 = [s.get("ackP50Milliseconds") or 0 for s in summary]
    p99 = [s.get("ackP99Milliseconds") or 0 for s in summary]
    ax.bar([x - width / 2 for x in xs], p50, width, color=colors, label="p50")
    ax.bar([x + width / 2 for x in xs], p99, width, color=colors, alpha=0.5, hatch="//", label="p99")
    for x, a, b in zip(xs, p50, p99):
        ax.annotate(f"{a:.2f}", (x - width / 2, a), ha="center", va="bottom", fontsize=8)
        ax.annotate(f"{b:.2f}", (x + width / 2, b), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(list(xs), labels)
    ax.set_yscale("log")
    ax.set_title("emit → ack, ms: p50 solid, p99 hatched")
    ax.margins(y=0.2)

    fig.suptitle("Gateway benchmark (gateway ack = Kafka round trip through a responder service)", fontsize=10)
    fig.tight_layout()
    fig.savefig(target, dpi=110)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.splitlines()[0])
    main(sys.argv[1], sys.argv[2])
