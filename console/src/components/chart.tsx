/** A small uPlot line chart (time on x), sized to its container, re-drawn when the data changes. */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  values: (number | null)[];
}

export function Chart({ title, times, series, format }: { title: string; times: number[]; series: Series[]; format: (v: number) => string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const style = getComputedStyle(document.documentElement);
    const colors = ['--chart-1', '--chart-2', '--chart-3', '--chart-4'].map((v) => style.getPropertyValue(v).trim() || '#3b82f6');
    const axis = { stroke: style.getPropertyValue('--text-muted').trim(), grid: { stroke: style.getPropertyValue('--border').trim(), width: 1 }, ticks: { show: false } };
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: 160,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      axes: [axis, { ...axis, size: 70, values: (_u, vals) => vals.map((v) => format(v)) }],
      series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: colors[i % colors.length], width: 1.5, value: (_u: uPlot, v: number | null) => (v === null ? '—' : format(v)) }))],
    };
    plot.current?.destroy();
    plot.current = new uPlot(opts, [times, ...series.map((s) => s.values)] as uPlot.AlignedData, el);
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(200, el.clientWidth), height: 160 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [times, series, format]);
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} role="img" aria-label={`${title} chart`} />
    </figure>
  );
}
