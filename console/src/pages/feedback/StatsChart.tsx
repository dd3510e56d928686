/**
 * A small chart over uPlot (canvas, ~22 KiB gzip), loaded only with the feedback page.
 * Every chart also renders its numbers as a table (for screen readers, and to copy from).
 */
import { useEffect, useRef, useState } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries {
  label: string;
  values: Array<number | null>;
  color: string;
  kind: 'bars' | 'line' | 'points';
  /** Which y scale: `y` (left) or `y2` (right, e.g. counts next to a mean). */
  scale?: 'y' | 'y2';
}

export interface StatsChartProps {
  title: string;
  /** One label per x position (a day, a provider, a score). */
  labels: string[];
  series: ChartSeries[];
  /** Fixed range of the left scale (e.g. [0, 1] for rates). */
  yRange?: [number, number];
  height?: number;
}

const bars = uPlot.paths.bars?.({ size: [0.6, 64] });

/** Changes whenever the colour theme does (the toggle's `data-theme`, or the system's scheme), so charts redraw in its ink. */
function useThemeVersion(): number {
  const [version, setVersion] = useState(0);
  useEffect(() => {
    const bump = () => setVersion((v) => v + 1);
    const observer = new MutationObserver(bump);
    observer.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
    const scheme = matchMedia('(prefers-color-scheme: dark)');
    scheme.addEventListener('change', bump);
    return () => {
      observer.disconnect();
      scheme.removeEventListener('change', bump);
    };
  }, []);
  return version;
}

export function StatsChart({ title, labels, series, yRange, height = 220 }: StatsChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const theme = useThemeVersion();

  // biome-ignore lint/correctness/useExhaustiveDependencies: the theme is read through getComputedStyle, so a change of it must redraw.
  useEffect(() => {
    const el = box.current;
    if (!el || labels.length === 0) return;
    // Canvas has no CSS colours: take the text colour of the page (dark mode included).
    const ink = getComputedStyle(el).color || '#444';
    const grid = 'rgba(128,128,128,0.25)';
    const xs = labels.map((_, i) => i);
    const hasY2 = series.some((s) => s.scale === 'y2');
    const opts: uPlot.Options = {
      width: Math.max(240, el.clientWidth),
      height,
      legend: { show: true, live: false },
      cursor: { show: false },
      scales: {
        x: { time: false, range: [-0.5, labels.length - 0.5] },
        y: yRange ? { range: yRange } : { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] },
        ...(hasY2 ? { y2: { range: (_u: uPlot, _min: number, max: number) => [0, max > 0 ? max * 1.1 : 1] } } : {}),
      },
      axes: [
        {
          stroke: ink,
          grid: { show: false },
          ticks: { stroke: grid },
          splits: () => xs,
          values: (_u, splits) => splits.map((i) => labels[i] ?? ''),
        },
        { stroke: ink, grid: { stroke: grid }, ticks: { stroke: grid } },
        ...(hasY2 ? [{ scale: 'y2', side: 1 as const, stroke: ink, grid: { show: false }, ticks: { stroke: grid } }] : []),
      ],
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          scale: s.scale ?? 'y',
          stroke: s.color,
          width: s.kind === 'line' ? 2 : 1,
          ...(s.kind === 'bars'
            ? { fill: `${s.color}99`, paths: bars, points: { show: false } }
            : s.kind === 'points'
              ? { paths: () => null, points: { show: true, size: 9, fill: s.color } }
              : { points: { show: true, size: 6 } }),
        })),
      ],
    };
    const plot = new uPlot(opts, [xs, ...series.map((s) => s.values)] as uPlot.AlignedData, el);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(240, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [labels, series, yRange, height, theme]);

  return (
    <figure className="stats-chart">
      <figcaption>{title}</figcaption>
      <div ref={box} role="img" aria-label={`${title} (chart; the numbers are in the table below)`} />
      <details>
        <summary>Numbers</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">Group</th>
              {series.map((s) => (
                <th scope="col" key={s.label}>
                  {s.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {labels.map((l, i) => (
              <tr key={l}>
                <th scope="row">{l}</th>
                {series.map((s) => (
                  <td key={s.label}>{format(s.values[i])}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}

function format(v: number | null | undefined): string {
  if (v === null || v === undefined) return '—';
  return Number.isInteger(v) ? String(v) : v.toFixed(3);
}
