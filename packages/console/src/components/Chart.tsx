import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import { useI18n } from '../i18n.ts';

export interface Series {
  label: string;
  values: (number | null)[];
}

const COLOURS = ['#1d4e89', '#2a9d8f', '#e76f51', '#8e6cbd', '#c9a227', '#5c677d'];

/**
 * A time chart (uPlot: 50 kB, canvas, no dependencies; it sets its sizes through the CSSOM, which a CSP without
 * 'unsafe-inline' allows). `times` in seconds since the epoch. The figures are also in a table for screen readers.
 */
export function TimeChart({
  title,
  times,
  series,
  unit,
}: {
  title: string;
  times: number[];
  series: Series[];
  unit: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const { lang } = useI18n();
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = Math.max(280, el.clientWidth);
    const plot = new uPlot(
      {
        width,
        height: 220,
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true } },
        axes: [
          { stroke: '#5c677d', grid: { stroke: '#eef1f5' } },
          { stroke: '#5c677d', grid: { stroke: '#eef1f5' }, size: 50 },
        ],
        series: [
          {
            // The legend's time in the user's language (uPlot's default is a US date).
            value: (_u: uPlot, v: number | null) =>
              v == null ? '—' : new Date(v * 1000).toLocaleTimeString(lang === 'da' ? 'da-DK' : 'en-GB'),
          },
          ...series.map((s, i) => ({
            label: s.label,
            stroke: COLOURS[i % COLOURS.length],
            width: 2,
            points: { show: false },
            value: (_u: uPlot, v: number | null) => (v == null ? '—' : `${Math.round(v * 10) / 10} ${unit}`),
          })),
        ],
      },
      [times, ...series.map((s) => s.values)] as uPlot.AlignedData,
      el,
    );
    const resize = () => plot.setSize({ width: Math.max(280, el.clientWidth), height: 220 });
    window.addEventListener('resize', resize);
    return () => {
      window.removeEventListener('resize', resize);
      plot.destroy();
    };
  }, [times, series, unit, lang]);
  const last = times.length - 1;
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} aria-hidden="true" />
      <table className="visually-hidden">
        <caption>{title}</caption>
        <tbody>
          {series.map((s) => (
            <tr key={s.label}>
              <th scope="row">{s.label}</th>
              <td>
                {last >= 0 ? s.values[last] : ''} {unit}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
