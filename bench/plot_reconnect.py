"""Plots `biometricsctl bench reconnect`: python3 plot_reconnect.py RESULTS.json OUT.png

Left: reconnects and recoveries per 100 ms after the gateway was killed (the back-off jitter spreads them).
Right: the share of clients reconnected and recovered over time, with the new gateway's ready time.
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(source: str, target: str) -> None:
    with open(source) as f:
        report = json.load(f)
    reconnect = report["reconnectSeconds"]
    recover = report["recoverSeconds"]
    clients = report["clients"]
    end = max(reconnect + recover + [report["gatewayReadySeconds"], 1.0])
    bins = [i / 10 for i in range(int(end * 10) + 2)]
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6))

    ax = axes[0]
    ax.hist(reconnect, bins=bins, color="#2b7bba", alpha=0.8, label="reconnected")
    ax.hist(recover, bins=bins, color="#e08a1e", alpha=0.5, label="missed delivery received")
    ax.axvline(report["gatewayReadySeconds"], color="#555555", linestyle="--", label="new gateway ready")
    ax.set_xlabel("seconds after the kill")
    ax.set_ylabel("clients per 100 ms")
    ax.set_title(f"reconnect storm: {clients:,} clients")
    ax.legend()

    ax = axes[1]
    for values, color, label in ((reconnect, "#2b7bba", "reconnected"), (recover, "#e08a1e", "recovered")):
        xs = sorted(values)
        ax.plot(xs, [100 * (i + 1) / clients for i in range(len(xs))], color=color, label=label)
    ax.axhline(99, color="#999999", linestyle=":", label="99 %")
    ax.axvline(report["gatewayReadySeconds"], color="#555555", linestyle="--")
    ax.set_xlabel("seconds after the kill")
    ax.set_ylabel("% of clients")
    ax.set_ylim(0, 101)
    ax.legend(loc="lower right")
    ax.set_title("share of clients back")

    fig.tight_layout()
    fig.savefig(target, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
