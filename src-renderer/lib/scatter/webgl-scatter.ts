/**
 * A WebGL2 scatter plot for embeddings: 100,000+ points in one draw call, pan
 * (drag), zoom (wheel), hover picking through a uniform grid, and lasso
 * selection. Written here rather than taken from a library because the studio's
 * CSP forbids `eval`, which regl-based plotters need to build their shaders.
 */
const VERTEX = `#version 300 es
in vec2 position;
in float category;
in float flag;
uniform vec2 scale;
uniform vec2 offset;
uniform float size;
uniform vec3 palette[32];
uniform float dimOthers;
out vec4 vColor;
void main() {
  gl_Position = vec4(position * scale + offset, 0.0, 1.0);
  int c = int(category);
  vec3 rgb = c >= 0 && c < 32 ? palette[c] : vec3(0.55);
  float selected = flag;
  float alpha = selected > 0.5 ? 1.0 : (dimOthers > 0.5 ? 0.18 : 0.8);
  gl_PointSize = selected > 0.5 ? size * 1.8 : size;
  vColor = vec4(rgb, alpha);
}`;

const FRAGMENT = `#version 300 es
precision mediump float;
in vec4 vColor;
out vec4 color;
void main() {
  vec2 d = gl_PointCoord - vec2(0.5);
  if (dot(d, d) > 0.25) discard;
  color = vColor;
}`;

export const PALETTE: [number, number, number][] = [
  [0.12, 0.47, 0.71],
  [1.0, 0.5, 0.05],
  [0.17, 0.63, 0.17],
  [0.84, 0.15, 0.16],
  [0.58, 0.4, 0.74],
  [0.55, 0.34, 0.29],
  [0.89, 0.47, 0.76],
  [0.5, 0.5, 0.5],
  [0.74, 0.74, 0.13],
  [0.09, 0.75, 0.81],
  [0.0, 0.3, 0.5],
  [0.6, 0.2, 0.0],
];

export function paletteCss(index: number): string {
  const c = PALETTE[index % PALETTE.length]!;
  return `rgb(${c.map((v) => Math.round(v * 255)).join(' ')})`;
}

export interface ScatterData {
  /** Positions in data units, length n each. */
  x: Float32Array;
  y: Float32Array;
  /** Category per point (index into the palette; -1 draws grey). */
  category: Float32Array;
}

const GRID = 128;

export class WebglScatter {
  readonly canvas: HTMLCanvasElement;
  #gl: WebGL2RenderingContext;
  #program: WebGLProgram;
  #buffers: { position: WebGLBuffer; category: WebGLBuffer; flag: WebGLBuffer };
  #n = 0;
  #x: Float32Array = new Float32Array(0);
  #y: Float32Array = new Float32Array(0);
  #flags = new Float32Array(0);
  #anySelected = false;
  /** Data → normalised device coordinates at zoom 1 (fits the data with a margin). */
  #fit = { cx: 0, cy: 0, s: 1 };
  zoom = 1;
  panX = 0;
  panY = 0;
  #grid: Int32Array[] = [];
  #bounds = { minX: 0, minY: 0, maxX: 1, maxY: 1 };
  pointSize = 3;
  lastFrameMs = 0;

  constructor(canvas: HTMLCanvasElement) {
    this.canvas = canvas;
    const gl = canvas.getContext('webgl2', { antialias: false, preserveDrawingBuffer: true });
    if (gl === null) throw new Error('WebGL2 is not available in this browser.');
    this.#gl = gl;
    this.#program = this.#link();
    this.#buffers = {
      position: gl.createBuffer()!,
      category: gl.createBuffer()!,
      flag: gl.createBuffer()!,
    };
  }

  get count(): number {
    return this.#n;
  }

  setData(data: ScatterData): void {
    const n = data.x.length;
    this.#n = n;
    this.#x = data.x;
    this.#y = data.y;
    let minX = Infinity,
      minY = Infinity,
      maxX = -Infinity,
      maxY = -Infinity;
    for (let i = 0; i < n; i++) {
      minX = Math.min(minX, data.x[i]!);
      maxX = Math.max(maxX, data.x[i]!);
      minY = Math.min(minY, data.y[i]!);
      maxY = Math.max(maxY, data.y[i]!);
    }
    if (n === 0) [minX, minY, maxX, maxY] = [0, 0, 1, 1];
    this.#bounds = { minX, minY, maxX, maxY };
    const span = Math.max(maxX - minX, maxY - minY, 1e-9);
    this.#fit = { cx: (minX + maxX) / 2, cy: (minY + maxY) / 2, s: 1.9 / span };
    const positions = new Float32Array(n * 2);
    for (let i = 0; i < n; i++) {
      positions[2 * i] = data.x[i]!;
      positions[2 * i + 1] = data.y[i]!;
    }
    const gl = this.#gl;
    gl.bindBuffer(gl.ARRAY_BUFFER, this.#buffers.position);
    gl.bufferData(gl.ARRAY_BUFFER, positions, gl.STATIC_DRAW);
    this.setCategories(data.category);
    this.#flags = new Float32Array(n);
    this.setSelection(new Set());
    this.#buildGrid();
    this.resetView();
  }

  setCategories(category: Float32Array): void {
    const gl = this.#gl;
    gl.bindBuffer(gl.ARRAY_BUFFER, this.#buffers.category);
    gl.bufferData(gl.ARRAY_BUFFER, category, gl.STATIC_DRAW);
  }

  /** Points to highlight (indices); the others are dimmed while any is selected. */
  setSelection(indices: ReadonlySet<number>): void {
    this.#flags.fill(0);
    for (const i of indices) if (i >= 0 && i < this.#n) this.#flags[i] = 1;
    this.#anySelected = indices.size > 0;
    const gl = this.#gl;
    gl.bindBuffer(gl.ARRAY_BUFFER, this.#buffers.flag);
    gl.bufferData(gl.ARRAY_BUFFER, this.#flags, gl.DYNAMIC_DRAW);
  }

  resetView(): void {
    this.zoom = 1;
    this.panX = 0;
    this.panY = 0;
  }

  /** Draws one frame; returns its duration in milliseconds (CPU side, after a finish). */
  draw(): number {
    const t0 = performance.now();
    const gl = this.#gl;
    const { width, height } = this.canvas;
    gl.viewport(0, 0, width, height);
    gl.clearColor(1, 1, 1, 1);
    gl.clear(gl.COLOR_BUFFER_BIT);
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.SRC_ALPHA, gl.ONE_MINUS_SRC_ALPHA);
    gl.useProgram(this.#program);
    const { sx, sy, ox, oy } = this.#transform();
    gl.uniform2f(gl.getUniformLocation(this.#program, 'scale'), sx, sy);
    gl.uniform2f(gl.getUniformLocation(this.#program, 'offset'), ox, oy);
    gl.uniform1f(gl.getUniformLocation(this.#program, 'size'), this.pointSize * devicePixelRatio);
    gl.uniform1f(gl.getUniformLocation(this.#program, 'dimOthers'), this.#anySelected ? 1 : 0);
    gl.uniform3fv(gl.getUniformLocation(this.#program, 'palette'), PALETTE.flat());
    this.#attribute('position', this.#buffers.position, 2);
    this.#attribute('category', this.#buffers.category, 1);
    this.#attribute('flag', this.#buffers.flag, 1);
    gl.drawArrays(gl.POINTS, 0, this.#n);
    gl.finish();
    this.lastFrameMs = performance.now() - t0;
    return this.lastFrameMs;
  }

  /** Canvas pixel (CSS pixels from the top-left) → data coordinates. */
  toData(px: number, py: number): [number, number] {
    const rect = this.canvas.getBoundingClientRect();
    const nx = (px / rect.width) * 2 - 1;
    const ny = 1 - (py / rect.height) * 2;
    const { sx, sy, ox, oy } = this.#transform();
    return [(nx - ox) / sx, (ny - oy) / sy];
  }

  toScreen(i: number): [number, number] {
    const rect = this.canvas.getBoundingClientRect();
    const { sx, sy, ox, oy } = this.#transform();
    const nx = this.#x[i]! * sx + ox;
    const ny = this.#y[i]! * sy + oy;
    return [((nx + 1) / 2) * rect.width, ((1 - ny) / 2) * rect.height];
  }

  /** Zooms by `factor` keeping the data point under (px, py) where it is. */
  zoomAt(px: number, py: number, factor: number): void {
    const before = this.toData(px, py);
    this.zoom = Math.min(500, Math.max(0.2, this.zoom * factor));
    const after = this.toData(px, py);
    const { sx, sy } = this.#transform();
    this.panX += (after[0] - before[0]) * sx;
    this.panY += (after[1] - before[1]) * sy;
  }

  panBy(dxPixels: number, dyPixels: number): void {
    const rect = this.canvas.getBoundingClientRect();
    this.panX += (dxPixels / rect.width) * 2;
    this.panY -= (dyPixels / rect.height) * 2;
  }

  /** The point nearest to (px, py) within `radius` CSS pixels, or -1. */
  pick(px: number, py: number, radius = 8): number {
    const [dx, dy] = this.toData(px, py);
    const [rx] = this.toData(px + radius, py);
    const r = Math.abs(rx - dx);
    const { minX, minY, maxX, maxY } = this.#bounds;
    const cw = (maxX - minX || 1) / GRID;
    const ch = (maxY - minY || 1) / GRID;
    const c0 = Math.max(0, Math.floor((dx - r - minX) / cw));
    const c1 = Math.min(GRID - 1, Math.floor((dx + r - minX) / cw));
    const r0 = Math.max(0, Math.floor((dy - r - minY) / ch));
    const r1 = Math.min(GRID - 1, Math.floor((dy + r - minY) / ch));
    let best = -1;
    let bestD = r * r;
    for (let gy = r0; gy <= r1; gy++)
      for (let gx = c0; gx <= c1; gx++)
        for (const i of this.#grid[gy * GRID + gx] ?? []) {
          const d = (this.#x[i]! - dx) ** 2 + (this.#y[i]! - dy) ** 2;
          if (d <= bestD) {
            bestD = d;
            best = i;
          }
        }
    return best;
  }

  /** Indices of points inside a polygon given in CSS pixels. */
  lasso(polygon: [number, number][]): number[] {
    if (polygon.length < 3) return [];
    const poly = polygon.map(([px, py]) => this.toData(px, py));
    const xs = poly.map((p) => p[0]);
    const ys = poly.map((p) => p[1]);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const out: number[] = [];
    for (let i = 0; i < this.#n; i++) {
      const x = this.#x[i]!;
      const y = this.#y[i]!;
      if (x < x0 || x > x1 || y < y0 || y > y1) continue;
      let inside = false;
      for (let a = 0, b = poly.length - 1; a < poly.length; b = a++) {
        const [ax, ay] = poly[a]!;
        const [bx, by] = poly[b]!;
        if (ay > y !== by > y && x < ((bx - ax) * (y - ay)) / (by - ay) + ax) inside = !inside;
      }
      if (inside) out.push(i);
    }
    return out;
  }

  dispose(): void {
    const gl = this.#gl;
    for (const b of Object.values(this.#buffers)) gl.deleteBuffer(b);
    gl.deleteProgram(this.#program);
  }

  #transform() {
    const rect = this.canvas.getBoundingClientRect();
    const aspect = rect.width / Math.max(1, rect.height);
    const s = this.#fit.s * this.zoom;
    const sx = aspect >= 1 ? s / aspect : s;
    const sy = aspect >= 1 ? s : s * aspect;
    return { sx, sy, ox: -this.#fit.cx * sx + this.panX, oy: -this.#fit.cy * sy + this.panY };
  }

  #buildGrid(): void {
    const { minX, minY, maxX, maxY } = this.#bounds;
    const cw = (maxX - minX || 1) / GRID;
    const ch = (maxY - minY || 1) / GRID;
    const counts = new Int32Array(GRID * GRID);
    const cell = new Int32Array(this.#n);
    for (let i = 0; i < this.#n; i++) {
      const gx = Math.min(GRID - 1, Math.floor((this.#x[i]! - minX) / cw));
      const gy = Math.min(GRID - 1, Math.floor((this.#y[i]! - minY) / ch));
      cell[i] = gy * GRID + gx;
      counts[cell[i]!]!++;
    }
    this.#grid = Array.from({ length: GRID * GRID }, (_, c) => new Int32Array(counts[c]!));
    const fill = new Int32Array(GRID * GRID);
    for (let i = 0; i < this.#n; i++) this.#grid[cell[i]!]![fill[cell[i]!]!++] = i;
  }

  #attribute(name: string, buffer: WebGLBuffer, size: number): void {
    const gl = this.#gl;
    const loc = gl.getAttribLocation(this.#program, name);
    gl.bindBuffer(gl.ARRAY_BUFFER, buffer);
    gl.enableVertexAttribArray(loc);
    gl.vertexAttribPointer(loc, size, gl.FLOAT, false, 0, 0);
  }

  #link(): WebGLProgram {
    const gl = this.#gl;
    const compile = (type: number, source: string) => {
      const shader = gl.createShader(type)!;
      gl.shaderSource(shader, source);
      gl.compileShader(shader);
      if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS))
        throw new Error(`shader: ${gl.getShaderInfoLog(shader) ?? ''}`);
      return shader;
    };
    const program = gl.createProgram();
    gl.attachShader(program, compile(gl.VERTEX_SHADER, VERTEX));
    gl.attachShader(program, compile(gl.FRAGMENT_SHADER, FRAGMENT));
    gl.linkProgram(program);
    if (!gl.getProgramParameter(program, gl.LINK_STATUS))
      throw new Error(`program: ${gl.getProgramInfoLog(program) ?? ''}`);
    return program;
  }
}
