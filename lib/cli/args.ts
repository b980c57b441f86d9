// Command-line plumbing shared by every `mobilenet` command: option specs, a strict argument parser whose errors
// are one-line E_ARG messages, typed option access, help text, and the Command shape the dispatch table holds.
import { MobileNetError } from '../errors';
import type { ArchitectureSpec } from '../models';

export type OptionKind = 'flag' | 'string' | 'int' | 'number';

/** One option a command accepts. */
export interface OptionSpec {
  /** Long name without dashes: `top` for --top. */
  name: string;
  /** One letter for -x, if any. */
  short?: string;
  kind: OptionKind;
  /** Shown in help after the option, e.g. N for `--top N`. */
  valueName?: string;
  description: string;
  /** Inclusive bounds for int/number options. */
  min?: number;
  max?: number;
  /** Allowed values for string options. */
  choices?: readonly string[];
  /** May be given several times; the values are collected in order. */
  repeatable?: boolean;
}

type OptionValue = string | number | boolean | Array<string | number>;

/**
 * What a command receives: the options it declared (typed access) and the positional arguments.
 *
 * @example
 * const top = args.number('top') ?? 5;
 * const files = args.positionals;
 */
export class ParsedArgs {
  constructor(
    readonly values: Readonly<Record<string, OptionValue>>,
    readonly positionals: readonly string[],
  ) {}

  flag(name: string): boolean {
    return this.values[name] === true;
  }

  string(name: string): string | undefined {
    const v = this.values[name];
    return typeof v === 'string' ? v : undefined;
  }

  number(name: string): number | undefined {
    const v = this.values[name];
    return typeof v === 'number' ? v : undefined;
  }

  /** Every value of a repeatable option (empty when absent). */
  list(name: string): Array<string | number> {
    const v = this.values[name];
    return Array.isArray(v) ? v : v === undefined || typeof v === 'boolean' ? [] : [v];
  }
}

/** Where a command writes; the real process streams, or buffers in tests. */
export interface CliIO {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown; isTTY?: boolean; columns?: number };
}

/** A `mobilenet <name>` subcommand. Each command module exports one as `command`. */
export interface Command {
  name: string;
  /** One line for `mobilenet --help`. */
  summary: string;
  /** The argument part of the usage line, e.g. `<images or folders...> [options]`. */
  usage: string;
  options: readonly OptionSpec[];
  /** Bounds on the number of positional arguments (defaults: 0 and unlimited). */
  minPositionals?: number;
  maxPositionals?: number;
  /** What the positionals are, for the error when there are too few or too many. */
  positionalName?: string;
  /** Extra help text after the options (examples, environment variables). */
  epilog?: string;
  /** Runs the command; resolves to the process exit code (0 when omitted). Throws MobileNetError on bad input. */
  run(args: ParsedArgs, io: CliIO): Promise<number | void>;
}

/**
 * A usage error: E_ARG with the house message format, which the CLI prints as one line and exits 2.
 *
 * @example
 * throw usageError('a positive --top', '"0"', 'Pass e.g. --top 5.');
 */
export function usageError(expected: string, received: string, todo: string): MobileNetError {
  return new MobileNetError('E_ARG', `Expected ${expected}, received ${received}. ${todo}`);
}

function convert(spec: OptionSpec, raw: string, context: string): string | number {
  const flag = `--${spec.name}`;
  if (spec.kind === 'string') {
    if (spec.choices && !spec.choices.includes(raw)) {
      throw usageError(`${flag} to be one of ${spec.choices.join(', ')}`, JSON.stringify(raw), `See \`${context} --help\`.`);
    }
    return raw;
  }
  const what = spec.kind === 'int' ? 'an integer' : 'a number';
  const range =
    spec.min !== undefined && spec.max !== undefined ? ` from ${spec.min} to ${spec.max}` : spec.min !== undefined ? ` >= ${spec.min}` : spec.max !== undefined ? ` <= ${spec.max}` : '';
  // Number('') is 0 and Number('0x10') is 16; only plain decimal spellings are accepted.
  const pattern = spec.kind === 'int' ? /^[+-]?\d+$/ : /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
  const value = Number(raw);
  const ok = pattern.test(raw.trim()) && Number.isFinite(value) && (spec.min === undefined || value >= spec.min) && (spec.max === undefined || value <= spec.max);
  if (!ok) throw usageError(`${flag} to be ${what}${range}`, JSON.stringify(raw), `Pass e.g. ${flag} ${spec.min ?? 1}.`);
  return value;
}

/**
 * Parses `argv` against option specs: `--name value`, `--name=value`, `-x value`, `--flag`, and `--` to end
 * options. Unknown options, missing values and bad numbers throw E_ARG naming the option.
 *
 * @example
 * const args = parseArgs(['a.jpg', '--top', '3', '--json'], [
 *   { name: 'top', kind: 'int', min: 1, description: 'how many' },
 *   { name: 'json', kind: 'flag', description: 'JSON lines' },
 * ], 'mobilenet classify');
 * args.number('top'); // 3
 */
export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[], context: string): ParsedArgs {
  const values: Record<string, OptionValue> = {};
  const positionals: string[] = [];
  const byLong = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short as string, s]));
  const known = specs.map((s) => `--${s.name}`).join(', ') || 'none';
  let i = 0;
  while (i < argv.length) {
    const arg = argv[i++];
    if (arg === '--') {
      positionals.push(...argv.slice(i));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    let spec: OptionSpec | undefined;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      if (eq >= 0) inline = arg.slice(eq + 1);
      spec = byLong.get(name);
    } else if (arg.length === 2) {
      spec = byShort.get(arg[1]);
    } else if (/^-\d/.test(arg)) {
      // A negative number where a file name was expected: still a positional.
      positionals.push(arg);
      continue;
    }
    if (!spec) throw usageError(`one of the options ${known}`, `the unknown option ${JSON.stringify(arg.split('=')[0])}`, `See \`${context} --help\`.`);
    let value: OptionValue;
    if (spec.kind === 'flag') {
      if (inline !== undefined) throw usageError(`--${spec.name} without a value`, JSON.stringify(arg), `Write just --${spec.name}.`);
      value = true;
    } else {
      let raw = inline;
      if (raw === undefined) {
        if (i >= argv.length) throw usageError(`a value after --${spec.name}`, 'the end of the command line', `Write --${spec.name} ${spec.valueName ?? 'VALUE'}.`);
        raw = argv[i++];
      }
      value = convert(spec, raw, context);
    }
    if (spec.repeatable) {
      const prev = values[spec.name];
      values[spec.name] = [...(Array.isArray(prev) ? prev : []), value as string | number];
    } else {
      if (spec.name in values && spec.kind !== 'flag') {
        throw usageError(`--${spec.name} at most once`, 'it twice', `Give a single --${spec.name}.`);
      }
      values[spec.name] = value;
    }
  }
  return new ParsedArgs(values, positionals);
}

/**
 * Checks a command's positional count against its bounds (E_ARG with the usage line when outside them).
 *
 * @example
 * checkPositionals(command, parseArgs(argv, command.options, 'mobilenet classify'));
 */
export function checkPositionals(command: Command, args: ParsedArgs): void {
  const min = command.minPositionals ?? 0;
  const max = command.maxPositionals ?? Infinity;
  const n = args.positionals.length;
  const what = command.positionalName ?? 'arguments';
  if (n < min) throw usageError(`at least ${min} ${what}`, n === 0 ? 'none' : String(n), `Usage: mobilenet ${command.name} ${command.usage}`);
  if (n > max) throw usageError(`at most ${max} ${what}`, `${n} (${args.positionals.map((p) => JSON.stringify(p)).join(' ')})`, `Usage: mobilenet ${command.name} ${command.usage}`);
}

/**
 * Help text for a command: usage, summary, aligned options, epilog.
 *
 * @example
 * process.stdout.write(commandHelp(command));
 */
export function commandHelp(command: Command): string {
  const rows = command.options.map((o) => {
    const left = `${o.short ? `-${o.short}, ` : '    '}--${o.name}${o.kind === 'flag' ? '' : ` ${o.valueName ?? 'VALUE'}`}`;
    const extra = o.choices ? ` (${o.choices.join(', ')})` : '';
    return [left, `${o.description}${extra}`];
  });
  rows.push(['-h, --help', 'Show this help']);
  const width = Math.max(...rows.map((r) => r[0].length));
  const lines = [`Usage: mobilenet ${command.name} ${command.usage}`, '', command.summary, '', 'Options:'];
  for (const [left, right] of rows) lines.push(`  ${left.padEnd(width)}  ${right}`);
  if (command.epilog) lines.push('', command.epilog.trimEnd());
  return `${lines.join('\n')}\n`;
}

const ARCH_PATTERN = /^arch:(mobilenet_v1|mobilenet_v2|mobilenet_v3_large|mobilenet_v3_small)((?:,\w+=[^,]+)*)$/;

/**
 * Reads a `--model` value: `arch:<name>[,alpha=A][,resolution=R][,classes=C][,seed=S]` becomes a built-in
 * architecture spec (random weights, for info and benchmarks); anything else (registry name, path, URL) is
 * returned unchanged for load().
 *
 * @example
 * parseModelSource('arch:mobilenet_v3_small,resolution=160'); // { arch: 'mobilenet_v3_small', resolution: 160 }
 * parseModelSource('mobilenet_v2'); // 'mobilenet_v2'
 */
export function parseModelSource(value: string): string | ArchitectureSpec {
  if (!value.startsWith('arch:')) return value;
  const m = ARCH_PATTERN.exec(value);
  if (!m) {
    throw usageError(
      'arch:<mobilenet_v1|mobilenet_v2|mobilenet_v3_large|mobilenet_v3_small>[,alpha=A][,resolution=R][,classes=C][,seed=S]',
      JSON.stringify(value),
      'Write e.g. arch:mobilenet_v2,alpha=0.5,resolution=160.',
    );
  }
  const spec: Record<string, unknown> = { arch: m[1] };
  for (const part of m[2].split(',').filter(Boolean)) {
    const [key, raw] = part.split('=');
    if (!['alpha', 'resolution', 'classes', 'seed'].includes(key)) {
      throw usageError('one of alpha, resolution, classes, seed in an arch: spec', JSON.stringify(key), 'Write e.g. arch:mobilenet_v2,alpha=0.5.');
    }
    const num = Number(raw);
    if (!/^[+-]?(\d+\.?\d*|\.\d+)$/.test(raw) || !Number.isFinite(num)) throw usageError(`a number for ${key}`, JSON.stringify(raw), `Write e.g. ${key}=1.`);
    spec[key] = num;
  }
  return spec as unknown as ArchitectureSpec;
}
