"""The soak benchmark's (soak.py) printout and plot, from its result dict (also what soak.json holds)."""

from __future__ import annotations

import math

MEMORY_GOAL_PCT = 2.0


def growth_pct(start: float, end: float) -> float:
    return 100.0 * (end - start) / start if start and not math.isnan(start) else float('nan')


def rss_rows(r: dict) -> list[tuple[str, float, float, float, float]]:
    """(node, start MB, after the first episode MB, end MB, growth %) per node process."""
    first, last = r['samples'][0]['rss_mb'], r['samples'][-1]['rss_mb']
    after = r.get('rss_after_first_episode') or {}
    return [(n, first[n], after.get(n, float('nan')), last[n], growth_pct(first[n], last[n])) for n in first]


def summary_lines(r: dict) -> list[str]:
    out = [f'\nsoak: {r["embodiment"]} at {r["rate_hz"]:g} Hz, policy {r["checkpoint"]}, {r["minutes"]:g} min measured',
           f'ticks: {r["commands_seen"]} commands seen, executor counted {r["executor_ticks"]} ticks; '
           f'later than {r["late_threshold_ms"]:g} ms: {r["late_5ms"]}; executor ticks_late (> 1.5 periods): '
           f'{r["executor_ticks_late"]}',
           f'tick jitter |interval - period|: p50 {r["jitter_p50_ms"]:.2f} ms, p99 {r["jitter_p99_ms"]:.2f} ms, '
           f'max {r["jitter_max_ms"]:.2f} ms (executor status p99 over its last window: '
           f'{r["status_jitter_p99_ms"]:.2f} ms)',
           '', f'{"node":>21} {"RSS start MB":>13} {"after ep 1":>11} {"end MB":>9} {"growth %":>9} '
               f'{"since ep 1 %":>13}']
    for name, start, after, end, growth in rss_rows(r):
        out.append(f'{name:>21} {start:13.1f} {after:11.1f} {end:9.1f} {growth:9.2f} {growth_pct(after, end):13.2f}')
    out.append('(start: after the warm-up, before the first episode; growth % = end vs start, the goal\'s figure)')
    out += ['', f'chunks: published {r["chunks_published"]}, received {r["chunks_received"]} = executed '
                f'{r["chunks_executed"]} + refused {r["chunks_refused"]} + accepted, not executed '
                f'{r["chunks_unexecuted"]}; watchdog holds {r["watchdog_holds"]}, steps skipped {r["steps_skipped"]}']
    for reason, n in r['refusal_reasons'].items():
        out.append(f'  refused {n:5d} x {reason}')
    if r['refusals_merged']:
        out.append(f'  ({r["refusals_merged"]} refusal(s) fell between two status messages with another: '
                   f'counted under the later reason)')
    out.append('')
    out.append(f'episodes: {len(r["episodes"])}')
    for ep in r['episodes']:
        out.append(f'  #{ep["index"]:<4} {ep["duration_s"]:7.1f} s  {ep["bytes"] / 1e6:9.1f} MB  '
                   f'{"ok" if ep["ok"] else "FAILED: " + ep["message"]}')
    out.append(f'exit codes: {r["exit_codes"]}')
    return out


def goal_lines(r: dict) -> list[str]:
    growth = [g for *_, g in rss_rows(r) if not math.isnan(g)]
    worst = max(growth) if growth else float('nan')
    lost = r['chunks_published'] - r['chunks_received']
    accounted = lost == 0 and abs(r['chunks_unexecuted']) <= 1
    rows = [('ticks later than 5 ms', '0', str(r['late_5ms']), r['late_5ms'] == 0),
            ('memory growth, worst node', f'< {MEMORY_GOAL_PCT:g} %', f'{worst:.2f} %', worst < MEMORY_GOAL_PCT),
            ('every chunk accounted for', 'pub = recv = exec + refused',
             f'{r["chunks_published"]} = {r["chunks_received"]} = {r["chunks_executed"]} + {r["chunks_refused"]}'
             f' (+{r["chunks_unexecuted"]})', accounted),
            ('episodes recorded', 'all ok', f'{sum(e["ok"] for e in r["episodes"])} of {len(r["episodes"])}',
             all(e['ok'] for e in r['episodes'])),
            ('ran to the end', 'every node alive', r.get('failure') or 'yes', not r.get('failure'))]
    return ['', f'{"goal":<27} {"target":<28} {"measured":<30} met'] + [
        f'{name:<27} {target:<28} {value:<30} {"yes" if ok else "NO"}' for name, target, value, ok in rows]


def plot(r: dict, path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    samples = r['samples'][1:] or r['samples']
    t = [s['t'] / 60.0 for s in samples]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    ax1.plot(t, [s['jitter_p99_ms'] for s in samples], label='p99 |interval - period| per window', color='tab:blue')
    ax1.plot(t, [s['jitter_max_ms'] for s in samples], label='max per window', color='tab:blue', alpha=0.4, lw=0.8)
    ax1.axhline(r['late_threshold_ms'], color='k', ls='--', lw=0.8)
    ax1.set_ylabel('tick jitter, ms')
    late = ax1.twinx()
    late.bar(t, [s['late_5ms'] for s in samples], width=0.6 * (t[1] - t[0]) if len(t) > 1 else 0.1,
             color='tab:red', alpha=0.4, label='ticks later than 5 ms')
    late.set_ylabel('ticks later than 5 ms per window', color='tab:red')
    ax1.set_zorder(late.get_zorder() + 1)          # the jitter lines over the bars
    ax1.patch.set_visible(False)
    ax1.legend(loc='upper left', fontsize=8)
    for name, start in r['samples'][0]['rss_mb'].items():
        ax2.plot(t, [growth_pct(start, s['rss_mb'][name]) for s in samples], label=f'{name} ({start:.0f} MB)')
    ax2.axhline(MEMORY_GOAL_PCT, color='k', ls='--', lw=0.8)
    if all('load_1min' in s for s in samples):
        load = ax2.twinx()
        load.plot(t, [s['load_1min'] for s in samples], color='0.4', ls=':', label='load average (1 min)')
        load.set_ylabel('machine load average', color='0.4')
    for ep in r['episodes']:
        for ax in (late, ax2):          # under the bars and lines
            ax.axvspan(ep['t_start'] / 60.0, ep['t_stop'] / 60.0, color='0.85', zorder=0)
    ax2.set_ylabel('resident memory vs start, %')
    ax2.set_xlabel('minutes (grey: an episode being recorded)')
    ax2.legend(fontsize=8)
    ax1.set_title(f'soak: {r["embodiment"]} {r["rate_hz"]:g} Hz, {r["checkpoint"]}')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
