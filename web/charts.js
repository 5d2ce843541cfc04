// Stacked success/failure bar charts in plain SVG. Colours come from CSS classes (no inline styles).

const SVG = 'http://www.w3.org/2000/svg';
let chartSeq = 0;

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

/** Smallest "nice" number (1, 2, 5 × 10^n) ≥ value, at least 1. */
function niceMax(value) {
  if (value <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

const hourFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const dayLongFmt = new Intl.DateTimeFormat(undefined, { weekday: 'short', year: 'numeric', month: 'short', day: 'numeric' });
const hourLongFmt = new Intl.DateTimeFormat(undefined, { weekday: 'short', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

/**
 * Build a chart. `buckets`: [{start, success, failure}] oldest first; `unit`: 'hour' | 'day'.
 * Returns an <svg> whose <title>/<desc> summarise it; each bar has its own <title> (tooltip).
 */
export function stackedBarChart({ title, buckets, unit }) {
  const width = 600;
  const height = 170;
  const m = { top: 10, right: 6, bottom: 24, left: 40 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const data = Array.isArray(buckets) ? buckets : [];
  const totals = data.map((b) => (Number(b.success) || 0) + (Number(b.failure) || 0) + (Number(b.sign_in_failure) || 0));
  const top = niceMax(Math.max(0, ...totals));
  const id = `chart-${++chartSeq}`;
  const sumOk = data.reduce((s, b) => s + (Number(b.success) || 0), 0);
  const sumFail = data.reduce((s, b) => s + (Number(b.failure) || 0), 0);

  const root = svg('svg', {
    viewBox: `0 0 ${width} ${height}`, role: 'img', class: 'chart-svg',
    'aria-labelledby': `${id}-title ${id}-desc`, preserveAspectRatio: 'xMidYMid meet',
  });
  root.append(svg('title', { id: `${id}-title` }, title));
  const peakIndex = totals.indexOf(Math.max(0, ...totals));
  const peak = data.length && totals[peakIndex] > 0
    ? ` The busiest ${unit} was ${bucketLabel(data[peakIndex], unit)} with ${totals[peakIndex]} actions.`
    : '';
  root.append(svg('desc', { id: `${id}-desc` },
    `${sumOk + sumFail} actions in ${data.length} ${unit}s: ${sumOk} succeeded, ${sumFail} failed.${peak}`));

  // Grid lines and y labels at 0, half and top.
  const grid = svg('g', { class: 'chart-grid', 'aria-hidden': 'true' });
  for (const fraction of [0, 0.5, 1]) {
    const y = m.top + plotH - fraction * plotH;
    const value = top * fraction;
    if (fraction === 0.5 && !Number.isInteger(value)) continue;
    grid.append(svg('line', { x1: m.left, x2: width - m.right, y1: y, y2: y }));
    grid.append(svg('text', { x: m.left - 6, y: y + 4, 'text-anchor': 'end', class: 'chart-axis' }, String(value)));
  }
  root.append(grid);

  const band = data.length ? plotW / data.length : plotW;
  const barW = Math.max(1, band * 0.72);
  const bars = svg('g', { class: 'chart-bars' });
  data.forEach((bucket, i) => {
    const ok = Number(bucket.success) || 0;
    const fail = Number(bucket.failure) || 0;
    const signIn = Number(bucket.sign_in_failure) || 0;
    const x = m.left + i * band + (band - barW) / 2;
    const g = svg('g', { class: 'chart-bar' });
    const signInText = signIn ? `, ${signIn} failed sign-in${signIn === 1 ? '' : 's'}` : '';
    g.append(svg('title', {}, `${bucketLabel(bucket, unit)}: ${ok} succeeded, ${fail} failed${signInText}`));
    // A transparent full-height target so that hovering anywhere in the column shows the tooltip.
    g.append(svg('rect', { x: m.left + i * band, y: m.top, width: band, height: plotH, class: 'chart-hit' }));
    const hOk = (ok / top) * plotH;
    const hFail = (fail / top) * plotH;
    if (ok > 0) g.append(svg('rect', { x, y: m.top + plotH - hOk, width: barW, height: Math.max(hOk, 1), class: 'bar-success' }));
    if (fail > 0) g.append(svg('rect', { x, y: m.top + plotH - hOk - hFail, width: barW, height: Math.max(hFail, 1), class: 'bar-failure' }));
    // Failed console sign-ins are not provisioning failures: a stack of their own, on top.
    const hSign = (signIn / top) * plotH;
    if (signIn > 0) g.append(svg('rect', { x, y: m.top + plotH - hOk - hFail - hSign, width: barW, height: Math.max(hSign, 1), class: 'bar-signin' }));
    bars.append(g);
  });
  root.append(bars);

  // X labels: every 6th hour / every 7th day, and the last bucket.
  const every = unit === 'hour' ? 6 : 7;
  const labels = svg('g', { 'aria-hidden': 'true' });
  data.forEach((bucket, i) => {
    if ((data.length - 1 - i) % every !== 0) return;
    const d = new Date(bucket.start);
    const text = Number.isNaN(d.getTime()) ? '' : unit === 'hour' ? hourFmt.format(d) : dayFmt.format(d);
    // The last label ends at the plot's right edge, so it is never cut off.
    const last = i === data.length - 1;
    labels.append(svg('text', {
      x: last ? width - m.right : m.left + i * band + band / 2,
      y: height - 6,
      'text-anchor': last ? 'end' : 'middle',
      class: 'chart-axis',
    }, text));
  });
  root.append(labels);
  if (!data.length) {
    root.append(svg('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle', class: 'chart-empty' }, 'No data'));
  }
  return root;
}

function bucketLabel(bucket, unit) {
  const d = new Date(bucket.start);
  if (Number.isNaN(d.getTime())) return String(bucket.start);
  if (unit === 'day') return dayLongFmt.format(d);
  const end = new Date(d.getTime() + 3600 * 1000);
  return `${hourLongFmt.format(d)}–${hourFmt.format(end)}`;
}
