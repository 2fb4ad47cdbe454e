"""Plots `biometricsctl soak`: python3 plot_soak.py RESULTS.json OUT.png

Four panels over time: RSS and open descriptors of every process, consumer lag per group, and the p50/p99 round
trip of verifies and notifications. The warm-up (before `judgedFromSeconds`) is shaded: the verdict judges the rest.
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def series(samples, field):
    names = sorted({name for s in samples for name in s[field]})
    return {name: ([s["t"] / 60 for s in samples if name in s[field]],
                   [s[field][name] for s in samples if name in s[field]]) for name in names}


def main(source: str, target: str) -> None:
    with open(source) as f:
        report = json.load(f)
    samples = report["samples"]
    if not samples:
        raise SystemExit("no samples")
    warmup = report["judgedFromSeconds"] / 60
    fig, axes = plt.subplots(2, 2, figsize=(14, 8.5))
    panels = (
        (axes[0][0], series(samples, "rssMiB"), "RSS (MiB)"),
        (axes[0][1], series(samples, "fds"), "open file descriptors"),
        (axes[1][0], series(samples, "lag"), "consumer lag (messages)"),
    )
    for ax, data, title in panels:
        for name, (xs, ys) in data.items():
            ax.plot(xs, ys, label=name)
        ax.axvspan(0, warmup, color="#eeeeee", zorder=0)
        ax.set_title(title)
        ax.set_xlabel("minutes")
        ax.legend(fontsize=7, loc="upper left")
    ax = axes[1][1]
    xs = [s["t"] / 60 for s in samples]
    for kind, color in (("verify", "#2b7bba"), ("notify", "#e08a1e")):
        ax.plot(xs, [s[kind]["p50"] for s in samples], color=color, label=f"{kind} p50")
        ax.plot(xs, [s[kind]["p99"] for s in samples], color=color, linestyle="--", label=f"{kind} p99")
    ax.axvspan(0, warmup, color="#eeeeee", zorder=0)
    ax.set_title("round trip (ms)")
    ax.set_xlabel("minutes")
    ax.legend(fontsize=7, loc="upper left")
    judged = sum(1 for s in samples if s["t"] >= report["judgedFromSeconds"]) >= 6
    verdict = ("TOO SHORT" if not judged else "PASS" if all(t["flat"] for t in report["trends"]) else "FAIL")
    fig.suptitle(f"soak: {report['minutes']:g} min, {report['clients']} clients, churn {report['churnPerRound']} "
                 f"per round — {verdict}")
    fig.tight_layout()
    fig.savefig(target, dpi=100)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
