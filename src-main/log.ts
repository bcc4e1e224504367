/**
 * One logger for every process. Lines go to stderr (so `--json` output on stdout
 * stays clean) and, once a workspace is open, to `<workspace>/studio.log`.
 * Child processes forward their records to the host, which writes them.
 */
import { appendFileSync } from 'node:fs';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LogRecord {
  level: LogLevel;
  time: string;
  source: string;
  message: string;
}

type Sink = (record: LogRecord) => void;

let threshold: LogLevel = (process.env.LEJEPA_LOG_LEVEL as LogLevel | undefined) ?? 'info';
let consoleEnabled = true;
let filePath: string | undefined;
const extraSinks = new Set<Sink>();

export function setLogLevel(level: LogLevel): void {
  threshold = level;
}

export function setConsoleLogging(enabled: boolean): void {
  consoleEnabled = enabled;
}

export function setLogFile(path: string | undefined): void {
  filePath = path;
}

export function addLogSink(sink: Sink): () => void {
  extraSinks.add(sink);
  return () => extraSinks.delete(sink);
}

export function writeRecord(record: LogRecord): void {
  if (ORDER[record.level] < ORDER[threshold]) return;
  const line = `${record.time} ${record.level.padEnd(5)} [${record.source}] ${record.message}`;
  if (consoleEnabled) process.stderr.write(line + '\n');
  if (filePath !== undefined) {
    try {
      appendFileSync(filePath, line + '\n');
    } catch {
      // A log file we cannot write (full disk, removed folder) must not stop the work.
    }
  }
  for (const sink of extraSinks) sink(record);
}

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export function logger(source: string): Logger {
  const at = (level: LogLevel) => (message: string) =>
    writeRecord({ level, time: new Date().toISOString(), source, message });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
