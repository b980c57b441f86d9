// A one-line progress bar on stderr for downloads and folder walks: drawn only on a terminal (or when forced
// with MOBILENET_PROGRESS=1), silent otherwise so logs and pipes stay clean.

/** The part of a writable stream the bar needs; process.stderr fits, so does a test double. */
export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** Where to draw; default process.stderr. */
  stream?: ProgressStream;
  /** Force the bar on or off; default: MOBILENET_PROGRESS (1/0) or whether the stream is a terminal. */
  enabled?: boolean;
  /** 'bytes' shows sizes (downloads); 'items' shows counts (images). */
  unit?: 'bytes' | 'items';
  /** Minimum milliseconds between redraws; a bar redrawn per chunk would cost more than the download. */
  intervalMs?: number;
}

/**
 * Whether a progress bar should be drawn on `stream`: MOBILENET_PROGRESS=1 forces it, =0 hides it,
 * otherwise only a terminal gets one.
 *
 * @example
 * if (progressEnabled(process.stderr)) console.error('drawing bars');
 */
export function progressEnabled(stream: ProgressStream = process.stderr): boolean {
  const env = process.env.MOBILENET_PROGRESS;
  if (env === '1' || env === 'true') return true;
  if (env === '0' || env === 'false') return false;
  return stream.isTTY === true;
}

/**
 * A byte count for people: binary multiples, one decimal, the way download tools print sizes.
 *
 * @example
 * formatBytes(3610798); // '3.4 MB'
 */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

/**
 * A single-line progress bar. Every method is a no-op when the bar is disabled, so callers never branch.
 *
 * @example
 * const bar = new ProgressBar('mobilenet_v2', 3610798, { unit: 'bytes' });
 * bar.update(1 << 20);
 * bar.finish();
 */
export class ProgressBar {
  readonly enabled: boolean;
  private readonly stream: ProgressStream;
  private readonly unit: 'bytes' | 'items';
  private readonly intervalMs: number;
  private done = 0;
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly label: string,
    private total: number,
    options: ProgressOptions = {},
  ) {
    this.stream = options.stream ?? process.stderr;
    this.enabled = options.enabled ?? progressEnabled(this.stream);
    this.unit = options.unit ?? 'items';
    this.intervalMs = options.intervalMs ?? 100;
  }

  /** Sets the amount done so far (and the total, when it was unknown at the start). */
  update(done: number, total?: number): void {
    this.done = done;
    if (total !== undefined) this.total = total;
    if (!this.enabled) return;
    const now = Date.now();
    if (this.drawn && now - this.lastDraw < this.intervalMs && done < this.total) return;
    this.lastDraw = now;
    this.draw();
  }

  /** Adds `n` to the amount done. */
  tick(n = 1): void {
    this.update(this.done + n);
  }

  /** Draws the final state and moves to a fresh line, so the next output does not overwrite the bar. */
  finish(): void {
    if (!this.enabled) return;
    this.draw();
    this.stream.write('\n');
    this.drawn = false;
  }

  /** Erases the bar (e.g. before printing an error) without leaving an empty line behind. */
  clear(): void {
    if (!this.enabled || !this.drawn) return;
    this.stream.write('\r\x1b[K');
    this.drawn = false;
  }

  /** The text of the current line, without the carriage return, never wider than `width - 1`; exposed for tests. */
  render(width = this.stream.columns || 80): string {
    const known = this.total > 0;
    const fraction = known ? Math.min(1, this.done / this.total) : 0;
    const amount =
      this.unit === 'bytes'
        ? `${formatBytes(this.done)}${known ? ` / ${formatBytes(this.total)}` : ''}`
        : `${this.done}${known ? `/${this.total}` : ''}`;
    const tail = `${known ? ` ${`${Math.floor(fraction * 100)}%`.padStart(4)}` : ''} ${amount}`;
    const usable = width - 1;
    // The bar gets what the label (up to 24 characters) and the numbers leave, within 10..40 cells.
    let barWidth = known ? Math.min(40, usable - tail.length - 3 - Math.min(this.label.length, 24)) : 0;
    if (barWidth < 10) barWidth = 0;
    const room = usable - tail.length - (barWidth ? barWidth + 3 : 0);
    const label = this.label.length <= room ? this.label : room > 1 ? `${this.label.slice(0, room - 1)}\u2026` : '';
    if (!barWidth) return `${label}${tail}`.slice(0, Math.max(0, usable));
    const filled = Math.round(fraction * barWidth);
    return `${label} [${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}]${tail}`;
  }

  private draw(): void {
    this.stream.write(`\r${this.render()}\x1b[K`);
    this.drawn = true;
  }
}

/** The part of load()'s download progress a bar needs (lib/registry.ts DownloadProgress). */
interface FileProgress {
  file: string;
  received: number;
  total: number;
}

/**
 * An `onProgress` for load() that draws one bar per downloaded file on `stream`, finished when the file is whole.
 *
 * @example
 * const model = await load('mobilenet_v3_small', { onProgress: downloadBars(process.stderr) });
 */
export function downloadBars(stream: ProgressStream = process.stderr): (progress: FileProgress) => void {
  let bar: ProgressBar | undefined;
  let file = '';
  return ({ file: name, received, total }) => {
    if (!bar || name !== file) {
      bar?.finish();
      bar = new ProgressBar(name, total, { stream, unit: 'bytes' });
      file = name;
    }
    bar.update(received, total);
    if (total > 0 && received >= total) {
      bar.finish();
      bar = undefined;
    }
  };
}
