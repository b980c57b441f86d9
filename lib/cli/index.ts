#!/usr/bin/env node
// The `mobilenet` command line: global flags, dispatch through the command table, and the one-line error
// report (code + message, no stack unless MOBILENET_DEBUG=1) every failure ends in.
import { readFileSync } from 'fs';
import * as path from 'path';
import { MobileNetError } from '../errors';
import { checkPositionals, commandHelp, parseArgs, usageError, type CliIO, type Command } from './args';

/**
 * Every subcommand, loaded on demand so `--help` and `--version` stay instant. Each module exports
 * `command: Command`; adding a subcommand is one line here.
 */
const COMMANDS: Record<string, () => Promise<{ command: Command }>> = {
  classify: () => import('./classify'),
  info: () => import('./info'),
  bench: () => import('./bench'),
  profile: () => import('./profile'),
};

const ENVIRONMENT = `Environment:
  MOBILENET_MODEL_MIRROR  base URL or folder holding registry files by their relative path (offline / corporate mirrors)
  MOBILENET_CACHE_DIR     where registry models are cached (default ~/.cache/mobilenet-simd)
  MOBILENET_BACKEND       default backend (auto, native, wasm, wasm-relaxed, wasm-simd, js)
  MOBILENET_PROGRESS      1 forces progress bars, 0 hides them (default: only on a terminal)
  MOBILENET_DEBUG         1 prints the stack of internal errors`;

/**
 * The package version, read at run time so the source and the built dist/ agree (both sit two levels down).
 *
 * @example
 * console.log(version()); // '0.1.0'
 */
export function version(): string {
  try {
    return (JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

async function topHelp(): Promise<string> {
  const entries = await Promise.all(Object.entries(COMMANDS).map(async ([name, loadCommand]) => [name, (await loadCommand()).command.summary]));
  const width = Math.max(...entries.map(([name]) => name.length));
  return [
    'Usage: mobilenet <command> [options]',
    '',
    'MobileNet V1/V2/V3 image classification for Node.js.',
    '',
    'Commands:',
    ...entries.map(([name, summary]) => `  ${name.padEnd(width)}  ${summary}`),
    '',
    'Global options:',
    '  -h, --help     Show help (also `mobilenet <command> --help`)',
    '  -V, --version  Print the version',
    '',
    ENVIRONMENT,
    '',
    'Exit status: 0 success, 1 a failed model/image/download, 2 bad arguments, 70 an internal error.',
    '',
  ].join('\n');
}

/** Messages may quote file contents or nested errors; the report must stay on one line. */
function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

/**
 * Prints an error as one line on stderr and returns the exit code: 2 for bad arguments, 1 for other
 * MobileNetErrors, 70 for anything unexpected (with the stack only when MOBILENET_DEBUG=1).
 *
 * @example
 * process.exitCode = reportError(new MobileNetError('E_IO', 'Expected a file ...'), process);
 */
export function reportError(error: unknown, io: CliIO): number {
  if (error instanceof MobileNetError) {
    io.stderr.write(`mobilenet: ${error.code}: ${oneLine(error.message)}\n`);
    return error.code === 'E_ARG' ? 2 : 1;
  }
  const err = error instanceof Error ? error : new Error(String(error));
  const debug = process.env.MOBILENET_DEBUG === '1';
  io.stderr.write(`mobilenet: internal error: ${oneLine(err.message || err.name)}${debug ? '' : ' (set MOBILENET_DEBUG=1 to see the stack, and please report it)'}\n`);
  if (debug && err.stack) io.stderr.write(`${err.stack}\n`);
  return 70;
}

/** True when -h/--help appears before any `--`. */
function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '-h' || a === '--help');
}

/**
 * Runs the CLI on `argv` (without node and script) and resolves to the exit code; never throws.
 *
 * @example
 * process.exitCode = await main(['classify', 'cat.jpg', '--top', '3'], process);
 */
export async function main(argv: readonly string[], io: CliIO = process): Promise<number> {
  try {
    const [first, ...rest] = argv;
    if (first === undefined) {
      io.stderr.write(await topHelp());
      return 2;
    }
    if (first === '-h' || first === '--help') {
      io.stdout.write(await topHelp());
      return 0;
    }
    if (first === '-V' || first === '-v' || first === '--version') {
      io.stdout.write(`${version()}\n`);
      return 0;
    }
    const helpFor = first === 'help' ? rest[0] : undefined;
    const name = helpFor ?? first;
    if (first === 'help' && helpFor === undefined) {
      io.stdout.write(await topHelp());
      return 0;
    }
    const loadCommand = Object.prototype.hasOwnProperty.call(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (!loadCommand) {
      const what = name.startsWith('-') ? `the unknown option ${JSON.stringify(name)}` : `the unknown command ${JSON.stringify(name)}`;
      throw usageError(`a command (${Object.keys(COMMANDS).join(', ')})`, what, 'Run `mobilenet --help`.');
    }
    const { command } = await loadCommand();
    if (helpFor !== undefined || wantsHelp(rest)) {
      io.stdout.write(commandHelp(command));
      return 0;
    }
    const args = parseArgs(rest, command.options, `mobilenet ${command.name}`);
    checkPositionals(command, args);
    return (await command.run(args, io)) ?? 0;
  } catch (e) {
    return reportError(e, io);
  }
}

if (require.main === module) {
  // `mobilenet ... | head` closes stdout early; that is the reader's choice, not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  });
  process.on('uncaughtException', (e) => process.exit(reportError(e, process)));
  process.on('unhandledRejection', (e) => process.exit(reportError(e, process)));
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
