// Measures the embedding scatter: N points (URL `#n=100000&frames=120`) in ten Gaussian
// clusters, drawn while panning and zooming. Writes JSON into #result; the
// benchmark script reads it. `framesPerSecond` is wall-clock frames through
// requestAnimationFrame (what a user sees); the submit times are the JavaScript and
// WebGL calls of one frame, which a browser may finish later on its GPU process.
import { WebglScatter } from '../lib/scatter/webgl-scatter.ts';

function gaussian(): number {
  return Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
}

const hash = new URLSearchParams(location.hash.slice(1));
const n = Number(hash.get('n') ?? 100_000);
const frames = Number(hash.get('frames') ?? 120);
const canvas = document.getElementById('plot') as HTMLCanvasElement;
const x = new Float32Array(n);
const y = new Float32Array(n);
const category = new Float32Array(n);
for (let i = 0; i < n; i++) {
  const c = i % 10;
  x[i] = Math.cos(c) * 6 + gaussian();
  y[i] = Math.sin(c) * 6 + gaussian();
  category[i] = c;
}
const scatter = new WebglScatter(canvas);
const t0 = performance.now();
scatter.setData({ x, y, category });
const setupMs = performance.now() - t0;

const times: number[] = [];
let frame = 0;
const start = performance.now();
function step(): void {
  scatter.panBy(Math.sin(frame / 10) * 4, Math.cos(frame / 10) * 4);
  if (frame % 20 === 10) scatter.zoomAt(500, 350, frame % 40 === 10 ? 1.3 : 1 / 1.3);
  times.push(scatter.draw());
  frame++;
  if (frame < frames) requestAnimationFrame(step);
  else finish();
}
function finish(): void {
  const wall = performance.now() - start;
  const sorted = [...times].sort((a, b) => a - b);
  const pickT0 = performance.now();
  let picked = 0;
  for (let i = 0; i < 200; i++) if (scatter.pick(100 + i * 4, 350) >= 0) picked++;
  const pickMs = (performance.now() - pickT0) / 200;
  const lassoT0 = performance.now();
  const inLasso = scatter.lasso([
    [300, 200],
    [700, 200],
    [700, 500],
    [300, 500],
  ]).length;
  const lassoMs = performance.now() - lassoT0;
  document.getElementById('result')!.textContent = JSON.stringify({
    points: n,
    frames,
    setupMs,
    medianSubmitMs: sorted[Math.floor(sorted.length / 2)],
    p95SubmitMs: sorted[Math.floor(sorted.length * 0.95)],
    framesPerSecond: (frames / wall) * 1000,
    pickMs,
    picked,
    lassoMs,
    inLasso,
    renderer: rendererName(),
  });
}
function rendererName(): string {
  const gl = canvas.getContext('webgl2');
  return gl === null ? 'none' : String(gl.getParameter(gl.RENDERER));
}
requestAnimationFrame(step);
