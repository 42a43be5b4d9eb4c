// Graphs (uPlot) of an instance's or the host's metrics history: GET /instances/{name}/metrics or /host/metrics,
// fetched again every 10 s (the daemon samples every 10 s, so new points appear). Each graph's element carries
// data-points = the points it draws, which tests and the curious can watch grow.
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './consoles.css';
import { api } from '../lib/api.js';
import { message, useInterval } from '../lib/hooks.js';
import { columns, formatValue, graphsFor, latest, pointsDrawn, type GraphSpec, type History } from '../lib/metrics-data.js';
import { ErrorBox, Field, Loading } from './ui.js';

const RANGES = [
  ['1h', 'Last hour'],
  ['6h', 'Last 6 hours'],
  ['24h', 'Last 24 hours'],
  ['7d', 'Last 7 days'],
  ['30d', 'Last 30 days'],
] as const;

/** Tick steps of byte axes: 1, 2, 4 ... 512 times each power of 1024, so ticks fall on round KiB/MiB/GiB. */
const BYTE_STEPS = [0, 1, 2, 3, 4, 5].flatMap((k) => [1, 2, 4, 8, 16, 32, 64, 128, 256, 512].map((m) => m * 1024 ** k));

/** CPU, memory, disk and network graphs of `instance` (or of the host when absent); `compact`: smaller, for the dashboard. */
export function MetricsGraphs(props: { instance?: string; compact?: boolean }) {
  const [range, setRange] = useState<string>('1h');
  const [data, setData] = useState<History>();
  const [error, setError] = useState<string>();
  const seq = useRef(0);
  const path = props.instance ? `/instances/${encodeURIComponent(props.instance)}/metrics` : '/host/metrics';

  const load = () => {
    const n = ++seq.current;
    api.get<History>(path, { range }).then(
      (h) => {
        if (n !== seq.current) return;
        setData(h);
        setError(undefined);
      },
      (e: unknown) => n === seq.current && setError(message(e)),
    );
  };
  useEffect(load, [path, range]);
  useInterval(load, 10_000);

  const graphs = data ? graphsFor(data) : [];
  return (
    <div class={`metrics ${props.compact ? 'metrics-compact' : ''}`}>
      <div class="inline metrics-bar">
        <Field label="Range">
          {(id) => (
            <select id={id} value={range} onChange={(e) => setRange(e.currentTarget.value)}>
              {RANGES.map(([v, text]) => (
                <option value={v}>{text}</option>
              ))}
            </select>
          )}
        </Field>
        {data ? <span class="muted">one point every {data.step >= 60 ? `${data.step / 60} min` : `${data.step} s`}</span> : null}
      </div>
      <ErrorBox error={error} />
      {!data && !error ? <Loading /> : null}
      {data ? (
        <div class="graphs">
          {graphs.map((g) => (
            <Graph key={g.id} spec={g} data={data} height={props.compact ? 140 : 200} />
          ))}
        </div>
      ) : null}
    </div>
  );
}

/** One uPlot graph; kept across refreshes (setData), rebuilt only when its series change. */
function Graph(props: { spec: GraphSpec; data: History; height: number }) {
  const { spec, data } = props;
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot>();
  const seriesKey = spec.series.map((s) => s.key).join(',');
  const points = pointsDrawn(data, spec);

  useEffect(() => {
    const el = box.current!;
    const fmt = (v: number | null) => formatValue(spec.unit, v);
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: props.height,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: { y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [{}, { size: 80, values: (_u, splits) => splits.map((v) => fmt(v)), ...(spec.unit === 'bytes' || spec.unit === 'bytes/s' ? { incrs: BYTE_STEPS } : {}) }],
      series: [{}, ...spec.series.map((s) => ({ label: s.name, stroke: s.color, width: 1.5, value: (_u: uPlot, v: number | null) => fmt(v) }))],
    };
    const u = new uPlot(opts, columns(data, spec) as uPlot.AlignedData, el);
    plot.current = u;
    const ro = new ResizeObserver(() => {
      if (el.clientWidth > 0) u.setSize({ width: el.clientWidth, height: props.height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = undefined;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [seriesKey, spec.unit, props.height]);

  useEffect(() => {
    plot.current?.setData(columns(data, spec) as uPlot.AlignedData);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [data]);

  const one = spec.series.length === 1;
  const now = spec.series.map((s) => `${one ? '' : `${s.name} `}${formatValue(spec.unit, latest(data, s.key))}`).join(' · ');
  return (
    <figure class="graph" aria-label={spec.label} data-points={points}>
      <figcaption>
        <strong>{spec.title}</strong> <span class="muted">{points ? now : 'no samples yet'}</span>
      </figcaption>
      <div ref={box} class="graph-plot" />
    </figure>
  );
}
