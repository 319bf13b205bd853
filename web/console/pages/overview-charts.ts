// The overview's charts: uPlot line charts over UTC days that follow their container's width. A canvas says nothing to
// a screen reader, so each chart is a labelled image beside a table of the same figures (overview.ts builds both).
import uPlot from 'uplot';
import type { Lang } from '../../shared/dom.ts';
import { h } from '../ui.ts';

export interface Line {
  label: string;
  color: string;
  values: readonly number[];
  /** Dashed, so that lines differ by more than colour. */
  dash?: number[];
}

const HEIGHT = 220;

/** Midnight UTC of a `YYYY-MM-DD` day, in seconds (uPlot's time scale). */
const seconds = (day: string): number => Date.parse(`${day}T00:00:00Z`) / 1000;

/**
 * A line chart of `lines` over `days`, drawn into a new element that is returned; it resizes with its container and
 * is destroyed when `signal` aborts. The element is an image named by `label`; our own legend (not uPlot's) follows.
 */
export function dayChart(lang: Lang, label: string, days: readonly string[], lines: readonly Line[], signal: AbortSignal): HTMLElement {
  const plot = h('div', { class: 'chart-plot' });
  const legend = h(
    'ul',
    { class: 'chart-legend', 'aria-hidden': 'true' },
    ...lines.map((l) => {
      const swatch = h('span', { class: `swatch${l.dash ? ' dashed' : ''}` });
      swatch.style.borderColor = l.color;
      return h('li', {}, swatch, l.label);
    }),
  );
  const box = h('div', { class: 'chart', role: 'img', 'aria-label': label }, plot, legend);
  const dayFormat = new Intl.DateTimeFormat(lang === 'it' ? 'it-IT' : 'en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' });
  const numberFormat = new Intl.NumberFormat(lang === 'it' ? 'it-IT' : 'en-GB', { maximumFractionDigits: 0 });
  const opts: uPlot.Options = {
    width: 300,
    height: HEIGHT,
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.1] } },
    axes: [
      { values: (_u, splits) => splits.map((s) => dayFormat.format(new Date(s * 1000))), space: 60 },
      { values: (_u, splits) => splits.map((s) => (Number.isInteger(s) ? numberFormat.format(s) : '')), size: 50 },
    ],
    series: [{}, ...lines.map((l) => ({ label: l.label, stroke: l.color, width: 2, dash: l.dash, points: { show: days.length <= 31 } }))],
  };
  const data: uPlot.AlignedData = [days.map(seconds), ...lines.map((l) => [...l.values])];
  let chart: uPlot | undefined;
  // Drawn once the element is in the page (its width is known), then again whenever the width changes.
  const observer = new ResizeObserver(() => {
    const width = Math.floor(plot.clientWidth);
    if (width <= 0) return;
    if (!chart) chart = new uPlot({ ...opts, width }, data, plot);
    else if (chart.width !== width) chart.setSize({ width, height: HEIGHT });
  });
  observer.observe(plot);
  signal.addEventListener('abort', () => {
    observer.disconnect();
    chart?.destroy();
  });
  return box;
}
